"""lowbit.models.user: a user's model file and data resolved into a Task (loss and metric from the
file, labels from the folder), the data checked against the model, and every refusal one line."""

import json
import subprocess
import sys

import numpy as np
import pytest

from lowbit.models import user
from lowbit.models.tasks import manifest_task, run_task
from lowbit.pipeline.keras2 import keras

L = keras.layers


def save(model, path, loss="sparse_categorical_crossentropy", metric="accuracy"):
    if loss is not None:
        model.compile("adam", loss, metrics=[metric] if metric else None)
    model.save(path)
    return path


def classifier(steps=6, channels=3, classes=4):
    inp = keras.Input((steps, channels))
    return keras.Model(inp, L.Dense(classes, activation="softmax")(L.GRU(5)(inp)))


def data(path, n=30, steps=6, channels=3, classes=4, **overrides):
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.normal(size=(n, steps, channels)).astype(np.float32),
              "y_train": rng.integers(0, classes, n).astype(np.int32),
              "x_test": rng.normal(size=(8, steps, channels)).astype(np.float32),
              "y_test": rng.integers(0, classes, 8).astype(np.int32)}
    arrays.update(overrides)
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_loss_and_metric_come_from_the_saved_compile_config(tmp_path, suffix):
    model = save(classifier(), tmp_path / f"m{suffix}")
    spec = user.resolve(data=data(tmp_path / "d.npz"), model=model)
    assert (spec.loss, spec.metric, spec.kind, spec.inputs, spec.output_units) == (
        "sparse_categorical_crossentropy", "accuracy", "sparse", "tensors", 4)
    assert spec == user.UserSpec.from_json(json.loads(json.dumps(spec.to_json())))


def test_options_name_what_the_file_does_not_say(tmp_path):
    model = save(classifier(), tmp_path / "m.h5", loss=None)
    with pytest.raises(ValueError, match="no loss saved with the model; pass --loss"):
        user.resolve(data=data(tmp_path / "d.npz"), model=model)
    spec = user.resolve(data=tmp_path / "d.npz", model=model, loss="sparse_categorical_crossentropy")
    assert spec.metric == "accuracy"
    with pytest.raises(ValueError, match="metric mse does not go with loss sparse_categorical_crossentropy"):
        user.resolve(data=tmp_path / "d.npz", model=model, loss="sparse_categorical_crossentropy", metric="mse")
    with pytest.raises(ValueError, match="loss 'hinge' is not one lowbit can evaluate"):
        user.resolve(data=tmp_path / "d.npz", model=model, loss="hinge")


@pytest.mark.parametrize("make, message", [
    pytest.param(lambda: keras.Sequential([keras.Input((6, 3)), L.Lambda(lambda t: t * 2), L.GRU(3)]),
                 "refusing to load Lambda", id="Lambda"),
    pytest.param(lambda: keras.Model([a := keras.Input((6, 3)), b := keras.Input((6, 3))],
                                     L.Dense(2)(L.GRU(3)(L.Add()([a, b])))),
                 "2 input\\(s\\) and 1 output\\(s\\)", id="two inputs"),
])
def test_models_that_the_chain_cannot_take_are_refused(tmp_path, make, message):
    path = save(make(), tmp_path / "m.h5", loss="mse", metric="mse")
    with pytest.raises(ValueError, match=message):
        user.resolve(data=data(tmp_path / "d.npz"), model=path)


def test_a_file_that_is_not_a_model_is_one_line(tmp_path):
    (tmp_path / "m.h5").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable HDF5 model file"):
        user.resolve(data=data(tmp_path / "d.npz"), model=tmp_path / "m.h5")
    (tmp_path / "m.txt").write_text("x")
    with pytest.raises(ValueError, match="expected a tf-keras .h5 or .keras file"):
        user.resolve(data=tmp_path / "d.npz", model=tmp_path / "m.txt")


