"""The paper's schemes as records: every fact about a scheme in one place (no TensorFlow here).

A :class:`Scheme` holds what the quantizers, the packers, both exporters, the figures and the
reports need to know about it; each module asks :func:`get_scheme` instead of keeping a table of
its own, so adding a scheme is one entry in :data:`REGISTRY` (plus its rule in
:mod:`lowbit.pipeline.quantizers`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

DISTRIBUTIONS = ("normal", "uniform")
SCALES = ("none", "tensor")
_NAN = float("nan")


@dataclass(frozen=True)
class Scheme:
    """One quantization scheme.

    ``codes``: the values a weight takes before the per-tensor scale α (empty for ``fp``).
    ``sigma_divisor``: per distribution, the d of the threshold t = μ + σ/d (eqs. 21-24; empty
    when the scheme has no threshold). ``levels``: lowbit's packed codebook, the code each
    unsigned level ``0 .. 2**packed_bits - 1`` stands for (NaN: unused level), see
    :mod:`lowbit.deploy.export.packing`. ``tflite_bits``: the signed integer width of its weights
    in a ``.tflite`` (INT2 holds {-1, 0, 1}; QC's {±1, ±½} needs ±1, ±2 in INT4), and
    ``tflite_steps`` the largest integer code there (scale = max|w| / steps).
    ``colors``: plot colour per distribution.
    """

    name: str
    label: str
    codes: tuple[float, ...] = ()
    sigma_divisor: Mapping[str, float] = field(default_factory=dict)
    packed_bits: int | None = None
    levels: tuple[float, ...] = ()
    tflite_bits: int | None = None
    tflite_steps: int | None = None
    colors: Mapping[str, str] = field(default_factory=dict)

    @property
    def quantized(self) -> bool:
        return bool(self.codes)

    @property
    def has_threshold(self) -> bool:
        return bool(self.sigma_divisor)

    def color(self, distribution: str = "normal") -> str:
        return self.colors.get(distribution, self.colors["normal"])

    def __post_init__(self):
        if self.quantized:
            used = sorted(v for v in self.levels if not math.isnan(v))
            if used != sorted(self.codes) or len(self.levels) != 1 << self.packed_bits:
                raise ValueError(f"scheme {self.name}: levels {self.levels} do not hold codes {self.codes}")


REGISTRY: Mapping[str, Scheme] = MappingProxyType({s.name: s for s in (
    Scheme("fp", "FP (32 bit)", colors={"normal": "black"}),
    Scheme("bc", "BC {-1,1}", codes=(-1.0, 1.0), packed_bits=1, levels=(-1.0, 1.0),
           tflite_bits=2, tflite_steps=1, colors={"normal": "tab:red"}),
    # 2-bit two's complement levels (0 -> 0, 1 -> 1, 3 -> -1), so an INT2 reader sees the same numbers
    Scheme("tc", "TC {-1,0,1}", codes=(-1.0, 0.0, 1.0), sigma_divisor={"normal": 1.0, "uniform": 2.0},
           packed_bits=2, levels=(0.0, 1.0, _NAN, -1.0), tflite_bits=2, tflite_steps=1,
           colors={"normal": "tab:blue", "uniform": "tab:cyan"}),
    # not an evenly spaced grid: its 2-bit levels are indices into the codebook
    Scheme("qc", "QC {-1,-.5,.5,1}", codes=(-1.0, -0.5, 0.5, 1.0), sigma_divisor={"normal": 4.0, "uniform": 6.0},
           packed_bits=2, levels=(-1.0, -0.5, 0.5, 1.0), tflite_bits=4, tflite_steps=2,
           colors={"normal": "tab:green", "uniform": "tab:olive"}),
)})

SCHEMES = tuple(REGISTRY)
QUANTIZED = tuple(name for name, s in REGISTRY.items() if s.quantized)
# Derived views kept for readers that want one fact for every scheme.
CODE_VALUES = {s.name: s.codes for s in REGISTRY.values() if s.quantized}
SIGMA_DIVISOR = {(s.name, d): v for s in REGISTRY.values() for d, v in s.sigma_divisor.items()}


def get_scheme(name: str) -> Scheme:
    if name not in REGISTRY:
        raise ValueError(f"unknown scheme {name!r}; valid choices: {', '.join(SCHEMES)}")
    return REGISTRY[name]


def check_choices(scheme: str, distribution: str = "normal", scale: str = "none") -> None:
    """Raise ``ValueError`` naming the valid choices for any unknown option."""
    for what, value, valid in (
        ("scheme", scheme, SCHEMES),
        ("distribution", distribution, DISTRIBUTIONS),
        ("scale", scale, SCALES),
    ):
        if value not in valid:
            raise ValueError(f"unknown {what} {value!r}; valid choices: {', '.join(valid)}")


def variant_key(scheme: str, distribution: str) -> str:
    """How results name a (scheme, distribution) pair: ``tc``, ``tc-uniform``; schemes without a
    threshold ignore the distribution."""
    return scheme if distribution == "normal" or not get_scheme(scheme).has_threshold else f"{scheme}-{distribution}"


def parse_variant_key(key: str) -> tuple[Scheme, str]:
    """Inverse of :func:`variant_key`: ``"tc-uniform"`` -> (the tc scheme, ``"uniform"``)."""
    name, _, distribution = key.partition("-")
    return get_scheme(name), distribution or "normal"
