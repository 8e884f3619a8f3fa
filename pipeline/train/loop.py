"""``lowbit train``: QAT training of one task and scheme into a run directory.

A run directory holds:

* ``config.json`` — what was asked (task, scheme, distribution, scale, epochs, ...);
* ``task.json`` — a user run's task (:class:`lowbit.models.user.UserSpec`: data, loss, metric,
  labels, the model file's sha256), resolved when the run starts;
* ``checkpoint.h5`` + ``state.json`` — the QAT model with optimizer state after the last
  *completed* epoch and the history up to it (written atomically at every epoch end, so a run
  killed mid-epoch resumes from the last completed epoch with ``--resume``);
* ``best.h5`` — the QAT model at the best validation epoch (early stopping never looks at test);
* ``history.json`` — loss/metric per epoch; ``qat.h5`` — the final (best) QAT model;
* ``model.h5`` — its stripped plain float twin (weights = quantized values), loadable without
  any custom scope; task artifacts such as ``vocab.txt``; ``run.json`` — the summary with the
  test metric and ``weights_sha256`` (of ``model.h5``'s weight arrays).

``--strategy multi-worker`` (``MultiWorkerMirroredStrategy`` over ``TF_CONFIG``'s cluster): the
chief alone writes ``out``; every other worker writes the same files to its own scratch folder
(:func:`worker_run_dir`), so each worker keeps its own per-epoch checkpoint and no shared file
system is needed. A worker started again after a crash resumes from its last completed epoch
without ``--resume``; before anything is written, the workers check that they run the same lowbit
with the same options and hold the same number of completed epochs (:func:`strategies.handshake`).
A worker that loses another mid-epoch raises :class:`PeerLost` (the CLI then starts it again, to
wait for the lost one).
"""

from __future__ import annotations

import json
import math
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lowbit import models
from lowbit.models import user
from lowbit.pipeline import atomic, json_files, locks, model_files, qat, quantizers, quiet
from lowbit.pipeline.downloads import file_hash
from lowbit.pipeline.errors import LowbitError
from lowbit.pipeline.keras2 import keras
from lowbit.pipeline.data.streams import INPUTS, StreamedSplits
from lowbit.pipeline.train import cluster as clusters
from lowbit.pipeline.train.cluster import PeerLost
from lowbit.pipeline.train import strategies
from lowbit.pipeline.train.strategies import STRATEGIES, distribution_strategy



class TrainingDiverged(LowbitError):
    """The loss became NaN or infinite, or training ended with it far above its first value
    (:data:`DIVERGED_RATIO`, :data:`ENDED_ABOVE_RATIO`)."""

    exit_code = 1


