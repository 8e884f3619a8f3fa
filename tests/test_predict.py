"""lowbit predict: JSON lines for any text, through both artifact formats, equal to running the
artifact on the tokenized sequence by hand."""

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest

from lowbit.deploy.runtime import predict as predict_module
from lowbit.deploy.runtime import runtimes
from lowbit.deploy.runtime.artifacts import ArtifactError, open_artifact
from lowbit.pipeline.data.text import Vocabulary, tokenize

EDGE_CASES = [
    "",
    "   ",
    "A wonderful, moving film.<br /><br />I loved every minute!",
    "zzqx qqzv vvbnm",  # only unknown words
    "Terrible 😡😡 acting, boring plot… 0/10",
    "ÉLÉGANT mais ennuyeux",
    "word " * 200_000,  # ~1 MB
]


def predict(artifact, *texts, stdin=None):
    args = [sys.executable, "-m", "lowbit.cli", "predict", str(artifact), *texts]
    done = subprocess.run(args, input=stdin, capture_output=True, timeout=300)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def by_hand(artifact_path, text):
    runner = runtimes.load(open_artifact(artifact_path))
    vocab = Vocabulary.load(artifact_path.parent / "vocab.txt")
    return float(runner.run(vocab.sequence(text, 80)[None])[0, 0])


@pytest.mark.parametrize("name", ["model.tflite", pytest.param("model.onnx", marks=pytest.mark.slow)])
def test_edge_cases_on_stdin_give_one_json_line_each(converted_runs, name):
    artifact = converted_runs["tc"] / name
    stdin = "\n".join(t.replace("\n", " ") for t in EDGE_CASES).encode() + b"\n"
    code, out, err = predict(artifact, stdin=stdin)
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == len(EDGE_CASES)
    for text, row in zip(EDGE_CASES, rows):
        assert set(row) == {"text_sha256", "score", "label", "tokens"}
        assert row["text_sha256"] == hashlib.sha256(text.encode()).hexdigest()
        assert row["tokens"] == len(tokenize(text))
        assert row["label"] == ("positive" if row["score"] > 0.5 else "negative")
        assert row["score"] == pytest.approx(by_hand(artifact, text), abs=1e-6)
    assert rows[0]["tokens"] == 0 and rows[-1]["tokens"] == 200_000


@pytest.mark.slow  # several CLI processes, each loading TensorFlow
def test_texts_as_arguments_and_invalid_utf8_on_stdin(converted_runs):
    artifact = converted_runs["tc"] / "model.tflite"
    code, out, _ = predict(artifact, "great movie", "awful movie")
    assert code == 0 and len(out.splitlines()) == 2
    code, out, err = predict(artifact, stdin=b"caf\xe9 \xff\xfe great\r\nok\n")
    assert code == 0, err
    first, second = (json.loads(line) for line in out.splitlines())
    replaced = "caf\ufffd \ufffd\ufffd great"
    assert first["text_sha256"] == hashlib.sha256(replaced.encode()).hexdigest()
    assert first["tokens"] == 2 and second["tokens"] == 1  # "caf", "great"; "ok"


@pytest.mark.slow  # several CLI processes, each loading TensorFlow
def test_same_scores_from_both_formats(converted_runs):
    texts = ["a gripping story with great acting", "dull, predictable and far too long"]
    scores = {}
    for name in ("model.tflite", "model.onnx"):
        code, out, _ = predict(converted_runs["fp"] / name, *texts)
        assert code == 0
        scores[name] = [json.loads(line)["score"] for line in out.splitlines()]
    assert np.allclose(scores["model.tflite"], scores["model.onnx"], atol=1e-5)


def test_a_non_text_model_or_a_missing_vocabulary_is_a_one_line_error(converted_runs, tmp_path):
    lonely = tmp_path / "model.tflite"
    lonely.write_bytes((converted_runs["tc"] / "model.tflite").read_bytes())
    code, out, err = predict(lonely, "hello")
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0 and "no vocabulary at" in err


@pytest.fixture(scope="module")
def tensor_artifacts(tmp_path_factory):
    """A tiny float-input GRU regressor as .tflite and .onnx (no manifest: a raw artifact), and a
    linear model whose weights overflow float32 on ordinary input."""
    from lowbit.deploy.export import onnx_export, tflite_export
    from lowbit.pipeline.keras2 import keras

    tmp = tmp_path_factory.mktemp("tensors")
    keras.utils.set_random_seed(0)
    gru = keras.Sequential([keras.Input((5, 2)), keras.layers.GRU(3), keras.layers.Dense(1)])
    overflow = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, kernel_initializer=keras.initializers.Constant(3e38))])
    paths = {}
    for name, model in (("gru", gru), ("overflow", overflow)):
        for fmt, convert in (("tflite", tflite_export.convert_keras_model), ("onnx", onnx_export.convert_keras_model)):
            paths[name, fmt] = tmp / f"{name}.{fmt}"
            paths[name, fmt].write_bytes(convert(model, scheme="fp"))
    return paths


