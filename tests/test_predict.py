"""lowbit predict: JSON lines for any text, through both artifact formats, equal to running the
artifact on the tokenized sequence by hand."""

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest

from lowbit.deploy.runtime import runtimes
from lowbit.deploy.runtime.artifacts import open_artifact
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
