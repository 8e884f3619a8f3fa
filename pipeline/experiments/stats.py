"""Figures over seeds: the mean, the sample standard deviation and a 95 % interval of one measure.

Contract of a summary (:func:`summarize`), as written to ``docs/results/*.json``::

    {"seeds": [v0, v1, ...],   # one value per seed, in seed order (a list per seed for per-frame measures)
     "mean": m, "std": s,      # s: sample standard deviation (ddof 1); None for one seed
     "ci95": [low, high]}      # Student's t interval of the mean, m -/+ t(0.975, n-1) s / sqrt(n); None for one seed

Per-frame measures (a list per seed) are summarized element-wise: ``mean``, ``std`` and both ends
of ``ci95`` are then lists too. A gap between two measures of the same seeds (quantized minus
float, normal minus uniform) is summarized from the per-seed differences (:func:`paired_gap`), so
what the seeds share cancels.
"""

from __future__ import annotations

import math

import numpy as np

# Student's t, two-sided 95 % (the 0.975 quantile), for 1..30 degrees of freedom.
_T975 = (12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
         2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
         2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423)
_Z975 = 1.959964


def t975(dof: int) -> float:
    """The 0.975 quantile of Student's t with ``dof`` degrees of freedom (normal beyond 30,
    off by < 2 % at 31)."""
    if dof < 1:
        raise ValueError(f"a t interval needs at least 1 degree of freedom, got {dof}")
    return _T975[dof - 1] if dof <= len(_T975) else _Z975


def summarize(values) -> dict:
    """``{"seeds", "mean", "std", "ci95"}`` of one value per seed (scalars, or equal-length lists)."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim not in (1, 2) or array.shape[0] == 0:
        raise ValueError(f"summarize needs one scalar or one list per seed, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError("summarize got a value that is not finite")
    n = array.shape[0]
    mean = array.mean(axis=0)
    summary = {"seeds": array.tolist(), "mean": _plain(mean), "std": None, "ci95": None}
    if n > 1:
        std = array.std(axis=0, ddof=1)
        half = t975(n - 1) * std / math.sqrt(n)
        summary.update(std=_plain(std), ci95=[_plain(mean - half), _plain(mean + half)])
    return summary


def paired_gap(values, baseline) -> dict:
    """:func:`summarize` of ``values[i] - baseline[i]`` (seed by seed)."""
    a, b = np.asarray(values, dtype=np.float64), np.asarray(baseline, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a paired gap needs the same seeds on both sides, got {a.shape} and {b.shape}")
    return summarize(a - b)


def _plain(value):
    return float(value) if np.ndim(value) == 0 else [float(v) for v in value]
