"""lowbit.pipeline.train.strategies: the workers' agreement (what must be equal, the line that names
what differs), the watchdog that ends a worker stuck waiting, and the strategies by name."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from lowbit import cli
from lowbit.pipeline.train import strategies
from lowbit.pipeline.train.strategies import Agreement

FIELDS = (("the lowbit version", "0.1.0"), ("the option epochs", "2"), ("the epochs completed", 3))


def _rows(*agreements):
    return np.stack([a.vector() for a in agreements])


def test_equal_agreements_agree():
    assert Agreement(FIELDS).disagreement(_rows(Agreement(FIELDS), Agreement(FIELDS), Agreement(FIELDS))) is None


@pytest.mark.parametrize("index, value, message", [
    pytest.param(0, "0.2.0", r"^the workers differ in the lowbit version: worker 2 against the chief$", id="version"),
    pytest.param(1, "3", r"^the workers differ in the option epochs: worker 2 against the chief$", id="option"),
    pytest.param(2, 1, r"^the workers differ in the epochs completed \(3, 3, 1 by worker\): worker 2 against the chief$",
                 id="epochs-with-numbers"),
])
def test_the_first_differing_field_is_named(index, value, message):
    other = list(FIELDS)
    other[index] = (other[index][0], value)
    line = Agreement(FIELDS).disagreement(_rows(Agreement(FIELDS), Agreement(FIELDS), Agreement(tuple(other))))
    assert line is not None
    assert re.match(message, line)


def test_text_fields_are_compared_by_digest_not_by_prefix():
    a, b = Agreement((("x", "a" * 100 + "1"),)), Agreement((("x", "a" * 100 + "2"),))
    assert not np.array_equal(a.vector(), b.vector()) and a.vector().dtype == np.int32


def _child(block: str) -> subprocess.CompletedProcess:
    code = "import time\nfrom lowbit.pipeline.train.strategies import watchdog\n" + block + '\nprint("after", flush=True)\n'
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_watchdog_ends_a_stuck_process_with_one_line():
    done = _child("with watchdog(1, 'worker 0 could not reach the others'):\n    time.sleep(30)")
    assert done.returncode == -9
    assert done.stderr.strip().splitlines() == ["lowbit: error: worker 0 could not reach the others"]
    assert "after" not in done.stdout


def test_watchdog_goes_quietly_when_the_block_ends():
    done = _child("with watchdog(30, 'never printed'):\n    time.sleep(0.2)")
    assert done.returncode == 0 and done.stdout == "after\n" and "never printed" not in done.stderr


def test_code_digest_is_stable():
    assert strategies.code_digest() == strategies.code_digest()
    assert len(strategies.code_digest()) == 64


def test_multi_worker_is_not_built_by_name():
    with pytest.raises(ValueError, match="multi_worker"):
        strategies.distribution_strategy("multi-worker")


@pytest.mark.parametrize("tf_config, message", [
    pytest.param(None, "needs TF_CONFIG", id="unset"),
    pytest.param("{nope", "TF_CONFIG is not JSON", id="not-json"),
    pytest.param(json.dumps({"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": 2}}),
                 "task.index 2 is outside", id="index-out-of-range"),
])
def test_train_with_a_bad_tf_config_is_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys, tf_config, message):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    if tf_config is not None:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    out = tmp_path / "run"
    code = cli.main(["train", "--task", "imdb-lstm", "--scheme", "tc", "--strategy", "multi-worker", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0] and err[0].startswith("lowbit train: error:")
    assert not out.exists()


def test_a_batch_that_does_not_split_over_the_workers_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["localhost:1", "localhost:2", "localhost:3"]},
                                                "task": {"type": "worker", "index": 0}}))
    code = cli.main(["train", "--task", "imdb-lstm", "--scheme", "tc", "--strategy", "multi-worker",
                     "--batch-size", "64", "--out", str(tmp_path / "run")])
    assert code == 2 and "does not split evenly over 3 workers" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_stream_input_is_refused_for_a_task_without_records(tmp_path, capsys):
    code = cli.main(["train", "--task", "summation-lstm", "--scheme", "tc", "--input", "stream",
                     "--out", str(tmp_path / "run")])
    assert code == 2 and "--input stream reads record files for imdb-lstm, imdb-gru" in capsys.readouterr().err
