"""Hostile input and faults: no silent wrong answer, no half-written file, no runaway process, and
one line instead of a traceback. Each case reproduces a fault found against the previous main."""

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from lowbit import cli
from lowbit.deploy.export.convert import convert_run
from lowbit.deploy.runtime import artifacts, bench, runtimes
from lowbit.deploy.runtime.artifacts import ArtifactError, open_artifact
from lowbit.pipeline import atomic, locks


@pytest.fixture
def run(converted_runs, tmp_path):
    """A private copy of the converted tc run."""
    target = tmp_path / "run"
    shutil.copytree(converted_runs["tc"], target)
    return target


def one_line_error(capsys, argv, code=2):
    """Run the CLI in-process; it must fail with ``code`` and one line, no traceback."""
    assert cli.main(argv) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


# ----------------------------------------------------------------------------- silent wrong answers


@pytest.mark.parametrize("damage", ["truncated", "duplicate", "oversized", "swapped"])
def test_a_vocabulary_that_is_not_the_runs_is_refused_everywhere(run, tmp_path, capsys, damage):
    vocab = run / "vocab.txt"
    lines = vocab.read_text().splitlines()
    edited = {"truncated": lines[:6], "duplicate": lines + [lines[5]],
              "oversized": lines + [f"w{i}" for i in range(70_000)],
              "swapped": lines[:3] + [lines[4], lines[3]] + lines[5:]}[damage]
    vocab.write_text("\n".join(edited) + "\n")
    for argv in (["predict", str(run / "model.tflite"), "a fine film"],
                 ["predict", str(run / "model.onnx"), "a fine film"],
                 ["deploy", str(run), "--android", str(tmp_path / "app")]):
        if argv[0] == "deploy":
            (tmp_path / "app" / "app" / "src" / "main").mkdir(parents=True, exist_ok=True)
        err = one_line_error(capsys, argv)
        assert "vocab.txt" in err and ("does not match the vocabulary" in err or "line" in err), err
    err = one_line_error(capsys, ["tokenize", "--vocab", str(vocab)])
    assert "does not match the vocabulary manifest.json recorded" in err or "again" in err


def test_a_vocabulary_larger_than_the_embedding_is_refused_without_a_manifest(run, capsys):
    (run / "manifest.json").unlink()
    vocab = run / "vocab.txt"
    vocab.write_text(vocab.read_text() + "".join(f"extra{i}\n" for i in range(25_000)))
    err = one_line_error(capsys, ["predict", str(run / "model.onnx"), "text"])
    assert "rows; this vocabulary belongs to another model" in err


def test_convert_records_the_vocabulary_and_refuses_one_that_does_not_fit(run):
    manifest = json.loads((run / "manifest.json").read_text())
    content = (run / "vocab.txt").read_bytes()
    assert manifest["vocabulary"]["size_bytes"] == len(content) and manifest["vocabulary"]["entries"] > 3
    (run / "vocab.txt").write_text((run / "vocab.txt").read_text() + "".join(f"x{i}\n" for i in range(30_000)))
    with pytest.raises(ValueError, match="belongs to another model"):
        convert_run(run)


@pytest.mark.parametrize("name", ["model.tflite", "model.onnx"])
def test_token_ids_outside_the_embedding_never_reach_the_runtime(run, name):
    runner = runtimes.load(open_artifact(run / name))
    rows = artifacts.token_rows(open_artifact(run / name))
    assert runner.token_rows == rows == 20_000
    x = np.zeros((1, 80), np.int32)
    runner.predict(x)
    for bad in (rows, -1):
        x[0, -1] = bad
        with pytest.raises(ValueError, match=r"token ids must lie in \[0, 20000\)"):
            runner.predict(x)


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory, synthetic_imdb):
    """A tc run stopped after one completed epoch (as if killed), ready for --resume."""
    from lowbit.pipeline.train.loop import TrainConfig, train

    out = tmp_path_factory.mktemp("interrupted") / "run"
    config = TrainConfig(task="imdb-lstm", scheme="tc", out=str(out), epochs=1, limit=60, batch_size=32,
                         data_dir=str(synthetic_imdb))
    train(config, progress=False)
    (out / "run.json").unlink()
    return out, config


def resume_argv(out, config):
    return ["train", "--task", "imdb-lstm", "--scheme", "tc", "--out", str(out), "--epochs", "2",
            "--limit", "60", "--batch-size", "32", "--data-dir", config.data_dir, "--resume"]


