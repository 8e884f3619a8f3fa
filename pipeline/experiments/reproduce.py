"""``lowbit reproduce imdb|summation|frames [--seeds N]``: the paper's sweeps over seeds, their
results and figures.

Every (seed, protocol, task, scheme, distribution) run is trained into
``RUNS/<experiment>/seed-<s>/<protocol>/<task>-<scheme>[-uniform]`` with
:func:`lowbit.pipeline.train.loop.train_or_reuse` — skipped when that directory already holds a
finished run with the same settings, resumed when it holds an interrupted one — so the sweep
resumes after an interruption by running the same command. Each seed is its own data order,
validation split, initialisation and dropout stream (``TrainConfig.seed``); the test split is the
same for every seed. ``RUNS/<experiment>/sweep.log`` gets one timestamped line per run started,
finished or reused. With ``jobs > 1`` that many runs train at once, each in its own process with
``cpu_count // jobs`` TensorFlow threads (a quantized run waits for the float run it starts from).

Protocols (:class:`Protocol`): ``recipe`` is lowbit's (the float model, then each quantized scheme
by QAT from its weights at a lower learning rate, :mod:`lowbit.pipeline.train.recipe`);
``paper_protocol`` trains every scheme from scratch, as the paper does (IMDB only).

Then ``DOCS/results/<experiment>.json``, the PNG figures beside it and ``DOCS/results.md``
(:mod:`lowbit.pipeline.experiments.markdown`, rebuilt from every JSON present) are written.
Each measure over seeds is a :func:`lowbit.pipeline.experiments.stats.summarize` record
(``seeds``, ``mean``, ``std``, ``ci95``); accuracies are fractions::

    {"experiment": "imdb", "setup": {..., "seeds": [0, 1, 2]}, "figures": [...],
     "lstm": {"recipe": {"fp": {"test_accuracy": {"seeds": [...], "mean": .., "std": .., "ci95": [..]},
                                "val_accuracy": {...}, "best_epoch": [...], "epochs_completed": [...],
                                "runs": [...]},
                         "bc": {..., "gap_to_fp": {"test_accuracy": {...}}}, ...},   # paired by seed
              "paper_protocol": {...}},
     "gru": {...}}

Summation adds ``normal_minus_uniform`` to each ``*-uniform`` entry (paired by seed). Frames, one
task and one protocol, is flat: ``{"predicted_frame_numbers", "baselines": {"copy_last": [MSE per
frame], "black": [...]}, "baselines_ssim": {...}, "fp": {"mse_per_frame": {...}, "ssim_per_frame":
{...}}, "bc": {..., "ratio_to_fp": {...}}, ...}`` (per-frame lists; see
:func:`lowbit.models.frames.baselines`).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from lowbit.models import get_task
from lowbit.pipeline import atomic, model_files
from lowbit.pipeline.experiments import markdown, stats
from lowbit.pipeline.schemes import SCHEMES, get_scheme, parse_variant_key, variant_key
from lowbit.pipeline.train import recipe

# TensorFlow (via training, figures) is imported inside the functions: the CLI imports this
# module for the experiment names, and `lowbit --help` must stay instant.

BASE_VARIANTS = tuple((s, "normal") for s in SCHEMES)
UNIFORM_VARIANTS = tuple((s, "uniform") for s in SCHEMES if get_scheme(s).has_threshold)


@dataclass(frozen=True)
class Protocol:
    """How the runs of one seed are trained."""

    key: str  # as results name it: "recipe", "paper_protocol"
    title: str
    learning_rate: float  # the fp run's (every run's when from scratch)
    # None: every scheme from scratch; else the quantized runs start from the same seed's fp run
    # at this learning rate.
    finetune_learning_rate: float | None = None

    def describe(self) -> str:
        if self.finetune_learning_rate is None:
            return f"{self.title}: every scheme from scratch at learning rate {self.learning_rate:g}"
        return (f"{self.title}: the float model at learning rate {self.learning_rate:g}, then each quantized "
                f"scheme by QAT from its weights at {self.finetune_learning_rate:g}")


RECIPE = Protocol("recipe", "lowbit's recipe", recipe.FLOAT_LEARNING_RATE, recipe.FINETUNE_LEARNING_RATE)
PAPER_PROTOCOL = Protocol("paper_protocol", "the paper's protocol", recipe.SCRATCH_LEARNING_RATE)


@dataclass(frozen=True)
class Experiment:
    name: str
    tasks: tuple[str, ...]
    # (task, scheme, distribution) of every run of one seed and protocol, in training order
    runs: tuple[tuple[str, str, str], ...]
    epochs: int
    batch_size: int
    patience: int
    protocols: tuple[Protocol, ...] = (RECIPE,)
    limit: int | None = None
    note: str = ""
    other_tasks: tuple[str, ...] = ()  # what --task may swap in for a one-task experiment
    # The test score compared across schemes ("test_accuracy", "test_exact_match") and its label;
    # None: a per-frame experiment (MSE per predicted frame).
    score_key: str | None = "test_accuracy"
    score_label: str = "test accuracy (%)"
    # arch -> scheme -> %: the paper's numbers drawn beside ours; scheme -> % targets on the mean.
    paper: dict | None = None
    targets: dict | None = None
    gap_target: float | None = None  # points: quantized mean minus float mean, at least -gap_target


def _grid(tasks, variants_for) -> tuple:
    return tuple((t, s, d) for t in tasks for s, d in variants_for(t))


_IMDB_TASKS = ("imdb-lstm", "imdb-gru")
# The paper's IMDB LSTM test accuracies (§IV.A, Fig. 16) and this project's targets, in %.
PAPER_IMDB_LSTM = {"fp": 82.87, "qc": 79.64, "tc": 76.86, "bc": 76.25}
IMDB_TARGETS = {"fp": 84.0, "qc": 83.5, "tc": 83.0, "bc": 82.5}
IMDB_GAP_TARGET = 1.0
FRAMES_MSE_RATIO_TARGET = 1.2
FRAMES_BASELINE_MARGIN = 0.2  # the float model's MSE at most 80 % of the better trivial predictor's
EXPERIMENTS = {
    "imdb": Experiment(
        "imdb", _IMDB_TASKS, _grid(_IMDB_TASKS, lambda t: BASE_VARIANTS), epochs=20, batch_size=64, patience=3,
        protocols=(RECIPE, PAPER_PROTOCOL), paper={"lstm": PAPER_IMDB_LSTM}, targets=IMDB_TARGETS,
        gap_target=IMDB_GAP_TARGET,
        note="Paper §IV.A setup: 20,000 words, 80 tokens, 128 units, batch 64, Adam, binary cross-entropy, "
             "up to 20 epochs, early-stopped on a 10 % validation split of the training reviews (the "
             "test reviews are used once, for the reported accuracy).",
    ),
    "summation": Experiment(
        "summation", ("summation-lstm", "summation-gru"),
        _grid(("summation-lstm", "summation-gru"),
              lambda t: BASE_VARIANTS + (UNIFORM_VARIANTS if t == "summation-lstm" else ())),
        epochs=60, batch_size=64, patience=8, protocols=(Protocol("recipe", "lowbit's recipe", 1e-3, 3e-4),),
        score_key="test_exact_match", score_label="test exact-match accuracy (%)",
        note="3-digit addition, training, validation and test questions all distinct; 128-unit encoder "
             "and decoder. Normal vs uniform thresholds compared on the LSTM (paper Fig. 14). "
             "Categorical cross-entropy over the 12 symbols per step. (With 25 epochs from scratch, "
             "every run was still improving when it stopped: float LSTM 52.5 % exact match, TC 5.0 %.)",
    ),
    "frames": Experiment(
        "frames", ("frames-convlstm-32",),
        _grid(("frames-convlstm-32",), lambda t: BASE_VARIANTS),
        epochs=20, batch_size=16, patience=3, protocols=(Protocol("recipe", "lowbit's recipe", 1e-3, 3e-4),),
        score_key=None,
        note="Moving MNIST, 2 digits, 15 frames; at test the first 7 frames are given and frames 8-15 "
             "predicted one at a time, each prediction fed back. Trained the same way, closed-loop "
             "(`lowbit.models.frames.ClosedLoop`): the model reads 7 frames, then its own predictions, "
             "and the loss on frames 2-15 is back-propagated through the fed-back frames; "
             "BatchNormalization uses its moving statistics in training too. Next-frame training "
             "(every input the true frame) faded to black: frame 15's MSE 0.0359 against an all-black "
             "frame's 0.0364. 32x32 canvas (digits scaled to 14 px) instead of the paper's 64x64, which "
             "costs ~9x more per step on this 2-core CPU (`--task frames-convlstm` runs 64x64); "
             "16-filter ConvLSTM, 1,800 training sequences.",
        other_tasks=("frames-convlstm",),
    ),
}


run_key = variant_key


def arch_of(task: str) -> str:
    return get_task(task).arch


@dataclass(frozen=True)
class PlannedRun:
    seed: int
    protocol: Protocol
    task: str
    scheme: str
    distribution: str
    config: object  # lowbit.pipeline.train.loop.TrainConfig

    @property
    def key(self) -> str:
        return run_key(self.scheme, self.distribution)

    @property
    def name(self) -> str:
        return f"seed-{self.seed}/{self.protocol.key}/{self.task}-{self.key}"


def plan(experiment: Experiment, *, runs_dir, seeds, data_dir=None) -> list[PlannedRun]:
    """Every run of the sweep in training order: seed by seed, protocol by protocol, each
    task's fp run before the runs that start from it."""
    from lowbit.pipeline.train.loop import TrainConfig

    planned = []
    for seed in seeds:
        for protocol in experiment.protocols:
            base = Path(runs_dir) / experiment.name / f"seed-{seed}" / protocol.key
            out = {(t, s, d): str(base / f"{t}-{run_key(s, d)}") for t, s, d in experiment.runs}
            for task, scheme, distribution in experiment.runs:
                if protocol.finetune_learning_rate is None or scheme == "fp":
                    start = {"learning_rate": protocol.learning_rate}
                else:
                    start = {"learning_rate": protocol.finetune_learning_rate,
                             "init_from": out[(task, "fp", "normal")]}
                config = TrainConfig(task=task, scheme=scheme, distribution=distribution,
                                     out=out[(task, scheme, distribution)], epochs=experiment.epochs,
                                     batch_size=experiment.batch_size, patience=experiment.patience,
                                     limit=experiment.limit, seed=seed, data_dir=data_dir, **start)
                planned.append(PlannedRun(seed, protocol, task, scheme, distribution, config))
    return planned


