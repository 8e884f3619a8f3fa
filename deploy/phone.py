"""The phone's file: which stored width of a run's codes the APK's runtime runs fastest.

The APK ships TensorFlow Lite 2.21 (Bytedeco's ``org.bytedeco:tensorflow-lite:2.21.0-1.5.14``,
:mod:`lowbit.deploy.apk`). Its kernels are TensorFlow 2.21's own, which ``tf.lite.Interpreter``
runs in this venv (``tensorflow==2.21.0``), so the phone runtime is measured from Python here:
on x86 its INT2 ``FULLY_CONNECTED`` inside the recurrent ``WHILE`` loop was several times slower
than INT4 of the same codes (stack facts, "Phone runtime"), while LiteRT 2.3 (``ai-edge-litert``,
what ``lowbit evaluate`` measures) runs both fast. The width is therefore chosen per run from a
measurement, not assumed:

:func:`prepare` converts the run's ``model.h5`` at every low-bit width its scheme can be stored in
(BC, TC: INT2 and INT4; QC: INT4; ``also=(8,)`` adds INT8 for comparison); times each file in TFLite 2.21 and
in LiteRT 2.3 (one thread, batch 1, the same token ids, interleaved, p50); picks the low-bit
width with the lowest TFLite 2.21 p50 (within 5 % of each other, the smaller file); and writes
that file with its manifest (and the run's ``vocab.txt``) to ``RUN/phone/`` (:func:`lowbit.deploy.export.convert.convert_run`
with ``out_dir``) and the figures to ``RUN/phone/width.json`` and ``width.md``. A run whose
``model.h5`` has not changed is not measured again. Float runs have no phone file: their
``model.tflite`` is bundled as it is.

:func:`check_runs` loads, allocates and invokes a ``.tflite`` in TFLite 2.21 once: a model the
bundled runtime cannot run is refused in one line before anything is built.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lowbit.pipeline import atomic, quiet
from lowbit.pipeline.downloads import file_hash

PHONE_DIR = "phone"
WIDTH_FILE = "width.json"
RUNTIME = "TensorFlow Lite 2.21 (org.bytedeco:tensorflow-lite:2.21.0-1.5.14; tf.lite.Interpreter of tensorflow 2.21.0)"
REFERENCE = "LiteRT 2.3 (ai-edge-litert 2.3.0)"
TIE = 0.05  # p50s within 5 % of each other: the smaller file wins
RUNS, WARMUP = 200, 20


class PhoneRuntimeError(ValueError):
    """The bundled runtime cannot run a model; the message says which file and why."""


def phone_runtime_interpreter(content: bytes, *, threads: int = 1):
    """TFLite 2.21's interpreter (the kernels the APK ships) on ``content``, tensors allocated."""
    import warnings

    from lowbit.pipeline.keras2 import tf

    with warnings.catch_warnings():  # "tf.lite.Interpreter is deprecated": its kernels are the phone's
        warnings.simplefilter("ignore", UserWarning)
        with quiet.native_stderr():
            interpreter = tf.lite.Interpreter(model_content=content, num_threads=threads)
            interpreter.allocate_tensors()
    return interpreter


def check_runs(content: bytes, *, where: str) -> None:
    """:class:`PhoneRuntimeError` unless TFLite 2.21 loads, allocates and invokes ``content`` (on
    zeros: the padding id of a text model, a valid value of every input)."""
    try:
        interpreter = phone_runtime_interpreter(content)
        for detail in interpreter.get_input_details():
            interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
        interpreter.invoke()
    except (ValueError, RuntimeError) as err:
        first = next((line for line in str(err).splitlines() if line.strip()), type(err).__name__)
        raise PhoneRuntimeError(f"{where}: the APK's runtime, TensorFlow Lite 2.21, cannot run it ({first.strip()})") \
            from None


def candidate_widths(scheme: str) -> tuple[int, ...]:
    """The low-bit widths ``scheme``'s codes can be stored in (INT8 is measured, never chosen)."""
    from lowbit.deploy.export.tflite_export import weight_bits

    own = weight_bits(scheme)
    return tuple(b for b in (2, 4) if own is not None and b >= own)


def choose(measured: dict[int, dict]) -> int:
    """The width of ``measured`` (``{bits: {"phone_p50_ms", "size_bytes"}}``, low-bit widths only)
    with the lowest phone p50; among those within :data:`TIE` of it, the smallest file."""
    if not measured:
        raise ValueError("nothing measured to choose from")
    fastest = min(m["phone_p50_ms"] for m in measured.values())
    close = [b for b, m in measured.items() if m["phone_p50_ms"] <= fastest * (1 + TIE)]
    return min(close, key=lambda b: measured[b]["size_bytes"])


