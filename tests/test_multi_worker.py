"""``lowbit train --strategy multi-worker`` end to end: two worker processes on localhost (free
ports), a small IMDB LSTM TC run streamed from the real reviews (fine-tuned from a float run, as
lowbit's recipe does; the kill test trains from scratch). The chief alone writes the run,
both hold the same weights, a worker killed mid-epoch comes back and the job completes without a
lost or repeated epoch, the accuracy is that of one process, and the errors are one line."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

LIMIT = 4000  # reviews per split: 3,600 training, 400 validation, 4,000 test
COMMON = ["--task", "imdb-lstm", "--limit", str(LIMIT), "--input", "stream", "--seed", "3", "--batch-size", "64"]
TC = ["--scheme", "tc"]


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _env(tmp_path, ports=None, index=None):
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("LOWBIT_REJOINS", None)
    (tmp_path / "tmp").mkdir(exist_ok=True)
    if ports is not None:
        env["TF_CONFIG"] = json.dumps({"cluster": {"worker": [f"localhost:{p}" for p in ports]},
                                       "task": {"type": "worker", "index": index}})
    return env


def _worker(tmp_path, ports, index, args, log):
    return subprocess.Popen([sys.executable, "-m", "lowbit.cli", "train", *args], env=_env(tmp_path, ports, index),
                            stdout=log, stderr=subprocess.STDOUT, text=True)


def _run_two(tmp_path, out, args, *, name):
    ports = _free_ports(2)
    logs = [open(tmp_path / f"{name}-{i}.log", "w") for i in range(2)]
    workers = [_worker(tmp_path, ports, i, [*args, "--out", str(out), "--strategy", "multi-worker"], logs[i])
               for i in range(2)]
    codes = [w.wait(timeout=600) for w in workers]
    return codes, [(tmp_path / f"{name}-{i}.log").read_text() for i in range(2)]


def _scratch(log: str) -> Path:
    line = next(line for line in log.splitlines() if "its copy of the run is in" in line)
    return Path(line.split("its copy of the run is in ")[1].split(" (the chief")[0])


@pytest.fixture(scope="module")
def float_run(shared_data, tmp_path_factory):
    """lowbit's recipe starts QAT from a float run: one process, 2 epochs."""
    tmp_path = tmp_path_factory.mktemp("float")
    out = tmp_path / "imdb-lstm-fp"
    done = subprocess.run([sys.executable, "-m", "lowbit.cli", "train", *COMMON, "--scheme", "fp", "--epochs", "2",
                           "--data-dir", str(shared_data), "--out", str(out)], env=_env(tmp_path),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def _finetune(float_run, shared_data):
    return [*COMMON, *TC, "--epochs", "2", "--learning-rate", "3e-4", "--init-from", str(float_run),
            "--data-dir", str(shared_data)]


@pytest.fixture(scope="module")
def two_workers(shared_data, float_run, tmp_path_factory):
    """TC fine-tuned from the float run by two workers."""
    tmp_path = tmp_path_factory.mktemp("two_workers")
    out = tmp_path / "imdb-lstm-tc"
    codes, logs = _run_two(tmp_path, out, _finetune(float_run, shared_data), name="job")
    return {"codes": codes, "logs": logs, "out": out, "tmp": tmp_path}


def test_both_workers_finish_with_the_same_weights_and_the_chief_alone_writes_the_run(two_workers):
    assert two_workers["codes"] == [0, 0], two_workers["logs"]
    chief = json.loads((two_workers["out"] / "run.json").read_text())
    scratch = _scratch(two_workers["logs"][1])
    worker = json.loads((scratch / "run.json").read_text())
    assert chief["weights_sha256"] == worker["weights_sha256"]
    assert chief["epochs_completed"] == 2 and chief["n_train"] == 3600 and chief["n_test"] == LIMIT
    assert not str(scratch).startswith(str(two_workers["out"])) and scratch.parent.name == "lowbit-workers"
    assert {p.name for p in two_workers["out"].iterdir()} >= {"run.json", "model.h5", "vocab.txt", "history.json"}
    assert "its copy of the run is in" not in two_workers["logs"][0]


def test_convert_and_evaluate_take_the_chiefs_run(two_workers, shared_data):
    out = two_workers["out"]
    env = _env(two_workers["tmp"])
    convert = subprocess.run([sys.executable, "-m", "lowbit.cli", "convert", str(out)], env=env,
                             capture_output=True, text=True, timeout=600)
    assert convert.returncode == 0, convert.stderr[-2000:]
    evaluate = subprocess.run([sys.executable, "-m", "lowbit.cli", "evaluate", str(out), "--baseline", "tc",
                               "--limit", "300", "--runs", "5", "--warmup", "1", "--data-dir", str(shared_data),
                               "--out", str(two_workers["tmp"] / "report")], env=env,
                              capture_output=True, text=True, timeout=600)
    assert evaluate.returncode == 0, evaluate.stderr[-2000:]
    report = json.loads((two_workers["tmp"] / "report" / "report.json").read_text())
    assert {a["format"] for a in report["artifacts"]} == {"tflite", "onnx"}
    assert all(a["value"] > 0.6 for a in report["artifacts"])


def test_one_process_with_the_same_seed_and_global_batch_reaches_the_same_accuracy(two_workers, float_run,
                                                                                    shared_data, tmp_path):
    out = tmp_path / "single"
    done = subprocess.run([sys.executable, "-m", "lowbit.cli", "train", *_finetune(float_run, shared_data),
                           "--out", str(out)], env=_env(tmp_path), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    single = json.loads((out / "run.json").read_text())["test_accuracy"]
    multi = json.loads((two_workers["out"] / "run.json").read_text())["test_accuracy"]
    print(f"test accuracy: one process {single:.4f}, two workers {multi:.4f}")
    # Not equal: the workers reduce gradients in another order, and 112 steps amplify that. Measured at
    # this seed: 0.8087 vs 0.8000 with the ASCII tokenizer, 0.8120 vs 0.8002 with the Unicode one
    # (the vocabulary changed, not the training); 1.5 points is training noise, a bug is far more.
    assert abs(single - multi) <= 0.015


def test_a_worker_killed_mid_epoch_comes_back_and_the_job_completes(shared_data, tmp_path):
    ports = _free_ports(2)
    out = tmp_path / "imdb-lstm-tc"
    args = [*COMMON, *TC, "--epochs", "3", "--data-dir", str(shared_data), "--out", str(out), "--strategy", "multi-worker"]
    logs = {name: tmp_path / f"{name}.log" for name in ("chief", "worker", "worker-again")}
    chief = _worker(tmp_path, ports, 0, args, open(logs["chief"], "w"))
    worker = _worker(tmp_path, ports, 1, args, open(logs["worker"], "w"))
    _wait_for(lambda: "Epoch 2/3" in logs["worker"].read_text(), 300, "the second epoch to start")
    time.sleep(2)  # in the middle of epoch 2 (~5 s)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    assert (out / "state.json").is_file() and json.loads((out / "state.json").read_text())["epochs_completed"] == 1
    _wait_for(lambda: "restarting this worker" in logs["chief"].read_text(), 120, "the chief to notice")
    again = _worker(tmp_path, ports, 1, args, open(logs["worker-again"], "w"))
    assert again.wait(timeout=600) == 0, logs["worker-again"].read_text()[-3000:]
    assert chief.wait(timeout=600) == 0, logs["chief"].read_text()[-3000:]
    history = json.loads((out / "history.json").read_text())
    assert [e["epoch"] for e in history] == [1, 2, 3]
    assert "lost another worker in epoch 2" in logs["chief"].read_text()
    scratch = _scratch(logs["worker-again"].read_text())
    assert json.loads((out / "run.json").read_text())["weights_sha256"] == json.loads(
        (scratch / "run.json").read_text())["weights_sha256"]


def _wait_for(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.5)


def test_a_worker_alone_gives_up_after_the_timeout_with_one_line(tmp_path, shared_data):
    ports = _free_ports(2)
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "lowbit.cli", "train", *COMMON, *TC, "--data-dir", str(shared_data),
                           "--out", str(out), "--strategy", "multi-worker", "--cluster-timeout", "5"],
                          env=_env(tmp_path, ports, 1), capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.startswith("lowbit")]
    assert lines == [f"lowbit: error: worker 1 (localhost:{ports[1]}) could not reach the other workers of TF_CONFIG "
                     f"(localhost:{ports[0]}) within 5 s; start every worker (or raise --cluster-timeout)"]
    assert not out.exists() and not (tmp_path / "tmp" / "lowbit-workers").exists()


