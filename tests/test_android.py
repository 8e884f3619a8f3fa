"""lowbit.deploy.android / lowbit deploy: the assets the app reads, their signature check, skipping an
unchanged bundle, and the bundled model giving lowbit predict's scores."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from lowbit.deploy import android
from lowbit.deploy.runtime.artifacts import ArtifactError, open_artifact
from lowbit.deploy.runtime.predict import Predictor
from lowbit.pipeline.data.text import Vocabulary


@pytest.fixture
def app(tmp_path):
    (tmp_path / "app" / "src" / "main").mkdir(parents=True)
    return tmp_path


def test_bundle_writes_model_vocabulary_and_metadata(converted_runs, app):
    run = converted_runs["tc"]
    metadata = android.bundle(run, app)
    assets = app / android.ASSETS
    assert (assets / "model.tflite").read_bytes() == (run / "phone" / "model.tflite").read_bytes()
    assert (assets / "vocab.txt").read_bytes() == (run / "vocab.txt").read_bytes()
    written = json.loads((assets / "model.json").read_text())
    assert written == {k: v for k, v in metadata.items() if k != "skipped"} and metadata["skipped"] is False
    manifest = json.loads((run / "phone" / "manifest.json").read_text())["artifacts"]["model.tflite"]
    width = json.loads((run / "phone" / "width.json").read_text())
    assert written["weight_bits"] == manifest["weight_bits"] == width["chosen_bits"] in (2, 4)
    assert written["runtime"].startswith("TensorFlow Lite 2.21")
    assert written["format"] == "lowbit-android-model/2" and written["scheme"] == "tc"
    assert written["labels"] == ["negative", "positive"] and written["output"] == {"shape": [1, 1], "dtype": "float32"}
    assert written["reset_variables"] is False  # the files keep no state between runs
    assert written["sha256"] == manifest["sha256"] and written["size_bytes"] == manifest["size_bytes"]
    assert written["input"] == {"shape": [1, 80], "dtype": "int32"} and written["sequence_length"] == 80
    assert written["ids"] == {"pad": 0, "start": 1, "oov": 2} and written["threshold"] == 0.5
    assert written["vocab_size"] == len(Vocabulary.load(run / "vocab.txt"))
    test_accuracy = json.loads((run / "run.json").read_text())["test_accuracy"]
    assert written["test_accuracy"] == pytest.approx(test_accuracy, abs=1e-4)
    assert android.bundle(run, app)["skipped"] is True


def test_bundled_model_gives_the_scores_of_lowbit_predict(converted_runs, app):
    android.bundle(converted_runs["tc"], app)
    texts = ["one of the best films of the decade", "I walked out after twenty minutes", ""]
    def predicted(artifact):
        done = subprocess.run([sys.executable, "-m", "lowbit.cli", "predict", str(artifact), *texts],
                              capture_output=True, text=True)
        return [json.loads(line)["score"] for line in done.stdout.splitlines()]

    expected = predicted(converted_runs["tc"] / "phone" / "model.tflite")
    # the phone's width holds the run's codes: the run's own file scores the same
    assert np.allclose(predicted(converted_runs["tc"] / "model.tflite"), expected, atol=1e-5)
    assets = app / android.ASSETS
    from ai_edge_litert.interpreter import Interpreter

    metadata = json.loads((assets / "model.json").read_text())
    interpreter = Interpreter(model_path=str(assets / metadata["model_file"]))
    interpreter.allocate_tensors()
    vocab = Vocabulary.load(assets / metadata["vocab_file"])
    scores = []
    for text in texts:  # what the app does: reset, feed [1, L] int32, read [1, 1]
        interpreter.reset_all_variables()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"],
                               vocab.sequence(text, metadata["sequence_length"])[None])
        interpreter.invoke()
        scores.append(float(interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0, 0]))
    assert np.allclose(scores, expected, atol=1e-6)


def test_signature_and_input_checks(converted_runs, app, tmp_path):
    from lowbit.deploy.export import tflite_export
    from lowbit.pipeline.keras2 import keras

    run = tmp_path / "batch4"
    shutil.copytree(converted_runs["fp"], run)
    model = keras.models.load_model(run / "model.h5", compile=False)
    (run / "model.tflite").write_bytes(tflite_export.convert_keras_model(model, scheme="fp", batch_size=4))
    with pytest.raises(ArtifactError, match="but manifest.json says"):
        android.bundle(run, app)  # the manifest describes the batch-1 file
    (run / "manifest.json").unlink()
    with pytest.raises(ArtifactError, match="no manifest.json beside it"):
        android.bundle(run, app)
    with pytest.raises(ValueError, match="the app feeds one int32"):
        android.check_signature(open_artifact(run / "model.tflite"))
    with pytest.raises(ValueError, match="not the lowbit Android demo"):
        android.bundle(converted_runs["tc"], tmp_path / "nowhere")
    assert not (app / android.ASSETS).exists()


@pytest.mark.slow  # several CLI processes, each loading TensorFlow
def test_cli_deploy_prints_the_next_steps(converted_runs, app):
    done = subprocess.run([sys.executable, "-m", "lowbit.cli", "deploy", str(converted_runs["tc"]),
                           "--android", str(app)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "--apk demo.apk" in done.stdout and "now holds the imdb-lstm tc model (INT" in done.stdout
    assert "gradlew" not in done.stdout  # never run here: not offered
    assert Predictor(app / android.ASSETS / "model.tflite").seq_len == 80  # the bundle is a usable artifact set


@pytest.fixture(scope="module")
def multi_class_run(tmp_path_factory):
    """A converted run of lowbit's default text classifier on a 3-label corpus, untrained (0 float
    epochs: the chain, not the accuracy, is under test)."""
    from lowbit.deploy.export.convert import convert_run
    from lowbit.models.user import USER_TASK
    from lowbit.pipeline.train.loop import TrainConfig, train

    root = tmp_path_factory.mktemp("corpus")
    words = {"de": "der die das und nicht", "en": "the and not with this", "es": "el la los que por"}
    for split, count in (("train", 8), ("test", 3)):
        for label, text in words.items():
            (root / split / label).mkdir(parents=True)
            for k in range(count):
                (root / split / label / f"{k}.txt").write_text(f"{text} {k}")
    run = root.parent / "run"
    train(TrainConfig(task=USER_TASK, scheme="fp", out=str(run), data=str(root), epochs=0, vocab_size=40,
                      max_tokens=8), progress=False)
    convert_run(run, formats=("tflite",))
    return run


def test_a_multi_class_run_bundles_its_label_names(multi_class_run, app):
    from ai_edge_litert.interpreter import Interpreter

    written = android.bundle(multi_class_run, app)
    assert written["labels"] == ["de", "en", "es"] and written["output"]["shape"] == [1, 3]
    assert written["task"] == "user" and written["input"]["shape"] == [1, 8]
    assets = app / android.ASSETS
    interpreter = Interpreter(model_path=str(assets / "model.tflite"))  # what the app runs
    interpreter.allocate_tensors()
    vocab = Vocabulary.load(assets / "vocab.txt")
    texts = ["the and not", "der die das", "el la los"]
    rows = []
    for text in texts:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], vocab.sequence(text, 8)[None])
        interpreter.invoke()
        rows.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0])
    results = list(Predictor(multi_class_run / "model.tflite").results(texts))
    for row, result in zip(rows, results):
        assert result["label"] == written["labels"][int(np.argmax(row))]
        assert result["scores"] == {name: round(float(p), 6) for name, p in zip(written["labels"], row)}