@dataclass(frozen=True)
class TrainConfig:
    task: str
    scheme: str
    out: str
    distribution: str = "normal"
    scale: str = "tensor"
    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 1e-3
    patience: int = 3
    limit: int | None = None
    seed: int = 0
    data_dir: str | None = None
    strategy: str = "default"
    init_from: str | None = None  # a finished fp run of the same task: QAT starts from its weights
    # A user's own model and data (task "user", lowbit.models.user): the model file (None: lowbit's
    # default text classifier), the .npz or text folder, and what the model file does not say.
    model: str | None = None
    data: str | None = None
    loss: str | None = None
    metric: str | None = None
    vocab_size: int = 20_000
    max_tokens: int = 80
    max_text_mb: float | None = None  # text folder: the largest file read (None: the default, 10 MB)
    keep_float: list = field(default_factory=list)  # layer names left float
    input: str = "memory"  # "stream": tf.data from record files (Task.stream_data), not arrays in memory
    # A budget in optimizer steps instead of a number of epochs: train until validation stops
    # improving, within this many steps (see Budget); None: ``epochs`` and ``patience`` as given.
    step_budget: int | None = None

    @property
    def is_user(self) -> bool:
        return self.task == user.USER_TASK

    def user_spec(self) -> "user.UserSpec":
        """The resolved description of a user run's task (reads the model file and the data)."""
        if self.data is None:
            raise ValueError("a user run needs --data (an .npz file or a text folder)")
        return user.resolve(data=self.data, model=self.model, loss=self.loss, metric=self.metric,
                            vocab_size=self.vocab_size, max_tokens=self.max_tokens, keep_float=self.keep_float,
                            max_text_mb=self.max_text_mb)

    def task_record(self, spec=None):
        if self.is_user:
            return user.task(spec or self.user_spec())
        return models.get_task(self.task)

    def validate(self) -> None:
        if self.is_user:
            spec = self.user_spec()
            qat.check_keep_float(user.build_model(spec), self.keep_float)
        else:
            models.get_task(self.task)
            if self.model is not None or self.data is not None or self.keep_float:
                raise ValueError(f"--model, --data and --keep-float go with your own model and data, not --task {self.task}")
        quantizers.check_choices(self.scheme, self.distribution, self.scale)
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}; valid choices: {', '.join(STRATEGIES)}")
        if self.input not in INPUTS:
            raise ValueError(f"unknown input {self.input!r}; valid choices: {', '.join(INPUTS)}")
        if self.input == "stream" and self.task_record().stream_data is None:
            from lowbit.models.tasks import TASKS, get_task

            streamed = ", ".join(t for t in TASKS if get_task(t).stream_data is not None)
            raise ValueError(f"--input stream reads record files for {streamed} and your own data (--data); "
                             f"{self.task} is loaded in memory")
        if self.epochs < 0:
            raise ValueError(f"epochs must be 0 or more, got {self.epochs}")
        if self.batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {self.batch_size}")
        if self.patience <= 0 or not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"patience and learning rate must be positive and finite, got {self.patience} "
                             f"and {self.learning_rate}")
        if self.epochs > MAX_EPOCHS:
            raise ValueError(f"epochs must be at most {MAX_EPOCHS:,}, got {self.epochs:,}")
        if self.step_budget is not None and not 0 < self.step_budget <= MAX_EPOCHS:
            raise ValueError(f"the step budget must be from 1 to {MAX_EPOCHS:,}, got {self.step_budget}")
        if self.limit is not None and self.limit < 20:
            raise ValueError(f"limit must be at least 20 examples, got {self.limit}")
        if self.data_dir is not None and not Path(self.data_dir).exists():
            raise ValueError(f"data directory {self.data_dir} does not exist")
        if self.init_from is not None:
            _check_init_source(_local(self.init_from, self), self)


MAX_EPOCHS = 100_000


def train(config: TrainConfig, *, resume: bool = False, force: bool = False, progress: bool = True,
          cluster_timeout: float = strategies.CONNECT_TIMEOUT) -> dict:
    """Train (or resume) the run described by ``config``; returns the ``run.json`` summary.
    The run directory is locked against a second writer for the whole run. A multi-worker run
    waits up to ``cluster_timeout`` seconds for the other workers (module docstring)."""
    cluster = None
    if config.strategy == "multi-worker":
        # TensorFlow configures collectives only before its first op: the cluster comes first.
        cluster = clusters.from_environment()
        if config.batch_size % cluster.size:
            raise ValueError(f"the batch size {config.batch_size} (global) does not split evenly over "
                             f"{cluster.size} workers; choose a multiple of {cluster.size}")
        strategy = strategies.multi_worker(cluster, timeout=cluster_timeout)
    config.validate()
    run_dir = worker_run_dir(config)
    if cluster is not None:
        resume, force = _restarted(run_dir, resume=resume, force=force)
    _check_run_dir(run_dir, config, resume=resume, force=force)
    if cluster is not None:
        done = _read_state(run_dir / "state.json")["epochs_completed"] if resume else 0
        options = tuple((f"the option {k}", json.dumps(v, sort_keys=True))
                        for k, v in asdict(config).items() if k not in _LOCAL_SETTINGS)
        strategies.handshake(strategy, cluster, strategies.Agreement((
            ("the lowbit version", _version()), ("the lowbit code", strategies.code_digest()), *options,
            ("the epochs completed", done))), timeout=cluster_timeout)
    else:
        strategy = distribution_strategy(config.strategy)
    created = not run_dir.exists()
    try:
        with locks.locked(run_dir):
            summary = _train(run_dir, config, strategy, resume=resume, progress=progress)
            if cluster is not None and not cluster.is_chief:
                print(f"worker {cluster.rank}: done; its copy of the run is in {run_dir} (the chief writes "
                      f"{config.out})", file=sys.stderr, flush=True)
            return summary
    except BaseException:
        if created and [c.name for c in run_dir.iterdir()] == [locks.LOCK_FILE]:
            shutil.rmtree(run_dir)  # refused before anything was written: leave no empty run behind
        raise


