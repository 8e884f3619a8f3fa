"""Quantization-aware training entry points: build a QAT model, and strip it for export.

* :func:`quantize_model` wraps every quantizable layer (see ``quantize_configs``) in a tfmot
  ``QuantizeWrapperV2`` whose forward pass uses the quantized weights and whose gradients reach
  the float weights (straight-through).
* :func:`strip` turns a QAT model back into a plain float Keras model of the original
  architecture whose weights *are* the quantized values — the model that gets exported.
* :func:`quantize_scope` is the one custom-object scope that loads lowbit QAT models.
"""

from __future__ import annotations

import numpy as np

from lowbit.pipeline import quantize_configs, quantizers
from lowbit.pipeline.keras2 import keras, tfmot

_QuantizeWrapper = tfmot.quantization.keras.QuantizeWrapper


def quantize_scope(*custom_objects: dict):
    """tfmot's ``quantize_scope`` with lowbit's quantizers and configs added.

    Use it to load a saved QAT model (``.h5``)::

        with lowbit.quantize_scope():
            model = keras.models.load_model("qat.h5")
    """
    objects = {**quantizers._types_dict(), **quantize_configs._types_dict()}
    for extra in custom_objects:
        objects.update(extra)
    return tfmot.quantization.keras.quantize_scope(objects)


def quantize_model(
    model: keras.Model, scheme: str, *, distribution: str = "normal", scale: str = "tensor",
    keep_float=(),
) -> keras.Model:
    """A QAT copy of ``model`` with weights quantized by ``scheme``; ``model`` is not changed.

    ``model`` may be a Keras 3 model: it is carried across to tf_keras first
    (:mod:`lowbit.pipeline.keras3`). ``keep_float``: names of layers left float (their weights
    train unquantized and export as float32). ``scheme="fp"`` returns a plain copy with the same weights. Raises ``ValueError``
    naming the layer and its class for a layer with weights that lowbit cannot quantize (and
    that is not kept float), and for a ``keep_float`` name the model does not have.
    """
    quantizers.check_choices(scheme, distribution, scale)
    from lowbit.pipeline import keras3

    if keras3.is_keras3_model(model):
        model = keras3.from_keras3(model)
    _check_plain_model(model)
    keep_float = check_keep_float(model, keep_float)
    if scheme == "fp":
        copy = keras.models.clone_model(model)
        copy.set_weights(model.get_weights())
        return copy

    quantizer = quantizers.make_quantizer(scheme, distribution=distribution, scale=scale)
    registry = quantize_configs.WeightsOnlyQuantizeRegistry(quantizer)
    for layer in model.layers:
        if not registry.supports(layer) and not _stays_float(layer) and layer.name not in keep_float:
            raise ValueError(quantize_configs.unsupported_layer_message(layer))

    def annotate(layer):
        if registry.supports(layer) and layer.name not in keep_float:
            return tfmot.quantization.keras.quantize_annotate_layer(layer)
        return layer

    with quantize_scope():
        annotated = keras.models.clone_model(model, clone_function=annotate)
        return tfmot.quantization.keras.quantize_apply(
            annotated, scheme=quantize_configs.WeightsOnlyQuantizeScheme(quantizer)
        )


def load_saved(path, *, compile: bool = False) -> keras.Model:
    """The QAT model saved in the ``.h5`` file ``path``, built the way :func:`quantize_model`
    built it, then given the file's weights (and, with ``compile``, its optimizer state).

    Keras' own loader rebuilds the model from its configuration, and tfmot's
    ``QuantizeWrapperV2`` orders a layer's weights differently then (it builds the wrapped layer
    itself: quantized weights first) than after ``quantize_apply`` (the layer was built: its own
    order). Weights are restored by position, so for a Bidirectional (forward kernel, recurrent
    kernel, bias, backward ...) Keras' loader fails or, with equal shapes, would mix them up.
    Rebuilt through :func:`quantize_model` from the float configuration inside the file, every
    position is the one saved. A model without wrappers (an fp run) loads as Keras loads it."""
    import copy
    import json

    import h5py

    with h5py.File(path, "r") as f:
        config = json.loads(_text(f.attrs["model_config"]))
        training = f.attrs.get("training_config")
        training = None if training is None else json.loads(_text(training))
    layers = config.get("config", {}).get("layers", [])
    wrapped = [layer for layer in layers if layer.get("class_name") in ("QuantizeWrapperV2", "QuantizeWrapper")]
    if not wrapped:
        return keras.models.load_model(path, compile=compile, safe_mode=True)
    with quantize_scope():
        quantizers_ = {keras.utils.deserialize_keras_object(layer["config"]["quantize_config"]).quantizer
                       for layer in wrapped}
    if len(quantizers_) != 1:
        raise ValueError(f"{path}: layers quantized with different quantizers; lowbit writes one per model")
    quantizer = quantizers_.pop()
    float_config = copy.deepcopy(config)
    renamed = {}
    for layer in float_config["config"]["layers"]:
        if layer.get("class_name") in ("QuantizeWrapperV2", "QuantizeWrapper"):
            inner = layer["config"]["layer"]
            # A functional model's layer entry has a top-level "name"; a Sequential's has only the
            # one inside its config (and nothing refers to it by name).
            renamed[layer.get("name", layer["config"]["name"])] = inner["config"]["name"]
            layer.update(class_name=inner["class_name"], config=inner["config"])
            if "name" in layer:
                layer["name"] = inner["config"]["name"]
    float_config = json.loads(_rename_references(json.dumps(float_config), renamed))
    float_model = keras.models.model_from_json(json.dumps(float_config))
    keep_float = [layer.name for layer in float_model.layers
                  if quantize_configs.weight_paths(layer) is not None and layer.name not in renamed.values()]
    model = quantize_model(float_model, quantizer.scheme, distribution=quantizer.distribution,
                           scale=quantizer.scale, keep_float=keep_float)
    model.load_weights(path)
    if compile and training is not None:
        _compile_with_saved_state(model, path, training)
    return model


