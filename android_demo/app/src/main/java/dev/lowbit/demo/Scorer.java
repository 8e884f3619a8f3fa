package dev.lowbit.demo;

import java.io.IOException;
import java.nio.MappedByteBuffer;

/**
 * One model run, whatever executes it: token ids {@code int32 [1, L]} in, scores
 * {@code float32 [1, K]} out. The app runs TensorFlow Lite 2.21 ({@link TfLiteScorer}), on the
 * phone and in the JVM screen test alike. Implementations are used from one thread at a time.
 */
interface Scorer extends AutoCloseable {

    /** Opens a scorer for the memory-mapped {@code model.tflite}, with {@code threads} threads. */
    interface Factory {
        Scorer open(MappedByteBuffer model, int threads) throws IOException;
    }

    int inputCount();

    int outputCount();

    /** Shape of the only input, e.g. {@code [1, 80]}. */
    int[] inputShape();

    /** {@code "INT32"}, {@code "FLOAT32"}, ...: the input's element type. */
    String inputType();

    int[] outputShape();

    String outputType();

    /** Scores of {@code input} into {@code output}. */
    void run(int[][] input, float[][] output);

    /** Forgets any state kept between runs (a fused LSTM's variable tensors). */
    void resetState();

    @Override
    void close();
}
