"""Task registry and builders: shapes, what gets quantized, causality, strip exactness."""

import numpy as np
import pytest

from lowbit import models
from lowbit.models import frames, summation as summation_model
from lowbit.pipeline import qat
from lowbit.pipeline.data import summation


def test_registry_has_every_task_of_the_paper():
    assert set(models.TASKS) >= {"imdb-lstm", "imdb-gru", "summation-lstm", "summation-gru", "frames-convlstm"}
    with pytest.raises(ValueError, match="valid choices: imdb-lstm"):
        models.get_task("mnist")


@pytest.mark.parametrize("rnn", ["lstm", "gru"])
def test_summation_model_is_seq2seq_with_a_softmax_per_answer_symbol(rnn):
    model = summation_model.build(rnn)
    assert model.input_shape == (None, 7, 12) and model.output_shape == (None, 4, 12)
    types = [type(layer).__name__ for layer in model.layers]
    assert types == ["InputLayer", rnn.upper(), "RepeatVector", rnn.upper(), "TimeDistributed"]
    out = model.predict(summation.encode(["1+2    "], 7), verbose=0)
    assert np.allclose(out.sum(-1), 1.0, atol=1e-5)


def _quantized_weight_names(qat_model):
    return sorted(entry[0].name.split("/")[-1].split(":")[0] for layer in qat_model.layers
                  if hasattr(layer, "_weight_vars") for entry in layer._weight_vars)


def test_summation_qat_quantizes_both_rnns_and_the_time_distributed_dense():
    qat_model = qat.quantize_model(summation_model.build("lstm", units=16), "tc")
    wrapped = [layer.layer.name for layer in qat_model.layers if hasattr(layer, "_weight_vars")]
    assert wrapped == ["encoder", "decoder", "answer"]
    assert _quantized_weight_names(qat_model) == sorted(["kernel", "recurrent_kernel"] * 2 + ["kernel"])


def test_frames_qat_quantizes_convlstm_and_conv3d_but_not_batchnorm():
    qat_model = qat.quantize_model(frames.build(canvas=16, filters=4), "bc")
    wrapped = {layer.layer.name for layer in qat_model.layers if hasattr(layer, "_weight_vars")}
    assert wrapped == {"convlstm", "reconstruction"}
    assert any(type(layer).__name__ == "BatchNormalization" for layer in qat_model.layers)


def test_frame_t_prediction_never_sees_frame_t_plus_1():
    model = frames.build(canvas=16, filters=4)
    x = np.random.default_rng(0).random((1, 5, 16, 16, 1)).astype(np.float32)
    changed = x.copy()
    changed[:, 3] = 1.0 - changed[:, 3]
    a, b = model.predict(x, verbose=0), model.predict(changed, verbose=0)
    assert np.array_equal(a[:, :3], b[:, :3]) and not np.allclose(a[:, 3], b[:, 3])


def test_predict_frames_feeds_each_prediction_back():
    model = frames.build(canvas=16, filters=4)
    seen = np.random.default_rng(1).random((2, 3, 16, 16, 1)).astype(np.float32)
    predicted = frames.predict_frames(model, seen, 2)
    assert predicted.shape == (2, 2, 16, 16, 1)
    assert np.allclose(predicted[:, :1], model.predict(seen, verbose=0)[:, -1:], atol=1e-6)
    second = model.predict(np.concatenate([seen, predicted[:, :1]], 1), verbose=0)[:, -1:]
    assert np.allclose(predicted[:, 1:], second, atol=1e-6)


@pytest.mark.parametrize("scheme", [pytest.param("bc", marks=pytest.mark.slow), "tc",
                                    pytest.param("qc", marks=pytest.mark.slow)])
@pytest.mark.parametrize("builder", [lambda: summation_model.build("gru", units=16),
                                     lambda: frames.build(canvas=16, filters=4)], ids=["summation", "frames"])
def test_strip_reproduces_the_qat_outputs_exactly(builder, scheme):
    float_model = builder()
    qat_model = qat.quantize_model(float_model, scheme)
    shape = (3,) + tuple(d or 4 for d in float_model.input_shape[1:])
    x = np.random.default_rng(2).random(shape).astype(np.float32)
    stripped = qat.strip(qat_model)
    assert np.array_equal(qat_model.predict(x, verbose=0), stripped.predict(x, verbose=0))
    assert all(not hasattr(layer, "_weight_vars") for layer in stripped.layers)