def predict_npz(artifact, npz):
    done = subprocess.run([sys.executable, "-m", "lowbit.cli", "predict", str(artifact), "--npz", str(npz)],
                          capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout, done.stderr


def _with(x, index, value):
    x = x.copy()
    x[index] = value
    return x


FINE = np.random.default_rng(0).normal(size=(6, 5, 2)).astype(np.float32)
HOSTILE_ARRAYS = {
    "NaN": (_with(FINE, (2, 1, 0), np.nan), "1 values are NaN or Inf in 1 of 6 rows (first: row 2)"),
    "Inf and -Inf": (_with(_with(FINE, (4, 0, 1), np.inf), (5, 0, 0), -np.inf),
                     "2 values are NaN or Inf in 2 of 6 rows (first: row 4)"),
    "NaN in float64": (_with(FINE.astype(np.float64), (0, 0, 0), np.nan),
                       "1 values are NaN or Inf in 1 of 6 rows (first: row 0)"),
    "strings": (np.array([["a"] * 2] * 5), "holds <U1 values; the artifact reads numbers"),
}


@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
@pytest.mark.parametrize("case", list(HOSTILE_ARRAYS))
def test_an_array_the_input_cannot_hold_is_refused_in_one_line_before_any_row(tensor_artifacts, tmp_path, fmt, case):
    """Both runtimes answer a NaN row with a confident score (LiteRT: 0.51 and label 1 where Keras
    gives NaN); predict refuses instead, the same for both formats, and prints no row."""
    x, message = HOSTILE_ARRAYS[case]
    np.savez(tmp_path / "x.npz", x_test=x)
    code, out, err = predict_npz(tensor_artifacts["gru", fmt], tmp_path / "x.npz")
    lines = [line for line in err.splitlines() if not line.startswith("INFO: Created TensorFlow Lite")]
    assert (code, out) == (2, "") and len(lines) == 1
    assert f"x.npz: x_test: {message}" in lines[0]


@pytest.mark.parametrize("values, message", [
    pytest.param([[1.5, 2]], "1 values have a fraction, but the input is int32", id="fraction"),
    pytest.param([[2.0 ** 40, 1]], "1 values lie outside int32's range", id="beyond int32"),
    pytest.param([[np.nan, 1]], "NaN or Inf", id="NaN"),
])
def test_values_an_integer_input_cannot_hold_are_refused(values, message):
    with pytest.raises(ValueError, match=message):
        runtimes.check_values(np.asarray(values), np.int32)
    runtimes.check_values(np.asarray([[3.0, 2]]), np.int32)  # integral floats are what they say


@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
def test_finite_rows_give_strict_json_and_an_overflowing_output_is_null(tensor_artifacts, tmp_path, fmt):
    np.savez(tmp_path / "x.npz", x_test=FINE)
    code, out, _ = predict_npz(tensor_artifacts["gru", fmt], tmp_path / "x.npz")
    assert code == 0 and [json.loads(line)["row"] for line in out.splitlines()] == list(range(6))
    np.savez(tmp_path / "big.npz", x_test=np.full((2, 2), 10, np.float32))  # 10 × 3e38 + 10 × 3e38 = inf
    code, out, _ = predict_npz(tensor_artifacts["overflow", fmt], tmp_path / "big.npz")
    rows = [json.loads(line, parse_constant=lambda c: pytest.fail(f"not JSON: {c}")) for line in out.splitlines()]
    assert code == 0 and rows == [{"row": 0, "outputs": [None]}, {"row": 1, "outputs": [None]}]


def test_without_a_manifest_the_labels_are_class_ids_not_imdbs_names(converted_runs, tmp_path):
    """An artifact copied away from its run keeps no record of its task: another task's names
    ("positive"/"negative") would be a confident wrong answer."""
    for name in ("model.tflite", "vocab.txt"):
        (tmp_path / name).write_bytes((converted_runs["tc"] / name).read_bytes())
    code, out, _ = predict(tmp_path / "model.tflite", "a fine film", "a dreadful film")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["label"] for r in rows] == [("1" if r["score"] > 0.5 else "0") for r in rows]


def _bag_of_embeddings_onnx(classes: int) -> bytes:
    """A hand-built text classifier: int32 tokens [N, 4] -> Gather from a [10, classes] table ->
    mean over the tokens -> [N, classes] scores."""
    from onnx import TensorProto, helper, numpy_helper

    table = numpy_helper.from_array(np.zeros((10, classes), np.float32), "table")
    nodes = [helper.make_node("Gather", ["table", "tokens"], ["rows"], axis=0),
             helper.make_node("ReduceMean", ["rows"], ["scores"], axes=[1], keepdims=0)]
    graph = helper.make_graph(nodes, "bag", [helper.make_tensor_value_info("tokens", TensorProto.INT32, [None, 4])],
                              [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None, classes])],
                              initializer=[table])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


@pytest.mark.parametrize("classes, refused", [pytest.param(3, False, id="three labels"),
                                               pytest.param(predict_module.MAX_LABELS + 1, True, id="one past the limit")])
def test_an_output_wider_than_any_classifier_is_refused_before_naming_its_labels(tmp_path, classes, refused):
    """A damaged shape constant once declared 33,554,433 scores per text: naming them took 2.4 GB
    (a larger one got the process killed) before the mismatch was seen."""
    (tmp_path / "model.onnx").write_bytes(_bag_of_embeddings_onnx(classes))
    Vocabulary([f"w{i}" for i in range(7)]).save(tmp_path / "vocab.txt")
    if refused:
        with pytest.raises(ArtifactError, match=f"{classes:,} scores per text"):
            predict_module.Predictor(tmp_path / "model.onnx")
    else:
        predictor = predict_module.Predictor(tmp_path / "model.onnx")
        assert predictor.labels == ["0", "1", "2"]
        assert list(predictor.results(["w1 w2"]))[0]["label"] == "0"  # all scores equal: the first
