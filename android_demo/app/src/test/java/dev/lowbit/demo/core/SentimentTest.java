package dev.lowbit.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

public class SentimentTest {

    @Test
    public void aScoreEqualToTheThresholdIsNegative() {
        Sentiment atThreshold = Sentiment.of(0.5f, 0.5, 3, 1.25);
        assertEquals("negative", atThreshold.label());
        assertFalse(atThreshold.isPositive());
    }

    @Test
    public void aScoreAboveTheThresholdIsPositive() {
        Sentiment above = Sentiment.of(Math.nextUp(0.5f), 0.5, 3, 1.25);
        assertEquals("positive", above.label());
        assertTrue(above.isPositive());
        assertEquals("negative", Sentiment.of(Math.nextDown(0.5f), 0.5, 3, 1.25).label());
        assertEquals("positive", Sentiment.of(1f, 0.5, 3, 1.25).label());
        assertEquals("negative", Sentiment.of(0f, 0.5, 3, 1.25).label());
    }

    @Test
    public void theFloatScoreIsComparedExactlyAsADouble() {
        assertEquals("negative", Sentiment.of(0.7f, 0.7, 1, 1).label());
        assertEquals("positive", Sentiment.of(0.3f, 0.3, 1, 1).label());
    }

    @Test
    public void aNaNScoreIsNegative() {
        assertEquals("negative", Sentiment.of(Float.NaN, 0.5, 1, 1).label());
    }

    @Test
    public void keepsScoreTokensAndLatency() {
        Sentiment sentiment = Sentiment.of(0.875f, 0.5, 42, 3.5);
        assertEquals(0.875f, sentiment.score(), 0f);
        assertEquals(42, sentiment.tokens());
        assertEquals(3.5, sentiment.latencyMs(), 0.0);
        assertEquals("Sentiment{score=0.875, label=positive, tokens=42, latencyMs=3.5}", sentiment.toString());
    }
}
