"""The names of the paper's schemes and options, and their validation (no TensorFlow here)."""

SCHEMES = ("fp", "bc", "tc", "qc")
DISTRIBUTIONS = ("normal", "uniform")
SCALES = ("none", "tensor")

# t = μ + σ / divisor, per (scheme, distribution): eqs. 21-24.
SIGMA_DIVISOR = {
    ("tc", "normal"): 1.0,
    ("tc", "uniform"): 2.0,
    ("qc", "normal"): 4.0,
    ("qc", "uniform"): 6.0,
}

# The values each scheme's codes take (before scaling).
CODE_VALUES = {
    "bc": (-1.0, 1.0),
    "tc": (-1.0, 0.0, 1.0),
    "qc": (-1.0, -0.5, 0.5, 1.0),
}


def check_choices(scheme: str, distribution: str = "normal", scale: str = "none") -> None:
    """Raise ``ValueError`` naming the valid choices for any unknown option."""
    for what, value, valid in (
        ("scheme", scheme, SCHEMES),
        ("distribution", distribution, DISTRIBUTIONS),
        ("scale", scale, SCALES),
    ):
        if value not in valid:
            raise ValueError(f"unknown {what} {value!r}; valid choices: {', '.join(valid)}")
