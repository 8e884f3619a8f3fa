"""``lowbit evaluate RUN_DIR [RUN_DIR ...]``: every deployed artifact against the float baseline.

For every artifact listed in each run's ``manifest.json`` (``model.tflite`` run by LiteRT,
``model.onnx`` by ONNX Runtime), measured in this process:

* **quality** on the task's test split through the artifact itself (:mod:`lowbit.deploy.evaluation.testsets`),
  next to the run's Keras model on the same inputs, and the agreement of their decisions; with
  ``jobs`` > 1 the artifact's outputs come from that many processes, each running a contiguous
  part of the test split (rows are independent, so the numbers are those of one process);
* **latency** at batch 1 of one sample input (:mod:`lowbit.deploy.runtime.latency`): all artifacts of a format
  interleaved in one measurement, warm-up first, at 1 thread and at all threads;
* **load time**: from the file's bytes to the first result — creating the interpreter /
  session and running one input (LiteRT prepares XNNPACK and packs weights at the first run,
  ONNX Runtime folds constants at session creation); median of several, interleaved;
* **peak resident memory** of a fresh process running only that artifact (:mod:`lowbit.deploy.runtime.memory`);
* **size** and **bits per quantized weight** from the manifest;
* for ``.tflite``, **where LiteRT runs each op** (:mod:`lowbit.deploy.export.xnnpack`): the op
  histogram, the ops XNNPACK took and the weights' stored types, so a regression to a slow
  builtin kernel shows;
* for an LSTM, also the latency of **TensorFlow's own float file** (the fused LSTM op, what a
  user gets without lowbit; :func:`~lowbit.deploy.export.tflite_export.tensorflow_float_file`),
  measured in the same interleaved runs as the ``.tflite`` artifacts;

and every figure as a ratio to the baseline run's artifact of the same format. The report
(:mod:`lowbit.deploy.evaluation.report`): ``report.json``, ``report.md`` and PNG plots in ``out_dir``.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from lowbit.deploy.runtime import artifacts as artifacts_mod
from lowbit.deploy.runtime import latency, memory, runtimes
from lowbit.deploy.evaluation import testsets
from lowbit.deploy.export.convert import MANIFEST, read_config
from lowbit.pipeline import atomic, locks
from lowbit.pipeline.downloads import file_hash

SAMPLES = 16  # latency inputs cycle through this many real test examples
# What a report measures; a report of another version is not current. 2: TensorFlow's own float
# file as a latency reference, where XNNPACK runs each op of a .tflite.
REPORT_VERSION = 2


@dataclass
class Measured:
    """One artifact and what was measured of it."""

    run_dir: Path
    scheme: str
    artifact: artifacts_mod.Artifact
    test: testsets.TestSet | None = None  # shared by the artifacts of one run
    entry: dict = field(default_factory=dict)  # the report.json object

    @property
    def key(self) -> str:
        return f"{self.scheme}/{self.artifact.format}"


def is_current(out_dir, run_dirs, *, limit: int | None = None, runs: int = 500,
               quality_target: float | None = None) -> bool:
    """Whether ``out_dir/report.json`` measured exactly the current artifacts of ``run_dirs``
    (by sha256) with these settings, so :func:`evaluate` would measure the same things again."""
    report_path = Path(out_dir) / "report.json"
    if not report_path.is_file():
        return False
    current = []
    for run_dir in map(Path, run_dirs):
        manifest_path = run_dir / MANIFEST
        if not manifest_path.is_file():
            return False
        for name in sorted(json.loads(manifest_path.read_text()).get("artifacts", {})):
            if not (run_dir / name).is_file():
                return False
            current.append(file_hash(run_dir / name, "sha256"))
    previous = json.loads(report_path.read_text())
    return (sorted(a.get("sha256") for a in previous.get("artifacts", [])) == sorted(current)
            and previous.get("limit") == limit and previous.get("settings", {}).get("runs") == runs
            and previous.get("settings", {}).get("quality_target") == quality_target
            and previous.get("report_version") == REPORT_VERSION)


def evaluate(run_dirs, *, out_dir, baseline: str = "fp", data_dir=None, limit: int | None = None,
             runs: int = 500, warmup: int = 30, loads: int = 5, memory_probe: bool = True,
             progress: bool = True, jobs: int = 1, quality_target: float | None = None) -> dict:
    """Measure every artifact of ``run_dirs``, write the report into ``out_dir``, return it.
    ``quality_target``: how far a quantized artifact may fall behind the baseline's quality (a
    fraction: accuracy points / 100, or an error's relative rise); None: the report's default."""
    if runs < 1 or loads < 1 or warmup < 0 or jobs < 1:
        raise ValueError(f"runs, loads and jobs must be positive and warmup >= 0, got {runs}, {loads}, {jobs}, "
                         f"{warmup}")
    if quality_target is not None and not 0 <= quality_target < 1e6:
        raise ValueError(f"the quality target must be 0 or more, got {quality_target}")
    from lowbit.deploy.evaluation import report as report_mod  # matplotlib: only when a report is made

    atomic.check_claimable(out_dir, report_mod.FILES)  # a report.md of the user's is never replaced
    runs_info = [_read_run(Path(r)) for r in run_dirs]
    if not runs_info:
        raise ValueError("no run directories given")
    tasks = sorted({info["task"] for info in runs_info})
    if len(tasks) > 1:
        raise ValueError(f"the runs belong to different tasks ({', '.join(tasks)}); evaluate one task at a time")
    schemes = [info["scheme"] for info in runs_info]
    if schemes.count(baseline) != 1:
        raise ValueError(f"--baseline {baseline}: need exactly one {baseline} run among the run "
                         f"directories, found {schemes.count(baseline)} (schemes: {', '.join(schemes)})")
    measured = [Measured(info["dir"], info["scheme"], a) for info in runs_info for a in info["artifacts"]]
    formats = sorted({m.artifact.format for m in measured})
    base = {m.artifact.format: m for m in measured if m.scheme == baseline}
    missing = [f for f in formats if f not in base]
    if missing:
        raise ValueError(f"the {baseline} run has no {' or '.join(missing)} artifact to compare with; "
                         f"run lowbit convert on it")
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    atomic.check_writable(out_dir)  # before minutes of measuring, not after
    all_threads = runtimes.all_threads()
    thread_counts = sorted({1, all_threads})

    test_sets = {}
    for m in measured:
        key = (m.run_dir, _sequence_length(m.artifact))
        if key not in test_sets:
            test_sets[key] = testsets.load(m.run_dir, data_dir=data_dir, limit=limit, seq_len=key[1],
                                           artifact=m.artifact)
        m.test = test_sets[key]
    _measure_quality(measured, thread_counts[-1], progress, jobs)
    reference = _tensorflow_reference(base["tflite"]) if "tflite" in base else None
    for fmt in formats:
        group = [m for m in measured if m.artifact.format == fmt]
        timed = group + ([reference] if reference is not None and fmt == "tflite" else [])
        _measure_latency(timed, thread_counts, runs=runs, warmup=warmup, progress=progress)
        _measure_load_time(group, loads)
    from lowbit.deploy.export import xnnpack

    for m in measured:
        if m.artifact.format == "tflite":
            m.entry["xnnpack"] = xnnpack.summary(xnnpack.placements(m.artifact.content))
    if memory_probe:
        for m in tqdm(measured, desc="peak memory", disable=None if progress else True, leave=False):
            probe = memory.measure(m.artifact.path, m.test.sample_input(), threads=1)
            m.entry.update(peak_rss_mb=probe["peak_rss_mb"], model_rss_mb=probe["model_rss_mb"])

    first = measured[0].test
    for m in measured:
        _add_ratios(m, base[m.artifact.format], thread_counts)
        if reference is not None and m.artifact.format == "tflite":
            m.entry["reference_latency_ratio_by_threads"] = {
                t: round(m.entry["latency_by_threads"][t]["p50"] / reference.entry["latency_by_threads"][t]["p50"], 4)
                for t in m.entry["latency_by_threads"]}
    report = {
        "report_version": REPORT_VERSION, "task": tasks[0], "baseline": baseline, "metric": first.metric,
        "higher_is_better": first.higher_is_better, "test_examples": len(first), "limit": limit,
        "settings": {"runs": runs, "warmup": warmup, "loads": loads, "threads": thread_counts,
                     "batch_size": 1, "latency_inputs": SAMPLES, "quality_target": quality_target},
        "machine": _machine(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "artifacts": [m.entry for m in measured],
    }
    if reference is not None:
        report["reference"] = {"what": "TensorFlow's own float .tflite (fused LSTM op)",
                               "size_bytes": len(reference.artifact.content), **reference.entry}
    report["checks"] = report_mod.checks(report)
    report["advice"] = report_mod.advice(report)
    with locks.locked(out_dir):
        report_mod.write(report, Path(out_dir))
    return report


def _read_run(run_dir: Path) -> dict:
    config_path, manifest_path = run_dir / "config.json", run_dir / MANIFEST
    if not config_path.is_file():
        raise ValueError(f"{run_dir} is not a run directory (no config.json)")
    if not manifest_path.is_file():
        raise ValueError(f"{run_dir} has no {MANIFEST}; export it first: lowbit convert {run_dir}")
    config = read_config(config_path)
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        names = sorted(manifest["artifacts"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
        raise ValueError(f"{manifest_path}: not a lowbit manifest ({type(err).__name__}: {err})") from None
    if not names:
        raise ValueError(f"{manifest_path} lists no artifacts; run lowbit convert {run_dir}")
    for name in names:  # a manifest names files beside it, never a path out of the run directory
        if not isinstance(name, str) or name != Path(name).name or name in (".", "..") \
                or (run_dir / name).resolve().parent != run_dir.resolve():
            raise ValueError(f"{manifest_path}: artifact {name!r} is not a file in {run_dir}")
    found = [artifacts_mod.open_artifact(run_dir / name) for name in names]
    return {"dir": run_dir, "task": config["task"], "scheme": config["scheme"], "artifacts": found}


def _tensorflow_reference(base: Measured) -> Measured | None:
    """TensorFlow's own float ``.tflite`` of the baseline run's Keras model, when it differs from
    lowbit's float file (an LSTM), as a measurable artifact; None otherwise."""
    from lowbit.deploy.export.tflite_export import tensorflow_float_file
    from lowbit.pipeline import model_files

    content = tensorflow_float_file(model_files.load(base.run_dir / "model.h5"),
                                    batch_size=(base.artifact.entry or {}).get("batch_size") or 1)
    if content is None:
        return None
    artifact = artifacts_mod.Artifact(base.run_dir / "tensorflow-float.tflite", "tflite", content, None)
    return Measured(base.run_dir, "tensorflow", artifact, test=base.test)


