package dev.lowbit.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Optional;
import org.junit.Test;

public class ModelMetadataTest {

    /** sha256 of the three bytes "abc". */
    private static final String ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    /** What {@code json.dumps(metadata, indent=2)} writes in {@code deploy/android.py}. */
    private static final String AS_WRITTEN_BY_PYTHON = """
            {
              "format": "lowbit-android-model/2",
              "task": "imdb-lstm",
              "scheme": "tc",
              "model_file": "model.tflite",
              "vocab_file": "vocab.txt",
              "sha256": "SHA256",
              "size_bytes": 778000,
              "bits_per_weight": 2.29,
              "sequence_length": 80,
              "input": {
                "shape": [
                  1,
                  80
                ],
                "dtype": "int32"
              },
              "output": {
                "shape": [
                  1,
                  1
                ],
                "dtype": "float32"
              },
              "labels": [
                "negative",
                "positive"
              ],
              "ids": {
                "pad": 0,
                "start": 1,
                "oov": 2
              },
              "threshold": 0.5,
              "vocab_size": 20000,
              "reset_variables": false,
              "test_accuracy": 0.8396
            }
            """.replace("SHA256", ABC_SHA256);

    /** Valid metadata on one line, for the single-field variations below; describes the bytes "abc". */
    private static final String VALID = "{\"format\": \"lowbit-android-model/2\", \"task\": \"imdb-lstm\", "
            + "\"scheme\": \"tc\", \"model_file\": \"model.tflite\", \"vocab_file\": \"vocab.txt\", "
            + "\"sha256\": \"" + ABC_SHA256 + "\", \"size_bytes\": 3, \"bits_per_weight\": 2.29, "
            + "\"sequence_length\": 80, \"input\": {\"shape\": [1, 80], \"dtype\": \"int32\"}, "
            + "\"output\": {\"shape\": [1, 1], \"dtype\": \"float32\"}, \"labels\": [\"negative\", \"positive\"], "
            + "\"ids\": {\"pad\": 0, \"start\": 1, \"oov\": 2}, \"threshold\": 0.5, \"vocab_size\": 20000, "
            + "\"reset_variables\": true, \"test_accuracy\": 0.8396}";

    private static String validWith(String fragment, String replacement) {
        assertTrue("fixture holds " + fragment, VALID.contains(fragment));
        return VALID.replace(fragment, replacement);
    }

    private static void assertInvalid(String json, String expectedMessagePart) {
        IllegalArgumentException error = assertThrows(json, IllegalArgumentException.class,
                () -> ModelMetadata.parse(json));
        assertTrue(error.getMessage(), error.getMessage().contains(expectedMessagePart));
    }

    private static ByteBuffer bytes(String text) {
        return ByteBuffer.wrap(text.getBytes(StandardCharsets.US_ASCII));
    }

    @Test
    public void readsWhatPythonWrites() {
        ModelMetadata metadata = ModelMetadata.parse(AS_WRITTEN_BY_PYTHON);
        assertEquals("imdb-lstm", metadata.task());
        assertEquals(Optional.of("tc"), metadata.scheme());
        assertEquals("model.tflite", metadata.modelFile());
        assertEquals("vocab.txt", metadata.vocabFile());
        assertEquals(ABC_SHA256, metadata.sha256());
        assertEquals(778000L, metadata.sizeBytes());
        assertEquals(2.29, metadata.bitsPerWeight().getAsDouble(), 0.0);
        assertEquals(80, metadata.sequenceLength());
        assertArrayEquals(new int[] {1, 80}, metadata.inputShape());
        assertArrayEquals(new int[] {1, 1}, metadata.outputShape());
        assertEquals(0.5, metadata.threshold(), 0.0);
        assertEquals(20000, metadata.vocabSize());
        assertFalse(metadata.resetVariables());
        assertEquals(Arrays.asList("negative", "positive"), metadata.labels());
        assertEquals(0.8396, metadata.testAccuracy().getAsDouble(), 0.0);
    }

    @Test
    public void optionalFieldsMayBeNullOrAbsent() {
        ModelMetadata metadata = ModelMetadata.parse(validWith(", \"test_accuracy\": 0.8396", "")
                .replace("\"scheme\": \"tc\"", "\"scheme\": null")
                .replace("\"bits_per_weight\": 2.29", "\"bits_per_weight\": null"));
        assertFalse(metadata.testAccuracy().isPresent());
        assertFalse(metadata.scheme().isPresent());
        assertFalse(metadata.bitsPerWeight().isPresent());
        assertFalse(ModelMetadata.parse(validWith("0.8396", "null")).testAccuracy().isPresent());
    }

    @Test
    public void ignoresUnknownKeysAndDecodesEscapes() {
        ModelMetadata metadata = ModelMetadata.parse(validWith("\"scheme\": \"tc\"",
                "\"scheme\": \"t\\u0063\", \"extra\": {\"nested\": [1, {\"x\": null}]}"));
        assertEquals(Optional.of("tc"), metadata.scheme());
    }

