"""lowbit.deploy.runtime.latency: every callable runs warm-up + runs times, rounds interleave in a seeded random
order, and the summary is numpy's percentiles in milliseconds."""

import numpy as np
import pytest

from lowbit.deploy.runtime.latency import interleaved, summary_ms


def test_counts_order_and_progress():
    order, rounds = [], []
    calls = {name: (lambda n=name: order.append(n)) for name in "abc"}
    seconds = interleaved(calls, runs=50, warmup=4, seed=3, progress=rounds.append)
    assert {k: len(v) for k, v in seconds.items()} == {"a": 50, "b": 50, "c": 50}
    assert order[:12] == ["a"] * 4 + ["b"] * 4 + ["c"] * 4  # warm-up, each on its own
    timed = order[12:]
    assert all(sorted(timed[i:i + 3]) == ["a", "b", "c"] for i in range(0, 150, 3))  # one of each per round
    assert len({tuple(timed[i:i + 3]) for i in range(0, 150, 3)}) > 1  # and not always in one order
    assert rounds == [1] * 50


def test_summary_is_numpy_percentiles_in_ms():
    seconds = np.random.default_rng(0).exponential(1e-3, 1000)
    summary = summary_ms(seconds)
    for key, q in (("p50", 50), ("p90", 90), ("p99", 99)):
        assert summary[key] == pytest.approx(np.percentile(seconds, q) * 1e3, abs=1e-4)
    assert summary["mean"] == pytest.approx(seconds.mean() * 1e3, abs=1e-4)


def test_bad_counts():
    with pytest.raises(ValueError, match="runs must be positive"):
        interleaved({"a": lambda: None}, runs=0)