# Options a worker may set for itself: where its data and its run directory are on its host.
_LOCAL_SETTINGS = ("out", "data_dir")


def worker_run_dir(config: TrainConfig) -> Path:
    """Where this process writes the run: ``config.out``, except on a multi-worker job's workers
    other than the chief, which write to a scratch folder of their own that outlives a restart:
    ``<temp>/lowbit-workers/<sha256 of out>-<task type><index>``."""
    if config.strategy != "multi-worker":
        return Path(config.out)
    cluster = clusters.from_environment()
    return Path(config.out) if cluster.is_chief else _scratch(Path(config.out), cluster)


def _scratch(path: Path, cluster) -> Path:
    import hashlib
    import tempfile

    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / "lowbit-workers" / f"{digest}-{cluster.task_type}{cluster.task_index}"


def _local(path: str | None, config: TrainConfig) -> Path | None:
    """Another run's folder as this worker holds it (``--init-from``): on a multi-worker job's
    workers other than the chief, their own copy when they trained that run with the chief, else
    the folder as given (a run trained by one process, on this host or a shared file system)."""
    if path is None or config.strategy != "multi-worker":
        return None if path is None else Path(path)
    cluster = clusters.from_environment()
    copy = _scratch(Path(path), cluster)
    return copy if not cluster.is_chief and (copy / "run.json").is_file() else Path(path)


def _restarted(run_dir: Path, *, resume: bool, force: bool) -> tuple[bool, bool]:
    """A multi-worker job is started again with the same command: a run directory holding a
    checkpoint and no ``run.json`` is resumed, one that never completed an epoch starts over."""
    if (run_dir / "run.json").is_file() or not run_dir.exists():
        return resume, force
    if (run_dir / "state.json").is_file() and (run_dir / "checkpoint.h5").is_file():
        return True, force
    return resume, True


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lowbit")
    except PackageNotFoundError:  # a source checkout that was never installed
        return "unknown"


def _train(run_dir: Path, config: TrainConfig, strategy, *, resume: bool, progress: bool) -> dict:
    spec = config.user_spec() if config.is_user else None
    task = config.task_record(spec)
    if config.input == "stream":
        splits = task.stream_data(config.data_dir, limit=config.limit, seed=config.seed)
    else:
        splits = task.load_data(config.data_dir, limit=config.limit, seed=config.seed)
    if spec is not None:
        user.check_data(spec, task.build(), splits)
    if config.init_from is not None:
        _check_same_artifacts(_local(config.init_from, config), splits.artifacts)
    state = _prepare_run_dir(run_dir, config, resume=resume)
    if spec is not None:
        _write_json(run_dir / user.SPEC_FILE, spec.to_json())
    seed = random_seed(config, state["epochs_completed"] if state else 0)
    keras.utils.set_random_seed(seed)

    with strategy.scope():
        if state:
            _check_checkpoint(run_dir, state, config)
            model = model_files.load(run_dir / "checkpoint.h5", compile=True, qat=True)
        else:
            start = _initial_model(task, config)
            model = qat.quantize_model(start, config.scheme, distribution=config.distribution,
                                       scale=config.scale, keep_float=config.keep_float)
            model.compile(keras.optimizers.Adam(config.learning_rate), task.loss, metrics=[task.metric])

    state = state or {"epochs_completed": 0, "history": [], "best_epoch": None, "best_value": None}
    budget = Budget.of(config, splits.size("train"))
    for name, write in splits.artifacts.items():
        write(run_dir / name)
    if state["epochs_completed"] < budget.epochs and not _stopped_early(state, budget):
        fitted, inputs = model, (lambda x: x)
        if task.training_twin is not None:  # e.g. closed-loop frames: the twin shares the model's weights
            with strategy.scope():  # the strategy the model's variables were made under
                fitted, inputs = task.training_twin.build(model), task.training_twin.inputs
                fitted.compile(model.optimizer, task.loss, metrics=[task.metric])
        with _DeferredInterrupt() as interrupt, _peers_watched(config, state):
            fitted.fit(
                **_fit_data(splits, inputs, config, strategy, seed),
                epochs=budget.epochs,
                initial_epoch=state["epochs_completed"],
                verbose=(1 if sys.stdout.isatty() else 2) if progress else 0,
                callbacks=[keras.callbacks.TerminateOnNaN(),
                           _EpochCheckpoint(run_dir, state, task, config, model, budget),
                           interrupt],
            )
    if budget.epochs == 0 and state["best_epoch"] is None:  # no training: the starting model as it is
        _, value = model.evaluate(**_evaluation_data(splits, "val"), verbose=0)  # before saving (_finish)
        _save_model(model, run_dir / "best.h5")
        state.update(best_epoch=0, best_value=float(value))
    if state["history"] and not _finite(state["history"][-1]["loss"]):
        raise TrainingDiverged(
            f"loss became {state['history'][-1]['loss']} in epoch {len(state['history'])}; "
            "try a lower --learning-rate or scale='tensor'"
        )
    if state["history"] and _rose(state["history"][-1]["loss"], state.get("initial_loss"), ENDED_ABOVE_RATIO):
        raise TrainingDiverged(
            f"loss rose from {state['initial_loss']:.4g} (first batch) to {state['history'][-1]['loss']:.4g} in "
            f"epoch {len(state['history'])}: training diverged; try a lower --learning-rate"
            f" (this run: {config.learning_rate:g})"
        )
    return _finish(run_dir, config, task, splits, state, budget)


