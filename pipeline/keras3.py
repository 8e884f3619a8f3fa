"""Keras 3 models carried across to tf_keras, the Keras lowbit trains and exports with.

TensorFlow 2.21's default ``keras`` is Keras 3; tfmot and lowbit's QAT run on tf_keras 2.21. A
model saved by Keras 3 (``.keras``, or ``.h5`` with ``keras_version`` 3.x) or built with it is
rebuilt here, layer by layer, as the same tf_keras model:

* the architecture from each layer's configuration: serialized objects (``{"module", "class_name",
  "config"}``) become tf_keras' form, a ``DTypePolicy`` its dtype name, and the options Keras 3
  alone knows are dropped only where tf_keras behaves the same without them (:data:`DROPPED`);
  any other unknown option, and any class outside
  :data:`lowbit.pipeline.model_files.ALLOWED`, is a ``ValueError`` naming the layer;
* a Sequential as a Sequential, a functional model through its graph (each layer called on the
  tensors its Keras 3 node read; a mask travels as tf_keras propagates it);
* the weights copied layer by layer, then checked: on random inputs the two models' outputs
  must agree within :data:`TOLERANCE`, else ``ValueError``.

A file is read by Keras 3 only after :func:`lowbit.pipeline.model_files.refused_in` found nothing
to refuse in its configuration (no module imported, no Lambda), with ``safe_mode=True``.
Initializers are carried by name only: the weights are copied, so their seeds do not matter.
"""

from __future__ import annotations

import inspect
import json
import zipfile
from pathlib import Path

import numpy as np

from lowbit.pipeline.keras2 import keras, keras_3

# Keras 3-only layer options and when dropping them changes nothing in tf_keras
DROPPED = {
    "quantization_config": lambda v: v is None,  # Keras 3's own int8/float8 modes
    "seed": lambda v: True,  # dropout's seed: the same random masks in distribution
    "zero_output_for_mask": lambda v: True,  # tf_keras zeroes masked steps of return_sequences itself
    "optional": lambda v: v is False,  # InputLayer
    "sparse": lambda v: v is False,
    "ragged": lambda v: v is False,
}
TOLERANCE = 1e-5
# Operations a Keras 3 functional graph records to compute an Embedding's mask (mask_zero): tf_keras
# propagates masks itself, so they are left out, as is the mask argument they feed.
MASK_OPERATIONS = {"NotEqual"}
_BASE = {"name", "trainable", "dtype", "input_shape", "batch_input_shape", "batch_size", "input_dim", "input_length"}


def is_keras3_file(path) -> bool:
    """Whether the model file ``path`` was saved by Keras 3 (its recorded ``keras_version``)."""
    path = Path(path)
    try:
        if path.suffix == ".keras":
            with zipfile.ZipFile(path) as archive:
                version = json.loads(archive.read("metadata.json")).get("keras_version", "")
        else:
            import h5py

            with h5py.File(path, "r") as f:
                version = f.attrs.get("keras_version", "")
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return False
    version = version.decode() if isinstance(version, bytes) else str(version)
    return version.startswith("3.")


def is_keras3_model(model) -> bool:
    return type(model).__module__.startswith("keras.")


def load(path) -> keras.Model:
    """The tf_keras twin of the Keras 3 model saved in ``path`` (module docstring); the file's
    configuration must already have passed ``model_files.refused_in``."""
    try:
        model = keras_3().saving.load_model(Path(path), compile=False, safe_mode=True)
    except (ValueError, TypeError, KeyError) as err:  # e.g. Keras 3.15 cannot read its own .h5 of a masked
        # functional model ("Unknown layer: 'NotEqual'")
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{path}: Keras 3 itself cannot load this file ({first}); save the model as .keras") from None
    return from_keras3(model, source=path)


def from_keras3(model, *, source="the model") -> keras.Model:
    """The tf_keras twin of the Keras 3 ``model`` (Sequential or functional), same weights."""
    container = type(model).__name__
    config = model.get_config()
    if container == "Sequential":
        layers = [_layer(layer, source) for layer in config["layers"] if layer["class_name"] != "InputLayer"]
        tensor = model.inputs[0]  # its shape and dtype (an int32 token input stays int32)
        twin = keras.Sequential([keras.Input(batch_shape=tuple(tensor.shape), dtype=str(tensor.dtype)), *layers],
                                name=config.get("name"))
    elif container == "Functional":
        twin = _functional(config, source)
    else:
        raise ValueError(f"{source}: a Keras 3 {container} (subclassed model); lowbit carries Sequential and "
                         "functional models across to tf_keras")
    _copy_weights(model, twin, source)
    _check_outputs(model, twin, source)
    return twin


