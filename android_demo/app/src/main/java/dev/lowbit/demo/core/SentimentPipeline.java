package dev.lowbit.demo.core;

/**
 * Text in, model arrays out, and back: everything between the text box and the interpreter, so
 * the Android layer only moves arrays. Immutable and thread-safe.
 */
public final class SentimentPipeline {

    /** A text ready for the model: its {@code int[1][L]} input and its token count. */
    public static final class Encoded {
        private final int[][] modelInput;
        private final int tokens;

        private Encoded(int[][] modelInput, int tokens) {
            this.modelInput = modelInput;
            this.tokens = tokens;
        }

        /** {@code [1][sequence_length]} ids, the array to hand to the interpreter. */
        public int[][] modelInput() {
            return modelInput;
        }

        /** Number of tokens of the text, before the sequence keeps the last ones. */
        public int tokens() {
            return tokens;
        }
    }

    private final Vocabulary vocabulary;
    private final ModelMetadata metadata;

    /**
     * @throws IllegalArgumentException if the vocabulary's size is not the metadata's
     *     {@code vocab_size}
     */
    public SentimentPipeline(Vocabulary vocabulary, ModelMetadata metadata) {
        if (vocabulary.size() != metadata.vocabSize()) {
            throw new IllegalArgumentException(metadata.vocabFile() + " has " + vocabulary.size()
                    + " tokens but model.json says vocab_size " + metadata.vocabSize());
        }
        this.vocabulary = vocabulary;
        this.metadata = metadata;
    }

    public ModelMetadata metadata() {
        return metadata;
    }

    /** The model input for {@code text}: {@link Vocabulary#sequence} with the model's length. */
    public Encoded encode(String text) {
        int[] ids = vocabulary.ids(text);
        return new Encoded(new int[][] {Vocabulary.sequenceOf(ids, metadata.sequenceLength())}, ids.length);
    }

    /** A fresh {@code float[1][1]} for the interpreter to write the score into. */
    public float[][] newOutput() {
        return new float[1][1];
    }

    /**
     * The classification of {@code input} given the interpreter's {@code output}.
     *
     * @throws IllegalArgumentException if {@code output} is not {@code [1][1]}
     */
    public Sentiment decode(Encoded input, float[][] output, double latencyMs) {
        if (output.length != 1 || output[0].length != 1) {
            throw new IllegalArgumentException("model output must be float[1][1]");
        }
        return Sentiment.of(output[0][0], metadata.threshold(), input.tokens(), latencyMs);
    }
}