# Added to the seed of a run that starts from another run's weights. With the float run's own
# seed, its fine-tuning replayed the float run's batch order and dropout masks: measured on 6,000
# reviews, the fine-tuning's training loss read 0.27, 0.18, then jumped to 0.25 in the first epoch
# whose order the float run had not seen; with a stream of its own it fell steadily (0.32, 0.27,
# 0.24, 0.22).
FINETUNE_SEED_OFFSET = 1_000_003


def _fit_data(splits, inputs, config: TrainConfig, strategy, seed: int) -> dict:
    """``fit``'s data arguments: arrays (Keras batches, shuffles and, under a strategy, shards
    them), or the streamed splits' datasets: global batches of ``batch_size``, shuffled with
    ``seed``, each worker reading its slice (a multi-worker strategy distributes them per worker)."""
    if not isinstance(splits, StreamedSplits):
        return dict(x=inputs(splits.x_train), y=splits.y_train, validation_data=(inputs(splits.x_val), splits.y_val),
                    batch_size=config.batch_size, shuffle=True)

    if config.strategy != "multi-worker":
        return dict(x=splits.batches("train", batch_size=config.batch_size, shuffle_seed=seed, drop_remainder=True),
                    validation_data=splits.batches("val", batch_size=config.batch_size))

    # Keras reads a distributed dataset with one iterator for the whole fit: each split repeats,
    # and an epoch is one pass (training drops the last partial global batch, validation keeps it).
    def distributed(split, **kwargs):
        return strategy.distribute_datasets_from_function(lambda context: splits.batches(
            split, batch_size=config.batch_size, worker=context.input_pipeline_id,
            workers=context.num_input_pipelines, **kwargs).repeat())

    return dict(x=distributed("train", shuffle_seed=seed, drop_remainder=True),
                steps_per_epoch=splits.train.count // config.batch_size,
                validation_data=distributed("val"), validation_steps=math.ceil(splits.val.count / config.batch_size))


def _evaluation_data(splits, split: str) -> dict:
    """``evaluate``'s data arguments for one split, in this process alone."""
    if isinstance(splits, StreamedSplits):
        return dict(x=splits.batches(split, batch_size=256))
    return dict(x=getattr(splits, f"x_{split}"), y=getattr(splits, f"y_{split}"), batch_size=256)


class _peers_watched:
    """Around a multi-worker ``fit``: TensorFlow's errors of a lost peer (its heartbeats stopped,
    a collective aborted) become :class:`PeerLost`, naming the epoch to resume from."""

    def __init__(self, config: TrainConfig, state: dict):
        self.config, self.state = config, state

    def __enter__(self):
        return self

    def __exit__(self, kind, err, tb):
        if self.config.strategy != "multi-worker" or err is None:
            return False
        from lowbit.pipeline.keras2 import tf

        lost = (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.CancelledError,
                tf.errors.DeadlineExceededError)
        if isinstance(err, lost):
            done = self.state["epochs_completed"]
            raise PeerLost(f"lost another worker in epoch {done + 1} (TensorFlow: {type(err).__name__}); "
                           f"the job resumes after epoch {done} once every worker runs again") from None
        return False


