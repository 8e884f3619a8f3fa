package dev.lowbit.demo.core;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Command line: the app's text-to-ids pipeline on a plain JVM, to compare with the Python
 * reference.
 *
 * <pre>java -cp CLASSES dev.lowbit.demo.core.TokenizeMain VOCAB_TXT [--maxlen N]</pre>
 *
 * <p>Reads standard input as bytes and splits it on {@code '\n'} (0x0A) only. From each line all
 * trailing {@code '\r'} are removed, then it is decoded as UTF-8 with malformed input replaced by
 * U+FFFD. For each line one output line is written: the ids of
 * {@link Vocabulary#sequence}{@code (line, N)} separated by single spaces, ended by {@code '\n'}.
 * A final line without {@code '\n'} counts when non-empty; input ending in {@code '\n'} gives no
 * extra line; an empty line in the middle is a line. Output is flushed after every line.
 *
 * <p>Exit status: 0 on success, 1 when the vocabulary cannot be read, 2 on a usage error.
 */
public final class TokenizeMain {

    public static final int DEFAULT_MAXLEN = 80;
    static final String USAGE = "usage: TokenizeMain VOCAB_TXT [--maxlen N]   (N >= 1, default "
            + DEFAULT_MAXLEN + ")";

    private TokenizeMain() {
    }

    /** Runs the command on the process's streams; exits with a non-zero status on failure. */
    public static void main(String[] args) throws IOException {
        int status = run(args, System.in, System.out, System.err);
        if (status != 0) {
            System.exit(status);
        }
    }

    /** The command with explicit streams; returns the exit status. */
    static int run(String[] args, InputStream stdin, OutputStream stdout, PrintStream stderr) throws IOException {
        String vocabPath = null;
        int maxlen = DEFAULT_MAXLEN;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--maxlen") && i + 1 < args.length) {
                maxlen = positiveIntOrZero(args[++i]);
                if (maxlen == 0) {
                    return usageError(stderr, "--maxlen needs an integer >= 1, got " + args[i]);
                }
            } else if (vocabPath == null && !args[i].startsWith("-")) {
                vocabPath = args[i];
            } else {
                return usageError(stderr, "unexpected argument " + args[i]);
            }
        }
        if (vocabPath == null) {
            return usageError(stderr, "missing VOCAB_TXT");
        }
        Vocabulary vocabulary;
        try (InputStream in = new FileInputStream(vocabPath)) {
            vocabulary = Vocabulary.load(in);
        } catch (IOException | IllegalArgumentException e) {
            stderr.println("TokenizeMain: cannot use " + vocabPath + ": " + e.getMessage());
            return 1;
        }
        writeSequences(vocabulary, maxlen, stdin, stdout);
        return 0;
    }

    private static int usageError(PrintStream stderr, String problem) {
        stderr.println("TokenizeMain: " + problem);
        stderr.println(USAGE);
        return 2;
    }

    /** {@code text} as an int when it is one and positive, else 0. */
    private static int positiveIntOrZero(String text) {
        try {
            return Math.max(Integer.parseInt(text), 0);
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static void writeSequences(Vocabulary vocabulary, int maxlen, InputStream stdin, OutputStream stdout)
            throws IOException {
        InputStream in = new BufferedInputStream(stdin);
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPLACE)
                .onUnmappableCharacter(CodingErrorAction.REPLACE);
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        for (int b; (b = in.read()) != -1; ) {
            if (b == '\n') {
                writeLine(vocabulary, maxlen, decode(decoder, line), stdout);
                line.reset();
            } else {
                line.write(b);
            }
        }
        if (line.size() > 0) {
            writeLine(vocabulary, maxlen, decode(decoder, line), stdout);
        }
        stdout.flush();
    }

    /** The line's bytes without trailing {@code '\r'}, decoded with malformed input replaced. */
    private static String decode(CharsetDecoder decoder, ByteArrayOutputStream line) throws CharacterCodingException {
        byte[] bytes = line.toByteArray();
        int end = bytes.length;
        while (end > 0 && bytes[end - 1] == '\r') {
            end--;
        }
        return decoder.decode(ByteBuffer.wrap(bytes, 0, end)).toString();
    }

    private static void writeLine(Vocabulary vocabulary, int maxlen, String text, OutputStream stdout)
            throws IOException {
        int[] ids = vocabulary.sequence(text, maxlen);
        StringBuilder out = new StringBuilder(ids.length * 6);
        for (int i = 0; i < ids.length; i++) {
            if (i > 0) {
                out.append(' ');
            }
            out.append(ids[i]);
        }
        out.append('\n');
        stdout.write(out.toString().getBytes(StandardCharsets.US_ASCII));
        stdout.flush();
    }
}