@pytest.mark.slow  # trains a run first
@pytest.mark.parametrize("damage, message", [
    ("float checkpoint", "not the checkpoint this run saved"),
    ("flipped byte", "not the checkpoint this run saved"),
    ("null state", "not a training state"),
    ("epochs not a number", "epochs_completed is 'x'"),
    ("other scheme", "saved by a imdb-lstm bc run"),
])
def test_resume_refuses_a_checkpoint_or_state_that_is_not_this_runs(interrupted, tmp_path, capsys, damage, message):
    source, config = interrupted
    out = tmp_path / "run"
    shutil.copytree(source, out)
    saved = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**saved, "out": str(out)}))  # the copy's own folder
    state = json.loads((out / "state.json").read_text())
    if damage == "float checkpoint":
        from lowbit.models import imdb
        imdb.build("lstm").save(out / "checkpoint.h5")
    elif damage == "flipped byte":
        data = bytearray((out / "checkpoint.h5").read_bytes())
        data[len(data) // 2] ^= 0xFF
        (out / "checkpoint.h5").write_bytes(bytes(data))
    elif damage == "null state":
        (out / "state.json").write_text("null")
    elif damage == "epochs not a number":
        (out / "state.json").write_text(json.dumps({**state, "epochs_completed": "x"}))
    else:
        (out / "state.json").write_text(json.dumps({**state, "checkpoint": {**state["checkpoint"], "scheme": "bc"}}))
    err = one_line_error(capsys, resume_argv(out, config))
    assert message in err and str(out) in err, err
    assert not (out / "run.json").exists()


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_a_learning_rate_that_is_not_a_positive_number_is_refused_up_front(tmp_path, capsys, value):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["train", "--task", "imdb-lstm", "--scheme", "tc", "--out", str(tmp_path / "r"),
                  "--learning-rate", value])
    assert exit_.value.code == 2 and "positive finite number" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_a_huge_epoch_count_is_refused_before_any_file_is_written(tmp_path, capsys):
    err = one_line_error(capsys, ["train", "--task", "imdb-lstm", "--scheme", "tc", "--out", str(tmp_path / "r"),
                                  "--epochs", str(10 ** 22)])
    assert "epochs must be at most" in err and not (tmp_path / "r").exists()


# ----------------------------------------------------------------------------- lost or half-written files


def failing_fsync(after: int):
    """An os.fsync that succeeds ``after`` times, then reports a full disk."""
    calls = {"n": 0}
    real = os.fsync

    def fsync(fd):
        calls["n"] += 1
        if calls["n"] > after:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    return fsync


@pytest.mark.slow  # converts a run twice
def test_a_full_disk_mid_convert_keeps_the_previous_set_and_leaves_no_temporaries(run, monkeypatch, capsys):
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    monkeypatch.setattr(atomic.os, "fsync", failing_fsync(after=1))  # the .tflite is written, the .onnx not
    err = one_line_error(capsys, ["convert", str(run)])
    assert "No space left on device" in err and str(run) in err
    after = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert after == before  # the old artifacts and manifest, nothing else (no .tmp files)
    assert open_artifact(run / "model.onnx").sha256 == json.loads(before["manifest.json"])["artifacts"]["model.onnx"]["sha256"]


def test_vocabulary_writes_are_atomic(tmp_path, monkeypatch):
    from lowbit.pipeline.data.text import Vocabulary

    path = tmp_path / "vocab.txt"
    Vocabulary(["old"]).save(path)
    monkeypatch.setattr(atomic.os, "fsync", failing_fsync(after=0))
    with pytest.raises(OSError, match="No space left"):
        Vocabulary(["new", "words"]).save(path)
    assert Vocabulary.load(path).tokens[3:] == ["old"] and sorted(os.listdir(tmp_path)) == [atomic.LEDGER, "vocab.txt"]  # no temporaries


def test_a_second_writer_is_refused_at_once_naming_the_holder(run, tmp_path, capsys):
    with locks.locked(run):
        err = one_line_error(capsys, ["convert", str(run)])
        assert f"{run} is in use by pid {os.getpid()}" in err
        err = one_line_error(capsys, ["train", "--task", "imdb-lstm", "--scheme", "tc", "--out", str(run),
                                      "--force", "--limit", "40", "--data-dir", str(tmp_path)])
        assert "is in use by pid" in err or "no IMDB reviews" in err
    convert_run(run, formats=("tflite",))  # released with the block


