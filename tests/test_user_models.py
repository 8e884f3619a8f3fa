"""A zoo of user-style recurrent models through ``lowbit run --model --data`` on small data: for each,
every quantized weight read back from both files equals the stripped Keras weight, outputs agree
with Keras, and the codes take the format's width (lowbit.models.user end to end)."""

import json
from pathlib import Path

import numpy as np
import pytest

from lowbit.pipeline.keras2 import keras

pytestmark = pytest.mark.slow  # trains four runs per model and measures every artifact

L = keras.layers
N = 2_400  # examples: 400 to train on, 2,000 to test (one flipped decision is 0.05 %)
ONNX_BITS = {"bc": 1, "tc": 2, "qc": 2}  # what each format stores a code in
TFLITE_BITS = {"bc": 2, "tc": 2, "qc": 4}


def _stacked_lstm(rng):
    x = rng.normal(size=(N, 20, 6)).astype(np.float32)
    y = rng.integers(0, 4, N).astype(np.int32)
    x[np.arange(N), :, y] += 0.8  # the class's channel runs high
    inp = keras.Input((20, 6))
    h = L.LSTM(32, return_sequences=True)(inp)
    h = L.LSTM(32)(h)
    return keras.Model(inp, L.Dense(4, activation="softmax")(h)), x, y, "sparse_categorical_crossentropy"


def _bigru_text(rng):
    label = rng.integers(0, 3, N)
    x = rng.integers(1, 300, size=(N, 16)).astype(np.int32)
    x[:, ::3] = (1 + 100 * label[:, None] + rng.integers(0, 99, size=(N, 6))).astype(np.int32)  # the topic's words
    y = np.eye(3, dtype=np.float32)[label]  # one-hot: categorical loss
    inp = keras.Input((16,), dtype="int32")
    h = L.Embedding(300, 32)(inp)
    h = L.Bidirectional(L.GRU(16))(h)
    return keras.Model(inp, L.Dense(3, activation="softmax")(h)), x, y, "categorical_crossentropy"


def _conv1d_lstm_sensor(rng):
    y = rng.integers(0, 2, N).astype(np.float32)
    t = np.arange(40)
    x = rng.normal(size=(N, 40, 3)).astype(np.float32)
    x[:, :, 0] += np.where(y[:, None] > 0, np.sin(t / 2), np.sin(t / 6))  # fast or slow oscillation
    inp = keras.Input((40, 3))
    h = L.Conv1D(16, 5, activation="relu")(inp)
    h = L.MaxPooling1D(2)(h)
    h = L.LSTM(24)(h)
    return keras.Model(inp, L.Dense(1, activation="sigmoid")(h)), x, y, "binary_crossentropy"


def _simplernn_regressor(rng):
    x = rng.normal(size=(N, 15, 2)).astype(np.float32)
    y = x[:, -5:, 0].mean(axis=1, keepdims=True).astype(np.float32)
    inp = keras.Input((15, 2))
    h = L.SimpleRNN(16)(inp)
    return keras.Model(inp, L.Dense(1)(h)), x, y, "mse"


def _tagger(rng):
    x = rng.normal(size=(N, 12, 5)).astype(np.float32)
    y = np.argmax(x[:, :, :3], axis=-1).astype(np.int32)  # a tag per step
    inp = keras.Input((12, 5))
    h = L.LSTM(16, return_sequences=True)(inp)
    return keras.Model(inp, L.TimeDistributed(L.Dense(3, activation="softmax"))(h)), x, y, \
        "sparse_categorical_crossentropy"


def _masked_text(rng):
    x = rng.integers(1, 200, size=(N, 14)).astype(np.int32)
    x[np.arange(N) % 3 == 0, :5] = 0  # padding, masked
    y = (x[:, -1] > 100).astype(np.float32)
    inp = keras.Input((14,), dtype="int32")
    h = L.Embedding(200, 16, mask_zero=True)(inp)
    h = L.LSTM(16)(h)
    return keras.Model(inp, L.Dense(1, activation="sigmoid")(h)), x, y, "binary_crossentropy"


ZOO = {"stacked-lstm": _stacked_lstm, "bigru-text": _bigru_text, "conv1d-lstm-sensor": _conv1d_lstm_sensor,
       "simplernn-regressor": _simplernn_regressor, "timedistributed-tagger": _tagger,
       "masked-embedding-lstm": _masked_text}