def random_seed(config: TrainConfig, epochs_completed: int) -> int:
    """The seed of Python, numpy and TensorFlow when a run starts (or resumes at an epoch)."""
    return config.seed + epochs_completed + (FINETUNE_SEED_OFFSET if config.init_from else 0)


def _initial_model(task, config: TrainConfig):
    """The float model QAT starts from: freshly initialised, or ``init_from``'s trained weights."""
    model = task.build()
    if config.init_from is not None:
        source = model_files.load(_local(config.init_from, config) / "model.h5")
        model.set_weights(source.get_weights())
    return model


def _check_init_source(source: Path, config: TrainConfig) -> None:
    """``init_from`` must be a finished float run of the same task and model definition."""
    summary_path = source / "run.json"
    if not summary_path.is_file() or not (source / "model.h5").is_file():
        raise ValueError(f"--init-from: {source} is not a finished run (no run.json / model.h5)")
    summary = json.loads(summary_path.read_text())
    if summary.get("scheme") != "fp":
        raise ValueError(f"--init-from: {source} is a {summary.get('scheme')} run; start from an fp run")
    if summary.get("task") != config.task:
        raise ValueError(f"--init-from: {source} is a {summary.get('task')} run, not {config.task}")
    if summary.get("architecture_sha256") != architecture_digest(config.task_record().build()):
        raise ValueError(f"--init-from: {source} was trained with another definition of the {config.task} model")


def _check_same_artifacts(source: Path, artifacts: dict) -> None:
    """The source run must have seen the same data: its task artifacts (e.g. ``vocab.txt``, the
    word ids) must equal the ones this run writes."""
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        for name, write in artifacts.items():
            write(Path(scratch) / name)
            theirs = source / name
            if not theirs.is_file() or theirs.read_bytes() != (Path(scratch) / name).read_bytes():
                raise ValueError(f"--init-from: {theirs} is missing or differs from this run's {name}; "
                                 "the source run was trained on other data (--limit/--seed/--data-dir)")


# Keys of config.json that decide whether a finished run can be reused.
REUSE_SETTINGS = ("task", "scheme", "distribution", "scale", "epochs", "batch_size", "learning_rate",
                  "patience", "limit", "seed", "init_from", "model", "data", "loss", "metric", "vocab_size",
                  "max_tokens", "max_text_mb", "keep_float", "input", "step_budget")
# Settings added after runs were written: what those runs did.
_DEFAULTS_OF_OLDER_RUNS = {"input": "memory", "max_text_mb": None, "step_budget": None}


def train_or_reuse(config: TrainConfig, *, label: str = "", replace_stale: bool = False,
                   progress: bool = True, cluster_timeout: float = strategies.CONNECT_TIMEOUT) -> dict:
    """The summary of the run ``config`` describes: reused when ``config.out`` holds it finished
    (same settings, same model definition, same ``init_from`` weights), resumed when it holds it
    interrupted, trained otherwise.

    A run directory holding a different or outdated run raises ``FileExistsError``, or, with
    ``replace_stale``, is retrained from scratch.
    """
    if config.strategy == "multi-worker":  # before the first TensorFlow op (train's docstring)
        strategies.multi_worker(clusters.from_environment(), timeout=cluster_timeout)
    run_dir = worker_run_dir(config)
    label = f"{label} {Path(config.out).name}".strip()
    saved = _read_json(run_dir / "config.json")
    saved = None if saved is None else {**_DEFAULTS_OF_OLDER_RUNS, **saved}
    summary = _read_json(run_dir / "run.json")
    stale = None
    if saved is not None and {k: saved.get(k) for k in REUSE_SETTINGS} != {
            k: v for k, v in asdict(config).items() if k in REUSE_SETTINGS}:
        stale = "holds a run with other settings"
    elif summary is not None and summary.get("architecture_sha256") != architecture_digest(
            config.task_record().build()):
        stale = f"was trained with another definition of the {config.task} model"
    elif summary is not None and config.model is not None and summary.get("user_model_sha256") != file_hash(
            Path(config.model), "sha256"):
        stale = f"started from another version of {config.model}"
    elif summary is not None and config.init_from is not None and summary.get("init_from_sha256") != file_hash(
            _local(config.init_from, config) / "model.h5", "sha256"):
        stale = f"started from other weights than {config.init_from}'s current model.h5"
    if stale and not replace_stale:
        raise FileExistsError(f"{run_dir} {stale}; remove it or choose another folder")
    if stale:
        print(f"{label}: {stale}, training it again", file=sys.stderr, flush=True)
        return train(config, force=True, progress=progress, cluster_timeout=cluster_timeout)
    if summary is not None:
        print(f"{label}: finished earlier, reused", file=sys.stderr)
        return summary
    resume = (run_dir / "state.json").is_file() and (run_dir / "checkpoint.h5").is_file()
    print(f"{label}: {'resuming' if resume else 'training'}", file=sys.stderr, flush=True)
    return train(config, resume=resume, force=not resume, progress=progress, cluster_timeout=cluster_timeout)


