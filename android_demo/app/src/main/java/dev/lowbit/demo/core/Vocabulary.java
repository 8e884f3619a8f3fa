package dev.lowbit.demo.core;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Token to id mapping of {@code pipeline/text.py} ({@code Vocabulary}), ported exactly.
 *
 * <p>Id 0 is padding, 1 the start of a review, 2 an out-of-vocabulary token; words have ids from 3
 * in file order. The reserved strings are never matched as words. When a word occurs twice, the
 * later id wins, as in the Python dict.
 */
public final class Vocabulary {

    public static final int PAD = 0;
    public static final int START = 1;
    public static final int OOV = 2;
    /** The first three lines of every {@code vocab.txt}, in id order. */
    public static final List<String> RESERVED =
            Collections.unmodifiableList(Arrays.asList("<pad>", "<start>", "<oov>"));

    private final int size;
    private final Map<String, Integer> wordIds;

    private Vocabulary(List<String> tokens) {
        size = tokens.size();
        wordIds = new HashMap<>();
        for (int id = RESERVED.size(); id < tokens.size(); id++) {
            wordIds.put(tokens.get(id), id);
        }
    }

    /**
     * The vocabulary whose line i is token i.
     *
     * @throws IllegalArgumentException if the first three lines are not {@code <pad>},
     *     {@code <start>}, {@code <oov>}; the message shows what was found
     */
    public static Vocabulary fromLines(List<String> lines) {
        List<String> head = lines.subList(0, Math.min(RESERVED.size(), lines.size()));
        if (!head.equals(RESERVED)) {
            throw new IllegalArgumentException("not a lowbit vocabulary: the first lines must be "
                    + quoted(RESERVED) + ", found " + (head.isEmpty() ? "an empty file" : quoted(head)));
        }
        return new Vocabulary(new ArrayList<>(lines));
    }

    /**
     * Reads a {@code vocab.txt}: strict UTF-8, one token a line. Lines end in {@code \n}; like
     * Python's {@code Path.read_text} (universal newlines), {@code \r\n} and {@code \r} count as
     * {@code \n}. One trailing empty line (the file's final newline) is dropped. Does not close
     * {@code in}.
     *
     * @throws IllegalArgumentException if the bytes are not UTF-8 or the header is wrong
     */
    public static Vocabulary load(InputStream in) throws IOException {
        String text = decodeStrictUtf8(readAll(in))
                .replace("\r\n", "\n")
                .replace('\r', '\n');
        List<String> lines = new ArrayList<>(Arrays.asList(text.split("\n", -1)));
        if (lines.get(lines.size() - 1).isEmpty()) {
            lines.remove(lines.size() - 1);
        }
        return fromLines(lines);
    }

    /** Number of ids, the three reserved ones included. */
    public int size() {
        return size;
    }

    /** The id of every token of {@code text}, {@link #OOV} for unknown tokens. */
    public int[] ids(String text) {
        List<String> tokens = Tokenizer.tokenize(text);
        int[] ids = new int[tokens.size()];
        for (int i = 0; i < ids.length; i++) {
            Integer id = wordIds.get(tokens.get(i));
            ids[i] = id == null ? OOV : id;
        }
        return ids;
    }

    /** {@link #sequenceOf}{@code (ids(text), maxlen)}. */
    public int[] sequence(String text, int maxlen) {
        return sequenceOf(ids(text), maxlen);
    }

    /**
     * {@code [START] + ids}, keeping the last {@code maxlen} ids, front-padded with {@link #PAD}
     * to exactly {@code maxlen} (Keras' {@code pad_sequences} defaults).
     *
     * @throws IllegalArgumentException if {@code maxlen < 1}
     */
    public static int[] sequenceOf(int[] ids, int maxlen) {
        if (maxlen < 1) {
            throw new IllegalArgumentException("maxlen must be at least 1, got " + maxlen);
        }
        int[] sequence = new int[maxlen];
        int kept = Math.min(ids.length + 1, maxlen);
        int from = maxlen - kept;
        if (kept == ids.length + 1) {
            sequence[from++] = START;
        }
        System.arraycopy(ids, ids.length - (maxlen - from), sequence, from, maxlen - from);
        return sequence;
    }

    private static byte[] readAll(InputStream in) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        byte[] buffer = new byte[8192];
        for (int n; (n = in.read(buffer)) != -1; ) {
            bytes.write(buffer, 0, n);
        }
        return bytes.toByteArray();
    }

    private static String decodeStrictUtf8(byte[] bytes) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("vocabulary is not valid UTF-8", e);
        }
    }

    /** {@code "a", "b"}; written out because {@code String.join} needs Android API 26. */
    private static String quoted(List<String> lines) {
        StringBuilder shown = new StringBuilder();
        for (String line : lines) {
            shown.append(shown.length() == 0 ? "" : ", ").append('"').append(line).append('"');
        }
        return shown.toString();
    }
}