def test_workers_with_different_options_refuse_before_writing(tmp_path, shared_data):
    ports = _free_ports(2)
    out = tmp_path / "run"
    logs = [open(tmp_path / f"w{i}.log", "w") for i in range(2)]
    workers = [_worker(tmp_path, ports, i, [*COMMON, *TC, "--data-dir", str(shared_data), "--out", str(out),
                                            "--strategy", "multi-worker", "--epochs", str(2 + i)], logs[i])
               for i in range(2)]
    assert [w.wait(timeout=300) for w in workers] == [2, 2]
    for i in range(2):
        errors = [line for line in (tmp_path / f"w{i}.log").read_text().splitlines() if line.startswith("lowbit")]
        assert errors == ["lowbit train: error: the workers differ in the option epochs: worker 1 against the chief; "
                          "start every worker with the same lowbit and the same options"]
    assert not out.exists() and not (tmp_path / "tmp" / "lowbit-workers").exists()


def test_lowbit_run_trains_every_scheme_together_and_the_chief_alone_converts_and_deploys(shared_data, tmp_path):
    import shutil

    android = tmp_path / "android"
    shutil.copytree(Path(__file__).resolve().parents[1] / "android_demo", android,
                    ignore=shutil.ignore_patterns("build", ".gradle"))
    ports = _free_ports(2)
    out = tmp_path / "runs"
    args = ["--strategy", "multi-worker", "--input", "stream", "--limit", "2000", "--float-epochs", "1", "--epochs",
            "1", "--schemes", "tc", "--eval-limit", "200", "--eval-runs", "5", "--out", str(out), "--android",
            str(android), "--data-dir", str(shared_data)]
    logs = [open(tmp_path / f"run{i}.log", "w") for i in range(2)]
    workers = [subprocess.Popen([sys.executable, "-m", "lowbit.cli", "run", *args], env=_env(tmp_path, ports, i),
                                stdout=logs[i], stderr=subprocess.STDOUT, text=True) for i in range(2)]
    assert [w.wait(timeout=900) for w in workers] == [0, 0], (tmp_path / "run0.log").read_text()[-3000:]
    worker_log = (tmp_path / "run1.log").read_text()
    assert "trained fp, tc; the chief converts, evaluates and deploys" in worker_log
    for scheme in ("fp", "tc"):
        chief = json.loads((out / f"imdb-lstm-{scheme}" / "run.json").read_text())
        copy = next(_scratch(line) for line in worker_log.splitlines() if line.endswith(f"imdb-lstm-{scheme})"))
        assert chief["weights_sha256"] == json.loads((copy / "run.json").read_text())["weights_sha256"]
        assert (out / f"imdb-lstm-{scheme}" / "model.tflite").is_file() and not (copy / "model.tflite").exists()
    assert (out / "report" / "report.json").is_file()
    assert (android / "app" / "src" / "main" / "assets" / "model.tflite").is_file()


