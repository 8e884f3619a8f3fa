"""``lowbit reproduce imdb|summation|frames``: the paper's sweeps, their results and figures.

For an experiment, every (task, scheme, distribution) run is trained into
``RUNS/<experiment>/<task>-<scheme>[-uniform]`` with :func:`lowbit.pipeline.train.loop.train` — skipped when that
directory already holds a finished run with the same settings, resumed when it holds an
interrupted one — then ``DOCS/results/<experiment>.json``, the PNG figures beside it and
``DOCS/results.md`` (rebuilt from every ``DOCS/results/*.json`` present) are written.

``DOCS/results/<experiment>.json``::

    {"experiment": "imdb", "setup": {...}, "figures": [...],
     "lstm": {"fp": {"test_accuracy": 0.84, "val_accuracy": ..., "best_epoch": ..., ...},
              "bc": {...}, "tc": {...}, "qc": {...}},
     "gru": {...}}

Scheme keys are ``fp``, ``bc``, ``tc``, ``qc``, and ``tc-uniform`` / ``qc-uniform`` for the
uniform thresholds (eqs. 22, 24); the others use the normal ones (eqs. 21, 23), as the paper does
after Fig. 14.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from lowbit.models import get_task
from lowbit.pipeline import atomic, model_files
from lowbit.pipeline.schemes import SCHEMES, get_scheme, parse_variant_key, variant_key
from lowbit.pipeline.train import recipe

# TensorFlow (via training, figures) is imported inside the functions: the CLI imports this
# module for the experiment names, and `lowbit --help` must stay instant.

BASE_VARIANTS = tuple((s, "normal") for s in SCHEMES)
UNIFORM_VARIANTS = tuple((s, "uniform") for s in SCHEMES if get_scheme(s).has_threshold)


@dataclass(frozen=True)
class Experiment:
    name: str
    tasks: tuple[str, ...]
    # (task, scheme, distribution) of every run, in training order
    runs: tuple[tuple[str, str, str], ...]
    epochs: int
    batch_size: int
    patience: int
    limit: int | None = None
    note: str = ""
    other_tasks: tuple[str, ...] = ()  # what --task may swap in for a one-task experiment
    learning_rate: float = recipe.SCRATCH_LEARNING_RATE  # the fp runs (without fine-tuning: every run)
    # None: every run from scratch; else the quantized runs start from their task's fp run
    # (lowbit.pipeline.train.recipe) at this learning rate, and the fp run trains at FLOAT_LEARNING_RATE
    finetune_learning_rate: float | None = None
    # The test score compared across schemes in the bar chart and table ("test_accuracy",
    # "test_exact_match") and its label; None: a per-frame experiment (MSE per predicted frame).
    score_key: str | None = "test_accuracy"
    score_label: str = "test accuracy (%)"
    # arch -> scheme -> %: the paper's numbers drawn beside ours; scheme -> % targets.
    paper: dict | None = None
    targets: dict | None = None


def _grid(tasks, variants_for) -> tuple:
    return tuple((t, s, d) for t in tasks for s, d in variants_for(t))


_IMDB_SETUP = ("Paper §IV.A setup: 20,000 words, 80 tokens, 128 units, batch 64, Adam, binary "
               "cross-entropy, up to 20 epochs, early-stopped on a 10 % validation split of the "
               "training reviews (the test reviews are used once, for the reported accuracy).")
_IMDB_TASKS = ("imdb-lstm", "imdb-gru")
# The paper's IMDB LSTM test accuracies (§IV.A, Fig. 16) and this project's targets, in %.
PAPER_IMDB_LSTM = {"fp": 82.87, "qc": 79.64, "tc": 76.86, "bc": 76.25}
IMDB_TARGETS = {"fp": 84.0, "qc": 83.5, "tc": 83.0, "bc": 82.5}
FRAMES_MSE_RATIO_TARGET = 1.2
EXPERIMENTS = {
    "imdb": Experiment(
        "imdb", _IMDB_TASKS, _grid(_IMDB_TASKS, lambda t: BASE_VARIANTS), epochs=20, batch_size=64, patience=3,
        learning_rate=recipe.FLOAT_LEARNING_RATE, finetune_learning_rate=recipe.FINETUNE_LEARNING_RATE,
        paper={"lstm": PAPER_IMDB_LSTM}, targets=IMDB_TARGETS,
        note=_IMDB_SETUP + " lowbit's recipe: the float model at learning rate "
             f"{recipe.FLOAT_LEARNING_RATE:g}, then BC, TC and QC by QAT starting from its weights "
             f"at {recipe.FINETUNE_LEARNING_RATE:g}.",
    ),
    "imdb-scratch": Experiment(
        "imdb-scratch", _IMDB_TASKS, _grid(_IMDB_TASKS, lambda t: BASE_VARIANTS), epochs=20, batch_size=64,
        patience=3, paper={"lstm": PAPER_IMDB_LSTM}, targets=IMDB_TARGETS,
        note=_IMDB_SETUP + " The paper's protocol: every scheme trained from scratch at learning "
             f"rate {recipe.SCRATCH_LEARNING_RATE:g}.",
    ),
    "summation": Experiment(
        "summation", ("summation-lstm", "summation-gru"),
        _grid(("summation-lstm", "summation-gru"),
              lambda t: BASE_VARIANTS + (UNIFORM_VARIANTS if t == "summation-lstm" else ())),
        epochs=60, batch_size=64, patience=8, finetune_learning_rate=3e-4,
        score_key="test_exact_match", score_label="test exact-match accuracy (%)",
        note="3-digit addition, training, validation and test questions all distinct; 128-unit encoder "
             "and decoder. Normal vs uniform thresholds compared on the LSTM (paper Fig. 14). "
             "Categorical cross-entropy over the 12 symbols per step. The float model at learning "
             "rate 0.001, the quantized ones by QAT from its weights at 0.0003 (with 25 epochs from "
             "scratch, every run was still improving when it stopped: float LSTM 52.5 % exact "
             "match, TC 5.0 %).",
    ),
    "frames": Experiment(
        "frames", ("frames-convlstm-32",),
        _grid(("frames-convlstm-32",), lambda t: BASE_VARIANTS),
        epochs=12, batch_size=16, patience=3, finetune_learning_rate=3e-4, score_key=None,
        note="Moving MNIST, 2 digits, 15 frames: next-frame training; at test the first 7 "
             "frames are given and frames 8-15 predicted one at a time, each prediction fed "
             "back. 32x32 canvas (digits scaled to 14 px) instead of the paper's 64x64, which "
             "costs ~9x more per step on this 2-core CPU; `--task frames-convlstm` runs 64x64. "
             "16-filter ConvLSTM. The float model at learning rate 0.001, the quantized ones by QAT "
             "from its weights at 0.0003 (from scratch, BC's worst frame was 1.23x the float MSE).",
        other_tasks=("frames-convlstm",),
    ),
}



run_key = variant_key


def arch_of(task: str) -> str:
    return get_task(task).arch


def reproduce(name: str, *, runs_dir="runs/reproduce", docs_dir="docs", data_dir=None,
              epochs: int | None = None, limit: int | None = None, task: str | None = None,
              seed: int = 0, progress: bool = True) -> dict:
    """Train (or reuse) every run of experiment ``name``, then write its results and figures."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; valid choices: {', '.join(EXPERIMENTS)}")
    experiment = EXPERIMENTS[name]
    if task is not None:
        if task not in experiment.other_tasks + experiment.tasks:
            valid = ", ".join(experiment.other_tasks + experiment.tasks) or "none"
            raise ValueError(f"--task {task!r} does not fit experiment {name}; valid choices: {valid}")
        experiment = replace(experiment, tasks=(task,), runs=tuple((task, s, d) for _, s, d in experiment.runs))
    from lowbit.pipeline.train.loop import TrainConfig, train_or_reuse

    experiment = replace(experiment, epochs=epochs or experiment.epochs,
                         limit=limit if limit is not None else experiment.limit)
    run_dir = {(t, s, d): str(Path(runs_dir) / name / f"{t}-{run_key(s, d)}") for t, s, d in experiment.runs}
    configs = [
        TrainConfig(task=t, scheme=s, distribution=d, out=run_dir[(t, s, d)], epochs=experiment.epochs,
                    batch_size=experiment.batch_size, patience=experiment.patience, limit=experiment.limit,
                    seed=seed, data_dir=data_dir, **_start(experiment, t, s, run_dir))
        for t, s, d in experiment.runs
    ]
    for config in configs:  # every setting checked before the first run starts (the fp runs
        replace(config, init_from=None).validate()  # that others start from exist only later)
    summaries = {}
    for i, config in enumerate(configs, 1):
        summaries[config.out] = train_or_reuse(config, label=f"[{i}/{len(configs)}]", progress=progress)
    results = _results(experiment, configs, summaries, seed)
    results["figures"] = _draw(experiment, configs, summaries, Path(docs_dir) / "results", data_dir)
    out = Path(docs_dir) / "results" / f"{name}.json"
    _write(out, json.dumps(results, indent=2) + "\n")
    _write(Path(docs_dir) / "results.md", render_markdown(Path(docs_dir) / "results"))
    return results


