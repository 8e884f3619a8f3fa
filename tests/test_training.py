"""lowbit.pipeline.train.loop: real short runs on IMDB reviews, resume after SIGKILL, run-dir rules,
MirroredStrategy on two logical CPUs."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from lowbit.pipeline.keras2 import keras
from lowbit.pipeline.train.loop import TrainConfig, train


def config(tmp_path, shared_data, **overrides):
    options = dict(task="imdb-lstm", scheme="tc", out=str(tmp_path / "run"), epochs=3,
                   limit=300, data_dir=str(shared_data), patience=10, batch_size=32)
    options.update(overrides)
    return TrainConfig(**options)


def test_short_real_run_lowers_the_loss_and_writes_the_run(tmp_path, shared_data):
    summary = train(config(tmp_path, shared_data, learning_rate=3e-3), progress=False)
    run = tmp_path / "run"
    history = json.loads((run / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert history[-1]["loss"] < history[0]["loss"]
    for name in ("config.json", "state.json", "checkpoint.h5", "best.h5", "qat.h5", "model.h5", "vocab.txt", "run.json"):
        assert (run / name).is_file(), name
    assert json.loads((run / "run.json").read_text()) == summary
    assert summary["n_train"] == 270 and summary["n_val"] == 30 and summary["n_test"] == 300
    assert 0.0 <= summary["test_accuracy"] <= 1.0
    # model.h5 is a plain float model (no custom scope needed) with ternary weights × α
    plain = keras.models.load_model(run / "model.h5")
    kernel = plain.get_layer("lstm").get_weights()[0]
    alpha = np.abs(kernel[kernel != 0]).max()
    assert set(np.unique(kernel / alpha).tolist()) <= {-1.0, 0.0, 1.0}


def test_existing_run_is_not_overwritten_without_force(tmp_path, shared_data):
    train(config(tmp_path, shared_data, epochs=1, scheme="fp"), progress=False)
    with pytest.raises(FileExistsError, match="--force"):
        train(config(tmp_path, shared_data, epochs=1, scheme="fp"), progress=False)
    summary = train(config(tmp_path, shared_data, epochs=1, scheme="bc"), force=True, progress=False)
    assert summary["scheme"] == "bc"


def test_resume_rules(tmp_path, shared_data):
    with pytest.raises(ValueError, match="no checkpoint"):
        train(config(tmp_path, shared_data), resume=True, progress=False)
    train(config(tmp_path, shared_data, epochs=1), progress=False)
    with pytest.raises(ValueError, match="differs"):
        train(config(tmp_path, shared_data, epochs=2, scheme="qc"), resume=True, progress=False)
    summary = train(config(tmp_path, shared_data, epochs=2), resume=True, progress=False)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2] and summary["epochs_completed"] == 2


@pytest.mark.parametrize(
    "overrides,needle",
    [
        ({"task": "mnist"}, "imdb-lstm"),
        ({"scheme": "int8"}, "fp, bc, tc, qc"),
        ({"epochs": -1}, "epochs must be 0 or more"),
        ({"batch_size": -1}, "batch_size must be positive"),
        ({"data_dir": "/nonexistent/dir"}, "does not exist"),
        ({"strategy": "tpu"}, "default, mirrored"),
    ],
)
def test_invalid_configuration_fails_before_any_work(tmp_path, shared_data, overrides, needle):
    with pytest.raises(ValueError, match=needle):
        train(config(tmp_path, shared_data, **overrides), progress=False)
    assert not (tmp_path / "run").exists()


def lowbit(*args):
    return [sys.executable, "-m", "lowbit.cli", *args]


def test_sigkill_mid_training_then_resume_loses_and_repeats_no_epoch(tmp_path, shared_data):
    out = tmp_path / "run"
    args = ["train", "--task", "imdb-gru", "--scheme", "qc", "--limit", "2000", "--epochs", "4",
            "--patience", "10", "--data-dir", str(shared_data), "--out", str(out)]
    proc = subprocess.Popen(lowbit(*args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = out / "state.json"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if state.is_file() and json.loads(state.read_text())["epochs_completed"] >= 1:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = json.loads(state.read_text())
    assert 1 <= before["epochs_completed"] < 4, "the kill should land before the run finished"

    done = subprocess.run(lowbit(*args, "--resume"), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    assert history[: before["epochs_completed"]] == before["history"]


MIRRORED = textwrap.dedent(
    """
    import json, sys
    from lowbit.pipeline.keras2 import tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from lowbit.pipeline.train.loop import TrainConfig, train
    from lowbit.pipeline.train.strategies import distribution_strategy
    assert distribution_strategy("mirrored").num_replicas_in_sync == 2
    summary = train(TrainConfig(task="imdb-lstm", scheme="tc", out=sys.argv[1], epochs=2, limit=256,
                                batch_size=32, data_dir=sys.argv[2], strategy="mirrored"), progress=False)
    print(json.dumps(summary))
    """
)


def test_mirrored_strategy_on_two_logical_cpus(tmp_path, shared_data):
    done = subprocess.run([sys.executable, "-c", MIRRORED, str(tmp_path / "run"), str(shared_data)],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["strategy"] == "mirrored" and summary["epochs_completed"] == 2


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_history(tmp_path, monkeypatch):
    import dataclasses

    from lowbit import models
    from lowbit.pipeline.data import splits as datasets
    from lowbit.pipeline.train.loop import TrainingDiverged

    real = models.get_task("summation-gru")

    def poisoned(data_dir=None, *, limit=None, seed=0):
        splits = datasets.summation_splits(limit=limit, seed=seed)
        splits.x_train[5, 0, 0] = np.nan  # one bad example poisons the first epoch's loss
        return splits

    monkeypatch.setattr(models, "get_task", lambda name: dataclasses.replace(real, load_data=poisoned))
    with pytest.raises(TrainingDiverged, match="loss became nan in epoch 1"):
        train(TrainConfig(task="summation-gru", scheme="tc", out=str(tmp_path / "run"), epochs=3,
                          limit=200), progress=False)
    run = tmp_path / "run"
    assert not (run / "run.json").exists()  # no result is reported for a diverged run
    assert not (run / "state.json").exists()  # and no completed epoch is claimed


def test_a_loss_that_explodes_but_stays_finite_is_divergence_too(tmp_path):
    """--learning-rate 1e30 took a user's LSTM from 0.7 to 5e29 and exited 0 with a report; here a
    GRU's bounded outputs keep the loss finite and small, but it ends four times above its start."""
    from lowbit.pipeline.train.loop import TrainingDiverged

    with pytest.raises(TrainingDiverged, match=r"loss rose from [0-9.]+ \(first batch\) to [0-9.e+]+ in epoch 3: "
                                               r"training diverged; try a lower --learning-rate \(this run: 1e\+30\)"):
        train(TrainConfig(task="summation-gru", scheme="fp", out=str(tmp_path / "run"), epochs=3, limit=200,
                          learning_rate=1e30), progress=False)
    assert not (tmp_path / "run" / "run.json").exists()


