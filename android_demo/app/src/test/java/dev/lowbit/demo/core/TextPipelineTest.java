package dev.lowbit.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.Test;

public class TextPipelineTest {

    private static ModelMetadata metadata(int sequenceLength, int vocabSize, double threshold) {
        return metadata(sequenceLength, vocabSize, threshold, "[\"negative\", \"positive\"]", 1);
    }

    private static ModelMetadata metadata(int sequenceLength, int vocabSize, double threshold, String labels,
                                          int outputs) {
        return ModelMetadata.parse("{\"format\": \"lowbit-android-model/2\", \"task\": \"imdb-lstm\", "
                + "\"scheme\": \"tc\", \"model_file\": \"model.tflite\", \"vocab_file\": \"vocab.txt\", "
                + "\"sha256\": \"" + "0".repeat(64) + "\", \"size_bytes\": 3, \"bits_per_weight\": 2.29, "
                + "\"sequence_length\": " + sequenceLength + ", "
                + "\"input\": {\"shape\": [1, " + sequenceLength + "], \"dtype\": \"int32\"}, "
                + "\"output\": {\"shape\": [1, " + outputs + "], \"dtype\": \"float32\"}, \"labels\": " + labels + ", "
                + "\"ids\": {\"pad\": 0, \"start\": 1, \"oov\": 2}, \"threshold\": " + threshold + ", "
                + "\"vocab_size\": " + vocabSize + ", \"reset_variables\": false}");
    }

    /** Ids: 3 the, 4 movie, 5 great. */
    private static final Vocabulary VOCAB =
            Vocabulary.fromLines(Arrays.asList("<pad>", "<start>", "<oov>", "the", "movie", "great"));

    @Test
    public void encodesTextAsOneRowOfSequenceLengthIds() {
        TextPipeline pipeline = new TextPipeline(VOCAB, metadata(6, 6, 0.5));
        TextPipeline.Encoded encoded = pipeline.encode("The movie: GREAT, great!");
        assertArrayEquals(new int[][] {{0, 1, 3, 4, 5, 5}}, encoded.modelInput());
        assertEquals(4, encoded.tokens());
    }

    @Test
    public void countsEveryTokenEvenThoseTruncatedAway() {
        TextPipeline pipeline = new TextPipeline(VOCAB, metadata(3, 6, 0.5));
        TextPipeline.Encoded encoded = pipeline.encode("the movie was really great");
        assertArrayEquals(new int[][] {{2, 2, 5}}, encoded.modelInput());
        assertEquals(5, encoded.tokens());
    }

    @Test
    public void decodesTheScoreWithTheMetadataThreshold() {
        TextPipeline pipeline = new TextPipeline(VOCAB, metadata(4, 6, 0.75));
        TextPipeline.Encoded encoded = pipeline.encode("great");
        float[][] output = pipeline.newOutput();
        assertEquals(1, output.length);
        assertEquals(1, output[0].length);
        output[0][0] = 0.7f;
        Classification classification = pipeline.decode(encoded, output, 2.5);
        assertEquals("negative", classification.label());
        assertEquals(0.7f, classification.scores()[0], 0f);
        assertEquals(1, classification.tokens());
        assertEquals(2.5, classification.latencyMs(), 0.0);
        output[0][0] = 0.8f;
        assertEquals("positive", pipeline.decode(encoded, output, 2.5).label());
    }

    @Test
    public void decodesAMultiClassRowWithTheLabelNames() {
        TextPipeline pipeline = new TextPipeline(VOCAB, metadata(4, 6, 0.5, "[\"de\", \"en\", \"es\"]", 3));
        float[][] output = pipeline.newOutput();
        assertEquals(3, output[0].length);
        output[0] = new float[] {0.2f, 0.1f, 0.7f};
        Classification result = pipeline.decode(pipeline.encode("great"), output, 1.0);
        assertEquals("es", result.label());
        assertEquals(0.7f, result.probability(), 0f);
        assertThrows(IllegalArgumentException.class,
                () -> pipeline.decode(pipeline.encode("great"), new float[1][1], 1));
    }

    @Test
    public void rejectsAnOutputOfAnotherShape() {
        TextPipeline pipeline = new TextPipeline(VOCAB, metadata(4, 6, 0.5));
        TextPipeline.Encoded encoded = pipeline.encode("great");
        assertThrows(IllegalArgumentException.class, () -> pipeline.decode(encoded, new float[1][2], 1));
        assertThrows(IllegalArgumentException.class, () -> pipeline.decode(encoded, new float[2][1], 1));
    }

    @Test
    public void rejectsAVocabularyOfAnotherSize() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> new TextPipeline(VOCAB, metadata(4, 20000, 0.5)));
        assertEquals("vocab.txt has 6 tokens but model.json says vocab_size 20000", error.getMessage());
    }

    @Test
    public void encodesTheMaximumLengthOfALargeVocabulary() {
        List<String> lines = new ArrayList<>(Vocabulary.RESERVED);
        for (int i = 0; i < 19_997; i++) {
            lines.add("w" + i);
        }
        TextPipeline pipeline = new TextPipeline(Vocabulary.fromLines(lines), metadata(80, 20000, 0.5));
        int[] row = pipeline.encode("w0 w19996 unknown").modelInput()[0];
        assertEquals(80, row.length);
        assertArrayEquals(new int[] {0, 1, 3, 19999, 2}, Arrays.copyOfRange(row, 75, 80));
    }
}