def test_a_read_only_or_impossible_output_is_one_line(run, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    err = one_line_error(capsys, ["evaluate", str(run), "--out", str(blocker / "report"), "--baseline", "tc",
                                  "--limit", "5", "--runs", "1"])
    assert str(blocker) in err and "Traceback" not in err


@pytest.mark.slow
def test_onnx_and_tflite_export_are_reproducible_byte_for_byte_across_processes(run):
    shas = []
    for _ in range(2):
        done = subprocess.run([sys.executable, "-m", "lowbit.cli", "convert", str(run)], capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        manifest = json.loads((run / "manifest.json").read_text())
        shas.append({name: entry["sha256"] for name, entry in manifest["artifacts"].items()})
    assert shas[0] == shas[1]


# ----------------------------------------------------------------------------- escapes and runaways


@pytest.mark.parametrize("name", ["../../outside.tflite", "/etc/passwd", "..", "sub/model.tflite"])
def test_evaluate_refuses_manifest_paths_outside_the_run(run, converted_runs, tmp_path, capsys, name):
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["artifacts"][name] = manifest["artifacts"]["model.tflite"]
    (run / "manifest.json").write_text(json.dumps(manifest))
    err = one_line_error(capsys, ["evaluate", str(converted_runs["fp"]), str(run), "--out", str(tmp_path / "r"),
                                  "--limit", "5", "--runs", "1"])
    assert f"artifact {name!r} is not a file in {run}" in err


def test_threads_are_bounded_by_the_cpus(run, capsys):
    err = one_line_error(capsys, ["predict", str(run / "model.onnx"), "--threads", "100000", "text"])
    assert f"threads must be at most {runtimes.all_threads()}" in err


def test_options_after_the_artifact_are_options_and_texts_stay_texts(run, capsys):
    assert cli.main(["predict", str(run / "model.tflite"), "--threads", "1", "a fine film", "awful"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all("score" in json.loads(line) for line in lines)


def adb_script(tmp_path, body: str):
    log, script = tmp_path / "adb.log", tmp_path / "adb"
    script.write_text(textwrap.dedent(f"""\
        #!/usr/bin/env python3
        import sys, time
        args = sys.argv[1:]
        open({str(log)!r}, "a").write(repr(args) + "\\n")
        if args == ["devices"]:
            print("List of devices attached\\nSERIAL1\\tdevice")
        """) + textwrap.dedent(body))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script, log


def test_adb_never_passes_a_file_name_to_the_device_shell(run, tmp_path):
    hostile = tmp_path / "x;reboot;#.tflite"
    shutil.copy(run / "model.tflite", hostile)
    script, log = adb_script(tmp_path, """\
        if "test -x" in " ".join(args):
            print("present")
        """)
    with pytest.raises(ValueError):  # the stand-in prints no timings; what matters is what it was asked
        bench.bench_adb([str(hostile)], adb=str(script), timeout=60)
    calls = log.read_text()
    assert "reboot" not in calls.replace(str(hostile), "")  # pushed by its host path only, run as 0.tflite
    shell_lines = [eval(line) for line in calls.splitlines() if "'shell'" in line]
    assert all(len(args) == 4 for args in shell_lines)  # -s SERIAL shell ONE-QUOTED-COMMAND


def test_a_hanging_adb_ends_at_the_timeout_with_one_line(run, tmp_path, capsys):
    script, _ = adb_script(tmp_path, """\
        if args != ["devices"]:
            time.sleep(30)
        """)
    err = one_line_error(capsys, ["bench", str(run / "model.tflite"), "--adb", "--adb-path", str(script),
                                  "--adb-timeout", "2"])
    assert "adb did not finish in time" in err


# ----------------------------------------------------------------------------- one line, not a traceback


def test_a_truncated_imdb_tarball_is_one_line(shared_data, tmp_path, capsys):
    cut = tmp_path / "aclImdb_v1.tar.gz"
    with open(shared_data / "aclImdb_v1.tar.gz", "rb") as f:
        cut.write_bytes(f.read(5_000_000))
    err = one_line_error(capsys, ["train", "--task", "imdb-lstm", "--scheme", "fp", "--out", str(tmp_path / "r"),
                                  "--data-dir", str(tmp_path), "--epochs", "1", "--limit", "40"])
    assert "damaged or truncated" in err


@pytest.mark.parametrize("edit, command, message", [
    (lambda m, c: m["artifacts"]["model.tflite"].update(size_bytes=1e400), "predict", "does not describe this file"),
    (lambda m, c: m["artifacts"]["model.tflite"].update(sha256=7), "predict", "does not match"),
    (lambda m, c: m.update(vocabulary="x"), "predict", "vocabulary entry is malformed"),
    (lambda m, c: c.pop("scheme"), "convert", "scheme is None"),
    (lambda m, c: c.update(task=["imdb-lstm"]), "evaluate", "task is ['imdb-lstm']"),
], ids=["size-inf", "sha-number", "vocabulary-string", "scheme-missing", "task-list"])
def test_fields_of_the_wrong_type_are_one_line(run, tmp_path, capsys, edit, command, message):
    manifest = json.loads((run / "manifest.json").read_text())
    config = json.loads((run / "config.json").read_text())
    edit(manifest, config)
    (run / "manifest.json").write_text(json.dumps(manifest))
    (run / "config.json").write_text(json.dumps(config))
    argv = {"predict": ["predict", str(run / "model.tflite"), "text"], "convert": ["convert", str(run)],
            "evaluate": ["evaluate", str(run), "--out", str(tmp_path / "r"), "--baseline", "tc"]}[command]
    assert message in one_line_error(capsys, argv)


@pytest.mark.slow
def test_ctrl_c_in_a_training_child_is_one_line_and_says_how_to_resume(synthetic_imdb, tmp_path):
    import signal
    import time

    out = tmp_path / "run"
    child = subprocess.Popen([sys.executable, "-m", "lowbit.cli", "train", "--task", "imdb-lstm", "--scheme", "tc",
                              "--out", str(out), "--epochs", "10000", "--patience", "10000", "--limit", "300",
                              "--batch-size", "32", "--data-dir", str(synthetic_imdb)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 600
        while not (out / "state.json").exists():  # wait until it is inside training, however slow
            assert child.poll() is None and time.monotonic() < deadline, "the run never completed an epoch"
            time.sleep(0.5)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=300)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 130, err[-2000:]
    assert err.strip().splitlines()[-1].startswith("lowbit train: interrupted; resume with the same command and --resume")
    assert "Traceback" not in err
