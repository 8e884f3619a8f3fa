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
    target.write_bytes(b"old contents")
    with pytest.raises(RuntimeError, match="disk on fire"):
        with atomic.replacing(target) as tmp:
            tmp.write_bytes(b"half of the new")
            raise RuntimeError("disk on fire")
    assert target.read_bytes() == b"old contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tflite"]
    atomic.write_bytes(target, b"new contents")
    assert target.read_bytes() == b"new contents" and len(list(tmp_path.iterdir())) == 1


def test_sigkill_mid_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "manifest.json"
    target.write_text('{"old": true}')
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
