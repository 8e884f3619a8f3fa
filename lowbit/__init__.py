"""lowbit: recurrent networks with 1- and 2-bit weights (Alom et al., 2018), trained by QAT through
tensorflow-model-optimization and exported packed to ``.tflite`` and ``.onnx``.

The public Python API, imported lazily (``lowbit --help`` must not load TensorFlow)::

    quantize(w, scheme, *, distribution="normal", scale="none") -> np.ndarray   # numpy reference
    quantize_model(model, scheme, *, distribution="normal", scale="tensor", keep_float=()) -> keras.Model
    strip(qat_model) -> keras.Model            # plain float model whose weights are the quantized values
    quantize_scope()                           # context for loading saved QAT models
    convert_to_tflite(model, *, scheme, batch_size=1, keep_float=()) -> bytes
    convert_to_onnx(model, *, scheme, batch_size=None, keep_float=()) -> bytes
    convert_run(run_dir, *, formats=("tflite", "onnx"), batch_size=1) -> dict   # writes the files
    evaluate(run_dirs, *, out_dir, baseline="fp", ...) -> dict                  # the report
    SCHEMES, Scheme, get_scheme, TASKS, Task, get_task

The import packages below ``lowbit`` are its layers (README "Architecture"): ``lowbit.pipeline``
(quantization core, data, training, the paper's experiments), ``lowbit.models`` (model builders
and the task registry), ``lowbit.deploy`` (export, runtimes, evaluation, Android bundling).
"""

import importlib

_EXPORTS = {
    "quantize": ("lowbit.pipeline.quantizers", "quantize"),
    "quantize_tf": ("lowbit.pipeline.quantizers", "quantize_tf"),
    "BinaryConnect": ("lowbit.pipeline.quantizers", "BinaryConnect"),
    "TernaryConnect": ("lowbit.pipeline.quantizers", "TernaryConnect"),
    "QuaternaryConnect": ("lowbit.pipeline.quantizers", "QuaternaryConnect"),
    "SCHEMES": ("lowbit.pipeline.schemes", "SCHEMES"),
    "DISTRIBUTIONS": ("lowbit.pipeline.schemes", "DISTRIBUTIONS"),
    "SCALES": ("lowbit.pipeline.schemes", "SCALES"),
    "Scheme": ("lowbit.pipeline.schemes", "Scheme"),
    "get_scheme": ("lowbit.pipeline.schemes", "get_scheme"),
    "quantize_model": ("lowbit.pipeline.qat", "quantize_model"),
    "quantize_scope": ("lowbit.pipeline.qat", "quantize_scope"),
    "strip": ("lowbit.pipeline.qat", "strip"),
    "TASKS": ("lowbit.models", "TASKS"),
    "Task": ("lowbit.models", "Task"),
    "get_task": ("lowbit.models", "get_task"),
    "convert_to_tflite": ("lowbit.deploy.export.tflite_export", "convert_keras_model"),
    "convert_to_onnx": ("lowbit.deploy.export.onnx_export", "convert_keras_model"),
    "convert_run": ("lowbit.deploy.export.convert", "convert_run"),
    "evaluate": ("lowbit.deploy.evaluation.evaluate", "evaluate"),
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        module, attribute = _EXPORTS[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'lowbit' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