@pytest.fixture(scope="module", params=list(ZOO))
def user_run(request, tmp_path_factory):
    """One zoo model saved with its compile configuration, its data as an .npz, and the finished
    ``lowbit run`` (fp with 4 float epochs, then BC/TC/QC by 1 QAT epoch each)."""
    from lowbit import main_job

    tmp = tmp_path_factory.mktemp(request.param)
    keras.utils.set_random_seed(0)
    model, x, y, loss = ZOO[request.param](np.random.default_rng(0))
    model.compile(keras.optimizers.Adam(1e-2), loss, metrics=["mse" if loss == "mse" else "accuracy"])
    model.save(tmp / "model.h5")
    np.savez(tmp / "data.npz", x_train=x[:400], y_train=y[:400], x_test=x[400:], y_test=y[400:])
    result = main_job.run(model=tmp / "model.h5", data=tmp / "data.npz", runs_dir=tmp / "runs", epochs=4,
                          learning_rate=1e-2,
                          finetune_epochs=1, eval_runs=5, android=None, memory_probe=False, progress=False)
    return {"name": request.param, "runs": tmp / "runs", "report": json.loads((tmp / "runs" / "report" /
                                                                               "report.json").read_text())}


def _sorted(values) -> np.ndarray:
    return np.sort(np.asarray(values, np.float32).ravel())


def _keras_tensors(run_dir, scheme):
    from lowbit.deploy.export.weights import quantized_tensors
    from lowbit.pipeline import model_files

    return quantized_tensors(model_files.load(run_dir / "model.h5"), scheme)


def _tflite_tensors(flat: bytes):
    from lowbit.deploy.export import tflite_export as te

    model = te.read(flat)
    found = []
    for sg in model.subgraphs:
        for op in sg.operators:
            for index in op.inputs:
                if index >= 0 and sg.tensors[index].type in te.BITS_OF_TYPE and model.buffers[sg.tensors[index].buffer].data is not None:
                    found.append(te.tensor_value(model, sg, index)[0])
                elif index >= 0 and any(index in o.outputs and te.opcode(model, o) == te.OP.DEQUANTIZE for o in sg.operators):
                    found.append(te.tensor_value(model, sg, index)[0])
    return found


def test_every_quantized_weight_reads_back_from_both_files(user_run):
    from lowbit.deploy.export import onnx_export

    for scheme in ("bc", "tc", "qc"):
        run_dir = user_run["runs"] / f"user-{scheme}"
        keras_tensors = _keras_tensors(run_dir, scheme)
        assert keras_tensors
        stored = {"tflite": _tflite_tensors((run_dir / "model.tflite").read_bytes()),
                  "onnx": list(onnx_export.read_weights((run_dir / "model.onnx").read_bytes()).values())}
        for fmt, tensors in stored.items():
            for t in keras_tensors:
                # the converters transpose, and a bidirectional ONNX layer stacks both directions
                match = [v for v in tensors if v.size == t.values.size and np.array_equal(_sorted(v), _sorted(t.values))]
                assert match, f"{user_run['name']} {scheme} {fmt}: {t.name} {t.shape} not stored"
                if t.values.ndim == 2 and fmt == "tflite":  # whole kernels, transposed (ONNX reorders gates:
                    # the outputs' agreement below shows its layout)
                    assert any(np.array_equal(v.reshape(t.values.T.shape), t.values.T)
                               or np.array_equal(v.reshape(t.values.shape), t.values) for v in match), t.name


# ONNX Runtime computes these in float (GRU, SimpleRNN and masked LSTM loops on unpacked weights);
# a quantized LSTM runs as DynamicQuantizeLSTM, and LiteRT's recurrent loops are hybrid: both
# quantize activations at run time.
ONNX_IN_FLOAT = {"bigru-text", "simplernn-regressor", "masked-embedding-lstm"}


def test_artifacts_agree_with_keras(user_run):
    for a in user_run["report"]["artifacts"]:
        in_float = a["scheme"] == "fp" or (a["format"] == "onnx" and user_run["name"] in ONNX_IN_FLOAT)
        if in_float:
            assert a["max_abs_diff"] <= 1e-5, a
        elif a["agreement"] is None:  # the regressor: its mse within 1 % of Keras'
            assert abs(a["value"] - a["keras_value"]) <= 0.01 * a["keras_value"], a
        else:
            assert a["agreement"] >= 0.995, a


