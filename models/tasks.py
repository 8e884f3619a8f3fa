"""The task registry: every fact about a task that the rest of lowbit needs, as a typed record.

Every command takes ``--task`` with one of :data:`TASKS`' names; no module parses a task's name
for its family, architecture or protocol: they ask the :class:`Task`.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np


class InputKind(enum.Enum):
    """What the model is fed."""

    TEXT = "text"  # int32 token ids of the run's vocab.txt (lowbit.pipeline.data.text)
    TENSORS = "tensors"  # float tensors


def _no_measures(model, splits) -> dict:
    return {}


@dataclass(frozen=True)
class TrainingTwin:
    """Train a task's model through another model that shares its layers (and so its weights),
    e.g. one that feeds the model's predictions back as its next inputs. Checkpoints, early
    stopping and export still see the task's model; only ``fit`` runs the twin."""

    build: Callable  # (the task's model, float or QAT-wrapped) -> keras.Model sharing its layers
    inputs: Callable  # (x of a split) -> what the twin reads; its targets are the split's y


@dataclass(frozen=True)
class Task:
    name: str
    arch: str  # the recurrent layer kind, as results group runs: lstm, gru, convlstm
    build: Callable  # () -> keras.Model (float)
    load_data: Callable  # (data_dir, *, limit, seed) -> lowbit.pipeline.data.splits.Splits
    loss: str
    metric: str  # the Keras metric monitored on validation and reported on test
    higher_is_better: bool
    inputs: InputKind
    # The test measure of a deployed artifact, (truth, outputs) -> float, and its name.
    test_metric: str
    score: Callable[[np.ndarray, np.ndarray], float]
    # outputs -> the decision per example, for the agreement of two models (None: a regression).
    decide: Callable[[np.ndarray], np.ndarray] | None = None
    # Closed-loop test protocol: the first `rollout_seen` steps are given, every later step is
    # predicted from the sequence so far, each prediction fed back (None: direct prediction).
    rollout_seen: int | None = None
    # (trained model, splits) -> extra test figures for run.json, e.g. the summation task's
    # exact-match accuracy or the frames task's MSE per predicted frame.
    test_measures: Callable = _no_measures
    # Classification: the name of each class id (text tasks show them in the app and predict).
    labels: tuple[str, ...] | None = None
    # Text tasks: the sequence length the model reads, and (data_dir) -> (raw test texts, targets).
    max_tokens: int | None = None
    load_test_texts: Callable | None = None
    # A user's own model and data (lowbit.models.user.UserSpec); None for the built-in tasks.
    user: object = None
    # None: fit trains the model itself on x -> y.
    training_twin: TrainingTwin | None = None
    # (data_dir, *, limit, seed) -> lowbit.pipeline.data.streams.StreamedSplits: the same splits
    # read from record files with tf.data (``--input stream``); None: loaded in memory only.
    stream_data: Callable | None = None

    @property
    def text_demo(self) -> bool:
        """The Android demo and ``lowbit predict TEXT`` apply: the model reads text."""
        return self.inputs is InputKind.TEXT

    @property
    def test_higher_is_better(self) -> bool:
        return self.test_metric not in ("mse", "mae")


def _imdb_task(rnn: str) -> Task:
    from lowbit.models import imdb
    from lowbit.pipeline.data import splits, streams

    return Task(
        name=f"imdb-{rnn}", arch=rnn,
        build=lambda: imdb.build(rnn),
        load_data=splits.imdb_splits,
        stream_data=streams.imdb_streams,
        loss="binary_crossentropy", metric="accuracy", higher_is_better=True,
        inputs=InputKind.TEXT, test_metric="accuracy", score=imdb.accuracy, decide=imdb.decisions,
        labels=("negative", "positive"), max_tokens=imdb.MAXLEN, load_test_texts=_imdb_test_texts,
    )


@functools.lru_cache(maxsize=2)
def _imdb_test_reviews(source):
    """The raw test reviews, read once per source: evaluating several runs needs them each time."""
    from lowbit.pipeline.data import imdb

    return imdb.load(source, splits=("test",))["test"]


def _imdb_test_texts(data_dir=None):
    from lowbit.pipeline.data import imdb

    reviews = _imdb_test_reviews(imdb.find_source(data_dir))
    return reviews.texts, reviews.labels.astype(np.float32)


def _summation_task(rnn: str) -> Task:
    from lowbit.models import summation
    from lowbit.pipeline.data import splits

    return Task(
        name=f"summation-{rnn}", arch=rnn,
        build=lambda: summation.build(rnn),
        load_data=splits.summation_splits,
        loss="categorical_crossentropy",
        metric="accuracy",  # per answer symbol; exact match is among the test measures
        higher_is_better=True,
        inputs=InputKind.TENSORS, test_metric="exact_match", score=summation.exact_match,
        decide=summation.decisions, test_measures=summation.test_measures,
    )


def _frames_task(canvas: int) -> Task:
    from lowbit.models import frames
    from lowbit.pipeline.data import moving_mnist, splits

    suffix = "" if canvas == 64 else f"-{canvas}"
    return Task(
        name=f"frames-convlstm{suffix}", arch="convlstm",
        build=lambda: frames.build(canvas=canvas),
        load_data=lambda data_dir=None, *, limit=None, seed=0: splits.frames_splits(
            data_dir, limit=limit, seed=seed, canvas=canvas),
        loss="binary_crossentropy",  # per pixel, intensities in [0, 1]
        metric="mse", higher_is_better=False,
        inputs=InputKind.TENSORS, test_metric="mse", score=frames.mean_mse,
        rollout_seen=moving_mnist.SEEN, test_measures=frames.test_measures,
        training_twin=TrainingTwin(frames.closed_loop, frames.closed_loop_inputs),
    )


_FACTORIES = {
    "imdb-lstm": lambda: _imdb_task("lstm"),
    "imdb-gru": lambda: _imdb_task("gru"),
    "summation-lstm": lambda: _summation_task("lstm"),
    "summation-gru": lambda: _summation_task("gru"),
    "frames-convlstm": lambda: _frames_task(64),  # the paper's 64x64 canvas
    "frames-convlstm-32": lambda: _frames_task(32),  # 32x32: ~9x cheaper on a CPU
}
TASKS = tuple(_FACTORIES)


def get_task(name: str) -> Task:
    if name not in _FACTORIES:
        raise ValueError(f"unknown task {name!r}; valid choices: {', '.join(TASKS)} (your own model and data: "
                         "--model MODEL --data DATA)")
    return _FACTORIES[name]()


def run_task(run_dir) -> Task:
    """The task of a run directory, from its ``config.json`` (a user run: its ``task.json``)."""
    from pathlib import Path

    from lowbit.models import user
    from lowbit.pipeline import json_files

    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise ValueError(f"{run_dir} has no config.json; is it a run directory of lowbit train?")
    name = json_files.read_object(path, what="a run configuration (a JSON object)").get("task")
    if name == user.USER_TASK:
        return user.task(user.read_spec(run_dir))
    return get_task(name)


def manifest_task(manifest: dict | None, *, source="manifest") -> Task | None:
    """The task an artifact's manifest names (a user task: its recorded description), None when
    the manifest names none."""
    from lowbit.models import user

    name = (manifest or {}).get("task")
    if name is None:
        return None
    if name == user.USER_TASK:
        return user.task(user.UserSpec.from_json(manifest.get("user_task"), source=source))
    return get_task(name)


def text_tasks() -> tuple[str, ...]:
    """The tasks whose models read text (the Android demo and ``lowbit predict`` apply)."""
    return tuple(name for name in TASKS if get_task(name).text_demo)
