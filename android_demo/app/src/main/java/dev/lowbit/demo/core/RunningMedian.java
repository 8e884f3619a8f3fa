package dev.lowbit.demo.core;

import java.util.ArrayDeque;
import java.util.Arrays;

/** Median of the last {@code window} values added. Not thread-safe. */
public final class RunningMedian {

    private final int window;
    private final ArrayDeque<Double> values;

    /** @throws IllegalArgumentException if {@code window < 1} */
    public RunningMedian(int window) {
        if (window < 1) {
            throw new IllegalArgumentException("window must be at least 1, got " + window);
        }
        this.window = window;
        this.values = new ArrayDeque<>(window);
    }

    /** Adds {@code value}, dropping the oldest value when the window is full. */
    public void add(double value) {
        if (values.size() == window) {
            values.removeFirst();
        }
        values.addLast(value);
    }

    /**
     * The median of the values in the window: the middle one for an odd count, the mean of the two
     * middle ones for an even count, NaN when empty.
     */
    public double median() {
        int n = values.size();
        if (n == 0) {
            return Double.NaN;
        }
        double[] sorted = new double[n];
        int i = 0;
        for (double value : values) {
            sorted[i++] = value;
        }
        Arrays.sort(sorted);
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    /** Number of values in the window, at most {@code window}. */
    public int count() {
        return values.size();
    }

    public int window() {
        return window;
    }
}