@pytest.fixture(params=["load_data", "stream_data"], ids=["in-memory", "streamed"])
def loader(request, tmp_path, monkeypatch):
    """A user task's data as arrays or as record files: checked alike (Splits.summary)."""
    monkeypatch.setenv("LOWBIT_CACHE", str(tmp_path / "cache"))
    return request.param


@pytest.mark.parametrize("overrides, message", [
    pytest.param({"x_train": np.zeros((30, 7, 3), np.float32), "x_test": np.zeros((8, 7, 3), np.float32)},
                 r"x_train has examples of shape \(7, 3\), but the model's input is \(6, 3\)", id="input shape"),
    pytest.param({"y_test": np.array([0, 1, 2, 3, 4, 0, 1, 2], np.int32)},
                 "y_test holds labels from 0 to 4, outside the output's range 0..3", id="label range"),
    pytest.param({"y_train": np.zeros((30, 2), np.int32), "y_test": np.zeros((8, 2), np.int32)},
                 r"y_train has targets of shape \(2,\)", id="target shape"),
])
def test_data_that_does_not_fit_the_model_names_both_shapes(tmp_path, overrides, message, loader):
    model = save(classifier(), tmp_path / "m.h5")
    spec = user.resolve(data=data(tmp_path / "d.npz", **overrides), model=model)
    task = user.task(spec)
    with pytest.raises(ValueError, match=message):
        user.check_data(spec, task.build(), getattr(task, loader)())


def test_errors_name_the_arrays_the_users_file_has(tmp_path):
    """Validation held out of x_train was called x_val, which the user's file does not have."""
    spec = lambda path, inputs="tensors": user.UserSpec(data=str(path), inputs=inputs, loss="mse", metric="mse")
    held_out = spec(data(tmp_path / "d.npz"))
    own = spec(data(tmp_path / "v.npz", x_val=np.zeros((4, 6, 3), np.float32), y_val=np.zeros(4, np.int32)))
    assert [user.source_name(held_out, s, "y") for s in ("train", "val", "test")] == [
        "y_train", "y_train (the part held out for validation)", "y_test"]
    assert user.source_name(own, "val", "x") == "x_val"
    assert user.source_name(spec(tmp_path, "text"), "val", "y") == "the labels of train/ held out for validation"


def test_token_ids_outside_the_embedding_are_refused(tmp_path, loader):
    inp = keras.Input((5,), dtype="int32")
    model = keras.Model(inp, L.Dense(1, activation="sigmoid")(L.GRU(3)(L.Embedding(10, 4)(inp))))
    path = save(model, tmp_path / "m.h5", loss="binary_crossentropy")
    x = np.full((30, 5), 3, np.int32)
    x[0, 0] = 10
    spec = user.resolve(data=data(tmp_path / "d.npz", x_train=x, y_train=np.zeros(30, np.float32),
                                  x_test=x[:8], y_test=np.zeros(8, np.float32)), model=path)
    task = user.task(spec)
    with pytest.raises(ValueError, match="ids from 3 to 10, outside the embedding's 0..9"):
        user.check_data(spec, task.build(), getattr(task, loader)())


def test_decisions_and_scores_per_kind():
    spec = lambda loss, metric="accuracy": user.UserSpec(data="d", inputs="tensors", loss=loss, metric=metric)
    out = np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]])
    assert user.task(spec("sparse_categorical_crossentropy")).decide(out).tolist() == [1, 0]
    assert user.score(spec("sparse_categorical_crossentropy"), np.array([1, 2]), out) == 0.5
    assert user.score(spec("categorical_crossentropy"), np.eye(3)[[1, 0]], out) == 1.0
    assert user.task(spec("binary_crossentropy")).decide(np.array([[0.5], [0.51]])).tolist() == [False, True]
    tagger = np.zeros((2, 4, 3))
    tagger[:, :, 2] = 1
    assert user.task(spec("sparse_categorical_crossentropy")).decide(tagger).shape == (8,)  # every step
    assert user.score(spec("mse", "mse"), np.array([[1.0], [3.0]]), np.array([[2.0], [3.0]])) == 0.5
    assert user.task(spec("mse", "mse")).decide is None and not user.task(spec("mae", "mae")).test_higher_is_better


