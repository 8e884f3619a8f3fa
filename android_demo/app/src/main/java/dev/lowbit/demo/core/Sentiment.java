package dev.lowbit.demo.core;

/** One classification: the model's score, its label, the text's token count and the inference latency. */
public final class Sentiment {

    public static final String POSITIVE = "positive";
    public static final String NEGATIVE = "negative";

    private final float score;
    private final String label;
    private final int tokens;
    private final double latencyMs;

    private Sentiment(float score, String label, int tokens, double latencyMs) {
        this.score = score;
        this.label = label;
        this.tokens = tokens;
        this.latencyMs = latencyMs;
    }

    /**
     * The result for a model score (the probability that the text is positive).
     *
     * @param score the model's output
     * @param threshold the label is {@link #POSITIVE} when {@code score > threshold}, else
     *     {@link #NEGATIVE} (a score equal to the threshold, or NaN, is negative)
     * @param tokens number of tokens of the text, before the sequence keeps the last ones
     * @param latencyMs time spent in the model, milliseconds
     */
    public static Sentiment of(float score, double threshold, int tokens, double latencyMs) {
        return new Sentiment(score, score > threshold ? POSITIVE : NEGATIVE, tokens, latencyMs);
    }

    /** P(positive) according to the model. */
    public float score() {
        return score;
    }

    /** {@link #POSITIVE} or {@link #NEGATIVE}. */
    public String label() {
        return label;
    }

    public boolean isPositive() {
        return label.equals(POSITIVE);
    }

    public int tokens() {
        return tokens;
    }

    public double latencyMs() {
        return latencyMs;
    }

    @Override
    public String toString() {
        return "Sentiment{score=" + score + ", label=" + label + ", tokens=" + tokens
                + ", latencyMs=" + latencyMs + "}";
    }
}
