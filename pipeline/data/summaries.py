"""What a split's arrays hold, in a few numbers: enough to check data against a model without
holding the data (a streamed split is summarized chunk by chunk while its records are written).

A :class:`Summary` of the whole split equals the :func:`merge` of the summaries of its chunks
(tested), so an in-memory split and the same split streamed are checked alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Summary:
    """One split: ``count`` examples of row shapes ``x_shape`` / ``y_shape`` (without the
    example axis). Minima and maxima are None when there are no values."""

    count: int
    x_shape: tuple
    x_kind: str  # numpy dtype kind of x: "b", "i", "u" or "f"
    x_integral: bool  # every x value a whole number
    x_min: float | None
    x_max: float | None
    y_shape: tuple
    y_integral: bool
    y_binary: bool  # every y value 0 or 1
    y_rows_sum_to_one: bool  # y's last axis sums to 1 everywhere (one-hot targets); False if y is 1-D
    y_min: float | None
    y_max: float | None

    def to_json(self) -> dict:
        return {**self.__dict__, "x_shape": list(self.x_shape), "y_shape": list(self.y_shape)}

    @classmethod
    def from_json(cls, obj: dict) -> "Summary":
        return cls(**{**obj, "x_shape": tuple(obj["x_shape"]), "y_shape": tuple(obj["y_shape"])})


def of_arrays(x: np.ndarray, y: np.ndarray) -> Summary:
    """The summary of examples ``x`` and targets ``y`` (same length, numeric)."""
    x, y = np.asarray(x), np.asarray(y)
    no_x, no_y = x.size == 0, y.size == 0
    return Summary(
        count=int(len(x)), x_shape=tuple(x.shape[1:]), x_kind=x.dtype.kind,
        x_integral=bool(x.dtype.kind != "f" or np.array_equal(x, np.round(x))),
        x_min=None if no_x else float(x.min()), x_max=None if no_x else float(x.max()),
        y_shape=tuple(y.shape[1:]),
        y_integral=bool(y.dtype.kind != "f" or np.array_equal(y, np.round(y))),
        y_binary=bool(np.isin(y, (0, 1)).all()),
        y_rows_sum_to_one=bool(y.ndim > 1 and np.allclose(np.sum(y, axis=-1), 1)),
        y_min=None if no_y else float(y.min()), y_max=None if no_y else float(y.max()),
    )


def merge(a: Summary | None, b: Summary) -> Summary:
    """The summary of ``a``'s examples followed by ``b``'s (``a`` None: ``b``); the row shapes and
    x's kind must agree."""
    if a is None:
        return b
    if (a.x_shape, a.y_shape, a.x_kind) != (b.x_shape, b.y_shape, b.x_kind):
        raise ValueError(f"cannot merge summaries of rows {a.x_shape}/{a.y_shape} ({a.x_kind}) and "
                         f"{b.x_shape}/{b.y_shape} ({b.x_kind})")
    low = lambda u, v: v if u is None else u if v is None else min(u, v)
    high = lambda u, v: v if u is None else u if v is None else max(u, v)
    return Summary(
        count=a.count + b.count, x_shape=a.x_shape, x_kind=a.x_kind,
        x_integral=a.x_integral and b.x_integral, x_min=low(a.x_min, b.x_min), x_max=high(a.x_max, b.x_max),
        y_shape=a.y_shape, y_integral=a.y_integral and b.y_integral, y_binary=a.y_binary and b.y_binary,
        y_rows_sum_to_one=a.y_rows_sum_to_one and b.y_rows_sum_to_one,
        y_min=low(a.y_min, b.y_min), y_max=high(a.y_max, b.y_max),
    )
