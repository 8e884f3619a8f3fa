"""lowbit pipeline: the paper's quantizers, tfmot QAT integration, data, training and CLI.

Public API::

    quantize(w, scheme, *, distribution="normal", scale="none") -> np.ndarray
    quantize_model(model, scheme, *, distribution="normal", scale="tensor") -> keras.Model
    strip(qat_model) -> keras.Model
    quantize_scope()
"""

from pipeline.qat import quantize_model, quantize_scope, strip
from pipeline.quantizers import (
    DISTRIBUTIONS,
    SCALES,
    SCHEMES,
    BinaryConnect,
    QuaternaryConnect,
    TernaryConnect,
    quantize,
    quantize_tf,
)

__all__ = [
    "DISTRIBUTIONS",
    "SCALES",
    "SCHEMES",
    "BinaryConnect",
    "QuaternaryConnect",
    "TernaryConnect",
    "quantize",
    "quantize_model",
    "quantize_scope",
    "quantize_tf",
    "strip",
]
