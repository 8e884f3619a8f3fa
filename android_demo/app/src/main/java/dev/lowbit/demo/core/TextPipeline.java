package dev.lowbit.demo.core;

/**
 * Text in, model arrays out, and back: everything between the text box and the interpreter, so
 * the Android layer only moves arrays. Immutable and thread-safe.
 */
public final class TextPipeline {

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
    public TextPipeline(Vocabulary vocabulary, ModelMetadata metadata) {
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

    /** A fresh {@code float[1][K]} for the interpreter to write the scores into. */
    public float[][] newOutput() {
        return new float[1][metadata.outputShape()[1]];
    }

    /**
     * The classification of {@code input} given the interpreter's {@code output}, with the
     * metadata's labels and threshold.
     *
     * @throws IllegalArgumentException if {@code output} is not {@code [1][K]}
     */
    public Classification decode(Encoded input, float[][] output, double latencyMs) {
        int k = metadata.outputShape()[1];
        if (output.length != 1 || output[0].length != k) {
            throw new IllegalArgumentException("model output must be float[1][" + k + "]");
        }
        return Classification.of(output[0], metadata.labels(), metadata.threshold(), input.tokens(), latencyMs);
    }
}
