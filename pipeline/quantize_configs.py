"""tfmot ``QuantizeConfig``s, registry and scheme for weights-only low-bit QAT.

Modelled on tfmot's ``Default8BitQuantizeConfigRNN``: each config names the weight attributes it
quantizes on the object that owns them (the layer, its RNN ``cell``, or the layer inside a
``TimeDistributed``), checks count and shape when the wrapper hands the quantized tensors back,
and quantizes no activations and no outputs. Biases and BatchNormalization stay float.

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
    """Quantizes the weight attributes ``weight_attrs`` of the layer itself; nothing else."""

    def __init__(self, weight_attrs, quantizer: ConnectQuantizer):
        self.weight_attrs = list(weight_attrs)
        self.quantizer = quantizer

    def weights_owner(self, layer):
        """The object whose attributes ``weight_attrs`` are the weights to quantize."""
        return layer

    def get_weights_and_quantizers(self, layer):
        owner = self.weights_owner(layer)
        return [(getattr(owner, attr), self.quantizer) for attr in self.weight_attrs]

    def set_quantize_weights(self, layer, quantize_weights):
        if len(quantize_weights) != len(self.weight_attrs):
            raise ValueError(
                f"set_quantize_weights on layer {layer.name!r} got {len(quantize_weights)} "
                f"tensors, expected {len(self.weight_attrs)} ({', '.join(self.weight_attrs)})"
            )
        owner = self.weights_owner(layer)
        for attr, quantized in zip(self.weight_attrs, quantize_weights):
            current = getattr(owner, attr)
            if tuple(current.shape) != tuple(quantized.shape):
                raise ValueError(
                    f"layer {layer.name!r}: {attr} has shape {tuple(current.shape)} but the "
                    f"quantized tensor has shape {tuple(quantized.shape)}"
                )
            setattr(owner, attr, quantized)

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


@keras.utils.register_keras_serializable(package="lowbit")
class RNNWeightsQuantizeConfig(WeightsQuantizeConfig):
    """For LSTM, GRU and ConvLSTM2D: the weights live on ``layer.cell``."""

    def weights_owner(self, layer):
        return layer.cell


@keras.utils.register_keras_serializable(package="lowbit")
class TimeDistributedWeightsQuantizeConfig(WeightsQuantizeConfig):
    """For ``TimeDistributed(inner)``: the weights live on ``layer.layer``."""

    def weights_owner(self, layer):
        return layer.layer


L = keras.layers

# Layer class -> (config class, quantized weight attributes). Exact classes, no isinstance:
# a subclass may hold its weights elsewhere and must be added here deliberately.
QUANTIZED_LAYERS = {
    L.Embedding: (WeightsQuantizeConfig, ["embeddings"]),
    L.Dense: (WeightsQuantizeConfig, ["kernel"]),
    L.Conv3D: (WeightsQuantizeConfig, ["kernel"]),
    L.LSTM: (RNNWeightsQuantizeConfig, ["kernel", "recurrent_kernel"]),
    L.GRU: (RNNWeightsQuantizeConfig, ["kernel", "recurrent_kernel"]),
    L.ConvLSTM2D: (RNNWeightsQuantizeConfig, ["kernel", "recurrent_kernel"]),
}
# Inner layers quantized when wrapped in TimeDistributed.
TIME_DISTRIBUTED_INNER = {L.Dense: ["kernel"], L.Conv3D: ["kernel"]}
# Layers with weights that deliberately stay float.
FLOAT_LAYERS = (L.BatchNormalization,)


class WeightsOnlyQuantizeRegistry(tfmot.quantization.keras.QuantizeRegistry):
    """Which layers lowbit quantizes, and with which config, for one quantizer."""

    def __init__(self, quantizer: ConnectQuantizer):
        self.quantizer = quantizer

    def supports(self, layer) -> bool:
        if type(layer) is L.TimeDistributed:
            return type(layer.layer) in TIME_DISTRIBUTED_INNER
        return type(layer) in QUANTIZED_LAYERS

    def get_quantize_config(self, layer):
        if type(layer) is L.TimeDistributed and type(layer.layer) in TIME_DISTRIBUTED_INNER:
            attrs = TIME_DISTRIBUTED_INNER[type(layer.layer)]
            return TimeDistributedWeightsQuantizeConfig(attrs, self.quantizer)
        if type(layer) not in QUANTIZED_LAYERS:
            raise ValueError(unsupported_layer_message(layer))
        config_class, attrs = QUANTIZED_LAYERS[type(layer)]
        return config_class(attrs, self.quantizer)


def unsupported_layer_message(layer) -> str:
    inner = f" wrapping {type(layer.layer).__name__}" if hasattr(layer, "layer") else ""
    known = sorted(c.__name__ for c in QUANTIZED_LAYERS) + ["TimeDistributed(Dense|Conv3D)"]
    return (
        f"layer {layer.name!r} of class {type(layer).__name__}{inner} cannot be quantized by "
        f"lowbit; quantizable: {', '.join(known)}; kept float: "
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
