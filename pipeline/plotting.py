"""How lowbit draws: matplotlib without a display, one style per scheme, atomic PNG writing.

Every figure module (the paper's figures, the evaluation report's plots) draws through here, so
a scheme's colour and label come from its :class:`~lowbit.pipeline.schemes.Scheme` alone.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from lowbit.pipeline import atomic  # noqa: E402
from lowbit.pipeline.schemes import parse_variant_key  # noqa: E402

DPI = 100


def color(key: str) -> str:
    """The colour of a scheme or result key (``tc``, ``tc-uniform``)."""
    scheme, distribution = parse_variant_key(key)
    return scheme.color(distribution)


def label(key: str) -> str:
    """The legend label of a scheme or result key: ``TC {-1,0,1}``, ``TC uniform``."""
    scheme, distribution = parse_variant_key(key)
    return scheme.label if distribution == "normal" else f"{scheme.name.upper()} {distribution}"


def save(fig, path) -> Path:
    """Lay out, write atomically as PNG, close; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    with atomic.replacing(path) as tmp:
        fig.savefig(tmp, dpi=DPI)
    plt.close(fig)
    return path
