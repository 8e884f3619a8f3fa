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

    ``keep_float``: names of layers left float (their weights train unquantized and export as
    float32). ``scheme="fp"`` returns a plain copy with the same weights. Raises ``ValueError``
    naming the layer and its class for a layer with weights that lowbit cannot quantize (and
    that is not kept float), and for a ``keep_float`` name the model does not have.
    """
    quantizers.check_choices(scheme, distribution, scale)
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


def strip(qat_model: keras.Model) -> keras.Model:
    """A plain float model of the same architecture whose weights are the quantized values.

    Every wrapped layer is rebuilt from its inner layer's config; its weights are copied by
    name from the wrapper's variables, the quantized ones replaced by the quantizer's forward
    output (inference mode). A model without wrappers comes back as a plain copy.
    """

    def unwrap(layer):
        inner = layer.layer if isinstance(layer, _QuantizeWrapper) else layer
        return inner.__class__.from_config(inner.get_config())

    float_model = keras.models.clone_model(qat_model, clone_function=unwrap)
    for source, target in zip(qat_model.layers, float_model.layers):
        if not target.weights:
            continue
        values = (
            _quantized_values_by_name(source)
            if isinstance(source, _QuantizeWrapper)
            else {_relative_name(w.name): w.numpy() for w in source.weights}
        )
        target.set_weights([_value_for(target, w, values) for w in target.weights])
    return float_model


# --------------------------------------------------------------------------- helpers


def _check_plain_model(model) -> None:
    if not isinstance(model, keras.Model):
        raise ValueError(f"expected a keras.Model, got {type(model).__name__}")
    if not (isinstance(model, keras.Sequential) or model._is_graph_network):
        raise ValueError("only Sequential and functional models can be quantized (not subclassed)")
    if not model.built:
        raise ValueError("the model must be built (give it an Input or call model.build)")
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


def _relative_name(variable_name: str) -> str:
    """'quantize_annotate_1/lstm_cell/kernel:0' -> 'lstm_cell/kernel'.

    Drops ':0' and the first scope, which names whatever created the variable (the layer, a
    tfmot annotate wrapper, or a wrapper after loading) and so differs between the QAT and the
    float model; what stays identifies the weight within its layer.
    """
    return variable_name.split(":")[0].split("/", 1)[-1]


def _quantized_values_by_name(wrapper) -> dict[str, np.ndarray]:
    values = {_relative_name(w.name): w.numpy() for w in wrapper.weights}
    for weight, quantizer, quantizer_vars in wrapper._weight_vars:
        name = _relative_name(weight.name)
        values[name] = quantizer(weight, False, quantizer_vars).numpy()
    return values


def _value_for(target_layer, weight, values: dict) -> np.ndarray:
    name = _relative_name(weight.name)
    if name not in values:
        raise ValueError(
            f"strip: no value for {target_layer.name}/{name}; the QAT layer has "
            f"{sorted(values)}"
        )
    return values[name]
