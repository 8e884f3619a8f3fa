package dev.lowbit.demo;

import java.io.IOException;
import java.nio.MappedByteBuffer;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.tensorflowlite.BuiltinOpResolver;
import org.bytedeco.tensorflowlite.FlatBufferModel;
import org.bytedeco.tensorflowlite.Interpreter;
import org.bytedeco.tensorflowlite.InterpreterBuilder;
import org.bytedeco.tensorflowlite.TfLiteIntArray;
import org.bytedeco.tensorflowlite.TfLiteTensor;

import static org.bytedeco.tensorflowlite.global.tensorflowlite.TfLiteTypeGetName;
import static org.bytedeco.tensorflowlite.global.tensorflowlite.kTfLiteOk;

/**
 * {@link Scorer} on TensorFlow Lite 2.21's C++ interpreter through Bytedeco's JavaCPP binding
 * ({@code org.bytedeco:tensorflow-lite:2.21.0-1.5.14}), the runtime the APK ships: it runs INT2
 * and INT4 weights (FULLY_CONNECTED, DEQUANTIZE, EMBEDDING_LOOKUP) and its libraries are 16 KB
 * aligned. The same class runs on the JVM in the screen test with the linux-x86_64 libraries.
 *
 * <p>The model is read in place from the memory-mapped asset (no copy): the interpreter keeps
 * pointers into it, so this scorer holds the buffer until {@link #close}. The op resolver is
 * TFLite's built-in one, which applies the XNNPACK delegate by default.
 */
final class TfLiteScorer implements Scorer {

    private final MappedByteBuffer file;
    private final BytePointer bytes;
    private final FlatBufferModel model;
    private final BuiltinOpResolver resolver;
    private final Interpreter interpreter;

    private TfLiteScorer(MappedByteBuffer file, BytePointer bytes, FlatBufferModel model,
                         BuiltinOpResolver resolver, Interpreter interpreter) {
        this.file = file;
        this.bytes = bytes;
        this.model = model;
        this.resolver = resolver;
        this.interpreter = interpreter;
    }

    /**
     * Builds the interpreter for the {@code .tflite} in {@code file} with {@code threads} threads
     * and allocates its tensors.
     *
     * @throws IOException if the bytes are not a model this runtime can build and allocate
     */
    static Scorer open(MappedByteBuffer file, int threads) throws IOException {
        BytePointer bytes = new BytePointer(file);
        FlatBufferModel model = FlatBufferModel.VerifyAndBuildFromBuffer(bytes, file.capacity());
        if (model == null || model.isNull()) {
            bytes.close();
            throw new IOException("the model file is not a valid TensorFlow Lite flatbuffer");
        }
        BuiltinOpResolver resolver = new BuiltinOpResolver();
        InterpreterBuilder builder = new InterpreterBuilder(model, resolver);
        Interpreter interpreter = new Interpreter((Pointer) null);
        boolean built = builder.SetNumThreads(threads) == kTfLiteOk && builder.apply(interpreter) == kTfLiteOk
                && !interpreter.isNull() && interpreter.AllocateTensors() == kTfLiteOk;
        builder.close();
        if (!built) {
            interpreter.close();
            resolver.close();
            model.close();
            bytes.close();
            throw new IOException("TensorFlow Lite 2.21 cannot build or allocate the model "
                    + "(an op or tensor type it does not know)");
        }
        return new TfLiteScorer(file, bytes, model, resolver, interpreter);
    }

    @Override
    public int inputCount() {
        return (int) interpreter.inputs().limit();  // a std::vector<int>: JavaCPP sets limit to its size
    }

    @Override
    public int outputCount() {
        return (int) interpreter.outputs().limit();
    }

    @Override
    public int[] inputShape() {
        return shapeOf(interpreter.input_tensor(0));
    }

    @Override
    public String inputType() {
        return typeOf(interpreter.input_tensor(0));
    }

    @Override
    public int[] outputShape() {
        return shapeOf(interpreter.output_tensor(0));
    }

    @Override
    public String outputType() {
        return typeOf(interpreter.output_tensor(0));
    }

    @Override
    public void run(int[][] input, float[][] output) {
        interpreter.typed_input_tensor_int(0).put(input[0]);
        int status = interpreter.Invoke();
        if (status != kTfLiteOk) {
            throw new IllegalStateException("TensorFlow Lite's Invoke failed (status " + status + ")");
        }
        interpreter.typed_output_tensor_float(0).get(output[0]);
    }

    @Override
    public void resetState() {
        interpreter.ResetVariableTensors();
    }

    @Override
    public void close() {
        interpreter.close();
        resolver.close();
        model.close();
        bytes.close();
    }

    private static int[] shapeOf(TfLiteTensor tensor) {
        TfLiteIntArray dims = tensor.dims();
        int[] shape = new int[dims.size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = dims.data(i);
        }
        return shape;
    }

    /** {@code "INT32"}, {@code "FLOAT32"}, ...: TFLite's own names of its types. */
    private static String typeOf(TfLiteTensor tensor) {
        return TfLiteTypeGetName(tensor.type()).getString();
    }
}