def reproduce(name: str, *, runs_dir="runs/reproduce", docs_dir="docs", data_dir=None,
              epochs: int | None = None, limit: int | None = None, task: str | None = None,
              seed: int = 0, seeds: int = 1, jobs: int = 1, progress: bool = True) -> dict:
    """Train (or reuse) every run of experiment ``name`` for seeds ``seed .. seed + seeds - 1``,
    then write its results and figures."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; valid choices: {', '.join(EXPERIMENTS)}")
    if seeds < 1 or jobs < 1:
        raise ValueError(f"--seeds and --jobs must be at least 1, got {seeds} and {jobs}")
    experiment = EXPERIMENTS[name]
    if task is not None:
        if task not in experiment.other_tasks + experiment.tasks:
            valid = ", ".join(experiment.other_tasks + experiment.tasks) or "none"
            raise ValueError(f"--task {task!r} does not fit experiment {name}; valid choices: {valid}")
        runs = (tuple((task, s, d) for _, s, d in experiment.runs) if len(experiment.tasks) == 1
                else tuple(r for r in experiment.runs if r[0] == task))
        experiment = replace(experiment, tasks=(task,), runs=runs)
    experiment = replace(experiment, epochs=epochs or experiment.epochs,
                         limit=limit if limit is not None else experiment.limit)
    planned = plan(experiment, runs_dir=runs_dir, seeds=range(seed, seed + seeds), data_dir=data_dir)
    for run in planned:  # every setting checked before the first run starts (the fp runs
        replace(run.config, init_from=None).validate()  # that others start from exist only later)
    log = Path(runs_dir) / experiment.name / "sweep.log"
    summaries = _train_all(planned, log=log, jobs=jobs, progress=progress)
    first = planned[0].config  # frames: baselines and figures use the test sequences (the same for every seed)
    frames_splits = (get_task(first.task).load_data(data_dir, limit=first.limit, seed=first.seed)
                     if experiment.score_key is None else None)
    results = _results(experiment, planned, summaries, frames_splits)
    results["figures"] = _draw(experiment, planned, summaries, results, Path(docs_dir) / "results", frames_splits)
    _write(Path(docs_dir) / "results" / f"{name}.json", json.dumps(results, indent=2) + "\n")
    _write(Path(docs_dir) / "results.md", markdown.render_markdown(Path(docs_dir) / "results", EXPERIMENTS))
    return results


# ----------------------------------------------------------------------------- training


def _train_all(planned: list[PlannedRun], *, log: Path, jobs: int, progress: bool) -> dict:
    """``{run.config.out: run.json summary}`` of every planned run, trained or reused."""
    log.parent.mkdir(parents=True, exist_ok=True)
    if jobs == 1:
        from lowbit.pipeline.train.loop import train_or_reuse

        summaries = {}
        for i, run in enumerate(planned, 1):
            label = f"[{i}/{len(planned)}] {run.name}"
            start = _log_start(log, label, run)
            summaries[run.config.out] = train_or_reuse(run.config, label=f"[{i}/{len(planned)}]", progress=progress)
            _log_end(log, label, summaries[run.config.out], start)
        return summaries
    return _train_parallel(planned, log=log, jobs=jobs)


def _train_parallel(planned: list[PlannedRun], *, log: Path, jobs: int) -> dict:
    """Up to ``jobs`` runs at once, each in a fresh process with its share of the CPU threads; a
    run starts once the fp run it starts from has finished."""
    import concurrent.futures as futures
    import multiprocessing

    threads = max(1, (os.cpu_count() or 1) // jobs)
    saved_env = {k: os.environ.get(k) for k in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")}
    os.environ.update(TF_NUM_INTRAOP_THREADS=str(threads), TF_NUM_INTEROP_THREADS="1")  # the children's
    index = {run.config.out: i for i, run in enumerate(planned, 1)}
    waiting, running, summaries = list(planned), {}, {}
    try:
        with futures.ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool, \
                _interrupting_children():
            while waiting or running:
                for run in [r for r in waiting if r.config.init_from in (None, *summaries)]:
                    if len(running) == jobs:
                        break
                    waiting.remove(run)
                    label = f"[{index[run.config.out]}/{len(planned)}] {run.name}"
                    start = _log_start(log, label, run, echo=True)
                    running[pool.submit(_train_child, run.config)] = (run, label, start)
                if not running:
                    raise RuntimeError("a planned run starts from a run that is not planned")  # a bug in plan()
                done, _ = futures.wait(running, return_when=futures.FIRST_COMPLETED)
                for future in done:
                    run, label, start = running.pop(future)
                    summaries[run.config.out] = future.result()  # a failed run raises here, the others finish
                    _log_end(log, label, summaries[run.config.out], start, echo=True)
    finally:
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return summaries


def _log_start(log: Path, label: str, run: PlannedRun, *, echo: bool = False) -> tuple[float, bool]:
    """Logs ``start`` unless the run's directory holds it finished (train_or_reuse then reuses it,
    or refuses if its settings differ); returns what :func:`_log_end` needs."""
    finished = (Path(run.config.out) / "run.json").is_file()
    if not finished:
        _log(log, f"{label}: start", echo=echo)
    return time.monotonic(), finished


def _log_end(log: Path, label: str, summary: dict, start: tuple[float, bool], *, echo: bool = False) -> None:
    started, finished = start
    _log(log, f"{label}: " + ("reused, finished earlier" if finished else
                              _outcome(summary, time.monotonic() - started)), echo=echo)


@contextlib.contextmanager
def _interrupting_children():
    """Ctrl-C (or SIGINT sent to this process alone) reaches the training children too: each
    stops at its next batch boundary with its last finished epoch checkpointed, instead of the
    pool waiting for their runs to end."""
    import multiprocessing
    import signal

    try:
        yield
    except KeyboardInterrupt:
        for child in multiprocessing.active_children():
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGINT)
        raise


def _train_child(config) -> dict:
    from lowbit.pipeline.train.loop import sticky_interrupts, train_or_reuse

    sticky_interrupts()  # a Ctrl-C forwarded here stops this child even if it lands in a finalizer
    return train_or_reuse(config, progress=False)


def _outcome(summary: dict, seconds: float) -> str:
    measures = ", ".join(f"{k} {v:.4f}" for k, v in summary.items()
                         if k.startswith("test_") and isinstance(v, float))
    return f"done in {seconds:.0f} s, best epoch {summary.get('best_epoch')} of {summary.get('epochs_completed')}, {measures}"


def _log(path: Path, line: str, *, echo: bool = False) -> None:
    stamped = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}"
    with open(path, "a") as f:
        f.write(stamped + "\n")
    if echo:
        print(stamped, file=sys.stderr, flush=True)


def _read_json(path: Path):
    return json.loads(path.read_text()) if path.is_file() else None


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(path, text)


# ----------------------------------------------------------------------------- results


def _group(planned: list[PlannedRun]) -> dict:
    """``{arch: {protocol key: {variant key: [runs, in seed order]}}}``."""
    groups: dict = {}
    for run in planned:
        groups.setdefault(arch_of(run.task), {}).setdefault(run.protocol.key, {}).setdefault(run.key, []).append(run)
    return groups


def _setup(experiment: Experiment, planned: list[PlannedRun], summaries: dict) -> dict:
    first = summaries[planned[0].config.out]
    return {
        "tasks": list(dict.fromkeys(r.task for r in planned)),
        "seeds": sorted({r.seed for r in planned}),
        "epochs": experiment.epochs, "batch_size": experiment.batch_size, "patience": experiment.patience,
        "limit": experiment.limit, "scale": planned[0].config.scale,
        "protocols": {p.key: {"description": p.describe(), "learning_rate": p.learning_rate,
                              "finetune_learning_rate": p.finetune_learning_rate} for p in experiment.protocols},
        "examples": {"train": first["n_train"], "val": first["n_val"], "test": first["n_test"]},
        "note": experiment.note,
        # what results.md (lowbit.pipeline.experiments.markdown) judges against
        "score_key": experiment.score_key, "score_label": experiment.score_label,
        "targets": experiment.targets, "gap_target": experiment.gap_target, "paper": experiment.paper,
        **({"mse_ratio_target": FRAMES_MSE_RATIO_TARGET, "baseline_margin": FRAMES_BASELINE_MARGIN}
           if experiment.score_key is None else {}),
    }


def _results(experiment: Experiment, planned: list[PlannedRun], summaries: dict, frames_splits) -> dict:
    results: dict = {"experiment": experiment.name, "layout": markdown.LAYOUT,
                     "setup": _setup(experiment, planned, summaries)}
    if experiment.score_key is None:
        results.update(_frames_results(planned, summaries, frames_splits))
        return results
    for arch, protocols in _group(planned).items():
        for protocol, variants in protocols.items():
            entries = {}
            for key, runs in variants.items():
                values = [summaries[r.config.out] for r in runs]
                entry = {measure: stats.summarize([v[measure] for v in values])
                         for measure in values[0] if measure.startswith(("test_", "val_"))
                         and isinstance(values[0][measure], float)}
                entry["best_epoch"] = [v["best_epoch"] for v in values]
                entry["epochs_completed"] = [v["epochs_completed"] for v in values]
                entry["runs"] = [r.config.out for r in runs]
                entries[key] = entry
            score = experiment.score_key
            for key, entry in entries.items():
                if key != "fp" and "fp" in entries:
                    entry["gap_to_fp"] = {score: stats.paired_gap(entry[score]["seeds"], entries["fp"][score]["seeds"])}
                scheme, distribution = parse_variant_key(key)
                normal = variant_key(scheme.name, "normal")
                if distribution != "normal" and normal in entries:
                    entry["normal_minus_uniform"] = {
                        score: stats.paired_gap(entries[normal][score]["seeds"], entry[score]["seeds"])}
            results.setdefault(arch, {})[protocol] = entries
    return results


def _frames_results(planned: list[PlannedRun], summaries: dict, splits) -> dict:
    from lowbit.models import frames

    first = planned[0]
    base = frames.baselines(splits)
    out: dict = {"predicted_frame_numbers": summaries[first.config.out]["predicted_frame_numbers"],
                 "baselines": {k: v["mse_per_frame"] for k, v in base.items()},
                 "baselines_ssim": {k: v["ssim_per_frame"] for k, v in base.items()}}
    variants = _group(planned)[arch_of(first.task)][first.protocol.key]  # one task, one protocol
    fp_mse = [summaries[r.config.out]["test_mse_per_frame"] for r in variants["fp"]]
    for key, runs in variants.items():
        mse = [summaries[r.config.out]["test_mse_per_frame"] for r in runs]
        entry = {"mse_per_frame": stats.summarize(mse),
                 "ssim_per_frame": stats.summarize([summaries[r.config.out]["test_ssim_per_frame"] for r in runs]),
                 "best_epoch": [summaries[r.config.out]["best_epoch"] for r in runs],
                 "epochs_completed": [summaries[r.config.out]["epochs_completed"] for r in runs],
                 "runs": [r.config.out for r in runs]}
        if key == "fp":
            better = np.minimum(base["copy_last"]["mse_per_frame"], base["black"]["mse_per_frame"])
            entry["ratio_to_best_baseline"] = stats.summarize(np.asarray(mse) / better)
        else:
            entry["ratio_to_fp"] = stats.summarize(np.asarray(mse) / np.asarray(fp_mse))
        out[key] = entry
    return out


# ----------------------------------------------------------------------------- figures


def _draw(experiment: Experiment, planned: list[PlannedRun], summaries, results: dict, out_dir: Path,
          frames_splits) -> list[str]:
    from lowbit.pipeline.experiments import figures

    drawn = []
    name = experiment.name
    metric = get_task(experiment.tasks[0]).metric
    first_seed = planned[0].seed
    for arch, protocols in _group(planned).items():
        for protocol, variants in protocols.items():
            histories = {key: _read_json(Path(runs[0].config.out) / "history.json") for key, runs in variants.items()}
            suffix = "" if protocol == experiment.protocols[0].key else f"-{protocol.replace('_', '-')}"
            what = f"{name} {arch.upper()}" + ("" if not suffix else f" ({protocol.replace('_', ' ')})")
            normal = {k: v for k, v in histories.items() if not k.endswith("-uniform")}
            drawn.append(figures.training_curves(normal, metric, f"{what}, seed {first_seed}",
                                                 out_dir / f"{name}-{arch}{suffix}-curves.png"))
            if len(normal) != len(histories):  # Fig. 14: normal vs uniform thresholds
                pairs = {k: v for k, v in histories.items() if parse_variant_key(k)[0].has_threshold}
                drawn.append(figures.training_curves(pairs, metric, f"{what} normal vs uniform, seed {first_seed}",
                                                     out_dir / f"{name}-{arch}{suffix}-normal-vs-uniform.png"))
    if experiment.score_key is not None:
        scores = {arch: {protocol: {key: [100 * v for v in entry[experiment.score_key]["seeds"]]
                                    for key, entry in entries.items()}
                         for protocol, entries in results[arch].items()}
                  for arch in _group(planned)}
        drawn.append(figures.seed_scores(scores, experiment.score_label,
                                         f"{name}: {experiment.score_label} per scheme over seeds",
                                         out_dir / f"{name}-test.png", reference=experiment.paper))
    first_fp = next(r for r in planned if r.scheme == "fp")
    layer, weights = _recurrent_kernel(Path(first_fp.config.out) / "model.h5")
    drawn.append(figures.weight_distributions(weights, f"{arch_of(first_fp.task)} {layer}",
                                              out_dir / f"{name}-weight-distributions.png"))
    if experiment.score_key is None:
        drawn += _draw_frames(planned, results, out_dir, frames_splits)
    return [str(Path(p).relative_to(out_dir.parent)) for p in drawn]


def _recurrent_kernel(model_path: Path):
    """(layer name, kernel) of the first recurrent layer of a trained float model."""
    from lowbit.pipeline.keras2 import keras

    model = model_files.load(model_path)
    for layer in model.layers:
        if isinstance(layer, (keras.layers.LSTM, keras.layers.GRU, keras.layers.ConvLSTM2D)):
            return layer.name, layer.get_weights()[0]
    raise ValueError(f"{model_path} has no recurrent layer")


def _draw_frames(planned: list[PlannedRun], results: dict, out_dir: Path, splits) -> list:
    from lowbit.models.frames import predict_frames
    from lowbit.pipeline.data import moving_mnist
    from lowbit.pipeline.experiments import figures

    config = planned[0].config
    full = np.concatenate([splits.x_test[:2, :1], splits.y_test[:2]], axis=1)  # two test sequences
    seen = moving_mnist.SEEN
    numbers = results["predicted_frame_numbers"]
    first_seed = [r for r in planned if r.seed == config.seed]
    predictions = {}
    for run in first_seed:
        model = model_files.load(Path(run.config.out) / "model.h5")
        predictions[run.key] = predict_frames(model, full[:, :seen], full.shape[1] - seen)[..., 0]
    drawn = [figures.frame_predictions(full[i, seen:, ..., 0], {k: v[i] for k, v in predictions.items()}, numbers,
                                       out_dir / f"frames-predictions{'' if i == 0 else f'-{i + 1}'}.png",
                                       seen=full[i, seen - 1, ..., 0])
             for i in range(full.shape[0])]
    curves = {key: results[key]["mse_per_frame"] for key in predictions}
    drawn.append(figures.mse_per_frame(curves, numbers, "moving MNIST: MSE per predicted frame over seeds",
                                       out_dir / "frames-mse.png", baselines=results["baselines"]))
    return drawn
