"""tfmot ``QuantizeConfig``s, registry and scheme for weights-only low-bit QAT.

Modelled on tfmot's ``default_8bit_quantize_registry``: one declarative table,
:data:`QUANTIZED_WEIGHTS` (+ :data:`WRAPPERS`), says which weights of which layer classes are
quantized, as attribute paths from the layer (``"cell.kernel"``, ``"forward_layer.cell.kernel"``);
:func:`weight_paths` reads it, and the exporters ask the same function. The one config class
resolves the paths, checks count and shape when the wrapper hands the quantized tensors back, and
quantizes no activations and no outputs. Biases and normalization layers stay float.

The scheme's layout transformer does nothing: tfmot's default inserts a ``QuantizeLayer`` after
each input, which fails on integer token inputs and would quantize activations we keep float.
"""

from __future__ import annotations

from lowbit.pipeline.keras2 import keras, tfmot
from lowbit.pipeline.quantizers import ConnectQuantizer

_QuantizeConfig = tfmot.quantization.keras.QuantizeConfig
_serialize = keras.utils.serialize_keras_object
_deserialize = keras.utils.deserialize_keras_object


@keras.utils.register_keras_serializable(package="lowbit")
class WeightsQuantizeConfig(_QuantizeConfig):
    """Quantizes the weights at ``weight_attrs`` of the layer; nothing else.

    Each entry is an attribute path from the layer, dotted through the objects that own the
    weight: ``"kernel"``, ``"cell.recurrent_kernel"`` (an RNN's cell),
    ``"forward_layer.cell.kernel"`` (a Bidirectional's forward RNN), ``"layer.kernel"``
    (TimeDistributed). :func:`weight_paths` gives them for every layer lowbit quantizes.
    """

    def __init__(self, weight_attrs, quantizer: ConnectQuantizer):
        self.weight_attrs = list(weight_attrs)
        self.quantizer = quantizer

    def weights_owner(self, layer):
        """The object the paths in ``weight_attrs`` start from."""
        return layer

    def _parent_and_name(self, layer, path: str):
        parent, _, name = path.rpartition(".")
        return resolve(self.weights_owner(layer), parent), name

    def get_weights_and_quantizers(self, layer):
        return [(getattr(*self._parent_and_name(layer, path)), self.quantizer) for path in self.weight_attrs]

    def set_quantize_weights(self, layer, quantize_weights):
        if len(quantize_weights) != len(self.weight_attrs):
            raise ValueError(
                f"set_quantize_weights on layer {layer.name!r} got {len(quantize_weights)} "
                f"tensors, expected {len(self.weight_attrs)} ({', '.join(self.weight_attrs)})"
            )
        for path, quantized in zip(self.weight_attrs, quantize_weights):
            owner, name = self._parent_and_name(layer, path)
            current = getattr(owner, name)
            if tuple(current.shape) != tuple(quantized.shape):
                raise ValueError(
                    f"layer {layer.name!r}: {path} has shape {tuple(current.shape)} but the "
                    f"quantized tensor has shape {tuple(quantized.shape)}"
                )
            setattr(owner, name, quantized)

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_activations(self, layer, quantize_activations):
        if quantize_activations:
            raise ValueError(f"{type(self).__name__} quantizes no activations")

    def get_output_quantizers(self, layer):
        return []

    def get_config(self):
        return {"weight_attrs": self.weight_attrs, "quantizer": _serialize(self.quantizer)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["quantizer"] = _deserialize(config["quantizer"])
        return cls(**config)

    def __eq__(self, other):
        return type(self) is type(other) and (
            self.weight_attrs == other.weight_attrs and self.quantizer == other.quantizer
        )

    def __ne__(self, other):
        return not self == other


# The two configs below are what QAT files saved before attribute paths name their classes;
# they stay registered so those files (checkpoints of interrupted runs) still load and resume.
@keras.utils.register_keras_serializable(package="lowbit")
class RNNWeightsQuantizeConfig(WeightsQuantizeConfig):
    """Paths start at ``layer.cell`` (files saved before attribute paths)."""

    def weights_owner(self, layer):
        return layer.cell


@keras.utils.register_keras_serializable(package="lowbit")
class TimeDistributedWeightsQuantizeConfig(WeightsQuantizeConfig):
    """Paths start at ``layer.layer`` (files saved before attribute paths)."""

    def weights_owner(self, layer):
        return layer.layer


L = keras.layers

# What lowbit quantizes: layer class -> attribute paths of its quantized weights. Exact classes,
# no isinstance: a subclass may hold its weights elsewhere and must be added deliberately.
# Biases, BatchNormalization and every other weight stay float.
QUANTIZED_WEIGHTS = {
    L.Embedding: ("embeddings",),
    L.Dense: ("kernel",),
    L.Conv1D: ("kernel",),
    L.Conv2D: ("kernel",),
    L.Conv3D: ("kernel",),
    L.SimpleRNN: ("cell.kernel", "cell.recurrent_kernel"),
    L.LSTM: ("cell.kernel", "cell.recurrent_kernel"),
    L.GRU: ("cell.kernel", "cell.recurrent_kernel"),
    L.ConvLSTM2D: ("cell.kernel", "cell.recurrent_kernel"),
}
# Wrappers: quantized when what they wrap is, each path prefixed by the attribute holding it.
WRAPPERS = {
    L.TimeDistributed: ("layer",),
    L.Bidirectional: ("forward_layer", "backward_layer"),
}
# Layers with weights that deliberately stay float.
FLOAT_LAYERS = (L.BatchNormalization, L.LayerNormalization)


def resolve(owner, path: str):
    """The object at the dotted attribute ``path`` from ``owner`` (``""``: ``owner`` itself)."""
    for attr in filter(None, path.split(".")):
        owner = getattr(owner, attr)
    return owner


def weight_paths(layer) -> tuple[str, ...] | None:
    """The attribute paths of ``layer``'s quantized weights, or None when lowbit does not
    quantize it (see :data:`QUANTIZED_WEIGHTS` and :data:`WRAPPERS`)."""
    kind = type(layer)
    if kind in QUANTIZED_WEIGHTS:
        return QUANTIZED_WEIGHTS[kind]
    if kind in WRAPPERS:
        paths = []
        for attr in WRAPPERS[kind]:
            inner = weight_paths(getattr(layer, attr))
            if inner is None:
                return None
            paths += [f"{attr}.{path}" for path in inner]
        return tuple(paths)
    return None


class WeightsOnlyQuantizeRegistry(tfmot.quantization.keras.QuantizeRegistry):
    """Which layers lowbit quantizes, and with which config, for one quantizer."""

    def __init__(self, quantizer: ConnectQuantizer):
        self.quantizer = quantizer

    def supports(self, layer) -> bool:
        return weight_paths(layer) is not None

    def get_quantize_config(self, layer):
        paths = weight_paths(layer)
        if paths is None:
            raise ValueError(unsupported_layer_message(layer))
        return WeightsQuantizeConfig(paths, self.quantizer)


def unsupported_layer_message(layer) -> str:
    inner = f" wrapping {type(layer.layer).__name__}" if hasattr(layer, "layer") else ""
    known = sorted(c.__name__ for c in QUANTIZED_WEIGHTS) + [
        f"{w.__name__}(any of these)" for w in WRAPPERS]
    return (
        f"layer {layer.name!r} of class {type(layer).__name__}{inner} cannot be quantized by "
        f"lowbit; keep it float with --keep-float {layer.name} (Python: keep_float=[{layer.name!r}]); "
        f"quantizable: {', '.join(known)}; always float: "
        f"{', '.join(c.__name__ for c in FLOAT_LAYERS)} and layers without weights"
    )


class NoLayoutTransform(tfmot.quantization.keras.QuantizeLayoutTransform):
    """Leaves the model's layout alone (no input ``QuantizeLayer``, no folding)."""

    def apply(self, model, layer_quantize_map):
        return model, layer_quantize_map


class WeightsOnlyQuantizeScheme(tfmot.quantization.keras.QuantizeScheme):
    """tfmot scheme: quantize weights with one :class:`ConnectQuantizer`, touch nothing else."""

    def __init__(self, quantizer: ConnectQuantizer):
        self.quantizer = quantizer

    def get_layout_transformer(self):
        return NoLayoutTransform()

    def get_quantize_registry(self):
        return WeightsOnlyQuantizeRegistry(self.quantizer)


def _types_dict():
    return {
        cls.__name__: cls
        for cls in (WeightsQuantizeConfig, RNNWeightsQuantizeConfig, TimeDistributedWeightsQuantizeConfig)
    }
