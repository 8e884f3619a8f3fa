"""Latency measured the way these noisy machines need it: interleaved, many runs, percentiles.

:func:`interleaved` times several callables against each other: after ``warmup`` calls of each,
every round calls each of them once, in a fresh seeded random order, so that a slow moment of the
machine (another process, frequency scaling) falls on all of them alike. Ratios between the
results of one :func:`interleaved` call are therefore fair; absolute numbers still drift
between calls.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np


def interleaved(calls: dict[str, Callable[[], object]], *, runs: int, warmup: int = 20, seed: int = 0,
                progress: Callable[[int], None] | None = None) -> dict[str, np.ndarray]:
    """Seconds per call, ``{name: array of runs}`` (module docstring).

    ``progress`` (optional) is told 1 after every round.
    """
    if runs < 1 or warmup < 0:
        raise ValueError(f"runs must be positive and warmup >= 0, got {runs} and {warmup}")
    names = list(calls)
    for name in names:
        for _ in range(warmup):
            calls[name]()
    rng = np.random.default_rng(seed)
    seconds = {name: np.empty(runs) for name in names}
    for r in range(runs):
        for k in rng.permutation(len(names)):
            name = names[k]
            start = time.perf_counter()
            calls[name]()
            seconds[name][r] = time.perf_counter() - start
        if progress is not None:
            progress(1)
    return seconds


def summary_ms(seconds: np.ndarray) -> dict[str, float]:
    """p50, p90, p99 and mean in milliseconds."""
    ms = np.asarray(seconds) * 1e3
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return {"p50": round(float(p50), 4), "p90": round(float(p90), 4), "p99": round(float(p99), 4),
            "mean": round(float(ms.mean()), 4)}
