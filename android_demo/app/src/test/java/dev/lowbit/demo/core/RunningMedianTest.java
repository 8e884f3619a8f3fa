package dev.lowbit.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

public class RunningMedianTest {

    private static RunningMedian of(int window, double... values) {
        RunningMedian median = new RunningMedian(window);
        for (double value : values) {
            median.add(value);
        }
        return median;
    }

    @Test
    public void emptyMedianIsNaN() {
        RunningMedian median = new RunningMedian(20);
        assertTrue(Double.isNaN(median.median()));
        assertEquals(0, median.count());
        assertEquals(20, median.window());
    }

    @Test
    public void oddCountTakesTheMiddleValue() {
        assertEquals(3.0, of(20, 3).median(), 0.0);
        assertEquals(2.0, of(20, 3, 1, 2).median(), 0.0);
        assertEquals(5.0, of(20, 9, 5, 1, 7, 2).median(), 0.0);
    }

    @Test
    public void evenCountTakesTheMeanOfTheTwoMiddleValues() {
        assertEquals(2.5, of(20, 4, 1, 3, 2).median(), 0.0);
        assertEquals(1.5, of(20, 2, 1).median(), 0.0);
        assertEquals(7.0, of(20, 7, 7).median(), 0.0);
    }

    @Test
    public void oldestValuesLeaveTheWindow() {
        RunningMedian median = of(3, 1, 2, 3);
        assertEquals(2.0, median.median(), 0.0);
        median.add(100);
        assertEquals(3, median.count());
        assertEquals(3.0, median.median(), 0.0);
        median.add(100);
        median.add(100);
        assertEquals(100.0, median.median(), 0.0);
    }

    @Test
    public void aWindowOfTwentyKeepsTheLastTwentyRuns() {
        RunningMedian median = new RunningMedian(20);
        for (int i = 1; i <= 25; i++) {
            median.add(i);
        }
        assertEquals(20, median.count());
        assertEquals(15.5, median.median(), 0.0);
    }

    @Test
    public void aWindowOfOneIsTheLastValue() {
        assertEquals(-4.0, of(1, 8, 3, -4).median(), 0.0);
    }

    @Test
    public void rejectsAnEmptyWindow() {
        assertThrows(IllegalArgumentException.class, () -> new RunningMedian(0));
    }
}