    @Test
    public void acceptsAnUpperCaseDigestAndStoresItLowerCase() {
        ModelMetadata metadata = ModelMetadata.parse(validWith(ABC_SHA256, ABC_SHA256.toUpperCase()));
        assertEquals(ABC_SHA256, metadata.sha256());
    }

    @Test
    public void rejectsTheWrongFormatOrAnEmptyTask() {
        assertInvalid(validWith("lowbit-android-model/2", "lowbit-android-model/1"),
                "format must be \"lowbit-android-model/2\", found \"lowbit-android-model/1\"");
        assertInvalid(validWith("\"imdb-lstm\"", "\"\""), "task must not be empty");
        assertEquals("user", ModelMetadata.parse(validWith("\"imdb-lstm\"", "\"user\"")).task());
    }

    @Test
    public void readsMultiClassLabelsAndTheirOutputShape() {
        ModelMetadata metadata = ModelMetadata.parse(validWith("[\"negative\", \"positive\"]", "[\"de\", \"en\", \"es\"]")
                .replace("[1, 1]", "[1, 3]"));
        assertEquals(Arrays.asList("de", "en", "es"), metadata.labels());
        assertArrayEquals(new int[] {1, 3}, metadata.outputShape());
    }

    @Test
    public void rejectsBadLabels() {
        assertInvalid(validWith("[\"negative\", \"positive\"]", "[\"only\"]"), "labels must name at least two classes");
        assertInvalid(validWith("[\"negative\", \"positive\"]", "[\"a\", \"a\"]"), "labels must be distinct");
        assertInvalid(validWith("[\"negative\", \"positive\"]", "[\"a\", 1]"), "labels must be non-empty strings");
        assertInvalid(validWith("[\"negative\", \"positive\"]", "[\"a\", \"\"]"), "labels must be non-empty strings");
        assertInvalid(validWith(", \"labels\": [\"negative\", \"positive\"]", ""), "labels is missing");
        assertInvalid(validWith("[\"negative\", \"positive\"]", "[\"a\", \"b\", \"c\"]"),
                "output.shape must be [1, 3], found [1, 1]");
    }

    @Test
    public void rejectsABadSequenceLengthOrShapes() {
        assertInvalid(validWith("\"sequence_length\": 80", "\"sequence_length\": 0"), "sequence_length must be in [1, ");
        assertInvalid(validWith("\"sequence_length\": 80", "\"sequence_length\": 80.0"),
                "sequence_length must be an integer");
        assertInvalid(validWith("[1, 80]", "[1, 81]"), "input.shape must be [1, 80], found [1, 81]");
        assertInvalid(validWith("[1, 80]", "[2, 80]"), "input.shape must be [1, 80]");
        assertInvalid(validWith("[1, 80]", "[80]"), "input.shape must be [1, 80]");
        assertInvalid(validWith("[1, 80]", "[1, 80, 1]"), "input.shape must be [1, 80]");
        assertInvalid(validWith("[1, 80]", "\"1x80\""), "input.shape must be an array");
        assertInvalid(validWith("[1, 1]", "[1, 2]"), "output.shape must be [1, 1], found [1, 2]");
        assertInvalid(validWith("[1, 1]", "[1]"), "output.shape must be [1, 1]");
    }

    @Test
    public void rejectsWrongDtypes() {
        assertInvalid(validWith("\"int32\"", "\"float32\""), "input.dtype must be \"int32\", found \"float32\"");
        assertInvalid(validWith("\"dtype\": \"float32\"", "\"dtype\": \"int8\""),
                "output.dtype must be \"float32\", found \"int8\"");
        assertInvalid(validWith("\"dtype\": \"int32\"}", "\"shape_only\": 1}"), "input.dtype is missing");
    }

    @Test
    public void rejectsOtherReservedIds() {
        assertInvalid(validWith("\"oov\": 2", "\"oov\": 3"), "ids.oov must be 2, found 3");
        assertInvalid(validWith("\"pad\": 0, ", ""), "ids.pad must be 0, found null");
        assertInvalid(validWith("\"start\": 1", "\"start\": \"1\""), "ids.start must be 1, found \"1\"");
        assertInvalid(validWith("{\"pad\": 0, \"start\": 1, \"oov\": 2}", "[0, 1, 2]"), "ids must be an object");
    }

    @Test
    public void rejectsAThresholdOutsideTheOpenUnitInterval() {
        for (String threshold : new String[] {"0", "1", "0.0", "1.0", "1.5", "-0.1", "null", "\"0.5\""}) {
            assertInvalid(validWith("\"threshold\": 0.5", "\"threshold\": " + threshold), "threshold must be");
        }
        assertEquals(0.25, ModelMetadata.parse(validWith("\"threshold\": 0.5", "\"threshold\": 0.25")).threshold(), 0.0);
    }

