package dev.lowbit.demo.core;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;

/**
 * The app's {@code model.json}, written by {@code lowbit deploy RUN_DIR --android android_demo}
 * (format {@value #FORMAT}), parsed and validated.
 *
 * <p>Required: {@code format}, {@code task} (non-empty), {@code model_file},
 * {@code vocab_file}, {@code sha256} (64 hex digits), {@code size_bytes} (&gt; 0),
 * {@code sequence_length} L (&gt; 0), {@code input} ({@code shape [1, L]}, {@code dtype int32}),
 * {@code labels} (at least two distinct non-empty names, by class id), {@code output}
 * ({@code shape [1, K]}, {@code dtype float32}, K = 1 for two labels, else the number of labels),
 * {@code ids}
 * ({@code pad 0, start 1, oov 2}), {@code threshold} (strictly between 0 and 1),
 * {@code vocab_size} (&ge; 3), {@code reset_variables} (boolean). Optional, string/number or
 * null: {@code scheme}, {@code bits_per_weight} (&gt; 0), {@code test_accuracy} (in [0, 1]),
 * {@code vocab_sha256} (64 hex digits: the vocabulary file's digest, checked by
 * {@link #checkVocabularyFile}).
 * Unknown keys are ignored. Every violation is an {@link IllegalArgumentException} naming the
 * field.
 */
public final class ModelMetadata {

    public static final String FORMAT = "lowbit-android-model/2";

    private final String task;
    private final Optional<String> scheme;
    private final String modelFile;
    private final String vocabFile;
    private final String sha256;
    private final Optional<String> vocabSha256;
    private final long sizeBytes;
    private final OptionalDouble bitsPerWeight;
    private final int sequenceLength;
    private final List<String> labels;
    private final double threshold;
    private final int vocabSize;
    private final boolean resetVariables;
    private final OptionalDouble testAccuracy;

    private ModelMetadata(Map<String, Object> root) {
        String format = string(root, "format");
        if (!FORMAT.equals(format)) {
            throw invalid("format", "must be \"" + FORMAT + "\"", format);
        }
        task = nonEmptyString(root, "task");
        scheme = Optional.ofNullable(optional(root, "scheme", String.class, "a string or null"));
        modelFile = nonEmptyString(root, "model_file");
        vocabFile = nonEmptyString(root, "vocab_file");
        sha256 = string(root, "sha256").toLowerCase(Locale.ROOT);
        if (!sha256.matches("[0-9a-f]{64}")) {
            throw invalid("sha256", "must be 64 hex digits", sha256);
        }
        sizeBytes = integer(root, "size_bytes", 1, Long.MAX_VALUE);
        vocabSha256 = Optional.ofNullable(optional(root, "vocab_sha256", String.class, "a string or null"))
                .map(s -> s.toLowerCase(Locale.ROOT));
        if (vocabSha256.isPresent() && !vocabSha256.get().matches("[0-9a-f]{64}")) {
            throw invalid("vocab_sha256", "must be 64 hex digits or null", vocabSha256.get());
        }
        bitsPerWeight = optionalNumber(root, "bits_per_weight");
        if (bitsPerWeight.isPresent() && !(bitsPerWeight.getAsDouble() > 0)) {
            throw invalid("bits_per_weight", "must be positive or null", bitsPerWeight.getAsDouble());
        }
        sequenceLength = (int) integer(root, "sequence_length", 1, Integer.MAX_VALUE);
        checkTensor(root, "input", Arrays.asList(1L, (long) sequenceLength), "int32");
        labels = labels(root);
        checkTensor(root, "output", Arrays.asList(1L, (long) outputShape()[1]), "float32");
        Map<String, Object> ids = object(root, "ids");
        checkId(ids, "pad", Vocabulary.PAD);
        checkId(ids, "start", Vocabulary.START);
        checkId(ids, "oov", Vocabulary.OOV);
        threshold = number(root, "threshold");
        if (!(threshold > 0 && threshold < 1)) {
            throw invalid("threshold", "must be strictly between 0 and 1", threshold);
        }
        vocabSize = (int) integer(root, "vocab_size", Vocabulary.RESERVED.size(), Integer.MAX_VALUE);
        resetVariables = required(root, "reset_variables", Boolean.class, "a boolean");
        testAccuracy = optionalNumber(root, "test_accuracy");
        if (testAccuracy.isPresent() && !(testAccuracy.getAsDouble() >= 0 && testAccuracy.getAsDouble() <= 1)) {
            throw invalid("test_accuracy", "must be in [0, 1] or null", testAccuracy.getAsDouble());
        }
    }

