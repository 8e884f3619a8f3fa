package dev.lowbit.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;

import java.util.Arrays;
import java.util.List;
import org.junit.Test;

public class ClassificationTest {

    private static final List<String> BINARY = Arrays.asList("negative", "positive");
    private static final List<String> LANGUAGES = Arrays.asList("cs", "de", "en", "eo", "es", "it", "pl", "pt");

    private static Classification binary(float score, double threshold) {
        return Classification.of(new float[] {score}, BINARY, threshold, 3, 1.25);
    }

    @Test
    public void aScoreEqualToTheThresholdIsTheFirstLabel() {
        Classification atThreshold = binary(0.5f, 0.5);
        assertEquals("negative", atThreshold.label());
        assertEquals(0, atThreshold.labelIndex());
        assertEquals(0.5f, atThreshold.probability(), 0f);
    }

    @Test
    public void aScoreAboveTheThresholdIsTheSecondLabelWithItsProbability() {
        Classification above = binary(Math.nextUp(0.5f), 0.5);
        assertEquals("positive", above.label());
        assertEquals("negative", binary(Math.nextDown(0.5f), 0.5).label());
        assertEquals("positive", binary(1f, 0.5).label());
        Classification low = binary(0.125f, 0.5);
        assertEquals("negative", low.label());
        assertEquals(0.875f, low.probability(), 0f);
    }

    @Test
    public void theFloatScoreIsComparedExactlyAsADouble() {
        assertEquals("negative", binary(0.7f, 0.7).label());
        assertEquals("positive", binary(0.3f, 0.3).label());
    }

    @Test
    public void aNaNScoreIsTheFirstLabel() {
        assertEquals("negative", binary(Float.NaN, 0.5).label());
    }

    @Test
    public void multiClassPicksTheLargestScoreAndItsName() {
        float[] scores = {0.01f, 0.02f, 0.05f, 0.02f, 0.8f, 0.05f, 0.03f, 0.02f};
        Classification result = Classification.of(scores, LANGUAGES, 0.5, 7, 2.0);
        assertEquals("es", result.label());
        assertEquals(4, result.labelIndex());
        assertEquals(0.8f, result.probability(), 0f);
        assertArrayEquals(scores, result.scores(), 0f);
    }

    @Test
    public void multiClassTiesGoToTheFirstAndNaNNeverWins() {
        float[] tie = {0.1f, 0.4f, 0.4f, 0.1f, 0f, 0f, 0f, 0f};
        assertEquals("de", Classification.of(tie, LANGUAGES, 0.5, 1, 1).label());
        float[] nan = {Float.NaN, 0.1f, 0.3f, 0f, 0f, 0f, 0f, 0f};
        assertEquals("en", Classification.of(nan, LANGUAGES, 0.5, 1, 1).label());
        float[] allNaN = new float[8];
        Arrays.fill(allNaN, Float.NaN);
        assertEquals("cs", Classification.of(allNaN, LANGUAGES, 0.5, 1, 1).label());
    }

    @Test
    public void theScoresMustFitTheLabels() {
        assertThrows(IllegalArgumentException.class, () -> Classification.of(new float[2], BINARY, 0.5, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> Classification.of(new float[1], LANGUAGES, 0.5, 1, 1));
        assertThrows(IllegalArgumentException.class,
                () -> Classification.of(new float[1], Arrays.asList("only"), 0.5, 1, 1));
    }

    @Test
    public void keepsItsOwnCopyOfTheScoresTokensAndLatency() {
        float[] scores = {0.875f};
        Classification result = Classification.of(scores, BINARY, 0.5, 42, 3.5);
        scores[0] = 0f;
        assertEquals(0.875f, result.scores()[0], 0f);
        assertEquals(42, result.tokens());
        assertEquals(3.5, result.latencyMs(), 0.0);
        assertEquals("Classification{label=positive, probability=0.875, scores=[0.875], tokens=42, latencyMs=3.5}",
                result.toString());
    }
}
