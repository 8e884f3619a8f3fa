"""lowbit.pipeline.qat: QAT models train, use exactly quantized forward weights, strip, save and load."""

import numpy as np
import pytest

import lowbit
from lowbit.pipeline.keras2 import keras, tfmot
from lowbit.pipeline.quantizers import CODE_VALUES, least_squares_scale, codes

L = keras.layers
Wrapper = tfmot.quantization.keras.QuantizeWrapperV2


def text_model(rnn):
    inp = keras.Input((12,), dtype="int32")
    x = L.Embedding(40, 8)(inp)
    x = rnn(x)
    out = L.Dense(1, activation="sigmoid")(x)
    return keras.Model(inp, out)


def frames_model():
    inp = keras.Input((3, 8, 8, 1))
    x = L.ConvLSTM2D(4, 3, padding="same", return_sequences=True)(inp)
    x = L.BatchNormalization()(x)
    out = L.Conv3D(1, 3, padding="same", activation="sigmoid")(x)
    return keras.Model(inp, out)


def seq2seq_model():
    inp = keras.Input((7, 12))
    x = L.LSTM(10)(inp)
    x = L.RepeatVector(4)(x)
    x = L.GRU(10, return_sequences=True)(x)
    out = L.TimeDistributed(L.Dense(12, activation="softmax"))(x)
    return keras.Model(inp, out)


def data_for(model, n=16, seed=0):
    rng = np.random.default_rng(seed)
    shape = model.input_shape[1:]
    if model.input.dtype == "int32":
        x = rng.integers(0, 40, (n,) + shape).astype("int32")
    else:
        x = rng.random((n,) + shape).astype("float32")
    y = rng.random((n,) + model.output_shape[1:]).astype("float32")
    return x, y


BUILDERS = {
    "lstm": lambda: text_model(L.LSTM(8)),
    "gru": lambda: text_model(L.GRU(8)),
    "convlstm": frames_model,
    "seq2seq": seq2seq_model,
}


def forward_weights(qat_model):
    """(float variable value, forward value) for every quantized weight of a QAT model."""
    pairs = []
    for layer in qat_model.layers:
        if isinstance(layer, Wrapper):
            for var, quantizer, qvars in layer._weight_vars:
                pairs.append((var.name, var.numpy(), quantizer(var, False, qvars).numpy(), quantizer))
    return pairs


# the fast tier trains every scheme on the LSTM and every architecture with TC; the slow tier all
FAST_PAIRS = {("lstm", "bc"), ("lstm", "tc"), ("lstm", "qc"), ("gru", "tc"), ("convlstm", "tc"), ("seq2seq", "tc")}


@pytest.mark.parametrize("arch, scheme", [
    pytest.param(arch, scheme, marks=() if (arch, scheme) in FAST_PAIRS else pytest.mark.slow)
    for scheme in ("bc", "tc", "qc") for arch in sorted(BUILDERS)])
def test_qat_trains_two_steps_with_exactly_quantized_forward_weights(arch, scheme):
    model = BUILDERS[arch]()
    qat = lowbit.quantize_model(model, scheme)
    qat.compile(keras.optimizers.Adam(1e-2), "mse")
    x, y = data_for(model)
    before = {name: w for name, w, _, _ in forward_weights(qat)}
    qat.fit(x, y, batch_size=8, epochs=1, verbose=0)  # two steps

    pairs = forward_weights(qat)
    expected_count = {"lstm": 4, "gru": 4, "convlstm": 3, "seq2seq": 5}[arch]
    assert len(pairs) == expected_count
    for name, w, forward, _ in pairs:
        assert not np.array_equal(w, before[name]), f"{name} did not train"
        c = codes(w, scheme)
        alpha = least_squares_scale(w, c)
        assert alpha > 0
        assert set(np.unique(forward / alpha).tolist()) <= set(CODE_VALUES[scheme])
        assert forward.tobytes() == (c * alpha).tobytes()
        assert forward.tobytes() == lowbit.quantize(w, scheme, scale="tensor").tobytes()


@pytest.mark.parametrize("arch", sorted(BUILDERS))
def test_strip_gives_a_plain_model_with_the_same_outputs(arch):
    model = BUILDERS[arch]()
    qat = lowbit.quantize_model(model, "qc", distribution="uniform")
    x, y = data_for(model, seed=1)
    qat.compile("adam", "mse")
    qat.fit(x, y, epochs=1, verbose=0)
    stripped = lowbit.strip(qat)

    assert not any(isinstance(layer, Wrapper) for layer in stripped.layers)
    assert [type(layer) for layer in stripped.layers] == [type(layer) for layer in model.layers]
    assert [layer.name for layer in stripped.layers] == [layer.name for layer in model.layers]
    np.testing.assert_allclose(stripped.predict(x, verbose=0), qat.predict(x, verbose=0), atol=1e-6)
    # The stripped weights ARE the quantized values; biases and BatchNorm are the float ones.
    quantized = {forward.tobytes() for _, _, forward, _ in forward_weights(qat)}
    stripped_weights = {w.tobytes() for w in stripped.get_weights()}
    assert quantized <= stripped_weights


