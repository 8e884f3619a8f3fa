"""lowbit.pipeline.keras3: models saved by (or built with) Keras 3 — TensorFlow 2.21's default
Keras — carried across to tf_keras with the same architecture and weights: outputs equal on
data, every refusal one line naming the layer, and a Keras 3 model through lowbit run."""

import numpy as np
import pytest

from lowbit.pipeline import keras3, model_files
from lowbit.pipeline.keras2 import keras as tf_keras
from lowbit.pipeline.keras2 import keras_3

K3 = keras_3()  # Keras 3 itself, pinned in pyproject (TensorFlow 2.21 depends on it)
L = K3.layers


def _functional_text():
    inp = K3.Input((12,), dtype="int32")
    h = L.Embedding(50, 8)(inp)
    h = L.Bidirectional(L.GRU(6, return_sequences=True))(h)
    h = L.LSTM(5, dropout=0.1)(h)
    return K3.Model(inp, L.Dense(1, activation="sigmoid")(h))


def _sequential_sensor():
    return K3.Sequential([K3.Input((10, 3)), L.Conv1D(4, 3, activation="relu"), L.MaxPooling1D(2), L.GRU(5),
                          L.Dropout(0.2), L.Dense(3, activation="softmax")])


def _masked_text():
    inp = K3.Input((9,), dtype="int32")
    return K3.Model(inp, L.Dense(1)(L.LSTM(4)(L.Embedding(30, 4, mask_zero=True)(inp))))


def _tagger():
    return K3.Sequential([K3.Input((7, 2)), L.SimpleRNN(4, return_sequences=True),
                          L.TimeDistributed(L.Dense(3, activation="softmax"))])


def _concatenated():
    inp = K3.Input((6, 3))
    a, b = L.GRU(3)(inp), L.LSTM(2)(inp)
    return K3.Model(inp, L.Dense(2, kernel_regularizer="l2")(L.Concatenate()([a, b])))


MODELS = {"functional: Embedding, Bidirectional(GRU), LSTM": _functional_text,
          "sequential: Conv1D, pooling, GRU, Dropout": _sequential_sensor,
          "functional: masked Embedding, LSTM": _masked_text,
          "sequential: SimpleRNN, TimeDistributed(Dense)": _tagger,
          "functional: two branches concatenated, an L2 regularizer": _concatenated}


def _data(model, n=32):
    rng = np.random.default_rng(1)
    shape = (n,) + tuple(model.inputs[0].shape[1:])
    if "int" in str(model.inputs[0].dtype):
        x = rng.integers(0, 30, shape).astype(np.int32)
        x[::3, :4] = 0  # padding, where a model masks it
        return x
    return rng.normal(size=shape).astype(np.float32)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("name", list(MODELS))
def test_a_keras3_file_loads_as_the_same_tf_keras_model(tmp_path, name, suffix):
    K3.utils.set_random_seed(0)
    model = MODELS[name]()
    model.compile("adam", "mse")
    path = tmp_path / f"m{suffix}"
    model.save(path)
    assert keras3.is_keras3_file(path)
    if name == "functional: masked Embedding, LSTM" and suffix == ".h5":  # a Keras 3.15 limitation
        with pytest.raises(ValueError, match=r"Keras 3 itself cannot load this file \(Unknown layer: 'NotEqual'.*"
                                             r"save the model as .keras$"):
            model_files.load(path)
        return
    twin = model_files.load(path)
    assert isinstance(twin, tf_keras.Model) and type(twin).__name__ == type(model).__name__
    assert [layer.name for layer in twin.layers] == [layer.name for layer in model.layers]
    x = _data(model)
    assert np.abs(twin.predict(x, verbose=0) - np.asarray(model(x, training=False))).max() <= 1e-6
    assert sum(w.size for w in twin.get_weights()) == sum(np.asarray(w).size for w in model.get_weights())


def test_a_tf_keras_file_is_not_taken_for_keras3(tmp_path):
    tf_keras.Sequential([tf_keras.Input((3,)), tf_keras.layers.Dense(1)]).save(tmp_path / "m.h5")
    assert not keras3.is_keras3_file(tmp_path / "m.h5") and not keras3.is_keras3_file(tmp_path / "missing.keras")


@pytest.mark.parametrize("build, message", [
    pytest.param(lambda: K3.Sequential([K3.Input((4,)), L.Dense(2, lora_rank=2)]),
                 r"layer 'dense\w*' \(Dense\) sets lora_rank=2, which tf_keras has no equivalent of", id="a Keras 3 option"),
    pytest.param(lambda: K3.Sequential([K3.Input((4, 3)), L.GroupNormalization(3), L.GRU(2)]),
                 "refusing to load GroupNormalization", id="a layer outside the allowlist"),
])
def test_what_cannot_be_carried_across_is_named_in_one_line(tmp_path, build, message):
    build().save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match=message) as raised:
        model_files.load(tmp_path / "m.keras")
    assert "\n" not in str(raised.value)


def test_quantize_model_takes_a_keras3_model():
    import lowbit

    model = _sequential_sensor()
    qat = lowbit.quantize_model(model, "tc")
    x = _data(model)
    assert isinstance(qat, tf_keras.Model)
    assert np.abs(lowbit.strip(lowbit.quantize_model(model, "fp")).predict(x, verbose=0)
                  - np.asarray(model(x, training=False))).max() <= 1e-6


@pytest.mark.slow  # trains, converts and measures two runs
def test_a_keras3_model_goes_through_lowbit_run(tmp_path):
    import json

    from lowbit import main_job

    K3.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 12, 4)).astype(np.float32)
    y = (x[:, :, 0].mean(axis=1) > 0).astype(np.float32)
    model = K3.Sequential([K3.Input((12, 4)), L.LSTM(8), L.Dense(1, activation="sigmoid")])
    model.compile(K3.optimizers.Adam(1e-2), "binary_crossentropy", metrics=["accuracy"])
    model.fit(x[:200], y[:200], epochs=3, verbose=0)
    keras3_accuracy = model.evaluate(x[200:], y[200:], verbose=0)[1]
    model.save(tmp_path / "m.keras")
    np.savez(tmp_path / "d.npz", x_train=x[:200], y_train=y[:200], x_test=x[200:], y_test=y[200:])
    main_job.run(model=tmp_path / "m.keras", data=tmp_path / "d.npz", runs_dir=tmp_path / "runs", schemes=("tc",),
                 finetune_epochs=1, eval_runs=5, android=None, memory_probe=False, progress=False)
    report = json.loads((tmp_path / "runs" / "report" / "report.json").read_text())
    fp = [a for a in report["artifacts"] if a["scheme"] == "fp"]
    assert len(report["artifacts"]) == 4 and all(abs(a["value"] - keras3_accuracy) < 1e-6 for a in fp), \
        ([a["value"] for a in fp], keras3_accuracy)