def measure(run_dir, *, runs: int = RUNS, also=()) -> dict:
    """Convert RUN_DIR's model at each candidate width (and ``also``, e.g. ``(8,)``, measured but
    never chosen) and time it in both runtimes (module docstring); returns the record
    :func:`prepare` writes to ``width.json`` (``chosen`` included)."""
    from ai_edge_litert.interpreter import Interpreter as LiteRt

    from lowbit.deploy.export import convert, tflite_export
    from lowbit.deploy.runtime import latency
    from lowbit.pipeline import model_files

    run_dir = Path(run_dir)
    config = convert.read_config(run_dir / "config.json")
    scheme = config["scheme"]
    widths = candidate_widths(scheme)
    if not widths:
        raise ValueError(f"{run_dir} is a {scheme} run: float files have no low-bit width to choose")
    model = model_files.load(run_dir / "model.h5")
    keep_float = tuple(config.get("keep_float") or ())
    files = {bits: tflite_export.convert_keras_model(model, scheme=scheme, keep_float=keep_float, bits=bits)
             for bits in dict.fromkeys((*widths, *also))}
    calls, sizes = {}, {}
    for bits, content in files.items():
        phone = phone_runtime_interpreter(content)
        reference = LiteRt(model_content=content, num_threads=1)
        reference.allocate_tensors()
        detail = phone.get_input_details()[0]
        x = _token_ids(detail["shape"], detail["dtype"], model)
        for name, interpreter in (("phone", phone), ("reference", reference)):
            index = interpreter.get_input_details()[0]["index"]
            interpreter.set_tensor(index, x)
            calls[(bits, name)] = interpreter.invoke
        sizes[bits] = len(content)
    seconds = latency.interleaved({f"{b}/{n}": call for (b, n), call in calls.items()}, runs=runs, warmup=WARMUP)
    rows = {bits: {"size_bytes": sizes[bits],
                   "phone_p50_ms": latency.summary_ms(seconds[f"{bits}/phone"])["p50"],
                   "reference_p50_ms": latency.summary_ms(seconds[f"{bits}/reference"])["p50"]}
            for bits in files}
    chosen = choose({b: rows[b] for b in widths})
    return {"run": run_dir.name, "scheme": scheme, "source_sha256": file_hash(run_dir / "model.h5", "sha256"),
            "runtime": RUNTIME, "reference": REFERENCE, "threads": 1, "batch": 1, "runs": runs,
            "widths": {f"int{b}": {**rows[b], "eligible": b in widths} for b in files},
            "chosen": f"int{chosen}", "chosen_bits": chosen}


def _token_ids(shape, dtype, model) -> np.ndarray:
    """Seeded ids below the model's vocabulary (an Embedding's rows), else seeded floats."""
    from lowbit.pipeline.keras2 import keras

    rng = np.random.default_rng(0)
    if np.issubdtype(dtype, np.integer):
        rows = [layer.input_dim for layer in model.layers if isinstance(layer, keras.layers.Embedding)]
        return rng.integers(3, max(4, rows[0] if rows else 4), size=tuple(shape)).astype(dtype)
    return rng.standard_normal(tuple(shape)).astype(dtype)


def prepare(run_dir, *, runs: int = RUNS, progress: bool = False) -> Path:
    """The phone's ``.tflite`` of RUN_DIR: ``RUN_DIR/phone/model.tflite`` at the measured width,
    written with its manifest (skipped when current); ``RUN_DIR/model.tflite`` for a float run."""
    from lowbit.deploy.export import convert

    run_dir = Path(run_dir)
    scheme = convert.read_config(run_dir / "config.json")["scheme"]
    if not candidate_widths(scheme):
        return run_dir / "model.tflite"
    out = run_dir / PHONE_DIR
    record = _current_record(run_dir)
    if record is None or not convert.is_current(run_dir, formats=("tflite",), tflite_bits=record["chosen_bits"],
                                                out_dir=out):
        if progress:
            print(f"phone: measuring {run_dir.name}'s file at {' and '.join(f'INT{b}' for b in candidate_widths(scheme))}"
                  f" in {RUNTIME.split(' (')[0]} and {REFERENCE.split(' (')[0]}", flush=True)
        record = measure(run_dir, runs=runs)
        out.mkdir(exist_ok=True)
        convert.convert_run(run_dir, formats=("tflite",), tflite_bits=record["chosen_bits"], out_dir=out)
        files = {out / WIDTH_FILE: (json.dumps(record, indent=2) + "\n").encode(),
                 out / "width.md": width_markdown(record).encode()}
        if (run_dir / "vocab.txt").is_file():  # the phone file is an artifact set of its own (lowbit predict)
            files = {out / "vocab.txt": (run_dir / "vocab.txt").read_bytes(), **files}
        atomic.write_all(files)
    return out / "model.tflite"


def _current_record(run_dir: Path) -> dict | None:
    path = run_dir / PHONE_DIR / WIDTH_FILE
    try:
        record = json.loads(path.read_text())
    except (FileNotFoundError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(record, dict) or record.get("source_sha256") != file_hash(run_dir / "model.h5", "sha256") \
            or record.get("runtime") != RUNTIME or record.get("chosen_bits") not in (2, 4):
        return None
    return record


def width_markdown(record: dict) -> str:
    """The measurement as a table, the choice and why, for a person."""
    lines = [f"# The phone's file of {record['run']} ({record['scheme']})", "",
             f"Measured on this machine: batch {record['batch']}, {record['threads']} thread, p50 of "
             f"{record['runs']} interleaved runs on the same token ids.", "",
             f"| stored width | size (MB) | {record['runtime'].split(' (')[0]}, the APK's (ms) | "
             f"{record['reference'].split(' (')[0]} (ms) |", "| --- | ---: | ---: | ---: |"]
    for name, row in record["widths"].items():
        mark = " (chosen)" if name == record["chosen"] else ("" if row["eligible"] else " (reference only)")
        lines.append(f"| {name.upper()}{mark} | {row['size_bytes'] / 1e6:.3f} | {row['phone_p50_ms']:.3f} | "
                     f"{row['reference_p50_ms']:.3f} |")
    lines += ["", f"The phone gets {record['chosen'].upper()}: the lowest p50 in the APK's runtime among the low-bit "
              f"widths (within {TIE:.0%}, the smaller file). Both hold the same codes; a width marked "
              "reference only is measured for comparison, never shipped.", ""]
    return "\n".join(lines)
