"""``lowbit convert RUN_DIR [--to tflite,onnx]``: export a trained run's stripped model.

Writes ``model.tflite`` and/or ``model.onnx`` and ``manifest.json`` into RUN_DIR. Everything is
converted in memory first and checked; files are then written atomically (temporary file +
rename), the manifest last, so a failure leaves the previous artifacts untouched.

``manifest.json``::

    {"task": ..., "scheme": ..., "export_version": 2, "source": {"file": "model.h5", "sha256": ...},
     "artifacts": {"model.tflite": {"format": "tflite", "sha256": ..., "size_bytes": ...,
                                    "batch_size": 1, "bits_per_weight": 2.3,
                                    "tensors": [{"name", "shape", "scheme", "bits", "bytes",
                                                 "scale", ...}, ...]}, ...}}

``bits_per_weight`` is 8 × (bytes of every stored quantized tensor, its scales included: the ONNX
embedding's per-row and the ``.tflite`` loop kernels' per-channel float32 scales) / (number of
quantized weights of the Keras model); ``code_bits_per_weight`` counts the codes alone.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from lowbit.pipeline import atomic, json_files, locks, model_files
from lowbit.pipeline.downloads import file_hash

FORMATS = ("tflite", "onnx")
# The form of the files this lowbit writes; a manifest of another form is not current, so upgrading
# lowbit converts again. 2: recurrent layers as WHILE loops of FULLY_CONNECTED with per-channel
# INT2/INT4 weights (1: fused LSTM with int8 gates), bidirectional ONNX weights packed per direction;
# 3: a loop kernel XNNPACK refuses at the scheme's width is stored wider (INT4, INT8), the
# ``.tflite`` width can be chosen (``tflite_bits``).
EXPORT_VERSION = 3
FILENAMES = {"tflite": "model.tflite", "onnx": "model.onnx"}
MANIFEST = "manifest.json"


def parse_formats(text: str) -> tuple[str, ...]:
    formats = tuple(f.strip() for f in text.split(",") if f.strip())
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"unknown format {', '.join(unknown) or repr(text)}; valid choices: {', '.join(FORMATS)}")
    return formats


def is_current(run_dir, *, formats=FORMATS, batch_size: int = 1, tflite_bits: int | None = None,
               out_dir=None) -> bool:
    """Whether RUN_DIR's artifacts of ``formats`` are what :func:`convert_run` would write now: the
    manifest belongs to the current ``model.h5`` (sha256), lists every format's file with its
    current sha256, and the ``.tflite`` has this batch size and weight width (``out_dir``: as in
    :func:`convert_run`)."""
    run_dir = Path(run_dir)
    out_dir = run_dir if out_dir is None else Path(out_dir)
    manifest_path, model_path = out_dir / MANIFEST, run_dir / "model.h5"
    if not manifest_path.is_file() or not model_path.is_file():
        return False
    manifest = json.loads(manifest_path.read_text())
    from lowbit.deploy.export.tflite_export import weight_bits

    bits = weight_bits(manifest.get("scheme", "fp"), tflite_bits) if manifest.get("scheme") else None
    if manifest.get("source", {}).get("sha256") != file_hash(model_path, "sha256") \
            or manifest.get("export_version") != EXPORT_VERSION:
        return False
    for fmt in parse_formats(",".join(formats)):
        name = FILENAMES[fmt]
        entry = manifest.get("artifacts", {}).get(name, {})
        if not (out_dir / name).is_file() or entry.get("sha256") != file_hash(out_dir / name, "sha256"):
            return False
        if fmt == "tflite" and (entry.get("batch_size") != batch_size or entry.get("weight_bits") != bits):
            return False
    return True


def convert_run(run_dir, *, formats=FORMATS, batch_size: int = 1, tflite_bits: int | None = None,
                out_dir=None) -> dict:
    """Export RUN_DIR's ``model.h5`` to ``formats``; returns the manifest written. ``tflite_bits``:
    the ``.tflite`` weights' width (:func:`~lowbit.deploy.export.tflite_export.weight_bits`).
    ``out_dir``: where the artifacts and their manifest go (default RUN_DIR; the phone's file of
    :mod:`lowbit.deploy.phone` goes to ``RUN_DIR/phone``).

    All or nothing: the artifacts and the manifest are written to temporary names and renamed
    into place together, the manifest last, so a failure (a full disk) keeps the previous set.
    The directory is locked against a second writer and checked writable before converting."""
    run_dir = Path(run_dir)
    formats = parse_formats(",".join(formats))
    if batch_size < 1:
        raise ValueError(f"batch size must be positive, got {batch_size}")
    config_path, model_path = run_dir / "config.json", run_dir / "model.h5"
    for path in (config_path, model_path):
        if not path.is_file():
            raise ValueError(f"{run_dir} has no {path.name}; train a run first (lowbit train --out {run_dir})")
    config = read_config(config_path)
    scheme = config["scheme"]
    from lowbit.deploy.export.tflite_export import weight_bits

    bits = weight_bits(scheme, tflite_bits)  # a width the scheme cannot take: one line, before any work
    out_dir = run_dir if out_dir is None else Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic.check_writable(out_dir)
    with locks.locked(out_dir):
        return _convert(run_dir, config, scheme, model_path, formats, batch_size, bits, out_dir)


def read_config(path: Path, *, keys=("task", "scheme")) -> dict:
    """A run's ``config.json``, with ``keys`` (of task and scheme) checked; one line naming the file."""
    from lowbit.models import TASKS
    from lowbit.models.user import USER_TASK
    from lowbit.pipeline.schemes import SCHEMES

    config = json_files.read_object(path, what="a run configuration (a JSON object)")
    for key, valid in (("task", TASKS + (USER_TASK,)), ("scheme", SCHEMES)):
        if key in keys and config.get(key) not in valid:
            raise ValueError(f"{path}: {key} is {config.get(key)!r}; valid choices: {', '.join(valid)}")
    return config