def test_a_text_folder_without_a_model_gets_the_default_classifier(tmp_path):
    for split, label, text in [("train", "de", "guten tag"), ("train", "en", "good day"), ("train", "es", "buenos dias"),
                               ("test", "en", "good")]:
        (tmp_path / "c" / split / label).mkdir(parents=True, exist_ok=True)
        for k in range(3 if split == "train" else 1):
            (tmp_path / "c" / split / label / f"{k}.txt").write_text(text)
    spec = user.resolve(data=tmp_path / "c", vocab_size=30, max_tokens=7)
    assert (spec.labels, spec.loss, spec.inputs, spec.output_units) == (
        ["de", "en", "es"], "sparse_categorical_crossentropy", "text", 3)
    task = user.task(spec)
    assert task.text_demo and task.labels == ("de", "en", "es") and task.max_tokens == 7
    model = task.build()
    assert model.inputs[0].shape[1:] == (7,) and model.outputs[0].shape[-1] == 3
    texts, truth = task.load_test_texts()
    assert texts == ["good"] and truth.tolist() == [1]
    with pytest.raises(ValueError, match="needs --model"):
        user.resolve(data=data(tmp_path / "d.npz"))


def sequential_classifier(steps=6, channels=3, classes=4):
    """:func:`classifier` written the most common way: a tf_keras Sequential, shape on its first layer."""
    return keras.Sequential([L.GRU(5, input_shape=(steps, channels)), L.Dense(classes, activation="softmax")])


@pytest.mark.slow  # two trainings, two conversions, a subprocess
@pytest.mark.parametrize("build", [classifier, sequential_classifier], ids=["functional", "sequential"])
def test_user_runs_train_convert_and_predict_on_arrays(tmp_path, build):
    from lowbit.deploy.export.convert import convert_run
    from lowbit.pipeline.train.loop import TrainConfig, train

    model = save(build(), tmp_path / "m.h5")
    d = data(tmp_path / "d.npz")
    common = dict(task=user.USER_TASK, model=str(model), data=str(d), epochs=1, batch_size=8)
    train(TrainConfig(scheme="fp", out=str(tmp_path / "fp"), **common), progress=False)
    summary = train(TrainConfig(scheme="tc", out=str(tmp_path / "tc"), init_from=str(tmp_path / "fp"), **common),
                    progress=False)
    assert summary["task"] == "user" and 0 <= summary["test_accuracy"] <= 1
    assert run_task(tmp_path / "tc").user.loss == "sparse_categorical_crossentropy"
    manifest = convert_run(tmp_path / "tc")
    assert manifest["user_task"]["output_units"] == 4 and manifest_task(manifest).metric == "accuracy"
    done = subprocess.run([sys.executable, "-m", "lowbit.cli", "predict", str(tmp_path / "tc" / "model.onnx"),
                           "--npz", str(d)], capture_output=True, text=True)
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 0 and len(rows) == 8 and len(rows[0]["outputs"]) == 4
    assert all(r["label"] == int(np.argmax(r["outputs"])) for r in rows)
    with pytest.raises(ValueError, match="no layer 'nope'"):
        TrainConfig(scheme="tc", out=str(tmp_path / "x"), keep_float=["nope"], **common).validate()