def _start(experiment: Experiment, task: str, scheme: str, run_dir: dict) -> dict:
    """Learning rate and starting weights of one run (:mod:`lowbit.pipeline.train.recipe`)."""
    if experiment.finetune_learning_rate is None or scheme == "fp":
        return {"learning_rate": experiment.learning_rate}
    return {"learning_rate": experiment.finetune_learning_rate, "init_from": run_dir[(task, "fp", "normal")]}


def _read_json(path: Path):
    return json.loads(path.read_text()) if path.is_file() else None


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(path, text)


_KEPT = ("best_epoch", "epochs_completed", "n_train", "n_val", "n_test")


def _results(experiment: Experiment, configs, summaries, seed: int) -> dict:
    results: dict = {
        "experiment": experiment.name,
        "setup": {"tasks": list(dict.fromkeys(c.task for c in configs)), "epochs": experiment.epochs,
                  "batch_size": experiment.batch_size, "patience": experiment.patience,
                  "limit": experiment.limit, "seed": seed, "scale": configs[0].scale,
                  "learning_rate": experiment.learning_rate,
                  "finetune_learning_rate": experiment.finetune_learning_rate, "note": experiment.note},
    }
    for config in configs:
        summary = summaries[config.out]
        entry = {k: v for k, v in summary.items()
                 if k.startswith(("test_", "val_")) or k in _KEPT or k == "predicted_frame_numbers"}
        entry["run"] = config.out
        results.setdefault(arch_of(config.task), {})[run_key(config.scheme, config.distribution)] = entry
    return results


