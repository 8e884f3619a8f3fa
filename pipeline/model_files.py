"""Loading Keras model files (``.h5``) without running code stored in them.

tf-keras' H5 loader rebuilds a ``Lambda`` layer from the marshalled Python bytecode in the file
even with ``safe_mode=True`` (measured with tf-keras 2.21: a saved ``Lambda`` loaded and ran), so a
``model.h5`` from elsewhere could execute anything on load. :func:`load` first reads the file's
``model_config`` JSON with h5py and refuses every ``class_name`` outside :data:`ALLOWED` — the
layers, initializers and lowbit QAT objects lowbit's models are made of — then loads with
``safe_mode=True``.

Keras' ``.keras`` loader also imports whatever module an object's ``"module"`` key names
(``importlib.import_module``, before it looks for the class: a ``"module": "this"`` printed the Zen
of Python, measured), so :func:`load` refuses, at any depth of the configuration, a ``module``
outside Keras' own (:func:`allowed_module`) and a ``registered_name`` that is neither the
object's ``class_name`` nor an allowed class. Nothing named in a file is imported.
"""

from __future__ import annotations

import json
from pathlib import Path

ALLOWED = frozenset({
    # containers and layers of lowbit's models
    "Functional", "Sequential", "Model", "InputLayer", "Embedding", "SpatialDropout1D", "Dropout",
    "LSTM", "GRU", "ConvLSTM2D", "LSTMCell", "GRUCell", "ConvLSTM2DCell", "Dense", "Conv3D",
    "TimeDistributed", "RepeatVector", "BatchNormalization",
    # layers of users' recurrent models that carry no code (no Lambda, no custom class)
    "SimpleRNN", "SimpleRNNCell", "Bidirectional", "Conv1D", "Conv2D", "MaxPooling1D", "MaxPooling2D",
    "AveragePooling1D", "AveragePooling2D", "GlobalAveragePooling1D", "GlobalMaxPooling1D",
    "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Flatten", "Reshape", "Permute", "Activation",
    "Masking", "LayerNormalization", "SpatialDropout2D", "GaussianNoise", "ZeroPadding1D",
    "Cropping1D", "ReLU", "LeakyReLU", "Softmax", "Concatenate", "Add", "Average", "Multiply",
    # initializers, regularizers, constraints Keras writes into layer configs
    "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "LecunNormal",
    "Orthogonal", "Zeros", "Ones", "Constant", "RandomUniform", "RandomNormal", "TruncatedNormal",
    "VarianceScaling", "Identity", "L1", "L2", "L1L2", "MaxNorm", "NonNeg", "UnitNorm",
    # what Keras 3 writes besides (read through lowbit.pipeline.keras3): dtype policies, the
    # tensors of a functional graph, the optimizer of the compile configuration
    "DTypePolicy", "__keras_tensor__", "NotEqual", "Adam", "AdamW", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adamax",
    "Nadam",
    # tfmot wrapper and lowbit's quantizers / quantize configs (registered as "lowbit>Name")
    "QuantizeWrapper", "QuantizeWrapperV2", "BinaryConnect", "TernaryConnect", "QuaternaryConnect",
    "lowbit>BinaryConnect", "lowbit>TernaryConnect", "lowbit>QuaternaryConnect",
    "lowbit>WeightsQuantizeConfig", "lowbit>RNNWeightsQuantizeConfig",
    "lowbit>TimeDistributedWeightsQuantizeConfig",
})