    /**
     * Parses and validates {@code json}.
     *
     * @throws IllegalArgumentException if it is not JSON, or not valid metadata
     */
    public static ModelMetadata parse(String json) {
        Object root = Json.parse(json);
        if (!(root instanceof Map)) {
            throw new IllegalArgumentException("invalid model metadata: the top level must be a JSON object");
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> members = (Map<String, Object>) root;
        return new ModelMetadata(members);
    }

    /**
     * Checks that {@code model} (its remaining bytes; its position is left unchanged) is the model
     * this metadata describes: {@code size_bytes} long with digest {@code sha256}.
     *
     * @throws IllegalArgumentException naming what differs
     */
    public void checkModelFile(ByteBuffer model) {
        if (model.remaining() != sizeBytes) {
            throw new IllegalArgumentException(modelFile + " has " + model.remaining()
                    + " bytes but model.json says size_bytes " + sizeBytes);
        }
        String actual = sha256Hex(model.duplicate());
        if (!actual.equals(sha256)) {
            throw new IllegalArgumentException(modelFile + " has sha256 " + actual
                    + " but model.json says " + sha256);
        }
    }

    /**
     * Checks that {@code vocabulary} (the bytes of the vocabulary file) has the digest recorded as
     * {@code vocab_sha256}: a truncated or edited vocabulary would give other token ids, and so
     * other scores, without any error. Nothing to check when the metadata records no digest.
     */
    public void checkVocabularyFile(byte[] vocabulary) {
        if (vocabSha256.isEmpty()) {
            return;
        }
        String actual = sha256Hex(ByteBuffer.wrap(vocabulary));
        if (!actual.equals(vocabSha256.get())) {
            throw new IllegalArgumentException(vocabFile + " has sha256 " + actual
                    + " but model.json says vocab_sha256 " + vocabSha256.get());
        }
    }

    public String task() {
        return task;
    }

    /** The quantization scheme (e.g. {@code tc}), empty when the exporter did not record it. */
    public Optional<String> scheme() {
        return scheme;
    }

    /** Asset name of the {@code .tflite} model. */
    public String modelFile() {
        return modelFile;
    }

    /** Asset name of the vocabulary. */
    public String vocabFile() {
        return vocabFile;
    }

    /** Lower-case hex sha256 of the model file. */
    public String sha256() {
        return sha256;
    }

    public long sizeBytes() {
        return sizeBytes;
    }

    /** Storage bits per weight of the exported model, empty when not recorded. */
    public OptionalDouble bitsPerWeight() {
        return bitsPerWeight;
    }

    /** L: the model reads one int32 {@code [1, L]} sequence. */
    public int sequenceLength() {
        return sequenceLength;
    }

    /** {@code {1, L}}, a fresh array. */
    public int[] inputShape() {
        return new int[] {1, sequenceLength};
    }

    /** {@code {1, K}}: K = 1 for two labels (one sigmoid score), else one score per label. A fresh array. */
    public int[] outputShape() {
        return new int[] {1, labels.size() == 2 ? 1 : labels.size()};
    }

    /** The label names by class id (unmodifiable). */
    public List<String> labels() {
        return labels;
    }

    /** A score above the threshold is positive. */
    public double threshold() {
        return threshold;
    }

    /** Number of ids of the vocabulary file, reserved ones included. */
    public int vocabSize() {
        return vocabSize;
    }

    /** Whether the model keeps state in variable tensors that must be reset before each run. */
    public boolean resetVariables() {
        return resetVariables;
    }

    /** Test-set accuracy of this model, empty when not recorded. */
    public OptionalDouble testAccuracy() {
        return testAccuracy;
    }

    private static void checkTensor(Map<String, Object> root, String name, List<Long> shape, String dtype) {
        Map<String, Object> tensor = object(root, name);
        List<?> actualShape = required(tensor, "shape", name + ".shape", List.class, "an array");
        if (!shape.equals(actualShape)) {
            throw invalid(name + ".shape", "must be " + shape, actualShape);
        }
        String actualDtype = required(tensor, "dtype", name + ".dtype", String.class, "a string");
        if (!dtype.equals(actualDtype)) {
            throw invalid(name + ".dtype", "must be \"" + dtype + "\"", actualDtype);
        }
    }

    private static List<String> labels(Map<String, Object> root) {
        List<?> values = required(root, "labels", List.class, "an array");
        if (values.size() < 2) {
            throw invalid("labels", "must name at least two classes", values);
        }
        List<String> names = new ArrayList<>();
        for (Object value : values) {
            if (!(value instanceof String) || ((String) value).isEmpty()) {
                throw invalid("labels", "must be non-empty strings", values);
            }
            if (names.contains(value)) {
                throw invalid("labels", "must be distinct", values);
            }
            names.add((String) value);
        }
        return Collections.unmodifiableList(names);
    }

    private static void checkId(Map<String, Object> ids, String key, int expected) {
        Object actual = ids.get(key);
        if (!Long.valueOf(expected).equals(actual)) {
            throw invalid("ids." + key, "must be " + expected, actual);
        }
    }

    private static Map<String, Object> object(Map<String, Object> root, String key) {
        Map<?, ?> value = required(root, key, Map.class, "an object");
        @SuppressWarnings("unchecked")
        Map<String, Object> members = (Map<String, Object>) value;
        return members;
    }

    private static String string(Map<String, Object> root, String key) {
        return required(root, key, String.class, "a string");
    }

    private static String nonEmptyString(Map<String, Object> root, String key) {
        String value = string(root, key);
        if (value.isEmpty()) {
            throw invalid(key, "must not be empty", value);
        }
        return value;
    }

    private static long integer(Map<String, Object> root, String key, long min, long max) {
        long value = required(root, key, Long.class, "an integer");
        if (value < min || value > max) {
            throw invalid(key, "must be in [" + min + ", " + max + "]", value);
        }
        return value;
    }

    private static double number(Map<String, Object> root, String key) {
        return required(root, key, Number.class, "a number").doubleValue();
    }

    private static OptionalDouble optionalNumber(Map<String, Object> root, String key) {
        Number value = optional(root, key, Number.class, "a number or null");
        return value == null ? OptionalDouble.empty() : OptionalDouble.of(value.doubleValue());
    }

    private static <T> T required(Map<String, Object> root, String key, Class<T> type, String what) {
        return required(root, key, key, type, what);
    }

    private static <T> T required(Map<String, Object> members, String key, String field, Class<T> type, String what) {
        if (!members.containsKey(key)) {
            throw new IllegalArgumentException("invalid model metadata: " + field + " is missing");
        }
        T value = optional(members, key, field, type, what);
        if (value == null) {
            throw invalid(field, "must be " + what, null);
        }
        return value;
    }

    private static <T> T optional(Map<String, Object> root, String key, Class<T> type, String what) {
        return optional(root, key, key, type, what);
    }

    /** The value of {@code key}, null when absent or null, else it must be a {@code type}. */
    private static <T> T optional(Map<String, Object> members, String key, String field, Class<T> type, String what) {
        Object value = members.get(key);
        if (value != null && !type.isInstance(value)) {
            throw invalid(field, "must be " + what, value);
        }
        return type.cast(value);
    }

    /** The error for {@code field}; {@code found} is shown as JSON-like text (strings quoted). */
    private static IllegalArgumentException invalid(String field, String rule, Object found) {
        String shown = found instanceof String ? "\"" + found + "\"" : String.valueOf(found);
        return new IllegalArgumentException("invalid model metadata: " + field + " " + rule + ", found " + shown);
    }

    private static String sha256Hex(ByteBuffer bytes) {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform provides SHA-256", e);
        }
        digest.update(bytes);
        StringBuilder hex = new StringBuilder();
        for (byte b : digest.digest()) {
            hex.append(Character.forDigit((b >> 4) & 0xF, 16)).append(Character.forDigit(b & 0xF, 16));
        }
        return hex.toString();
    }
}