@pytest.mark.parametrize("n_train, batch, patience, expected", [
    pytest.param(243, 64, 3, (500, 50), id="the issue's 243 rows: 4 steps an epoch"),
    pytest.param(25_000, 64, 3, (6, 3), id="IMDB-sized: 391 steps an epoch"),
    pytest.param(243, 16, 10, (125, 13), id="batch 16, --patience 10"),
    pytest.param(10, 64, 3, (2000, 200), id="fewer rows than a batch"),
])
def test_a_step_budget_sets_the_epochs_and_a_patience_of_a_tenth_of_it(n_train, batch, patience, expected):
    from lowbit.pipeline.train.loop import Budget

    budgeted = TrainConfig(task="summation-gru", scheme="tc", out="x", batch_size=batch, patience=patience,
                           step_budget=2000)
    assert (Budget.of(budgeted, n_train).epochs, Budget.of(budgeted, n_train).patience) == expected
    assert Budget.of(TrainConfig(task="summation-gru", scheme="tc", out="x", epochs=7), n_train) == Budget(7, 3)


def test_a_budgeted_run_records_its_budget_and_stops_within_it(tmp_path):
    summary = train(TrainConfig(task="summation-gru", scheme="tc", out=str(tmp_path / "run"), limit=200,
                                step_budget=12), progress=False)  # 180 training rows: 3 steps an epoch
    assert (summary["epochs_budget"], summary["patience_epochs"]) == (4, 3)
    assert 1 <= summary["epochs_completed"] <= 4 and summary["step_budget"] == 12
    with pytest.raises(ValueError, match="step budget must be from 1"):
        TrainConfig(task="summation-gru", scheme="tc", out="x", step_budget=0).validate()


