"""``lowbit run``: the main job — train, convert, evaluate, deploy to the Android demo.

Stages, each skipped when its outputs are up to date:

1. **train** ``fp`` from scratch, then ``bc``, ``tc`` and ``qc`` by QAT starting from the trained
   ``fp`` weights (:mod:`lowbit.pipeline.train.recipe`: learning rates and the measurements behind them).
   A run is reused when ``RUNS/<task>-<scheme>/run.json`` exists with the same settings, model
   definition and starting weights; an interrupted run is resumed.
2. **convert** every run to ``model.tflite`` and ``model.onnx`` (:func:`lowbit.deploy.export.convert.convert_run`);
   skipped when ``manifest.json`` belongs to the current ``model.h5`` and lists both files
   with matching sha256.
3. **evaluate** all artifacts against the ``fp`` ones (:func:`lowbit.deploy.evaluation.evaluate.evaluate`) into
   ``RUNS/report/``; skipped when ``report.json`` lists exactly the current artifacts (by sha256)
   with the same settings.
4. **deploy** the ``deploy_scheme`` run's phone file (its codes at the width the app's runtime
   runs fastest, measured once: :mod:`lowbit.deploy.phone`) into the Android demo
   (:func:`lowbit.deploy.android.bundle`; the checkout's ``android_demo``, or a copy of the
   installed sources in ``RUNS/android_demo``); skipped when the bundled model has the same
   sha256. With ``apk``, the build's tools and pinned files are checked before any training.

Presets: ``quick`` (default, about 15 minutes on 2 CPU cores for ``imdb-lstm``: 2 float
epochs, 2 fine-tuning epochs per quantized scheme) and ``paper`` (the paper's budget: up to
20 epochs per run, early-stopped on the validation split with patience 3).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from lowbit.models import get_task
from lowbit.pipeline.schemes import QUANTIZED, SCHEMES
from lowbit.pipeline.train import recipe
from lowbit.pipeline.train.strategies import CONNECT_TIMEOUT



@dataclass(frozen=True)
class Preset:
    epochs: int
    finetune_epochs: int
    patience: int


PRESETS = {
    "quick": Preset(epochs=2, finetune_epochs=2, patience=3),
    "paper": Preset(epochs=20, finetune_epochs=20, patience=3),
}
def log(message: str) -> None:
    print(f"lowbit run: {message}", file=sys.stderr, flush=True)


def run(*, task: str = "imdb-lstm", preset: str = "quick", epochs: int | None = None,
        finetune_epochs: int | None = None, runs_dir="runs/main", data_dir=None, limit: int | None = None,
        seed: int = 0, learning_rate: float | None = None,
        finetune_learning_rate: float = recipe.FINETUNE_LEARNING_RATE,
        android=None, deploy_scheme: str = "tc", eval_limit: int | None = None, eval_runs: int = 500,
        schemes=QUANTIZED, batch_size: int = 64, patience: int | None = None, model=None, data=None, loss=None, metric=None,
        keep_float=(), vocab_size: int = 20_000, max_tokens: int = 80, max_text_mb: float | None = None,
        memory_probe: bool = True,
        tflite_bits: int | None = None, apk=None, strategy: str = "default", input: str = "memory",
        cluster_timeout: float = CONNECT_TIMEOUT, quality_target: float | None = None,
        progress: bool = True) -> dict:
    """Run every stage (module docstring); returns ``{"runs": ..., "report": ..., "deployed": ...}``.

    ``data`` (and optionally ``model``) runs a user's own model and data instead of ``task``
    (:mod:`lowbit.models.user`): ``epochs`` float epochs (default 0 with a model: its weights are
    the baseline; without one, until validation stops improving within
    ``recipe.USER_STEP_BUDGET`` steps) at ``learning_rate`` (default: the learning rate saved with
    the model's optimizer, else lowbit's recipe), ``finetune_epochs`` QAT epochs per scheme
    (default: the same step budget, early-stopped).

    ``strategy="multi-worker"``: every worker of ``TF_CONFIG`` runs this with the same options; they
    train together, then the chief alone converts, evaluates and deploys (the others return
    ``{"runs": ..., "report": None, ...}``)."""
    from lowbit.models.user import USER_TASK
    from lowbit.pipeline.train.loop import TrainConfig

    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; valid choices: {', '.join(PRESETS)}")
    if deploy_scheme not in SCHEMES:
        raise ValueError(f"unknown deploy scheme {deploy_scheme!r}; valid choices: {', '.join(SCHEMES)}")
    unknown = [s for s in schemes if s not in QUANTIZED]
    if unknown or not schemes:
        raise ValueError(f"unknown scheme {', '.join(unknown) or '(none)'}; valid choices: {', '.join(QUANTIZED)}")
    if data is None and model is not None:
        raise ValueError("--model needs --data (an .npz file or a text folder)")
    from lowbit.deploy.export.tflite_export import weight_bits

    for s in schemes:  # --tflite-weights int2 with qc: one line before any training
        weight_bits(s, tflite_bits)
    user = data is not None
    if user:
        task = USER_TASK
    else:
        get_task(task)
    chosen = PRESETS[preset]
    runs_dir = Path(runs_dir)
    common = dict(task=task, batch_size=batch_size, patience=patience or chosen.patience, limit=limit, seed=seed,
                  data_dir=data_dir, strategy=strategy, input=input)
    if user:
        common.update(model=None if model is None else str(model), data=str(data), loss=loss, metric=metric,
                      keep_float=list(keep_float), vocab_size=vocab_size, max_tokens=max_tokens,
                      max_text_mb=max_text_mb)
    float_epochs = epochs if epochs is not None else (0 if model is not None else chosen.epochs)
    # a user's data without a number of epochs: until validation stops improving (recipe)
    float_budget = recipe.USER_STEP_BUDGET if user and epochs is None and model is None else None
    finetune_budget = recipe.USER_STEP_BUDGET if user and finetune_epochs is None else None
    if model is not None and learning_rate is None:  # the user's own optimizer setting, when saved
        from lowbit.models.user import saved_learning_rate

        learning_rate = saved_learning_rate(model)
    learning_rate = learning_rate or recipe.FLOAT_LEARNING_RATE
    fp_dir = runs_dir / f"{task}-fp"
    configs = [TrainConfig(scheme="fp", out=str(fp_dir), epochs=float_epochs, step_budget=float_budget,
                           learning_rate=learning_rate, **common)]
    configs += [TrainConfig(scheme=s, out=str(runs_dir / f"{task}-{s}"),
                            epochs=finetune_epochs or chosen.finetune_epochs, step_budget=finetune_budget,
                            learning_rate=finetune_learning_rate, init_from=str(fp_dir), **common)
                for s in schemes]
    workers = None
    if strategy == "multi-worker":  # the cluster before TensorFlow's first op (a user model's check is one)
        from lowbit.pipeline.train import cluster, strategies

        workers = cluster.from_environment()
        strategies.multi_worker(workers, timeout=cluster_timeout)
    for config in configs:  # init_from is checked when the fp run exists, before its first use
        replace(config, init_from=None).validate()
    if deploy_scheme not in ("fp", *schemes):
        raise ValueError(f"--deploy-scheme {deploy_scheme} is not among the schemes trained ({', '.join(schemes)})")
    android_dir = _android_dir(android, configs[0].task_record(), runs_dir)
    if apk is not None and android_dir is None:
        raise ValueError("--apk: there is nothing to build an APK of (the deploy step is skipped, see above)")
    if apk is not None:  # the tools and the toolchain's files, before any training
        from lowbit.deploy.apk import check_build

        check_build(android_dir, apk, progress=progress)

    summaries = _train(configs, progress, cluster_timeout)
    if workers is not None and not workers.is_chief:
        log("worker: training done; the chief converts, evaluates and deploys")
        return {"runs": summaries, "report": None, "deployed": None, "android_dir": None, "apk": None}
    for config in configs:
        _convert(Path(config.out), tflite_bits)
    report_dir = runs_dir / "report"
    report = _evaluate([Path(c.out) for c in configs], report_dir, data_dir=data_dir, limit=eval_limit,
                       runs=eval_runs, memory_probe=memory_probe, progress=progress, quality_target=quality_target)
    deployed = built = None
    if android_dir is not None:
        deployed = _deploy(runs_dir / f"{task}-{deploy_scheme}", android_dir, report)
        if apk is not None:
            from lowbit.deploy.apk import build_apk

            log(f"apk: building {apk}")
            built = build_apk(android_dir, apk, progress=progress)
    return {"runs": summaries, "report": str(report_dir / "report.json"), "deployed": deployed,
            "android_dir": None if android_dir is None else str(android_dir), "apk": built}


def _android_dir(android, task, runs_dir: Path) -> Path | None:
    """The Android project to deploy into (``--android``, else
    :func:`lowbit.deploy.android.demo_project`: the checkout's, or a copy of the installed
    sources in ``RUNS/android_demo``), or None (with the reason logged) for a task it cannot show."""
    if not task.text_demo:
        log(f"deploy: skipped, the Android demo classifies text and this {task.name} task reads tensors")
        return None
    if android is not None:
        path = Path(android)
        if not (path / "app" / "src" / "main").is_dir():
            raise ValueError(f"--android {path}: not the lowbit Android demo (no app/src/main)")
        return path
    from lowbit.deploy.android import demo_project

    return demo_project(runs_dir / "android_demo")


def _train(configs, progress: bool, cluster_timeout: float) -> dict:
    from lowbit.pipeline.train.loop import train_or_reuse

    summaries = {}
    for i, config in enumerate(configs, 1):
        summary = train_or_reuse(config, label=f"train [{i}/{len(configs)}]", replace_stale=True,
                                 progress=progress, cluster_timeout=cluster_timeout)
        summaries[config.scheme] = summary
    return summaries


def _convert(run_dir: Path, tflite_bits: int | None) -> None:
    from lowbit.deploy.export import convert

    if convert.is_current(run_dir, tflite_bits=tflite_bits):
        log(f"convert {run_dir.name}: up to date")
        return
    log(f"convert {run_dir.name}")
    convert.convert_run(run_dir, tflite_bits=tflite_bits)


def _evaluate(run_dirs, report_dir: Path, *, data_dir, limit, runs: int, memory_probe: bool, progress: bool,
              quality_target: float | None) -> dict:
    from lowbit.deploy.evaluation import evaluate

    report_path = report_dir / "report.json"
    if evaluate.is_current(report_dir, run_dirs, limit=limit, runs=runs, quality_target=quality_target):
        log(f"evaluate: {report_path} is up to date")
        return json.loads(report_path.read_text())
    log(f"evaluate: the artifacts of {len(run_dirs)} runs into {report_dir}")
    return evaluate.evaluate(run_dirs, out_dir=report_dir, baseline="fp", data_dir=data_dir, limit=limit,
                             runs=runs, memory_probe=memory_probe, progress=progress, quality_target=quality_target)


def _deploy(run_dir: Path, android_dir: Path, report: dict) -> dict:
    from lowbit.deploy import android

    return android.bundle(run_dir, android_dir, report=report, progress=True)