def test_frames_baselines_copy_the_last_seen_frame_and_predict_black():
    from lowbit.pipeline.data.splits import Splits

    rng = np.random.default_rng(2)
    full = rng.random((3, 15, 12, 12, 1)).astype(np.float32)
    full[:, 7:] = full[:, 6:7]  # nothing moves after the last seen frame (frame 7)
    x, y = full[:, :-1], full[:, 1:]
    result = frames.baselines(Splits(x, y, x, y, x, y))
    assert result["copy_last"]["mse_per_frame"] == [0.0] * 8
    assert np.allclose(result["copy_last"]["ssim_per_frame"], 1.0)
    assert np.allclose(result["black"]["mse_per_frame"], np.mean(full[:, 7:] ** 2, axis=(0, 2, 3, 4)))


@pytest.mark.parametrize("scheme", ["fp", "tc"])
def test_closed_loop_twin_predicts_what_the_fed_back_rollout_predicts(scheme):
    from lowbit.pipeline import qat

    model = qat.quantize_model(frames.build(canvas=16, filters=4), scheme)
    seen = np.random.default_rng(3).random((2, 4, 16, 16, 1)).astype(np.float32)
    twin = frames.ClosedLoop(model, fed_back=3)
    out = twin(seen, training=False).numpy()
    assert out.shape == (2, 4 + 3, 16, 16, 1)
    assert np.allclose(out[:, :4], model(seen, training=False).numpy(), atol=1e-5)
    plain = qat.strip(model)  # the deployed model, rolled out by re-reading the whole sequence
    assert np.allclose(out[:, 3:], frames.predict_frames(plain, seen, 4), atol=1e-5)
    assert getattr(model.layers[1], "layer", model.layers[1]).return_state is False  # saved as built


def test_training_the_closed_loop_twin_trains_the_model_through_its_fed_back_frames():
    from lowbit.pipeline.keras2 import keras

    model = frames.build(canvas=16, filters=4)
    twin = frames.ClosedLoop(model, fed_back=2)
    seen = np.random.default_rng(4).random((4, 3, 16, 16, 1)).astype(np.float32)
    with __import__("tensorflow").GradientTape() as tape:
        last = twin(seen, training=True)[:, -1]  # the second fed-back prediction only
        loss = keras.losses.mean_squared_error(np.zeros_like(last), last)
    kernel = model.get_layer("convlstm").cell.kernel
    grads = tape.gradient(loss, [kernel, model.get_layer("reconstruction").kernel])
    assert all(g is not None and np.abs(g.numpy()).sum() > 0 for g in grads)
    before = kernel.numpy().copy()
    twin.compile(keras.optimizers.Adam(1e-2), "mse")
    twin.fit(seen, np.zeros((4, 5, 16, 16, 1), np.float32), epochs=1, verbose=0)
    assert not np.array_equal(before, model.get_layer("convlstm").cell.kernel.numpy())


def test_closed_loop_needs_a_convlstm_first():
    from lowbit.pipeline.keras2 import keras

    inp = keras.Input((None, 4))
    with pytest.raises(ValueError, match="needs a ConvLSTM2D first"):
        frames.ClosedLoop(keras.Model(inp, keras.layers.LSTM(2)(inp)), fed_back=1)


def test_the_closed_loop_twin_keeps_batchnorm_statistics_fixed_while_it_trains():
    from lowbit.pipeline.keras2 import keras

    model = frames.build(canvas=16, filters=4)
    twin = frames.ClosedLoop(model, fed_back=2)
    seen = np.random.default_rng(5).random((4, 3, 16, 16, 1)).astype(np.float32)
    bn = model.get_layer("batchnorm")
    moving, gamma = bn.moving_mean.numpy().copy(), bn.gamma.numpy().copy()
    twin.compile(keras.optimizers.Adam(1e-2), "mse")
    twin.fit(seen, np.zeros((4, 5, 16, 16, 1), np.float32), epochs=1, verbose=0)
    assert np.array_equal(bn.moving_mean.numpy(), moving) and not np.array_equal(bn.gamma.numpy(), gamma)
