"""lowbit.pipeline.quantize_configs: which weights each config picks, setter checks, serialization."""

import numpy as np
import pytest

from lowbit.pipeline import quantize_configs as qc
from lowbit import quantize_scope
from lowbit.pipeline.keras2 import keras, tf
from lowbit.pipeline.quantizers import QuaternaryConnect, TernaryConnect

L = keras.layers


def built(layer, shape):
    layer.build(shape)
    return layer


CASES = [
    pytest.param(lambda: built(L.Embedding(30, 4), (None, 5)), ["embeddings"], id="Embedding"),
    pytest.param(lambda: built(L.Dense(3), (None, 4)), ["kernel"], id="Dense"),
    pytest.param(lambda: built(L.Conv1D(2, 3), (None, 8, 3)), ["kernel"], id="Conv1D"),
    pytest.param(lambda: built(L.Conv2D(2, 3), (None, 8, 8, 3)), ["kernel"], id="Conv2D"),
    pytest.param(lambda: built(L.Conv3D(2, 3, padding="same"), (None, 4, 8, 8, 3)), ["kernel"], id="Conv3D"),
    pytest.param(lambda: built(L.SimpleRNN(6), (None, 5, 4)), ["cell.kernel", "cell.recurrent_kernel"], id="SimpleRNN"),
    pytest.param(lambda: built(L.LSTM(6), (None, 5, 4)), ["cell.kernel", "cell.recurrent_kernel"], id="LSTM"),
    pytest.param(lambda: built(L.GRU(6), (None, 5, 4)), ["cell.kernel", "cell.recurrent_kernel"], id="GRU"),
    pytest.param(lambda: built(L.ConvLSTM2D(3, 3, padding="same"), (None, 4, 8, 8, 1)),
                 ["cell.kernel", "cell.recurrent_kernel"], id="ConvLSTM2D"),
    pytest.param(lambda: built(L.TimeDistributed(L.Dense(3)), (None, 5, 4)), ["layer.kernel"],
                 id="TimeDistributed(Dense)"),
    pytest.param(lambda: built(L.Bidirectional(L.GRU(3)), (None, 5, 4)),
                 ["forward_layer.cell.kernel", "forward_layer.cell.recurrent_kernel",
                  "backward_layer.cell.kernel", "backward_layer.cell.recurrent_kernel"], id="Bidirectional(GRU)"),
]


def _resolve(layer, path):
    for attr in path.split("."):
        layer = getattr(layer, attr)
    return layer


@pytest.mark.parametrize("make_layer,attrs", CASES)
def test_registry_picks_kernels_and_leaves_biases_float(make_layer, attrs):
    layer = make_layer()
    registry = qc.WeightsOnlyQuantizeRegistry(TernaryConnect())
    assert registry.supports(layer)
    config = registry.get_quantize_config(layer)
    assert type(config) is qc.WeightsQuantizeConfig and config.weight_attrs == attrs
    picked = config.get_weights_and_quantizers(layer)
    assert [w for w, _ in picked] == [_resolve(layer, a) for a in attrs]
    assert all("bias" not in w.name for w, _ in picked)
    assert all(q == TernaryConnect() for _, q in picked)
    assert config.get_activations_and_quantizers(layer) == []
    assert config.get_output_quantizers(layer) == []


@pytest.mark.parametrize("make_layer,attrs", CASES)
def test_set_quantize_weights_replaces_weights_and_checks_count_and_shape(make_layer, attrs):
    layer = make_layer()
    config = qc.WeightsOnlyQuantizeRegistry(TernaryConnect()).get_quantize_config(layer)
    weights = [w for w, _ in config.get_weights_and_quantizers(layer)]
    new = [tf.zeros(w.shape) for w in weights]
    with pytest.raises(ValueError, match="expected"):
        config.set_quantize_weights(layer, new + new[:1])
    with pytest.raises(ValueError, match="shape"):
        config.set_quantize_weights(layer, [tf.zeros((1,) + tuple(w.shape)) for w in weights])
    config.set_quantize_weights(layer, new)
    assert all(_resolve(layer, a) is t for a, t in zip(attrs, new))


@pytest.mark.parametrize(
    "layer",
    [L.BatchNormalization(), L.LayerNormalization(), L.DepthwiseConv2D(3), L.Conv1DTranspose(2, 3),
     L.TimeDistributed(L.Conv2DTranspose(2, 3)), L.Bidirectional(L.RNN(L.LSTMCell(3))), L.Dropout(0.1)],
    ids=lambda layer: type(layer).__name__,
)
def test_registry_does_not_support_other_layers(layer):
    registry = qc.WeightsOnlyQuantizeRegistry(TernaryConnect())
    assert not registry.supports(layer)
    with pytest.raises(ValueError, match=type(layer).__name__):
        registry.get_quantize_config(layer)


def test_the_unsupported_message_names_the_keep_float_option():
    layer = L.DepthwiseConv2D(3, name="depthwise")
    with pytest.raises(ValueError, match="--keep-float depthwise"):
        qc.WeightsOnlyQuantizeRegistry(TernaryConnect()).get_quantize_config(layer)


@pytest.mark.parametrize(
    "config",
    [
        qc.WeightsQuantizeConfig(["kernel"], TernaryConnect(distribution="uniform")),
        qc.RNNWeightsQuantizeConfig(["kernel", "recurrent_kernel"], QuaternaryConnect(scale="none")),
        qc.TimeDistributedWeightsQuantizeConfig(["kernel"], TernaryConnect()),
    ],
    ids=lambda c: type(c).__name__,
)
def test_config_serialization_round_trip(config):
    assert type(config).from_config(config.get_config()) == config
    with quantize_scope():
        restored = keras.utils.deserialize_keras_object(keras.utils.serialize_keras_object(config))
    assert restored == config and type(restored) is type(config)


def test_scheme_layout_transform_leaves_model_unchanged():
    scheme = qc.WeightsOnlyQuantizeScheme(TernaryConnect())
    model = keras.Sequential([keras.Input((3,)), L.Dense(2)])
    out, layer_map = scheme.get_layout_transformer().apply(model, {"dense": {}})
    assert out is model and layer_map == {"dense": {}}
    assert isinstance(scheme.get_quantize_registry(), qc.WeightsOnlyQuantizeRegistry)


def test_configs_quantize_no_activations():
    config = qc.WeightsQuantizeConfig(["kernel"], TernaryConnect())
    layer = built(L.Dense(2), (None, 3))
    config.set_quantize_activations(layer, [])
    with pytest.raises(ValueError, match="no activations"):
        config.set_quantize_activations(layer, [np.zeros(1)])