def test_fp_returns_a_plain_copy_with_the_same_weights():
    model = BUILDERS["lstm"]()
    copy = lowbit.quantize_model(model, "fp")
    assert copy is not model
    assert not any(isinstance(layer, Wrapper) for layer in copy.layers)
    for a, b in zip(model.get_weights(), copy.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_quantize_model_does_not_touch_the_original():
    model = BUILDERS["gru"]()
    weights = [w.copy() for w in model.get_weights()]
    qat = lowbit.quantize_model(model, "bc")
    x, y = data_for(model)
    qat.compile(keras.optimizers.Adam(1e-2), "mse")
    qat.fit(x, y, epochs=1, verbose=0)
    for a, b in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_qat_model_h5_round_trip_inside_scope(tmp_path):
    model = BUILDERS["lstm"]()
    qat = lowbit.quantize_model(model, "tc", distribution="uniform")
    x, y = data_for(model)
    qat.compile("adam", "mse")
    qat.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "qat.h5"
    qat.save(path)
    with lowbit.quantize_scope():
        loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), qat.predict(x, verbose=0))
    for a, b in zip(forward_weights(qat), forward_weights(loaded)):
        assert a[2].tobytes() == b[2].tobytes() and a[3] == b[3]
    np.testing.assert_array_equal(
        lowbit.strip(loaded).predict(x, verbose=0), lowbit.strip(qat).predict(x, verbose=0)
    )


def sequential(model):
    """The functional chain ``model`` rebuilt as a ``keras.Sequential`` with the same weights."""
    layers = [layer.__class__.from_config(layer.get_config()) for layer in model.layers[1:]]
    copy = keras.Sequential([keras.Input(model.input_shape[1:], dtype=model.input.dtype), *layers])
    copy.set_weights(model.get_weights())
    return copy


BIDIRECTIONAL = lambda: text_model(L.Bidirectional(L.GRU(6)))  # noqa: E731 (backward weights load in place)


@pytest.mark.parametrize("arch, kind", [  # the fast tier: both kinds of Bidirectional and a Sequential LSTM
    pytest.param(arch, kind, marks=() if (arch, kind) in {("bigru", "functional"), ("bigru", "sequential"),
                                                           ("lstm", "sequential")} else pytest.mark.slow)
    for arch in [*sorted(BUILDERS), "bigru"] for kind in ("functional", "sequential")])
def test_a_trained_qat_h5_loads_back_as_lowbit_loads_it(tmp_path, arch, kind):
    """What training saves (model, optimizer state) and reloads after a best epoch or a crash: the
    same outputs, quantized forward weights and optimizer state, for both ways Keras models are
    written (a Sequential's saved layers have no top-level name)."""
    from lowbit.pipeline import model_files

    model = (BUILDERS.get(arch) or BIDIRECTIONAL)()
    model = sequential(model) if kind == "sequential" else model
    qat = lowbit.quantize_model(model, "tc")
    qat.compile(keras.optimizers.Adam(1e-2), "mse")
    x, y = data_for(model)
    qat.fit(x, y, batch_size=8, epochs=1, verbose=0)
    qat.save(tmp_path / "qat.h5")
    loaded = model_files.load(tmp_path / "qat.h5", compile=True, qat=True)
    assert type(loaded) is type(qat)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), qat.predict(x, verbose=0))
    assert [a[2].tobytes() for a in forward_weights(loaded)] == [a[2].tobytes() for a in forward_weights(qat)]
    assert [v.numpy().tobytes() for v in loaded.optimizer.variables()] == \
        [v.numpy().tobytes() for v in qat.optimizer.variables()]


def test_loading_outside_the_scope_fails_loudly(tmp_path):
    qat = lowbit.quantize_model(BUILDERS["gru"](), "bc")
    path = tmp_path / "qat.h5"
    qat.save(path)
    with pytest.raises(ValueError, match="QuantizeWrapperV2"):
        keras.models.load_model(path)


def _depthwise_model():
    inp = keras.Input((8, 8, 2))
    x = L.DepthwiseConv2D(3, name="my_depthwise")(inp)
    return keras.Model(inp, L.Dense(1, name="head")(L.Flatten()(x)))


def test_unsupported_layer_is_named_with_its_class_and_the_keep_float_option():
    with pytest.raises(ValueError, match="'my_depthwise' of class DepthwiseConv2D.*--keep-float my_depthwise"):
        lowbit.quantize_model(_depthwise_model(), "tc")


def test_keep_float_leaves_named_layers_float_and_quantizes_the_rest():
    model = _depthwise_model()
    stripped = lowbit.strip(lowbit.quantize_model(model, "tc", keep_float=["my_depthwise"]))
    assert np.array_equal(stripped.get_layer("my_depthwise").get_weights()[0],
                          model.get_layer("my_depthwise").get_weights()[0])
    head = stripped.get_layer("head").get_weights()[0]
    assert len(np.unique(np.abs(head))) <= 2  # 0 and α
    with pytest.raises(ValueError, match="no layer 'nope'.*my_depthwise"):
        lowbit.quantize_model(model, "tc", keep_float=["nope"])
    with pytest.raises(ValueError, match="list of layer names"):
        lowbit.quantize_model(model, "tc", keep_float="head")


def test_bad_models_and_options_are_rejected():
    with pytest.raises(ValueError, match="keras.Model"):
        lowbit.quantize_model(L.Dense(3), "tc")
    with pytest.raises(ValueError, match="fp, bc, tc, qc"):
        lowbit.quantize_model(BUILDERS["lstm"](), "int4")
    qat = lowbit.quantize_model(BUILDERS["lstm"](), "tc")
    with pytest.raises(ValueError, match="already-quantized"):
        lowbit.quantize_model(qat, "tc")
    a, b = keras.Input((4, 2)), keras.Input((4, 2))
    two_inputs = keras.Model([a, b], L.Dense(1)(L.LSTM(3)(L.Concatenate()([a, b]))))
    with pytest.raises(ValueError, match=r"2 input\(s\) and 1 output\(s\); lowbit takes models with one input"):
        lowbit.quantize_model(two_inputs, "tc")  # what the CLI refuses, the API refuses