def _read_json(path: Path):
    return json.loads(path.read_text()) if path.is_file() else None


_interrupt_pending = False  # a SIGINT arrived that no KeyboardInterrupt has carried out yet


def sticky_interrupts() -> None:
    """In a process that trains run after run (a sweep's child): SIGINT raises KeyboardInterrupt
    *and* is remembered, so that one swallowed by a finalizer (Python drops an exception raised
    inside ``__del__``) still stops the process at the next training's first batch boundary."""
    import signal

    def handle(signum, frame):
        global _interrupt_pending
        _interrupt_pending = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handle)


class _DeferredInterrupt(keras.callbacks.Callback):
    """Ctrl-C during ``fit`` raises ``KeyboardInterrupt`` at the next batch or epoch boundary.

    Python raises a signal's exception wherever the main thread is, and one raised inside a
    finalizer (``__del__`` of an h5py or TensorFlow object) is printed and dropped: a run then
    trains on (seen: a test's child ignored SIGINT for 300 s). Here the handler only records the
    signal, and this callback raises from an ordinary frame; a second Ctrl-C raises at once.
    Used as a context manager around ``fit`` (the previous handler comes back after it); a SIGINT
    remembered by :func:`sticky_interrupts` before it raises at once."""

    def __enter__(self):
        import signal
        import threading

        if _interrupt_pending:
            raise KeyboardInterrupt
        self.requested, self._previous = False, None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        import signal

        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def _check(self, *args, **kwargs):
        if self.requested:
            raise KeyboardInterrupt

    on_train_batch_end = on_test_batch_end = on_epoch_end = _check


class _EpochCheckpoint(keras.callbacks.Callback):
    """Saves checkpoint, best model and history after every completed epoch; early-stops.
    ``saved`` is the task's model, with its optimizer (also when ``fit`` trains a twin)."""

    def __init__(self, run_dir: Path, state: dict, task, config: TrainConfig, saved, budget: Budget):
        super().__init__()
        self.run_dir, self.state, self.task, self.config, self.saved = run_dir, state, task, config, saved
        self.budget = budget

    def on_train_batch_end(self, batch, logs=None):
        # the loss of the very first batch (before any update counts): what divergence is measured against
        if "initial_loss" not in self.state and logs and _finite(logs.get("loss")):
            self.state["initial_loss"] = float(logs["loss"])

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        self.state["history"].append({"epoch": epoch + 1, **logs})
        if not _finite(logs.get("loss", math.nan)) or _rose(logs["loss"], self.state.get("initial_loss")):
            self.model.stop_training = True  # diverged: train() reports it
            return
        value = logs[f"val_{self.task.metric}"]
        best = self.state["best_value"]
        if best is None or (value > best if self.task.higher_is_better else value < best):
            self.state["best_epoch"], self.state["best_value"] = epoch + 1, value
            _save_model(self.saved, self.run_dir / "best.h5")
        self.state["epochs_completed"] = epoch + 1
        _save_model(self.saved, self.run_dir / "checkpoint.h5")
        # What resume checks before trusting the checkpoint (_check_checkpoint).
        self.state["checkpoint"] = {"sha256": file_hash(self.run_dir / "checkpoint.h5", "sha256"),
                                    "scheme": self.config.scheme, "task": self.config.task}
        _write_json(self.run_dir / "state.json", self.state)
        _write_json(self.run_dir / "history.json", self.state["history"])
        if _stopped_early(self.state, self.budget):
            self.model.stop_training = True