def test_codes_take_the_formats_width(user_run):
    """Codes at the scheme's width; in .tflite a loop kernel whose input channels XNNPACK cannot
    take at that width (INT2: a multiple of 4; INT4: even) is stored wider, and only such a one."""
    for a in user_run["report"]["artifacts"]:
        if a["scheme"] == "fp":
            continue
        width = (ONNX_BITS if a["format"] == "onnx" else TFLITE_BITS)[a["scheme"]]
        if a["format"] == "onnx":
            assert width <= a["code_bits_per_weight"] <= 1.15 * width, a
            continue
        manifest = json.loads((Path(a["run_dir"]) / "manifest.json").read_text())
        for t in manifest["artifacts"]["model.tflite"]["tensors"]:
            if t["bits"] != width:
                assert t["bits"] > width and len(t["shape"]) == 2 and t["shape"][1] % (8 // width) != 0, t
        assert a["code_bits_per_weight"] >= width


def _wrapped(inner, merge):
    def build():
        inp = keras.Input((10,), dtype="int32")
        h = L.Embedding(40, 8)(inp)
        h = L.Bidirectional(inner(6), merge_mode=merge)(h)
        return keras.Model(inp, L.Dense(3, activation="softmax", name="head")(h))
    return build


def _conv2d():
    inp = keras.Input((8, 8, 1))
    h = L.Conv2D(4, 3)(inp)
    h = L.Reshape((6, 24))(h)
    h = L.GRU(5)(h)
    return keras.Model(inp, L.Dense(2, name="head")(h))


EXPORT_CASES = {f"Bidirectional({inner.__name__}, {merge})": _wrapped(inner, merge)  # every layer, every merge
                for inner, merges in ((L.LSTM, ("concat", "ave")), (L.GRU, ("sum", "mul")),
                                      (L.SimpleRNN, ("concat", "ave", "mul"))) for merge in merges}
EXPORT_CASES["Conv2D -> GRU"] = _conv2d


@pytest.mark.parametrize("name, keep_float", [(name, ()) for name in EXPORT_CASES] + [
    ("Bidirectional(GRU, sum)", ("head",)), ("Bidirectional(LSTM, ave)", ("head",)), ("Conv2D -> GRU", ("head",))])
def test_layer_exports_exactly_to_both_formats(name, keep_float):
    """Random weights, stripped TC model: every quantized weight in both files, the kept-float
    Dense stored as float32 in both, ONNX outputs equal Keras' (it computes these in float),
    LiteRT's hybrid loops within a quantization step."""
    from lowbit.deploy.export import onnx_export, tflite_export
    from lowbit.deploy.export.weights import quantized_tensors
    from lowbit.deploy.runtime.artifacts import Artifact
    from lowbit.deploy.runtime.runtimes import load
    from lowbit.pipeline import qat

    keras.utils.set_random_seed(0)
    model = qat.strip(qat.quantize_model(EXPORT_CASES[name](), "tc", keep_float=keep_float))
    rng = np.random.default_rng(0)
    shape = (64,) + tuple(model.inputs[0].shape[1:])
    x = rng.integers(0, 40, shape).astype(np.int32) if model.inputs[0].dtype == "int32" else \
        rng.normal(size=shape).astype(np.float32)
    reference = model.predict(x, verbose=0)
    tensors = quantized_tensors(model, "tc", keep_float=keep_float)
    assert ("head/kernel" in [t.name for t in tensors]) == (not keep_float)
    flat = tflite_export.convert_keras_model(model, scheme="tc", keep_float=keep_float)
    blob = onnx_export.convert_keras_model(model, scheme="tc", keep_float=keep_float)
    onnx_out = load(Artifact(path=None, format="onnx", content=blob, manifest=None)).predict(x)
    tflite_out = load(Artifact(path=None, format="tflite", content=flat, manifest=None)).predict(x)
    assert np.abs(onnx_out - reference).max() <= 1e-5
    assert np.abs(tflite_out - reference).max() <= 2e-2
    for fmt, stored in (("tflite", _tflite_tensors(flat)), ("onnx", list(onnx_export.read_weights(blob).values()))):
        for t in tensors:  # LiteRT: merge_mode="ave" is folded into the head's kernel as codes × α/2
            scale = (lambda v: v / np.max(np.abs(v))) if fmt == "tflite" and "ave" in name else (lambda v: v)
            assert any(v.size == t.values.size and np.array_equal(_sorted(scale(v)), _sorted(scale(t.values)))
                       for v in stored), (fmt, t.name)
    head = model.get_layer("head").get_weights()[0]
    packed_sizes = [e["shape"] for e in onnx_export.stored_tensors(blob)]
    assert (list(head.shape) in packed_sizes or list(head.T.shape) in packed_sizes) == (not keep_float)

