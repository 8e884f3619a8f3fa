package dev.lowbit.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class TokenizeMainTest {

    @Rule
    public final TemporaryFolder folder = new TemporaryFolder();

    private String vocabPath;
    private final ByteArrayOutputStream stdout = new ByteArrayOutputStream();
    private final ByteArrayOutputStream stderr = new ByteArrayOutputStream();

    /** Ids: 3 the, 4 movie, 5 great. */
    @Before
    public void writeVocabulary() throws IOException {
        File vocab = folder.newFile("vocab.txt");
        Files.write(vocab.toPath(), "<pad>\n<start>\n<oov>\nthe\nmovie\ngreat\n".getBytes(StandardCharsets.UTF_8));
        vocabPath = vocab.getPath();
    }

    private int run(byte[] stdin, String... args) throws IOException {
        return TokenizeMain.run(args, new ByteArrayInputStream(stdin), stdout,
                new PrintStream(stderr, true, "UTF-8"));
    }

    /** Runs with {@code --maxlen 5}, expecting success; returns standard output. */
    private String sequences(byte[] stdin) throws IOException {
        assertEquals(0, run(stdin, vocabPath, "--maxlen", "5"));
        assertEquals("", stderr.toString("UTF-8"));
        return stdout.toString("US-ASCII");
    }

    private static byte[] ascii(String text) {
        return text.getBytes(StandardCharsets.US_ASCII);
    }

    @Test
    public void writesOneSequencePerLine() throws IOException {
        assertEquals("0 0 1 3 4\n0 0 0 1 5\n", sequences(ascii("The movie\nGREAT!\n")));
    }

    @Test
    public void stripsEveryTrailingCarriageReturnButKeepsInnerOnes() throws IOException {
        assertEquals("0 0 1 3 4\n0 0 0 1 5\n0 0 1 3 4\n", sequences(ascii("the movie\r\r\ngreat\r\nthe\rmovie\n")));
    }

    @Test
    public void anEmptyLineInTheMiddleIsALine() throws IOException {
        assertEquals("0 0 0 1 3\n0 0 0 0 1\n0 0 0 0 1\n0 0 0 1 4\n", sequences(ascii("the\n\n\r\nmovie\n")));
    }

    @Test
    public void aFinalLineWithoutNewlineCountsWhenNotEmpty() throws IOException {
        assertEquals("0 0 0 1 3\n0 0 0 1 4\n", sequences(ascii("the\nmovie")));
    }

    @Test
    public void aFinalLineOfCarriageReturnsIsAnEmptyLine() throws IOException {
        assertEquals("0 0 0 1 3\n0 0 0 0 1\n", sequences(ascii("the\n\r")));
    }

    @Test
    public void inputEndingInNewlineHasNoExtraLine() throws IOException {
        assertEquals("0 0 0 0 1\n", sequences(ascii("\n")));
    }

    @Test
    public void emptyInputGivesNoOutput() throws IOException {
        assertEquals("", sequences(new byte[0]));
    }

    @Test
    public void invalidUtf8IsReplacedAndSeparatesTokens() throws IOException {
        byte[] stdin = {'t', 'h', 'e', (byte) 0xFF, 'm', 'o', 'v', 'i', 'e', (byte) 0xE2, (byte) 0x82,
            'g', 'r', 'e', 'a', 't', (byte) 0xF0, (byte) 0x9F, (byte) 0x98, '\n'};
        assertEquals("0 1 3 4 5\n", sequences(stdin));
    }

    @Test
    public void validUtf8NonAsciiWordsAndEmoji() throws IOException {
        assertEquals("0 0 1 2 4\n", sequences("caf\u00E9 movie\uD83D\uDE00\n".getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    public void htmlBreaksSpanningCarriageReturnsStayInsideALine() throws IOException {
        assertEquals("0 0 1 3 4\n", sequences(ascii("the<br\r/>movie\n")));
    }

    @Test
    public void defaultMaxlenIsEighty() throws IOException {
        assertEquals(0, run(ascii("great\n"), vocabPath));
        String[] ids = stdout.toString("US-ASCII").trim().split(" ");
        assertEquals(80, ids.length);
        assertEquals("1", ids[78]);
        assertEquals("5", ids[79]);
    }

    @Test
    public void maxlenMayComeFirst() throws IOException {
        assertEquals(0, run(ascii("the movie\n"), "--maxlen", "2", vocabPath));
        assertEquals("3 4\n", stdout.toString("US-ASCII"));
    }

    @Test
    public void mainReadsStdinAndWritesStdout() throws IOException {
        InputStream savedIn = System.in;
        PrintStream savedOut = System.out;
        try {
            System.setIn(new ByteArrayInputStream(ascii("movie\r\ngreat the")));
            System.setOut(new PrintStream(stdout, false, "US-ASCII"));
            TokenizeMain.main(new String[] {vocabPath, "--maxlen", "3"});
        } finally {
            System.setIn(savedIn);
            System.setOut(savedOut);
        }
        assertEquals("0 1 4\n1 5 3\n", stdout.toString("US-ASCII"));
    }

    @Test
    public void usageErrorsExitWithTwo() throws IOException {
        String[][] badArgs = {
            {},
            {vocabPath, "--maxlen", "0"},
            {vocabPath, "--maxlen", "-3"},
            {vocabPath, "--maxlen", "x"},
            {vocabPath, "--maxlen"},
            {vocabPath, "--unknown"},
            {vocabPath, vocabPath},
        };
        for (String[] args : badArgs) {
            stderr.reset();
            assertEquals(String.join(" ", args), 2, run(ascii("the\n"), args));
            assertTrue(stderr.toString("UTF-8"), stderr.toString("UTF-8").contains("usage: TokenizeMain VOCAB_TXT"));
        }
        assertEquals("", stdout.toString("US-ASCII"));
    }

    @Test
    public void anUnreadableOrInvalidVocabularyExitsWithOne() throws IOException {
        assertEquals(1, run(ascii("the\n"), new File(folder.getRoot(), "missing.txt").getPath()));
        assertTrue(stderr.toString("UTF-8").contains("cannot use"));
        File bad = folder.newFile("bad.txt");
        Files.write(bad.toPath(), ascii("the\nmovie\n"));
        stderr.reset();
        assertEquals(1, run(ascii("the\n"), bad.getPath()));
        assertTrue(stderr.toString("UTF-8"), stderr.toString("UTF-8").contains("not a lowbit vocabulary"));
        assertEquals("", stdout.toString("US-ASCII"));
    }
}
