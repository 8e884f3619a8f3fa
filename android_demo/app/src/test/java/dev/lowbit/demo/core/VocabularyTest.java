package dev.lowbit.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.Test;

public class VocabularyTest {

    /** Ids: 3 the, 4 movie, 5 great, 6 don't. */
    private static final Vocabulary VOCAB =
            Vocabulary.fromLines(Arrays.asList("<pad>", "<start>", "<oov>", "the", "movie", "great", "don't"));

    private static Vocabulary load(byte[] bytes) throws IOException {
        return Vocabulary.load(new ByteArrayInputStream(bytes));
    }

    private static Vocabulary load(String text) throws IOException {
        return load(text.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    public void reservedIdsAreFixed() {
        assertEquals(0, Vocabulary.PAD);
        assertEquals(1, Vocabulary.START);
        assertEquals(2, Vocabulary.OOV);
        assertEquals(Arrays.asList("<pad>", "<start>", "<oov>"), Vocabulary.RESERVED);
    }

    @Test
    public void sizeCountsReservedIds() {
        assertEquals(7, VOCAB.size());
    }

    @Test
    public void wordsGetTheirLineNumberUnknownWordsOov() {
        assertArrayEquals(new int[] {3, 4, 2, 5}, VOCAB.ids("The movie was GREAT"));
        assertArrayEquals(new int[] {6, 2}, VOCAB.ids("Don't panic"));
        assertArrayEquals(new int[] {}, VOCAB.ids(""));
    }

    @Test
    public void reservedStringsAreNeverMatchedAsWords() {
        assertArrayEquals(new int[] {2, 2, 2}, VOCAB.ids("<pad> <start> <oov>"));
    }

    @Test
    public void aRepeatedWordTakesItsLastId() {
        Vocabulary vocab = Vocabulary.fromLines(Arrays.asList("<pad>", "<start>", "<oov>", "the", "movie", "the"));
        assertArrayEquals(new int[] {5, 4}, vocab.ids("the movie"));
    }

    @Test
    public void sequenceStartsWithStartAndIsFrontPadded() {
        assertArrayEquals(new int[] {0, 0, 1, 3, 4}, VOCAB.sequence("the movie", 5));
        assertArrayEquals(new int[] {0, 0, 1}, VOCAB.sequence("", 3));
        assertArrayEquals(new int[] {1, 3, 4}, VOCAB.sequence("the movie", 3));
    }

    @Test
    public void truncationKeepsTheLastMaxlenIds() {
        assertArrayEquals(new int[] {4, 5, 3}, VOCAB.sequence("the movie great the", 3));
        assertArrayEquals(new int[] {3, 4}, VOCAB.sequence("the movie", 2));
        assertArrayEquals(new int[] {2}, VOCAB.sequence("the movie unknown", 1));
        assertArrayEquals(new int[] {1}, VOCAB.sequence("", 1));
    }

    @Test
    public void sequenceOfALongTextHasExactlyMaxlenIds() {
        int[] sequence = VOCAB.sequence("great ".repeat(500) + "the movie", 80);
        assertEquals(80, sequence.length);
        assertEquals(5, sequence[0]);
        assertEquals(3, sequence[78]);
        assertEquals(4, sequence[79]);
    }

    @Test
    public void sequenceRejectsMaxlenBelowOne() {
        assertThrows(IllegalArgumentException.class, () -> VOCAB.sequence("the", 0));
        assertThrows(IllegalArgumentException.class, () -> Vocabulary.sequenceOf(new int[] {3}, -1));
    }

    @Test
    public void loadSplitsOnNewlineAndDropsOneTrailingEmptyLine() throws IOException {
        assertEquals(5, load("<pad>\n<start>\n<oov>\nthe\nmovie\n").size());
        assertEquals(5, load("<pad>\n<start>\n<oov>\nthe\nmovie").size());
        Vocabulary withEmptyWord = load("<pad>\n<start>\n<oov>\nthe\n\n");
        assertEquals(5, withEmptyWord.size());
        assertArrayEquals(new int[] {3}, withEmptyWord.ids("the"));
    }

    @Test
    public void loadAcceptsCrLfAndCrLineEndsLikePythonReadText() throws IOException {
        Vocabulary vocab = load("<pad>\r\n<start>\r\n<oov>\r\nthe\rmovie\r\n");
        assertEquals(5, vocab.size());
        assertArrayEquals(new int[] {3, 4}, vocab.ids("the movie"));
    }

    @Test
    public void loadRejectsBadHeadersNamingWhatWasFound() {
        IllegalArgumentException swapped = assertThrows(IllegalArgumentException.class,
                () -> load("<start>\n<pad>\n<oov>\nthe\n"));
        assertTrue(swapped.getMessage(), swapped.getMessage().contains("found \"<start>\", \"<pad>\", \"<oov>\""));
        IllegalArgumentException shortFile = assertThrows(IllegalArgumentException.class,
                () -> load("<pad>\n<start>\n"));
        assertTrue(shortFile.getMessage(), shortFile.getMessage().contains("found \"<pad>\", \"<start>\""));
        IllegalArgumentException empty = assertThrows(IllegalArgumentException.class, () -> load(""));
        assertTrue(empty.getMessage(), empty.getMessage().contains("found an empty file"));
        assertThrows(IllegalArgumentException.class, () -> load("the\nmovie\ngreat\n"));
        assertThrows(IllegalArgumentException.class, () -> load("<PAD>\n<start>\n<oov>\n"));
        assertThrows(IllegalArgumentException.class, () -> load("\uFEFF<pad>\n<start>\n<oov>\n"));
    }

    @Test
    public void loadRejectsInvalidUtf8() {
        byte[] bytes = {'<', 'p', 'a', 'd', '>', '\n', (byte) 0xFF, '\n'};
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> load(bytes));
        assertTrue(error.getMessage(), error.getMessage().contains("not valid UTF-8"));
    }

    @Test
    public void loadDecodesUtf8Words() throws IOException {
        Vocabulary vocab = load("<pad>\n<start>\n<oov>\ncaf\u00E9\nthe\n");
        assertArrayEquals(new int[] {4, 3, 3}, vocab.ids("the Caf\u00E9 cafe\u0301"));
    }
}