@dataclass(frozen=True)
class Budget:
    """How long a run trains: at most ``epochs``, stopped when validation has not improved for
    ``patience`` epochs. From a step budget (``TrainConfig.step_budget``): as many epochs as the
    budget's steps take on this training split, and a patience of at least a tenth of the budget
    in steps, so that a small dataset (a few steps per epoch, a noisy validation split) is not
    stopped after a dozen steps: 2,000 steps on 243 rows of batch 64 are 500 epochs of 4 steps,
    patience 50."""

    epochs: int
    patience: int

    @classmethod
    def of(cls, config: TrainConfig, n_train: int) -> "Budget":
        if config.step_budget is None:
            return cls(config.epochs, config.patience)
        steps = max(1, math.ceil(n_train / config.batch_size))
        return cls(math.ceil(config.step_budget / steps),
                   max(config.patience, math.ceil(config.step_budget / 10 / steps)))


def _stopped_early(state: dict, budget: Budget) -> bool:
    return state["best_epoch"] is not None and state["epochs_completed"] - state["best_epoch"] >= budget.patience


def _finish(run_dir: Path, config: TrainConfig, task, splits, state: dict, budget: Budget) -> dict:
    best = model_files.load(run_dir / "best.h5", compile=True, qat=True)
    _save_model(best, run_dir / "qat.h5")
    stripped = qat.strip(best)
    stripped.compile(loss=task.loss, metrics=[task.metric])
    # Evaluate before saving: tf-keras 2.21 builds the metrics of a compiled model that has never
    # seen data when it is saved, from the output shape alone, and "accuracy" then becomes
    # categorical accuracy even for sparse labels (measured: 22 % reported, 39 % true).
    test_loss, test_value = stripped.evaluate(**_evaluation_data(splits, "test"), verbose=0)
    _save_model(stripped, run_dir / "model.h5")
    summary = {
        **asdict(config),
        "epochs_completed": state["epochs_completed"],
        "epochs_budget": budget.epochs, "patience_epochs": budget.patience,
        "best_epoch": state["best_epoch"],
        f"val_{task.metric}": state["best_value"],
        f"test_{task.metric}": float(test_value),
        "test_loss": float(test_loss),
        "architecture_sha256": architecture_digest(task.build()),
        **({"init_from_sha256": file_hash(_local(config.init_from, config) / "model.h5", "sha256")}
           if config.init_from else {}),
        **({"user_model_sha256": file_hash(Path(config.model), "sha256")} if config.model else {}),
        **task.test_measures(stripped, splits),
        "n_train": splits.size("train"), "n_val": splits.size("val"), "n_test": splits.size("test"),
        "weights_sha256": weights_digest(stripped),
    }
    _write_json(run_dir / "run.json", summary)
    return summary


# Every file training writes into a run directory (the up-front check for a user's file in the way).
RUN_FILES = ("config.json", "state.json", "history.json", "checkpoint.h5", "best.h5", "qat.h5", "model.h5",
             "run.json", user.SPEC_FILE, "vocab.txt")


def _check_run_dir(run_dir: Path, config: TrainConfig, *, resume: bool, force: bool) -> None:
    """Refuse, before any work, to resume what cannot be resumed or to overwrite silently."""
    if resume:
        if not (run_dir / "state.json").is_file() or not (run_dir / "checkpoint.h5").is_file():
            raise ValueError(f"--resume: {run_dir} has no checkpoint to resume from")
        saved = {**_DEFAULTS_OF_OLDER_RUNS,
                 **json_files.read_object(run_dir / "config.json", what="a run configuration (a JSON object)")}
        if {k: v for k, v in saved.items() if k != "epochs"} != {
            k: v for k, v in asdict(config).items() if k != "epochs"
        }:
            raise ValueError(f"--resume: {run_dir}/config.json differs from the options given")
    elif atomic.owned(run_dir) and not force:
        raise FileExistsError(f"{run_dir} already holds a run; use --resume to continue or --force to replace it")
    atomic.check_claimable(run_dir, RUN_FILES)