    @Test
    public void rejectsADigestThatIsNot64HexDigits() {
        assertInvalid(validWith(ABC_SHA256, ABC_SHA256.substring(1)), "sha256 must be 64 hex digits");
        assertInvalid(validWith(ABC_SHA256, "g" + ABC_SHA256.substring(1)), "sha256 must be 64 hex digits");
        assertInvalid(validWith(ABC_SHA256, ABC_SHA256 + "0"), "sha256 must be 64 hex digits");
    }

    @Test
    public void rejectsMissingOrMistypedRequiredFields() {
        assertInvalid(validWith("\"size_bytes\": 3, ", ""), "size_bytes is missing");
        assertInvalid(validWith("\"size_bytes\": 3", "\"size_bytes\": 0"), "size_bytes must be in [1, ");
        assertInvalid(validWith("\"model_file\": \"model.tflite\"", "\"model_file\": \"\""), "model_file must not be empty");
        assertInvalid(validWith("\"vocab_file\": \"vocab.txt\"", "\"vocab_file\": 7"), "vocab_file must be a string, found 7");
        assertInvalid(validWith("\"vocab_size\": 20000", "\"vocab_size\": 2"), "vocab_size must be in [3, ");
        assertInvalid(validWith("\"reset_variables\": true", "\"reset_variables\": 1"), "reset_variables must be a boolean");
        assertInvalid(validWith("\"reset_variables\": true", "\"reset_variables\": null"),
                "reset_variables must be a boolean, found null");
    }

    @Test
    public void rejectsOutOfRangeOptionalFields() {
        assertInvalid(validWith("0.8396", "1.5"), "test_accuracy must be in [0, 1] or null");
        assertInvalid(validWith("0.8396", "\"high\""), "test_accuracy must be a number or null");
        assertInvalid(validWith("2.29", "0"), "bits_per_weight must be positive or null");
        assertInvalid(validWith("\"scheme\": \"tc\"", "\"scheme\": 2"), "scheme must be a string or null");
    }

    @Test
    public void rejectsMalformedJsonAndNonObjects() {
        assertInvalid(VALID.substring(0, VALID.length() - 1), "malformed JSON at position " + (VALID.length() - 1));
        assertInvalid("[]", "the top level must be a JSON object");
        assertInvalid("", "malformed JSON at position 0");
    }

    @Test
    public void checkModelFileAcceptsTheDescribedBytesAndKeepsThePosition() {
        ModelMetadata metadata = ModelMetadata.parse(VALID);
        ByteBuffer model = bytes("abc");
        metadata.checkModelFile(model);
        assertEquals(0, model.position());
        assertEquals(3, model.remaining());
    }

    @Test
    public void checkModelFileRejectsOtherSizesOrContent() {
        ModelMetadata metadata = ModelMetadata.parse(VALID);
        IllegalArgumentException size = assertThrows(IllegalArgumentException.class,
                () -> metadata.checkModelFile(bytes("abcd")));
        assertEquals("model.tflite has 4 bytes but model.json says size_bytes 3", size.getMessage());
        IllegalArgumentException digest = assertThrows(IllegalArgumentException.class,
                () -> metadata.checkModelFile(bytes("abd")));
        assertTrue(digest.getMessage(), digest.getMessage().startsWith("model.tflite has sha256 "));
        assertTrue(digest.getMessage(), digest.getMessage().endsWith(" but model.json says " + ABC_SHA256));
    }

    @Test
    public void checkVocabularyFileComparesTheRecordedDigestWhenThereIsOne() {
        ModelMetadata.parse(VALID).checkVocabularyFile("anything".getBytes(StandardCharsets.UTF_8));
        ModelMetadata metadata = ModelMetadata.parse(
                validWith("\"size_bytes\": 3,", "\"size_bytes\": 3, \"vocab_sha256\": \"" + ABC_SHA256 + "\","));
        metadata.checkVocabularyFile("abc".getBytes(StandardCharsets.UTF_8));
        IllegalArgumentException other = assertThrows(IllegalArgumentException.class,
                () -> metadata.checkVocabularyFile("abd".getBytes(StandardCharsets.UTF_8)));
        assertTrue(other.getMessage(), other.getMessage().startsWith("vocab.txt has sha256 "));
        assertTrue(other.getMessage(), other.getMessage().endsWith(" but model.json says vocab_sha256 " + ABC_SHA256));
        IllegalArgumentException malformed = assertThrows(IllegalArgumentException.class, () -> ModelMetadata.parse(
                validWith("\"size_bytes\": 3,", "\"size_bytes\": 3, \"vocab_sha256\": \"xyz\",")));
        assertTrue(malformed.getMessage(), malformed.getMessage().contains("vocab_sha256"));
    }
}
