package dev.lowbit.demo;

/**
 * The app's own {@link Scorer} (in the screen test: {@link TfLiteScorer} on the real bundled
 * {@code .tflite}), passed through unchanged, recording the thread and the scores of the last run and whether it
 * was closed, so the test can check that inference left the UI thread and that the activity
 * released the model.
 */
final class RecordingScorer implements Scorer {

    private final Scorer scorer;
    volatile Thread lastRunThread;
    volatile float[] lastScores;
    volatile boolean closed;

    RecordingScorer(Scorer scorer) {
        this.scorer = scorer;
    }

    @Override
    public int inputCount() {
        return scorer.inputCount();
    }

    @Override
    public int outputCount() {
        return scorer.outputCount();
    }

    @Override
    public int[] inputShape() {
        return scorer.inputShape();
    }

    @Override
    public String inputType() {
        return scorer.inputType();
    }

    @Override
    public int[] outputShape() {
        return scorer.outputShape();
    }

    @Override
    public String outputType() {
        return scorer.outputType();
    }

    @Override
    public void run(int[][] input, float[][] output) {
        lastRunThread = Thread.currentThread();
        scorer.run(input, output);
        lastScores = output[0].clone();
    }

    @Override
    public void resetState() {
        scorer.resetState();
    }

    @Override
    public void close() {
        scorer.close();
        closed = true;
    }
}
