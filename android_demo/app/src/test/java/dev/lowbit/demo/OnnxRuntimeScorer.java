package dev.lowbit.demo;

import java.util.Arrays;
import java.util.Map;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;

/**
 * {@link Scorer} on ONNX Runtime's Java library for the JVM screen test: it runs the same run's
 * {@code model.onnx} (whose scores lowbit checks against the {@code .tflite}'s), for real. The
 * batch dimension, dynamic in the file, is reported as 1 (one text at a time). Records the
 * thread of the last run, so the test can check it was not the UI thread.
 */
final class OnnxRuntimeScorer implements Scorer {

    private final OrtEnvironment environment = OrtEnvironment.getEnvironment();
    private final OrtSession session;
    private final String inputName;
    private final TensorInfo input;
    private final TensorInfo output;
    volatile Thread lastRunThread;
    volatile boolean closed;

    OnnxRuntimeScorer(String modelPath) {
        try {
            OrtSession.SessionOptions options = new OrtSession.SessionOptions();
            options.setIntraOpNumThreads(1);
            session = environment.createSession(modelPath, options);
            Map.Entry<String, NodeInfo> in = session.getInputInfo().entrySet().iterator().next();
            inputName = in.getKey();
            input = (TensorInfo) in.getValue().getInfo();
            output = (TensorInfo) session.getOutputInfo().values().iterator().next().getInfo();
        } catch (OrtException e) {
            throw new IllegalArgumentException("ONNX Runtime cannot open " + modelPath + ": " + e.getMessage(), e);
        }
    }

    @Override
    public int inputCount() {
        return (int) session.getNumInputs();
    }

    @Override
    public int outputCount() {
        return (int) session.getNumOutputs();
    }

    @Override
    public int[] inputShape() {
        return batchOfOne(input.getShape());
    }

    @Override
    public String inputType() {
        return input.type.name();
    }

    @Override
    public int[] outputShape() {
        return batchOfOne(output.getShape());
    }

    @Override
    public String outputType() {
        return output.type.name().equals("FLOAT") ? "FLOAT32" : output.type.name();
    }

    @Override
    public void run(int[][] ids, float[][] scores) {
        lastRunThread = Thread.currentThread();
        try (OnnxTensor tensor = OnnxTensor.createTensor(environment, ids);
             OrtSession.Result result = session.run(Map.of(inputName, tensor))) {
            float[][] out = (float[][]) result.get(0).getValue();
            System.arraycopy(out[0], 0, scores[0], 0, scores[0].length);
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime failed: " + e.getMessage(), e);
        }
    }

    @Override
    public void resetState() {
        // model.onnx keeps no state between runs
    }

    @Override
    public void close() {
        try {
            session.close();
            closed = true;
        } catch (OrtException e) {
            throw new IllegalStateException(e);
        }
    }

    private static int[] batchOfOne(long[] shape) {
        int[] out = Arrays.stream(shape).mapToInt(d -> (int) d).toArray();
        if (out.length > 0 && out[0] < 0) {
            out[0] = 1;
        }
        return out;
    }
}
