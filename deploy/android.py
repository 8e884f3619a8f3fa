"""``lowbit deploy RUN_DIR --android ANDROID_DEMO``: bundle a run's model into the Android demo app.

Writes into ``ANDROID_DEMO/app/src/main/assets/``:

* ``model.tflite`` — the run's phone file (:func:`lowbit.deploy.phone.prepare`: the run's codes
  at the width the app's runtime, TensorFlow Lite 2.21, runs fastest, ``RUN_DIR/phone/``; a
  float run's own ``model.tflite``), byte for byte (checked by
  :func:`lowbit.deploy.runtime.artifacts.open_artifact`, sha256 against its manifest);
* ``vocab.txt`` — the run's vocabulary (line i is id i);
* ``model.json`` — what the app needs to know (:data:`METADATA_FORMAT`)::

    {"format": "lowbit-android-model/2", "task", "scheme", "model_file": "model.tflite",
     "vocab_file": "vocab.txt", "sha256", "size_bytes", "bits_per_weight", "sequence_length",
     "input": {"shape": [1, L], "dtype": "int32"}, "output": {"shape": [1, K], "dtype": "float32"},
     "labels": [name of class 0, name of class 1, ...], "ids": {"pad": 0, "start": 1, "oov": 2},
     "threshold": 0.5, "vocab_size", "reset_variables": false, "vocab_sha256", "test_accuracy",
     "weight_bits": 4, "runtime": "TensorFlow Lite 2.21 ..."}

K is 1 for two labels (a sigmoid: ``labels[1]`` when the score exceeds ``threshold``) and the
number of labels otherwise (a softmax: the most probable label). ``reset_variables`` says whether
the file keeps state in variable tensors (lowbit's files do not; a fused LSTM would).

Before anything is written, the model is run once in TensorFlow Lite 2.21 (the app's runtime)
and its signature checked against what the app feeds it (one int32 ``[1, L]`` input, one float32
``[1, K]`` output). ``test_accuracy`` is the run's (the evaluation report's for the run's own
``.tflite``): the phone's file holds the same codes at another width. Files are written
atomically, ``model.json`` last.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from lowbit.deploy.runtime import artifacts, runtimes
from lowbit.models import text_tasks
from lowbit.pipeline import atomic, locks
from lowbit.pipeline.data.text import OOV, PAD, START

METADATA_FORMAT = "lowbit-android-model/2"
ASSETS = Path("app") / "src" / "main" / "assets"
THRESHOLD = 0.5


def bundle(run_dir, android_dir, *, report: dict | None = None, progress: bool = False) -> dict:
    """Copy the run's phone file (:func:`lowbit.deploy.phone.prepare`) and vocabulary into the
    app's assets; returns the metadata written (with ``"skipped": True`` when the app already held
    this exact model)."""
    from lowbit.deploy import phone

    run_dir, android_dir = Path(run_dir), Path(android_dir)
    if not (android_dir / "app" / "src" / "main").is_dir():
        raise ValueError(f"{android_dir} is not the lowbit Android demo (no app/src/main)")
    run_file = artifacts.open_artifact(run_dir / "model.tflite")  # the run's own, checked first
    if run_file.manifest is None:
        raise artifacts.ArtifactError(f"{run_file.path}: no manifest.json beside it; export with lowbit convert")
    if run_file.task_record is None or not run_file.task_record.text_demo:
        raise ValueError(f"{run_dir} is a {run_file.task} run; the Android demo classifies text "
                         f"({', '.join(text_tasks())})")
    artifact = artifacts.open_artifact(phone.prepare(run_dir, progress=progress))
    if artifact.manifest is None:
        raise artifacts.ArtifactError(f"{artifact.path}: no manifest.json beside it; export with lowbit convert")
    task = artifact.task_record
    if task.user is not None and task.user.from_logits:
        raise ValueError(f"{run_dir}: the model outputs logits (its loss has from_logits=True), and the app reads "
                         "probabilities; end the model with a sigmoid or softmax layer")
    vocab_path = run_dir / "vocab.txt"
    vocab = artifacts.load_vocabulary(artifact, vocab_path)
    labels = list(task.labels or ())
    if len(labels) < 2:
        raise ValueError(f"{run_dir}: the task names no labels; the app shows one per class")
    outputs = 1 if len(labels) == 2 else len(labels)
    seq_len = check_signature(artifact, outputs=outputs)
    phone.check_runs(artifact.content, where=str(artifact.path))
    metadata = {
        "format": METADATA_FORMAT, "task": artifact.task, "scheme": artifact.scheme,
        "model_file": "model.tflite", "vocab_file": "vocab.txt", "sha256": artifact.sha256,
        "size_bytes": len(artifact.content), "bits_per_weight": artifact.entry.get("bits_per_weight"),
        "sequence_length": seq_len, "input": {"shape": [1, seq_len], "dtype": "int32"},
        "output": {"shape": [1, outputs], "dtype": "float32"}, "labels": labels,
        "ids": {"pad": PAD, "start": START, "oov": OOV},
        "threshold": THRESHOLD, "vocab_size": len(vocab), "reset_variables": has_variables(artifact.content),
        "vocab_sha256": hashlib.sha256(vocab_path.read_bytes()).hexdigest(),
        "test_accuracy": _test_accuracy(run_dir, run_file, report),
        "weight_bits": artifact.entry.get("weight_bits"), "runtime": phone.RUNTIME,
    }
    assets = android_dir / ASSETS
    existing = assets / "model.json"
    if existing.is_file() and (assets / "model.tflite").is_file() and (assets / "vocab.txt").is_file():
        try:
            if (json.loads(existing.read_text()) == metadata
                    and (assets / "vocab.txt").read_bytes() == vocab_path.read_bytes()
                    and artifacts.open_artifact(assets / "model.tflite").sha256 == artifact.sha256):
                return {**metadata, "skipped": True}
        except (ValueError, artifacts.ArtifactError):
            pass  # a damaged bundle is simply replaced
    with locks.locked(assets):  # model, vocabulary and metadata go in together, the metadata last
        atomic.write_all({assets / "model.tflite": artifact.content, assets / "vocab.txt": vocab_path.read_bytes(),
                          assets / "model.json": (json.dumps(metadata, indent=2) + "\n").encode()})
    return {**metadata, "skipped": False}


SOURCES = Path(__file__).resolve().parents[1] / "android_demo"  # a checkout's folder, or the wheel's package data


def demo_project(where) -> Path:
    """The Android demo to deploy into when none is given: the repository's ``android_demo`` in
    a git checkout (its bundled assets are ignored by git), else — lowbit installed from a wheel,
    whose ``lowbit/android_demo`` package data holds the app's sources — a copy of those sources
    at ``where`` (made once; a ``where`` that exists but is not the demo is refused)."""
    where = Path(where)
    if (SOURCES.parent / ".git").exists() and (SOURCES / "app" / "src" / "main").is_dir():
        return SOURCES
    if not (SOURCES / "app" / "src" / "main").is_dir():
        raise ValueError(f"this lowbit has no Android demo sources ({SOURCES} is missing); pass --android DIR")
    if where.exists():
        if not (where / "app" / "src" / "main").is_dir():
            raise ValueError(f"{where} exists and is not the lowbit Android demo; move it away or pass --android DIR")
        return where
    import shutil

    tmp = where.with_name(f".{where.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(SOURCES, tmp, ignore=shutil.ignore_patterns("__pycache__"))
    tmp.rename(where)
    return where


def has_variables(flat: bytes) -> bool:
    """Whether a ``.tflite`` keeps state in variable tensors between invocations."""
    from lowbit.deploy.export.tflite_export import read

    return any(tensor.isVariable for subgraph in read(flat).subgraphs for tensor in subgraph.tensors)


def check_signature(artifact, *, outputs: int = 1) -> int:
    """The sequence length of an artifact the app can run, else ``ValueError`` saying why."""
    runner = runtimes.load(artifact, threads=1)
    shape, dtype = runner.input_shape, runner.input_dtype
    if len(shape) != 2 or shape[0] != 1 or shape[1] is None or dtype.name != "int32":
        raise ValueError(f"{artifact.path}: input {shape} {dtype}, but the app feeds one int32 [1, L] "
                         "sequence (convert with --batch 1)")
    if tuple(runner.output_shape) != (1, outputs):
        raise ValueError(f"{artifact.path}: output {runner.output_shape}, but the app reads float32 [1, {outputs}] "
                         f"scores for this task's labels")
    return int(shape[1])


def _test_accuracy(run_dir: Path, artifact, report: dict | None) -> float | None:
    """The artifact's accuracy from the evaluation report, else the run's Keras test accuracy."""
    for entry in (report or {}).get("artifacts", []):
        if entry.get("sha256") == artifact.sha256 and entry.get("metric") == "accuracy":
            return round(entry["value"], 4)
    summary = run_dir / "run.json"
    if summary.is_file():
        value = json.loads(summary.read_text()).get("test_accuracy")
        return None if value is None else round(value, 4)
    return None


def next_steps(android_dir) -> str:
    return (f"next: build the APK here without Gradle, lowbit deploy RUN_DIR --android {android_dir} --apk demo.apk, "
            "then adb install -r demo.apk with a phone connected")
