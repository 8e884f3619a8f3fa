package dev.lowbit.demo;

import java.nio.MappedByteBuffer;

import org.tensorflow.lite.Interpreter;
import org.tensorflow.lite.Tensor;

/** {@link Scorer} on LiteRT's {@link Interpreter}, the runtime the APK ships. */
final class LiteRtScorer implements Scorer {

    private final Interpreter interpreter;

    private LiteRtScorer(Interpreter interpreter) {
        this.interpreter = interpreter;
    }

    static Scorer open(MappedByteBuffer model, int threads) {
        return new LiteRtScorer(new Interpreter(model, new Interpreter.Options().setNumThreads(threads)));
    }

    @Override
    public int inputCount() {
        return interpreter.getInputTensorCount();
    }

    @Override
    public int outputCount() {
        return interpreter.getOutputTensorCount();
    }

    @Override
    public int[] inputShape() {
        return interpreter.getInputTensor(0).shape();
    }

    @Override
    public String inputType() {
        return typeOf(interpreter.getInputTensor(0));
    }

    @Override
    public int[] outputShape() {
        return interpreter.getOutputTensor(0).shape();
    }

    @Override
    public String outputType() {
        return typeOf(interpreter.getOutputTensor(0));
    }

    @Override
    public void run(int[][] input, float[][] output) {
        interpreter.run(input, output);
    }

    @Override
    public void resetState() {
        interpreter.resetVariableTensors();
    }

    @Override
    public void close() {
        interpreter.close();
    }

    private static String typeOf(Tensor tensor) {
        return tensor.dataType().name();
    }
}