def test_init_from_starts_qat_at_the_float_runs_weights(tmp_path, shared_data):
    fp = train(config(tmp_path, shared_data, scheme="fp", epochs=1, out=str(tmp_path / "fp")), progress=False)
    source = keras.models.load_model(tmp_path / "fp" / "model.h5")
    captured = {}

    from lowbit.pipeline import qat as qat_module

    real = qat_module.quantize_model

    def spy(model, *args, **kwargs):
        captured.setdefault("weights", [w.copy() for w in model.get_weights()])  # the first call: QAT's start
        return real(model, *args, **kwargs)

    import lowbit.pipeline.train.loop as training_module

    training_module.qat.quantize_model = spy
    try:
        summary = train(config(tmp_path, shared_data, scheme="qc", epochs=1, out=str(tmp_path / "qc"),
                               init_from=str(tmp_path / "fp")), progress=False)
    finally:
        training_module.qat.quantize_model = real
    assert all(np.array_equal(a, b) for a, b in zip(captured["weights"], source.get_weights()))
    import hashlib

    assert summary["init_from_sha256"] == hashlib.sha256((tmp_path / "fp" / "model.h5").read_bytes()).hexdigest()
    assert fp["scheme"] == "fp"


def test_init_from_refuses_what_does_not_fit(tmp_path, shared_data):
    train(config(tmp_path, shared_data, scheme="tc", epochs=1, out=str(tmp_path / "tc")), progress=False)
    with pytest.raises(ValueError, match="is a tc run; start from an fp run"):
        train(config(tmp_path, shared_data, init_from=str(tmp_path / "tc")), progress=False)
    with pytest.raises(ValueError, match="is not a finished run"):
        train(config(tmp_path, shared_data, init_from=str(tmp_path / "nothing")), progress=False)
    train(config(tmp_path, shared_data, scheme="fp", epochs=1, out=str(tmp_path / "fp")), progress=False)
    with pytest.raises(ValueError, match="trained on other data"):  # another sample -> other vocabulary
        train(config(tmp_path, shared_data, limit=250, init_from=str(tmp_path / "fp")), progress=False)
    assert not (tmp_path / "run").exists()


def test_a_fine_tuning_run_does_not_replay_the_float_runs_random_stream(tmp_path):
    from lowbit.pipeline.train.loop import random_seed

    base = TrainConfig(task="imdb-lstm", scheme="fp", out=str(tmp_path / "fp"), seed=3)
    tuned = TrainConfig(task="imdb-lstm", scheme="tc", out=str(tmp_path / "tc"), seed=3, init_from=base.out)
    assert random_seed(base, 0) == 3 and random_seed(base, 2) == 5
    assert random_seed(tuned, 0) not in {random_seed(base, k) for k in range(100)}


def test_ctrl_c_during_fit_is_raised_at_the_next_boundary_and_never_lost():
    """The handler only records SIGINT (an exception raised inside a finalizer would be dropped);
    the callback raises it at the next batch or epoch end; a second Ctrl-C raises at once."""
    import signal

    from lowbit.pipeline.train.loop import _DeferredInterrupt

    before = signal.getsignal(signal.SIGINT)
    with _DeferredInterrupt() as interrupt:
        class Finalized:
            def __del__(self):
                signal.raise_signal(signal.SIGINT)  # where a plain KeyboardInterrupt would be lost

        Finalized()
        interrupt.on_epoch_begin(0)  # callbacks that do not check pass
        with pytest.raises(KeyboardInterrupt):
            interrupt.on_train_batch_end(0)
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before


# ----------------------------------------------------------------- a user's files in the run folder


def summation_run(out, **overrides):
    return TrainConfig(**{**dict(task="summation-gru", scheme="tc", out=str(out), epochs=1, limit=200), **overrides})


def test_force_replaces_the_previous_run_and_keeps_the_users_own_files(tmp_path):
    run = tmp_path / "run"
    train(summation_run(run), progress=False)
    (run / "notes.txt").write_text("my notes")
    (run / "plots").mkdir()
    with pytest.raises(FileExistsError, match="--force"):
        train(summation_run(run, scheme="bc"), progress=False)
    summary = train(summation_run(run, scheme="bc"), force=True, progress=False)
    assert summary["scheme"] == "bc"
    assert (run / "notes.txt").read_text() == "my notes" and (run / "plots").is_dir()


def test_a_users_file_under_a_name_the_run_writes_is_refused_before_training(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"mine": true}')
    (run / "notes.txt").write_text("my notes")
    for force in (False, True):
        with pytest.raises(FileExistsError, match=r"config\.json is not lowbit's to replace"):
            train(summation_run(run), force=force, progress=False)
    assert (run / "config.json").read_text() == '{"mine": true}' and sorted(p.name for p in run.iterdir()) == [
        "config.json", "notes.txt"]


def test_a_folder_holding_only_the_users_files_gets_a_fresh_run_beside_them(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("my notes")
    train(summation_run(run), progress=False)
    assert (run / "run.json").is_file() and (run / "notes.txt").read_text() == "my notes"