def _vocabulary_entry(run_dir: Path, model) -> dict | None:
    """The manifest's record of the run's ``vocab.txt`` (sha256, size, entries), after checking
    that it parses and fits the model's embedding; None when the run has no vocabulary."""
    from lowbit.pipeline.data.text import Vocabulary
    from lowbit.pipeline.keras2 import keras

    path = run_dir / "vocab.txt"
    if not path.is_file():
        return None
    content = path.read_bytes()
    vocab = Vocabulary.from_text(content.decode("utf-8"), source=path)
    embeddings = [layer for layer in model.layers if isinstance(layer, keras.layers.Embedding)]
    if embeddings and len(vocab) > embeddings[0].input_dim:
        raise ValueError(f"{path}: {len(vocab):,} entries, but the model's embedding has "
                         f"{embeddings[0].input_dim:,} rows; this vocabulary belongs to another model")
    return {"file": path.name, "sha256": hashlib.sha256(content).hexdigest(), "size_bytes": len(content),
            "entries": len(vocab)}


def _convert(run_dir: Path, config: dict, scheme: str, model_path: Path, formats, batch_size: int,
             bits: int | None, out_dir: Path) -> dict:
    from lowbit.deploy.export import onnx_export, tflite_export
    from lowbit.deploy.export.weights import quantized_tensors

    from lowbit.models import user

    model = model_files.load(model_path)
    vocabulary = _vocabulary_entry(run_dir, model)
    spec = user.read_spec(run_dir) if config["task"] == user.USER_TASK else None
    keep_float = tuple(config.get("keep_float") or ())
    n_weights = sum(t.codes.size for t in quantized_tensors(model, scheme, keep_float=keep_float)) \
        if scheme != "fp" else 0
    artifacts, blobs = {}, {}
    for fmt in formats:
        if fmt == "tflite":
            blob = tflite_export.convert_keras_model(model, scheme=scheme, batch_size=batch_size,
                                                     keep_float=keep_float, bits=bits)
            tensors = tflite_export.stored_tensors(blob, scheme=scheme) if scheme != "fp" else []
        else:
            blob = onnx_export.convert_keras_model(model, scheme=scheme, keep_float=keep_float)
            tensors = onnx_export.stored_tensors(blob)
        stored = sum(t["bytes"] for t in tensors)
        codes = sum(t["code_bytes"] for t in tensors)
        blobs[FILENAMES[fmt]] = blob
        artifacts[FILENAMES[fmt]] = {
            "format": fmt, "sha256": hashlib.sha256(blob).hexdigest(), "size_bytes": len(blob),
            "batch_size": batch_size if fmt == "tflite" else None,
            **({"weight_bits": bits} if fmt == "tflite" else {}),
            "bits_per_weight": round(8 * stored / n_weights, 4) if n_weights else 32.0,
            "code_bits_per_weight": round(8 * codes / n_weights, 4) if n_weights else 32.0,
            "tensors": tensors,
        }
    manifest_path = out_dir / MANIFEST
    source_sha = file_hash(model_path, "sha256")
    try:
        previous = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    except (ValueError, UnicodeDecodeError):
        previous = {}  # a damaged manifest describes nothing worth keeping
    if not isinstance(previous, dict) or not isinstance(previous.get("source"), dict) \
            or previous["source"].get("sha256") != source_sha or not isinstance(previous.get("artifacts"), dict) \
            or previous.get("export_version") != EXPORT_VERSION:
        previous = {}  # artifacts of another model.h5, or of another lowbit's export, are not carried over
    manifest = {
        "task": config["task"], "scheme": scheme, "export_version": EXPORT_VERSION,
        **({"user_task": spec.to_json()} if spec else {}),
        **({"keep_float": list(keep_float)} if keep_float else {}),
        "source": {"file": model_path.name, "sha256": source_sha},
        **({"vocabulary": vocabulary} if vocabulary else {}),
        "artifacts": {**{k: v for k, v in previous.get("artifacts", {}).items()
                         if k not in artifacts and k in FILENAMES.values() and (out_dir / k).is_file()},
                      **artifacts},
    }
    atomic.write_all({**{out_dir / name: blob for name, blob in blobs.items()},
                      manifest_path: (json.dumps(manifest, indent=2) + "\n").encode()})
    return manifest