def _sequence_length(artifact) -> int | None:
    """The time dimension of a text artifact's input (None when dynamic or not a text task)."""
    if artifact.task_record is None or not artifact.task_record.text_demo:
        return None
    runner = runtimes.load(artifact, threads=1)
    return runner.input_shape[1]


def _measure_quality(measured, threads: int, progress: bool, jobs: int = 1) -> None:
    from lowbit.pipeline import model_files

    keras_outputs = {}  # id(test set) -> the run's Keras model's outputs on it
    for m in measured:
        test = m.test
        if id(test) not in keras_outputs:
            model = model_files.load(m.run_dir / "model.h5")
            keras_outputs[id(test)] = test.outputs(lambda x: model.predict(x, batch_size=256, verbose=0))
        steps = len(test) * test.rollout_steps
        with tqdm(total=steps, desc=f"{m.key} on {len(test):,} test examples", unit="ex",
                  disable=None if progress else True, leave=False) as bar:
            if jobs > 1:
                outputs = _outputs_in_processes(m.artifact.path, test, jobs, max(1, threads // jobs), bar)
            else:
                runner = runtimes.load(m.artifact, threads=threads)
                outputs = test.outputs(lambda x: runner.predict(x, progress=bar.update))
        reference = keras_outputs[id(test)]
        m.entry.update({
            "scheme": m.scheme, "format": m.artifact.format, "path": str(m.artifact.path),
            "run_dir": str(m.run_dir), "size_bytes": len(m.artifact.content),
            "sha256": m.artifact.sha256,
            "bits_per_weight": (m.artifact.entry or {}).get("bits_per_weight"),
            "code_bits_per_weight": (m.artifact.entry or {}).get("code_bits_per_weight"),
            "keep_float": list((m.artifact.manifest or {}).get("keep_float", [])),
            "metric": test.metric, "value": test.value(outputs), "keras_value": test.value(reference),
            "agreement": test.agreement(outputs, reference),
            "max_abs_diff": float(np.max(np.abs(outputs.astype(np.float64) - reference))),
        })
        if test.task.rollout_seen is not None:
            m.entry["value_per_frame"] = test.per_step(outputs)
            m.entry["keras_value_per_frame"] = test.per_step(reference)


def _outputs_in_processes(path: Path, test, jobs: int, threads: int, bar) -> np.ndarray:
    """The artifact's outputs on ``test``, from ``jobs`` spawned processes, each loading the
    artifact with ``threads`` threads and running one contiguous part of the rows, in order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    bounds = np.linspace(0, len(test), min(jobs, len(test)) + 1).astype(int)
    with ProcessPoolExecutor(len(bounds) - 1, mp_context=multiprocessing.get_context("spawn")) as pool:
        parts = [pool.submit(_part_outputs, str(path), test.x[a:b], test.task.rollout_seen, threads)
                 for a, b in zip(bounds[:-1], bounds[1:])]
        results = []
        for part, (a, b) in zip(parts, zip(bounds[:-1], bounds[1:])):
            results.append(part.result())
            bar.update((b - a) * test.rollout_steps)
    return np.concatenate(results)


def _part_outputs(path: str, x: np.ndarray, rollout_seen: int | None, threads: int) -> np.ndarray:
    """In a child process: one part of the rows through the artifact at ``path``."""
    runner = runtimes.load(artifacts_mod.open_artifact(path), threads=threads)
    return testsets.outputs(runner.predict, x, rollout_seen)


def _measure_latency(group, thread_counts, *, runs: int, warmup: int, progress: bool) -> None:
    for threads in thread_counts:
        calls = {}
        for m in group:
            runner = runtimes.load(m.artifact, threads=threads)
            inputs = [m.test.sample_input(i) for i in range(min(SAMPLES, len(m.test)))]
            calls[m.key] = _cycling(runner, inputs)
        fmt = group[0].artifact.format
        with tqdm(total=runs, desc=f"{fmt} latency, {threads} thread(s)", disable=None if progress else True,
                  leave=False) as bar:
            seconds = latency.interleaved(calls, runs=runs, warmup=warmup, progress=bar.update)
        for m in group:
            m.entry.setdefault("latency_by_threads", {})[str(threads)] = latency.summary_ms(seconds[m.key])
        if threads == 1:
            for m in group:
                m.entry["latency_ms"] = m.entry["latency_by_threads"]["1"]
                m.entry["threads"] = 1


def _cycling(runner, inputs):
    state = {"i": 0}

    def call():
        runner.run(inputs[state["i"] % len(inputs)])
        state["i"] += 1

    return call


def _measure_load_time(group, loads: int) -> None:
    def first_result(m):
        runtimes.load(m.artifact, threads=1).run(m.test.sample_input())

    seconds = latency.interleaved({m.key: (lambda m=m: first_result(m)) for m in group}, runs=loads, warmup=1)
    for m in group:
        m.entry["load_ms"] = round(float(np.median(seconds[m.key]) * 1e3), 3)


def _add_ratios(m: Measured, base: Measured, thread_counts) -> None:
    e, b = m.entry, base.entry

    def ratio(a, c):
        return None if a is None or c in (None, 0) else round(a / c, 4)

    e["size_ratio"] = ratio(e["size_bytes"], b["size_bytes"])
    e["latency_ratio"] = ratio(e["latency_ms"]["p50"], b["latency_ms"]["p50"])
    e["latency_ratio_by_threads"] = {
        t: ratio(e["latency_by_threads"][t]["p50"], b["latency_by_threads"][t]["p50"])
        for t in e["latency_by_threads"]}
    e["load_ratio"] = ratio(e["load_ms"], b["load_ms"])
    if "peak_rss_mb" in e:
        e["memory_ratio"] = ratio(e["peak_rss_mb"], b["peak_rss_mb"])
    e["value_delta"] = round(e["value"] - b["value"], 6)


def _machine() -> dict:
    import ai_edge_litert
    import onnxruntime

    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": runtimes.all_threads(), "ai_edge_litert": getattr(ai_edge_litert, "__version__", "?"),
            "onnxruntime": onnxruntime.__version__}