def _topic_folder(root, n_train=240, n_test=60):
    """Three topics, each text a few of its topic's words among shared ones: a default classifier
    learns it in a few epochs."""
    import random

    rng = random.Random(0)
    topics = {"cooking": "salt pepper oven bake stir", "music": "guitar drum song chord tempo",
              "sports": "goal match team coach score"}
    shared = "the a of day people time way good new first".split()
    for split, n in (("train", n_train), ("test", n_test)):
        for label, words in topics.items():
            folder = root / split / label
            folder.mkdir(parents=True)
            for k in range(n):
                text = rng.sample(words.split(), 2) + rng.sample(shared, 6)
                rng.shuffle(text)
                (folder / f"{k:04d}.txt").write_text(" ".join(text))
    return root


def test_two_workers_stream_a_users_text_folder(tmp_path):
    """A user's data, not IMDB: a text folder of three labels (int class ids, a softmax output),
    streamed by two workers with lowbit's default classifier; the split is the in-memory one."""
    from lowbit.pipeline.data import user as user_data

    folder = _topic_folder(tmp_path / "topics")
    args = ["--data", str(folder), "--input", "stream", "--scheme", "tc", "--epochs", "3", "--batch-size", "32",
            "--learning-rate", "1e-2", "--vocab-size", "100", "--max-tokens", "12", "--seed", "2"]
    out = tmp_path / "topics-tc"
    ports = _free_ports(2)
    logs = [open(tmp_path / f"user-{i}.log", "w") for i in range(2)]
    envs = [{**_env(tmp_path, ports, i), "LOWBIT_CACHE": str(tmp_path / "cache")} for i in range(2)]
    workers = [subprocess.Popen([sys.executable, "-m", "lowbit.cli", "train", *args, "--out", str(out),
                                 "--strategy", "multi-worker"], env=envs[i], stdout=logs[i],
                                stderr=subprocess.STDOUT, text=True) for i in range(2)]
    texts = [(tmp_path / f"user-{i}.log") for i in range(2)]
    assert [w.wait(timeout=600) for w in workers] == [0, 0], [t.read_text()[-2000:] for t in texts]
    chief = json.loads((out / "run.json").read_text())
    worker = json.loads((_scratch(texts[1].read_text()) / "run.json").read_text())
    memory = user_data.text_folder_splits(folder, seed=2, vocab_size=100, max_tokens=12)
    assert chief["weights_sha256"] == worker["weights_sha256"] and chief["input"] == "stream"
    assert (chief["n_train"], chief["n_val"], chief["n_test"]) == (memory.size("train"), memory.size("val"),
                                                                   memory.size("test"))
    assert chief["test_accuracy"] > 0.8, chief  # three topics: chance is 1/3
    print(f"two workers, a user's text folder streamed: test accuracy {chief['test_accuracy']:.4f}")