def _prepare_run_dir(run_dir: Path, config: TrainConfig, *, resume: bool) -> dict | None:
    """The saved state to resume from, or None for a fresh run (the directory emptied)."""
    if resume:
        state = _read_state(run_dir / "state.json")
        _write_json(run_dir / "config.json", asdict(config))
        return state
    if run_dir.exists():
        atomic.remove_owned(run_dir)  # the previous run's files; a user's own stay (atomic's docstring)
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_json(run_dir / "config.json", asdict(config))
    return None


_STATE_TYPES = {"epochs_completed": int, "history": list, "best_epoch": (int, type(None)),
                "best_value": (int, float, type(None)), "checkpoint": dict}


def _read_state(path: Path) -> dict:
    """``state.json``, every field of the type the loop wrote; anything else is one line naming it."""
    state = json_files.read_object(path, what="a training state (a JSON object)", hint="start again with --force")
    for key, kind in _STATE_TYPES.items():
        if not isinstance(state.get(key), kind) or isinstance(state.get(key), bool):
            raise ValueError(f"{path}: {key} is {state.get(key)!r}, not what lowbit train writes; "
                             "start again with --force")
    if state["epochs_completed"] < 0 or len(state["history"]) != state["epochs_completed"]:
        raise ValueError(f"{path}: {state['epochs_completed']} epochs completed but a history of "
                         f"{len(state['history'])}; start again with --force")
    return state


def _check_checkpoint(run_dir: Path, state: dict, config: TrainConfig) -> None:
    """``checkpoint.h5`` must be the one this run saved after its last epoch: the sha256, scheme and
    task recorded in ``state.json`` at save time (a float model put in its place would otherwise
    train unquantized under this run's name, and damage would read as a diverged loss)."""
    path = run_dir / "checkpoint.h5"
    saved = state["checkpoint"]
    if saved.get("scheme") != config.scheme or saved.get("task") != config.task:
        raise ValueError(f"{path}: saved by a {saved.get('task')} {saved.get('scheme')} run, not this "
                         f"{config.task} {config.scheme} run; start again with --force")
    if saved.get("sha256") != file_hash(path, "sha256"):
        raise ValueError(f"{path}: not the checkpoint this run saved (its sha256 differs from state.json's); "
                         "start again with --force")


def weights_digest(model) -> str:
    """sha256 of the model's weight arrays (dtype, shape and bytes, in ``get_weights`` order):
    equal on every worker of a multi-worker job."""
    import hashlib

    import numpy as np

    digest = hashlib.sha256()
    for array in model.get_weights():
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode() + array.tobytes())
    return digest.hexdigest()


def architecture_digest(model) -> str:
    """sha256 of the model's layer classes and configs, layer names left out (Keras numbers
    unnamed layers per process), so a run can be matched against the current builder."""
    import hashlib

    def nameless(obj):
        if isinstance(obj, dict):
            return {k: nameless(v) for k, v in obj.items() if k != "name"}
        if isinstance(obj, (list, tuple)):
            return [nameless(v) for v in obj]
        return obj

    layers = [[type(layer).__name__, nameless(layer.get_config())] for layer in model.layers]
    return hashlib.sha256(json.dumps(layers, sort_keys=True, default=str).encode()).hexdigest()


def _finite(x) -> bool:
    return x is not None and math.isfinite(x)


# Divergence measured against the first batch's loss: an epoch's mean loss this many times it stops
# training at once (--learning-rate 1e30 took a user's LSTM from 0.73 to 3.7e29 and exited 0), and
# a last epoch this many times it fails the run (a GRU's bounded outputs: 2.49 to 10.8).
DIVERGED_RATIO = 100
ENDED_ABOVE_RATIO = 2


def _rose(loss: float, initial: float | None, ratio: float = DIVERGED_RATIO) -> bool:
    return initial is not None and initial > 0 and loss > ratio * initial


def _save_model(model, path: Path) -> None:
    with atomic.replacing(path) as tmp, quiet.hdf5_on_purpose():
        model.save(tmp)


def _write_json(path: Path, obj) -> None:
    atomic.write_text(path, json.dumps(obj, indent=2) + "\n")
