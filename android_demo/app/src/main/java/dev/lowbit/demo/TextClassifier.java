package dev.lowbit.demo;

import android.content.res.AssetFileDescriptor;
import android.content.res.AssetManager;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FileInputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import dev.lowbit.demo.core.ModelMetadata;
import dev.lowbit.demo.core.Classification;
import dev.lowbit.demo.core.TextPipeline;
import dev.lowbit.demo.core.Vocabulary;

/**
 * The bundled model: {@code model.json}, the vocabulary and the model's {@link Scorer} (TensorFlow
 * Lite 2.21), checked against each other when loaded.
 *
 * <p>{@link #classify} and {@link #close} are synchronized; the app moreover confines the
 * instance to its single inference thread.
 */
final class TextClassifier implements AutoCloseable {

    /** The asset {@code lowbit deploy} writes last; without it nothing is bundled. */
    static final String METADATA_ASSET = "model.json";

    /** Thrown by {@link #load} when the app's assets hold no {@value #METADATA_ASSET}. */
    static final class NoModelBundledException extends IOException {
        private static final long serialVersionUID = 1L;

        NoModelBundledException() {
            super("no " + METADATA_ASSET + " in the app's assets");
        }
    }

    /**
     * What runs the model: TensorFlow Lite 2.21 ({@link TfLiteScorer}), in the app and in the JVM
     * screen test alike.
     */
    static volatile Scorer.Factory scorers = TfLiteScorer::open;

    private final ModelMetadata metadata;
    private final TextPipeline pipeline;
    private final Scorer scorer;
    private boolean closed;

    private TextClassifier(ModelMetadata metadata, TextPipeline pipeline, Scorer scorer) {
        this.metadata = metadata;
        this.pipeline = pipeline;
        this.scorer = scorer;
    }

    /**
     * Loads and cross-checks the bundled model: the metadata is valid, the vocabulary has
     * {@code vocab_size} tokens and the recorded sha256, the model file has the recorded size and sha256, and the
     * scorer's tensors are one int32 {@code [1, L]} input and one float32 {@code [1, K]}
     * output matching the metadata.
     *
     * @throws NoModelBundledException if there is no {@code model.json}
     * @throws IOException if an asset named by the metadata is missing or unreadable
     * @throws IllegalArgumentException if anything does not match; the message says what
     */
    static TextClassifier load(AssetManager assets, int threads) throws IOException {
        if (!Arrays.asList(assets.list("")).contains(METADATA_ASSET)) {
            throw new NoModelBundledException();
        }
        ModelMetadata metadata = ModelMetadata.parse(readUtf8(assets, METADATA_ASSET));
        byte[] vocabularyBytes = readBytes(assets, metadata.vocabFile());
        metadata.checkVocabularyFile(vocabularyBytes);
        Vocabulary vocabulary = Vocabulary.load(new ByteArrayInputStream(vocabularyBytes));
        TextPipeline pipeline = new TextPipeline(vocabulary, metadata);
        MappedByteBuffer model = mapAsset(assets, metadata.modelFile());
        metadata.checkModelFile(model);
        Scorer scorer = scorers.open(model, threads);
        try {
            if (scorer.inputCount() != 1 || scorer.outputCount() != 1) {
                throw new IllegalArgumentException(metadata.modelFile() + " has " + scorer.inputCount()
                        + " inputs and " + scorer.outputCount()
                        + " outputs; the app feeds one sequence and reads one row of scores");
            }
            checkTensor("input", scorer.inputShape(), scorer.inputType(), metadata.inputShape(), "INT32");
            checkTensor("output", scorer.outputShape(), scorer.outputType(), metadata.outputShape(), "FLOAT32");
        } catch (RuntimeException e) {
            scorer.close();
            throw e;
        }
        return new TextClassifier(metadata, pipeline, scorer);
    }

    ModelMetadata metadata() {
        return metadata;
    }

    /**
     * Classifies {@code text}. lowbit's files keep no state between runs; a file that does
     * ({@code reset_variables} in the metadata, e.g. a fused LSTM) has its variable tensors reset
     * before every run, and the latency covers the reset and the run.
     *
     * @throws IllegalStateException after {@link #close}
     */
    synchronized Classification classify(String text) {
        if (closed) {
            throw new IllegalStateException("the model is closed");
        }
        TextPipeline.Encoded input = pipeline.encode(text);
        float[][] output = pipeline.newOutput();
        long start = System.nanoTime();
        if (metadata.resetVariables()) {
            scorer.resetState();
        }
        scorer.run(input.modelInput(), output);
        double latencyMs = (System.nanoTime() - start) / 1e6;
        return pipeline.decode(input, output, latencyMs);
    }

    /** Releases the scorer; later calls to {@link #classify} fail. Idempotent. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            scorer.close();
        }
    }

    private static void checkTensor(String role, int[] shape, String type, int[] expectedShape, String expectedType) {
        if (!Arrays.equals(shape, expectedShape) || !type.equals(expectedType)) {
            throw new IllegalArgumentException("the model's " + role + " is " + Arrays.toString(shape) + " " + type
                    + " but model.json says " + Arrays.toString(expectedShape) + " " + expectedType);
        }
    }

    private static InputStream openAsset(AssetManager assets, String name) throws IOException {
        try {
            return assets.open(name);
        } catch (FileNotFoundException e) {
            throw new FileNotFoundException(name + " is missing from the app's assets (model.json names it)");
        }
    }

    private static String readUtf8(AssetManager assets, String name) throws IOException {
        return new String(readBytes(assets, name), StandardCharsets.UTF_8);
    }

    /** An asset's bytes (InputStream.readAllBytes needs API 33; the app runs from API 24). */
    private static byte[] readBytes(AssetManager assets, String name) throws IOException {
        try (InputStream in = openAsset(assets, name)) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            byte[] buffer = new byte[8192];
            for (int n; (n = in.read(buffer)) != -1; ) {
                bytes.write(buffer, 0, n);
            }
            return bytes.toByteArray();
        }
    }

    /**
     * Memory-maps an asset stored uncompressed in the APK ({@code noCompress 'tflite'} in
     * app/build.gradle): the model is read in place, never copied to the Java heap.
     */
    private static MappedByteBuffer mapAsset(AssetManager assets, String name) throws IOException {
        AssetFileDescriptor descriptor;
        try {
            descriptor = assets.openFd(name);
        } catch (FileNotFoundException e) {
            throw new FileNotFoundException(name + " is missing from the app's assets, or stored compressed"
                    + " (" + e.getMessage() + ")");
        }
        try (AssetFileDescriptor fd = descriptor;
             FileInputStream in = new FileInputStream(fd.getFileDescriptor())) {
            FileChannel channel = in.getChannel();
            return channel.map(FileChannel.MapMode.READ_ONLY, fd.getStartOffset(), fd.getDeclaredLength());
        }
    }
}
