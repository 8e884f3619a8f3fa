"""lowbit pipeline: the paper's quantizers, tfmot QAT integration, data, training and CLI.

Public API (imported lazily, so ``lowbit --help`` does not load TensorFlow)::

    quantize(w, scheme, *, distribution="normal", scale="none") -> np.ndarray
    quantize_model(model, scheme, *, distribution="normal", scale="tensor") -> keras.Model
    strip(qat_model) -> keras.Model
    quantize_scope()
"""

import importlib

_EXPORTS = {
    "quantize": "pipeline.quantizers",
    "quantize_tf": "pipeline.quantizers",
    "BinaryConnect": "pipeline.quantizers",
    "TernaryConnect": "pipeline.quantizers",
    "QuaternaryConnect": "pipeline.quantizers",
    "SCHEMES": "pipeline.schemes",
    "DISTRIBUTIONS": "pipeline.schemes",
    "SCALES": "pipeline.schemes",
    "quantize_model": "pipeline.qat",
    "quantize_scope": "pipeline.qat",
    "strip": "pipeline.qat",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