@pytest.mark.slow  # two trainings
def test_a_user_run_streamed_from_records_trains_on_the_same_splits(tmp_path, monkeypatch):
    from lowbit.pipeline.train.loop import TrainConfig, train

    monkeypatch.setenv("LOWBIT_CACHE", str(tmp_path / "cache"))
    model = save(classifier(), tmp_path / "m.h5")
    common = dict(task=user.USER_TASK, model=str(model), data=str(data(tmp_path / "d.npz", n=200)), epochs=2,
                  batch_size=16, scheme="tc", seed=4)
    memory = train(TrainConfig(out=str(tmp_path / "memory"), **common), progress=False)
    streamed = train(TrainConfig(out=str(tmp_path / "stream"), input="stream", **common), progress=False)
    assert [streamed[k] for k in ("n_train", "n_val", "n_test")] == [memory[k] for k in ("n_train", "n_val", "n_test")]
    assert streamed["epochs_completed"] == 2 and 0 <= streamed["test_accuracy"] <= 1
    assert list((tmp_path / "cache" / "streams").iterdir())  # the records were built, under LOWBIT_CACHE


@pytest.mark.parametrize("args, message", [
    pytest.param(["train", "--scheme", "tc", "--model", "m.h5"], "--model needs --data", id="train model without data"),
    pytest.param(["train", "--scheme", "tc"], "give --task", id="train neither"),
    pytest.param(["run", "--model", "m.h5"], "--model needs --data", id="run model without data"),
    pytest.param(["train", "--task", "imdb-lstm", "--data", "d.npz", "--scheme", "tc"], "exclude each other",
                 id="task and data"),
    pytest.param(["run", "--data", "missing.npz"], "data missing.npz does not exist", id="missing data"),
])
def test_cli_refuses_user_option_mistakes_in_one_line(tmp_path, monkeypatch, capsys, args, message):
    from lowbit import cli

    monkeypatch.chdir(tmp_path)
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow  # a training run and a conversion
def test_a_logits_text_model_predicts_probabilities_and_is_kept_out_of_the_app(tmp_path):
    from lowbit.deploy import android
    from lowbit.deploy.export.convert import convert_run
    from lowbit.deploy.runtime.predict import Predictor
    from lowbit.pipeline.train.loop import TrainConfig, train

    for split, count in (("train", 6), ("test", 2)):
        for label, text in {"a": "red green", "b": "blue sky", "c": "sun moon"}.items():
            (tmp_path / "c" / split / label).mkdir(parents=True)
            for k in range(count):
                (tmp_path / "c" / split / label / f"{k}.txt").write_text(text)
    inp = keras.Input((6,), dtype="int32")
    logits = L.Dense(3)(L.GRU(4)(L.Embedding(30, 4)(inp)))  # no softmax: the loss takes logits
    model = keras.Model(inp, logits)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.save(tmp_path / "m.h5")
    run = tmp_path / "run"
    train(TrainConfig(task=user.USER_TASK, scheme="fp", out=str(run), model=str(tmp_path / "m.h5"),
                      data=str(tmp_path / "c"), epochs=0, vocab_size=30, max_tokens=6), progress=False)
    assert user.read_spec(run).from_logits
    convert_run(run, formats=("tflite",))
    result = next(Predictor(run / "model.tflite").results(["red green"]))
    assert abs(sum(result["scores"].values()) - 1) < 1e-5 and result["score"] == max(result["scores"].values())
    (tmp_path / "app" / "app" / "src" / "main").mkdir(parents=True)
    with pytest.raises(ValueError, match="outputs logits"):
        android.bundle(run, tmp_path / "app")


def test_a_text_folder_with_a_file_over_the_limit_is_refused_before_any_work_unless_raised(tmp_path, capsys):
    from lowbit import cli

    for split, label in (("train", "a"), ("train", "b"), ("test", "a")):
        (tmp_path / "c" / split / label).mkdir(parents=True)
        (tmp_path / "c" / split / label / "0.txt").write_text("some words")
    (tmp_path / "c" / "train" / "b" / "1.txt").write_bytes(b"x" * 1_500_000)
    assert cli.main(["run", "--data", str(tmp_path / "c"), "--out", str(tmp_path / "o"), "--max-text-mb", "1"]) == 2
    err = capsys.readouterr().err
    assert "1.txt: 1,500,000 bytes, over the 1 MB limit" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
    assert user.resolve(data=tmp_path / "c", max_text_mb=2).max_text_mb == 2