def _draw(experiment: Experiment, configs, summaries, out_dir: Path, data_dir) -> list[str]:
    from lowbit.pipeline.experiments import figures

    drawn = []
    name = experiment.name
    metric = get_task(experiment.tasks[0]).metric
    for task in dict.fromkeys(c.task for c in configs):
        arch = arch_of(task)
        histories = {run_key(c.scheme, c.distribution): _read_json(Path(c.out) / "history.json")
                     for c in configs if c.task == task}
        normal = {k: v for k, v in histories.items() if not k.endswith("-uniform")}
        drawn.append(figures.training_curves(normal, metric, f"{name} {arch.upper()}",
                                             out_dir / f"{name}-{arch}-curves.png"))
        if len(normal) != len(histories):  # Fig. 14: normal vs uniform thresholds
            pairs = {k: v for k, v in histories.items() if parse_variant_key(k)[0].has_threshold}
            drawn.append(figures.training_curves(pairs, metric, f"{name} {arch.upper()} normal vs uniform",
                                                 out_dir / f"{name}-{arch}-normal-vs-uniform.png"))
    if experiment.score_key is not None:
        scores = {arch_of(c.task): {} for c in configs}
        for c in configs:
            scores[arch_of(c.task)][run_key(c.scheme, c.distribution)] = 100 * summaries[c.out][experiment.score_key]
        drawn.append(figures.test_scores(scores, experiment.score_label, f"{name}: test accuracy per scheme",
                                         out_dir / f"{name}-test.png", reference=experiment.paper))
    first_fp = next(c for c in configs if c.scheme == "fp")
    layer, weights = _recurrent_kernel(Path(first_fp.out) / "model.h5")
    drawn.append(figures.weight_distributions(weights, f"{arch_of(first_fp.task)} {layer}",
                                              out_dir / f"{name}-weight-distributions.png"))
    if experiment.score_key is None:
        drawn += _draw_frames(experiment, configs, summaries, out_dir, data_dir)
    return [str(Path(p).relative_to(out_dir.parent)) for p in drawn]


def _recurrent_kernel(model_path: Path):
    """(layer name, kernel) of the first recurrent layer of a trained float model."""
    from lowbit.pipeline.keras2 import keras

    model = model_files.load(model_path)
    for layer in model.layers:
        if isinstance(layer, (keras.layers.LSTM, keras.layers.GRU, keras.layers.ConvLSTM2D)):
            return layer.name, layer.get_weights()[0]
    raise ValueError(f"{model_path} has no recurrent layer")