def _text(raw) -> str:
    return raw.decode("utf-8") if hasattr(raw, "decode") else raw


def _rename_references(text: str, renamed: dict) -> str:
    """The JSON ``text`` with every string equal to a key of ``renamed`` replaced (layer names in
    inbound nodes and the model's input/output lists)."""
    import json

    def walk(node):
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return renamed.get(node, node) if isinstance(node, str) else node

    return json.dumps(walk(json.loads(text)))


def _compile_with_saved_state(model, path, training: dict) -> None:
    """Compile as the file says and restore its optimizer's state, or ``ValueError``."""
    import h5py

    from lowbit.pipeline.keras2 import h5_saving, saving_utils

    model.compile(**saving_utils.compile_args_from_training_config(training), from_serialized=True)
    saving_utils.try_build_compiled_arguments(model)
    with h5py.File(path, "r") as f:
        if "optimizer_weights" not in f:
            return
        values = [np.asarray(v) for v in h5_saving.load_optimizer_weights_from_hdf5_group(f)]
    model.optimizer.build(model.trainable_variables)
    model.optimizer.set_weights(values)


def strip(qat_model: keras.Model) -> keras.Model:
    """A plain float model of the same architecture whose weights are the quantized values.

    Every wrapped layer is rebuilt from its inner layer's config; its quantized weights (the
    config's attribute paths) get the quantizer's forward output (inference mode), the others
    the wrapper's values, in the layer's own order. A model without wrappers comes back as a
    plain copy.
    """

    def unwrap(layer):
        inner = layer.layer if isinstance(layer, _QuantizeWrapper) else layer
        return inner.__class__.from_config(inner.get_config())

    float_model = keras.models.clone_model(qat_model, clone_function=unwrap)
    for source, target in zip(qat_model.layers, float_model.layers):
        if not target.weights:
            continue
        if isinstance(source, _QuantizeWrapper):
            quantized, rest = _inner_values(source, quantize=True)
            paths = source.quantize_config.weight_attrs
            owner = source.quantize_config.weights_owner(target)
            _assign_inner(target, [quantize_configs.resolve(owner, path) for path in paths], quantized, rest)
        else:
            target.set_weights(source.get_weights())
    return float_model


def _inner_values(wrapper, *, quantize: bool) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(the quantized weights in the config's path order — their quantizer's forward output when
    ``quantize`` — , the inner layer's other weights in its own order). Variables are matched by
    identity, never by name: a loaded Bidirectional names both directions' kernels alike."""
    quantized_vars = [w for w, _, _ in wrapper._weight_vars]
    if quantize:
        quantized = [q(w, False, v).numpy() for w, q, v in wrapper._weight_vars]
    else:
        quantized = [w.numpy() for w in quantized_vars]
    rest = [w.numpy() for w in _others(wrapper.layer.weights, quantized_vars)]
    return quantized, rest


def _others(variables, excluded) -> list:
    return [v for v in variables if not any(v is e for e in excluded)]


def _assign_inner(layer, quantized_vars, quantized: list, rest: list) -> None:
    """Assign ``quantized`` to ``quantized_vars`` and ``rest`` to the layer's other weights in
    its own order; ``ValueError`` when counts or shapes differ."""
    others = _others(layer.weights, quantized_vars)
    pairs = list(zip(quantized_vars, quantized)) + list(zip(others, rest))
    if len(quantized_vars) != len(quantized) or len(others) != len(rest) or any(
            tuple(v.shape) != tuple(x.shape) for v, x in pairs):
        raise ValueError(f"layer {layer.name!r}: its weights do not line up with the QAT layer's "
                         f"({len(quantized_vars)}+{len(others)} against {len(quantized)}+{len(rest)})")
    for variable, value in pairs:
        variable.assign(value)


# --------------------------------------------------------------------------- helpers


def check_one_input_one_output(model) -> None:
    """``ValueError`` unless ``model`` has one input and one output: what both exporters write
    and every command takes (the CLI refused a two-input model that this module used to train)."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"{len(model.inputs)} input(s) and {len(model.outputs)} output(s); lowbit takes models "
                         "with one input and one output for now")


def _check_plain_model(model) -> None:
    if not isinstance(model, keras.Model):
        raise ValueError(f"expected a keras.Model, got {type(model).__name__}")
    if not (isinstance(model, keras.Sequential) or model._is_graph_network):
        raise ValueError("only Sequential and functional models can be quantized (not subclassed)")
    if not model.built:
        raise ValueError("the model must be built (give it an Input or call model.build)")
    check_one_input_one_output(model)
    for layer in model.layers:
        if isinstance(layer, (keras.Model, _QuantizeWrapper)):
            raise ValueError(
                f"layer {layer.name!r} of class {type(layer).__name__}: nested models and "
                "already-quantized layers are not supported"
            )


def check_keep_float(model, keep_float) -> frozenset[str]:
    """``keep_float`` as a set of layer names of ``model``, or ``ValueError`` naming the unknown ones."""
    if isinstance(keep_float, str):
        raise ValueError("keep_float takes a list of layer names, not one string")
    names = frozenset(keep_float)
    unknown = sorted(names - {layer.name for layer in model.layers})
    if unknown:
        raise ValueError(f"keep float: the model has no layer {', '.join(map(repr, unknown))}; its layers: "
                         f"{', '.join(layer.name for layer in model.layers)}")
    return names


def _stays_float(layer) -> bool:
    return isinstance(layer, quantize_configs.FLOAT_LAYERS) or not layer.weights
