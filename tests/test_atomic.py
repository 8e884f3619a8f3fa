"""lowbit.pipeline.atomic: a failed or killed writer never leaves a half-written file under the real
name; lowbit convert writes nothing when one format fails."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from lowbit.pipeline import atomic


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "model.tflite"
    atomic.write_bytes(target, b"old contents")
    with pytest.raises(RuntimeError, match="disk on fire"):
        with atomic.replacing(target) as tmp:
            tmp.write_bytes(b"half of the new")
            raise RuntimeError("disk on fire")
    assert target.read_bytes() == b"old contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == [atomic.LEDGER, "model.tflite"]
    atomic.write_bytes(target, b"new contents")
    assert target.read_bytes() == b"new contents" and len(list(tmp_path.iterdir())) == 2


def test_sigkill_mid_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "manifest.json"
    atomic.write_text(target, '{"old": true}')
    script = textwrap.dedent(f"""
        import os, signal
        from lowbit.pipeline import atomic
        with atomic.replacing({str(target)!r}) as tmp:
            with open(tmp, "w") as f:
                f.write('{{"new": tr')
                f.flush()
                os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert done.returncode == -signal.SIGKILL
    assert json.loads(target.read_text()) == {"old": True}
    assert (tmp_path / ".manifest.tmp.json").is_file()  # the leftover never carries the real name


@pytest.mark.slow  # converts a run
def test_convert_writes_nothing_when_a_format_fails(converted_runs, tmp_path, monkeypatch):
    import shutil

    from lowbit.deploy.export import convert, onnx_export

    run = tmp_path / "run"
    shutil.copytree(converted_runs["tc"], run)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}

    def broken(*args, **kwargs):
        raise ValueError("tf2onnx exploded")

    monkeypatch.setattr(onnx_export, "convert_keras_model", broken)
    with pytest.raises(ValueError, match="tf2onnx exploded"):
        convert.convert_run(run)  # the .tflite was converted first, in memory only
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


# --------------------------------------------------------------------------- ownership


def test_a_file_lowbit_did_not_write_is_never_replaced(tmp_path):
    mine = tmp_path / "report.md"
    mine.write_text("the user's notes")
    with pytest.raises(atomic.ForeignFileError, match=r"report\.md is not lowbit's to replace"):
        atomic.write_text(mine, "a report")
    with pytest.raises(atomic.ForeignFileError, match=r"report\.md"):
        atomic.write_all({tmp_path / "report.json": b"{}", mine: b"a report"})
    assert mine.read_text() == "the user's notes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]  # write_all wrote nothing either


def test_lowbit_replaces_what_it_wrote_and_records_it_once(tmp_path):
    target = tmp_path / "model.tflite"
    atomic.write_bytes(target, b"first")
    atomic.write_bytes(target, b"second")
    atomic.write_all({target: b"third", tmp_path / "manifest.json": b"{}"})
    assert target.read_bytes() == b"third"
    assert (tmp_path / atomic.LEDGER).read_text() == "model.tflite\nmanifest.json\n"
    assert atomic.owned(tmp_path) == {"model.tflite", "manifest.json"}


def test_remove_owned_deletes_lowbits_files_and_nothing_else(tmp_path):
    for name in ("config.json", "model.h5", "vocab.txt"):
        atomic.write_text(tmp_path / name, name)
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "data").mkdir()
    (tmp_path / ".lowbit.lock").write_text("123\n")
    assert atomic.remove_owned(tmp_path, keep=("vocab.txt",)) == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lowbit-files", ".lowbit.lock", "data", "notes.txt",
                                                          "vocab.txt"]
    assert atomic.owned(tmp_path) == {"vocab.txt"}
    atomic.write_text(tmp_path / "config.json", "again")  # a removed name is lowbit's to write anew


@pytest.mark.parametrize("names, found", [
    pytest.param(("report.md", "report.json"), ["report.md"], id="one-in-the-way"),
    pytest.param(("latency.png",), [], id="none-in-the-way"),
])
def test_check_claimable_names_every_users_file_in_the_way(tmp_path, names, found):
    (tmp_path / "report.md").write_text("mine")
    (tmp_path / "notes.txt").write_text("mine")
    atomic.write_text(tmp_path / "report.json", "{}")
    assert atomic.foreign(tmp_path, set(names)) == found
    if found:
        with pytest.raises(atomic.ForeignFileError, match="report.md is not lowbit's to replace"):
            atomic.check_claimable(tmp_path, names)
    else:
        atomic.check_claimable(tmp_path, names)


def test_a_symlink_in_the_way_is_foreign_too(tmp_path):
    (tmp_path / "elsewhere.txt").write_text("precious")
    (tmp_path / "run.json").symlink_to(tmp_path / "elsewhere.txt")
    with pytest.raises(atomic.ForeignFileError):
        atomic.write_text(tmp_path / "run.json", "{}")
    assert (tmp_path / "elsewhere.txt").read_text() == "precious"
