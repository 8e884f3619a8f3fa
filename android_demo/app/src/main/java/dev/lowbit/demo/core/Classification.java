package dev.lowbit.demo.core;

import java.util.Arrays;
import java.util.List;

/**
 * One classification of a text: the model's scores, the chosen label, its probability, the
 * text's token count and the inference latency.
 *
 * <p>Two labels (one sigmoid output {@code s = P(labels[1])}): {@code labels[1]} when
 * {@code s > threshold}, else {@code labels[0]} (a score equal to the threshold, or NaN, gives
 * {@code labels[0]}); the probability shown is {@code s} or {@code 1 - s}. More labels (a softmax
 * output, one score per label): the label of the largest score (the first of equal ones; NaN
 * scores never win) and that score.
 */
public final class Classification {

    private final float[] scores;
    private final int labelIndex;
    private final String label;
    private final float probability;
    private final int tokens;
    private final double latencyMs;

    private Classification(float[] scores, int labelIndex, String label, float probability, int tokens,
                           double latencyMs) {
        this.scores = scores;
        this.labelIndex = labelIndex;
        this.label = label;
        this.probability = probability;
        this.tokens = tokens;
        this.latencyMs = latencyMs;
    }

    /**
     * @param scores the model's output row: one score for two labels, else one per label
     * @param labels the label names by class id (at least two)
     * @param threshold for two labels: {@code labels[1]} when the score exceeds it
     * @param tokens number of tokens of the text, before the sequence keeps the last ones
     * @param latencyMs time spent in the model, milliseconds
     * @throws IllegalArgumentException if the number of scores does not fit the labels
     */
    public static Classification of(float[] scores, List<String> labels, double threshold, int tokens,
                                     double latencyMs) {
        if (labels.size() < 2) {
            throw new IllegalArgumentException("a classification needs at least two labels, got " + labels);
        }
        int expected = labels.size() == 2 ? 1 : labels.size();
        if (scores.length != expected) {
            throw new IllegalArgumentException("expected " + expected + " score(s) for " + labels.size()
                    + " labels, got " + scores.length);
        }
        float[] copy = scores.clone();
        if (expected == 1) {
            float score = copy[0];
            int index = score > threshold ? 1 : 0;
            return new Classification(copy, index, labels.get(index), index == 1 ? score : 1 - score, tokens,
                    latencyMs);
        }
        int best = -1;
        for (int i = 0; i < copy.length; i++) {
            if (!Float.isNaN(copy[i]) && (best < 0 || copy[i] > copy[best])) {
                best = i;
            }
        }
        int index = Math.max(best, 0);
        return new Classification(copy, index, labels.get(index), copy[index], tokens, latencyMs);
    }

    /** The model's output row (a copy). */
    public float[] scores() {
        return scores.clone();
    }

    /** The class id of the label. */
    public int labelIndex() {
        return labelIndex;
    }

    public String label() {
        return label;
    }

    /** The probability the model gives the chosen label. */
    public float probability() {
        return probability;
    }

    public int tokens() {
        return tokens;
    }

    public double latencyMs() {
        return latencyMs;
    }

    @Override
    public String toString() {
        return "Classification{label=" + label + ", probability=" + probability + ", scores="
                + Arrays.toString(scores) + ", tokens=" + tokens + ", latencyMs=" + latencyMs + "}";
    }
}