def _draw_frames(experiment, configs, summaries, out_dir: Path, data_dir) -> list:
    from lowbit.models.frames import predict_frames
    from lowbit.pipeline.experiments import figures
    from lowbit.pipeline.data import moving_mnist

    config = configs[0]
    splits = get_task(config.task).load_data(data_dir, limit=config.limit, seed=config.seed)
    full = np.concatenate([splits.x_test[:1, :1], splits.y_test[:1]], axis=1)[0]  # one test sequence
    seen = moving_mnist.SEEN
    numbers = list(range(seen, full.shape[0] + 1))  # last seen frame, then every predicted one
    predictions = {}
    for c in configs:
        model = model_files.load(Path(c.out) / "model.h5")
        predicted = predict_frames(model, full[None, :seen], full.shape[0] - seen)[0]
        predictions[run_key(c.scheme, c.distribution)] = np.concatenate([full[seen - 1:seen], predicted])[..., 0]
    drawn = [figures.frame_predictions(full[seen - 1:, ..., 0], predictions, numbers,
                                       out_dir / "frames-predictions.png")]
    curves = {run_key(c.scheme, c.distribution): summaries[c.out]["test_mse_per_frame"] for c in configs}
    drawn.append(figures.mse_per_frame(curves, numbers[1:], "moving MNIST: MSE per predicted frame",
                                       out_dir / "frames-mse.png"))
    return drawn


# ----------------------------------------------------------------------------- Markdown


def render_markdown(results_dir: Path) -> str:
    """``docs/results.md`` from every ``<experiment>.json`` in ``results_dir``."""
    lines = ["# Results", "",
             "Generated by `lowbit reproduce imdb|summation|frames` from the runs on this machine "
             "(2 CPU cores, no GPU); one run per scheme, seed 0. Figures are in `results/`.", ""]
    for name in EXPERIMENTS:
        results = _read_json(Path(results_dir) / f"{name}.json")
        if results is not None:
            lines += _experiment_markdown(results)
    return "\n".join(lines) + "\n"


def _experiment_markdown(results: dict) -> list[str]:
    name, setup = results["experiment"], results["setup"]
    experiment = EXPERIMENTS[name]
    archs = [k for k in results if k not in ("experiment", "setup", "figures")]
    lines = [f"## {name}", "", setup["note"], "",
             f"Up to {setup['epochs']} epochs, batch {setup['batch_size']}, patience {setup['patience']}, "
             f"learning rate {setup['learning_rate']}"
             + (f" (QAT from the float weights: {setup['finetune_learning_rate']})"
                if setup.get("finetune_learning_rate") else "")
             + f", scale `{setup['scale']}`"
             + (f", limit {setup['limit']}" if setup["limit"] else "") + ". "
             + "Examples (training / validation / test): "
             + "{n_train:,} / {n_val:,} / {n_test:,}.".format(**next(iter(results[archs[0]].values()))), ""]
    if experiment.score_key is None:
        for arch in archs:
            fp = np.array(results[arch]["fp"]["test_mse_per_frame"])
            numbers = results[arch]["fp"]["predicted_frame_numbers"]
            lines += ["| scheme | " + " | ".join(f"frame {n}" for n in numbers) + " | worst ratio to FP |",
                      "|---" * (len(numbers) + 2) + "|"]
            for key, entry in results[arch].items():
                mse = np.array(entry["test_mse_per_frame"])
                ratio = float(np.max(mse / fp))
                verdict = "" if key == "fp" else (" ✅" if ratio <= FRAMES_MSE_RATIO_TARGET else " ❌")
                lines.append(f"| {key} | " + " | ".join(f"{v:.4f}" for v in mse)
                             + (f" | {ratio:.3f}{verdict} |" if key != "fp" else " | 1 |"))
            lines += ["", f"Target: quantized MSE of every predicted frame ≤ {FRAMES_MSE_RATIO_TARGET}× FP's.", ""]
    else:
        key, targeted = experiment.score_key, experiment.targets is not None
        header = "| arch | scheme | test accuracy (%) | " + (
            "target (%) | paper LSTM (%) | " if targeted else "per-symbol accuracy (%) | "
        ) + "best epoch / run |"
        lines += [header, "|---|---|---|---|" + ("---|" if targeted else "") + "---|"]
        for arch in archs:
            for scheme, entry in results[arch].items():
                value = 100 * entry[key]
                if not targeted:
                    extra = f"{100 * entry['test_accuracy']:.2f} | "
                else:
                    target = experiment.targets.get(scheme)
                    mark = "✅" if value >= target else "❌"
                    paper = (experiment.paper or {}).get(arch, {}).get(scheme)
                    extra = f"≥ {target} {mark} | {paper if paper else '—'} | "
                lines.append(f"| {arch} | {scheme} | {value:.2f} | {extra}"
                             f"{entry['best_epoch']} / {entry['epochs_completed']} |")
        lines.append("")
    lines += [f"![{Path(p).stem}]({p})" for p in results.get("figures", [])] + [""]
    return lines