def stored_config(path) -> dict:
    """The model configuration JSON stored in an ``.h5`` file (``model_config``) or a ``.keras``
    archive (its ``config.json``), with the compile configuration under ``"compile"`` when the
    file has one (``training_config`` / ``compile_config``), without loading the model."""
    path = Path(path)
    if path.suffix == ".keras":
        import zipfile

        try:
            with zipfile.ZipFile(path) as archive:
                raw = archive.read("config.json")
        except (OSError, KeyError, zipfile.BadZipFile) as err:
            raise ValueError(f"{path}: not a readable .keras model archive ({err})") from None
        config = _json_object(path, raw)
        return {"model": config, "compile": config.get("compile_config")}
    import h5py

    try:
        with h5py.File(path, "r") as f:
            raw, training = f.attrs.get("model_config"), f.attrs.get("training_config")
    except OSError as err:
        raise ValueError(f"{path}: not a readable HDF5 model file ({err})") from None
    if raw is None:
        raise ValueError(f"{path}: no model_config in the file; not a Keras model")
    return {"model": _json_object(path, raw),
            "compile": None if training is None else _json_object(path, training)}


def _json_object(path, raw) -> dict:
    try:
        value = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: the stored model configuration is not JSON ({err})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path}: the stored model configuration is not a JSON object")
    return value


def _objects(node):
    """Every JSON object in ``node``, at any depth."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value)


def classes_in(path) -> set[str]:
    """Every ``class_name`` in the model configuration stored in an ``.h5`` or ``.keras`` file."""
    return {o["class_name"] for o in _objects(stored_config(path)["model"]) if isinstance(o.get("class_name"), str)}


# The modules of lowbit's own classes that Keras writes into a model file (its quantizers).
LOWBIT_MODULES = frozenset({"lowbit.pipeline.quantizers", "lowbit.pipeline.quantize_configs"})


def allowed_module(module) -> bool:
    """Whether Keras may resolve an object through ``module``: none given, Python's builtins (how
    Keras names its built-in functions), Keras' own packages (``keras``/``tf_keras`` and their
    submodules, which Keras maps to ``tf_keras``) or :data:`LOWBIT_MODULES`."""
    return module is None or module in ("builtins", "keras", "tf_keras", *LOWBIT_MODULES) or (
        isinstance(module, str) and module.startswith(("keras.", "tf_keras.")) and module.isascii()
        and all(part.isidentifier() for part in module.split(".")))


def refused_in(path) -> list[str]:
    """What in the stored configuration :func:`load` refuses, each as a phrase: classes outside
    :data:`ALLOWED`, modules outside :func:`allowed_module`, foreign ``registered_name`` s."""
    objects = list(_objects(stored_config(path)["model"]))
    classes = {o["class_name"] for o in objects if isinstance(o.get("class_name"), str)}
    refused = sorted(classes - ALLOWED)
    modules = sorted({repr(o["module"]) for o in objects if "module" in o and not allowed_module(o["module"])})
    registered = sorted({repr(o["registered_name"]) for o in objects if "registered_name" in o
                         and o["registered_name"] not in (None, o.get("class_name")) and o["registered_name"] not in ALLOWED})
    return [*refused, *(f"the module {m}" for m in modules), *(f"the registered name {r}" for r in registered)]


def load(path, *, compile: bool = False, qat: bool = False):
    """The Keras model in ``path`` after checking its classes; ``qat`` loads a QAT model (inside
    :func:`lowbit.pipeline.qat.quantize_scope`). ``ValueError`` names any class that is not allowed."""
    path = Path(path)
    refused = refused_in(path)
    if refused:
        raise ValueError(f"{path}: refusing to load {', '.join(refused)}: a model file may only hold "
                         "Keras' standard layers and lowbit's (a Lambda layer would run code stored in the "
                         "file; a module named in it would be imported)")
    from lowbit.pipeline.keras2 import keras

    from lowbit.pipeline import keras3

    if keras3.is_keras3_file(path):
        if qat or compile:
            raise ValueError(f"{path}: saved by Keras 3; lowbit reads a Keras 3 model as a user's float model only")
        return keras3.load(path)
    if not qat:
        return keras.models.load_model(path, compile=compile, safe_mode=True)
    from lowbit.pipeline.qat import load_saved

    return load_saved(path, compile=compile)