def _functional(config: dict, source) -> keras.Model:
    tensors: dict = {}
    for entry in config["layers"]:
        name = entry["config"]["name"]
        if entry["class_name"] in MASK_OPERATIONS:
            continue
        if entry["class_name"] == "InputLayer":
            tensors[(name, 0, 0)] = keras.Input(batch_shape=tuple(entry["config"]["batch_shape"]),
                                                dtype=entry["config"]["dtype"], name=name)
            continue
        layer = _layer(entry, source)
        for node_index, node in enumerate(entry.get("inbound_nodes", [])):
            kwargs = {k: v for k, v in node.get("kwargs", {}).items() if k not in ("mask", "training")}
            if kwargs:
                raise ValueError(f"{source}: layer {name!r} is called with {', '.join(kwargs)}; lowbit carries "
                                 "layers called on their inputs alone across to tf_keras")
            args = [_resolve(a, tensors) for a in node["args"]]
            out = layer(*args)
            for k, tensor in enumerate(out if isinstance(out, (list, tuple)) else [out]):
                tensors[(name, node_index, k)] = tensor
    pick = lambda refs: [tensors[tuple(r)] for r in (refs if isinstance(refs[0], list) else [refs])]  # noqa: E731
    inputs, outputs = pick(config["input_layers"]), pick(config["output_layers"])
    return keras.Model(inputs if len(inputs) > 1 else inputs[0], outputs if len(outputs) > 1 else outputs[0],
                       name=config.get("name"))


def _resolve(arg, tensors):
    if isinstance(arg, dict) and arg.get("class_name") == "__keras_tensor__":
        history = tuple(arg["config"]["keras_history"])
        if history not in tensors:
            raise ValueError(f"the output of {history[0]!r} (an operation lowbit leaves out: it computes a mask) "
                             "is used as a layer's input; tf_keras cannot rebuild that graph")
        return tensors[history]
    if isinstance(arg, (list, tuple)):
        return [_resolve(a, tensors) for a in arg]
    return arg


def _layer(entry: dict, source):
    """The tf_keras layer of a Keras 3 layer's serialized ``entry`` (``class_name`` + ``config``)."""
    from lowbit.pipeline.model_files import ALLOWED

    name, class_name = entry["config"].get("name"), entry["class_name"]
    if class_name not in ALLOWED or not hasattr(keras.layers, class_name):
        raise ValueError(f"{source}: layer {name!r} of class {class_name} cannot be carried across to tf_keras; "
                         "rebuild the model with Keras' standard layers, or save it with tf_keras")
    cls = getattr(keras.layers, class_name)
    accepted = set(inspect.signature(cls.__init__).parameters) | _BASE
    config = {}
    for key, value in entry["config"].items():
        if key in accepted:
            config[key] = _tf_keras_form(value, source, name)
        elif key not in DROPPED or not DROPPED[key](value):
            raise ValueError(f"{source}: layer {name!r} ({class_name}) sets {key}={value!r}, which tf_keras has no "
                             "equivalent of; remove it from the model or save the model with tf_keras")
    for wrapped in ("layer", "backward_layer"):  # Bidirectional, TimeDistributed
        if isinstance(entry["config"].get(wrapped), dict):
            inner = entry["config"][wrapped]
            config[wrapped] = {"class_name": inner["class_name"],
                               "config": _layer(inner, source).get_config()}
    return cls.from_config(config)


def _tf_keras_form(value, source, name):
    """A Keras 3 config value in tf_keras' form: a serialized object without its module, a dtype
    policy as its name, an initializer by its class alone."""
    if isinstance(value, dict) and "class_name" in value and "config" in value:
        if value["class_name"] == "DTypePolicy":
            return value["config"]["name"]
        if value.get("module") == "keras.initializers":
            return value["class_name"]
        return {"class_name": value["class_name"], "config": _tf_keras_form(value["config"], source, name)}
    if isinstance(value, dict):
        return {k: _tf_keras_form(v, source, name) for k, v in value.items()}
    if isinstance(value, tuple):
        return list(value)
    return value


def _copy_weights(model, twin, source) -> None:
    theirs = {layer.name: layer for layer in model.layers}
    for layer in twin.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        values = [np.asarray(w) for w in theirs[layer.name].get_weights()]
        if [v.shape for v in values] != [tuple(w.shape) for w in layer.get_weights()]:
            raise ValueError(f"{source}: layer {layer.name!r} holds weights of shapes {[v.shape for v in values]} in "
                             f"Keras 3 but {[tuple(w.shape) for w in layer.get_weights()]} in tf_keras")
        layer.set_weights(values)


def _check_outputs(model, twin, source) -> None:
    rng = np.random.default_rng(0)
    shape = (8,) + tuple(d or 4 for d in twin.inputs[0].shape[1:])
    if twin.inputs[0].dtype.is_integer:
        rows = _embedding_rows(twin)
        x = rng.integers(0, rows, shape).astype(twin.inputs[0].dtype.as_numpy_dtype)
    else:
        x = rng.normal(size=shape).astype(np.float32)
    ours, theirs = np.asarray(twin(x, training=False)), np.asarray(model(x, training=False))
    worst = float(np.max(np.abs(ours - theirs))) if ours.size else 0.0
    if ours.shape != theirs.shape or not worst <= TOLERANCE:
        raise ValueError(f"{source}: the tf_keras rebuild of this Keras 3 model computes other outputs (max "
                         f"difference {worst:.3g}); save the model with tf_keras instead")


def _embedding_rows(model) -> int:
    embeddings = [layer for layer in model.layers if isinstance(layer, keras.layers.Embedding)]
    return embeddings[0].input_dim if embeddings else 2
