"""Model builders, one per task, and the registry that maps task names to builder + data.

Every command takes ``--task`` with one of :data:`TASKS`' names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


def _no_measures(model, splits) -> dict:
    return {}


@dataclass(frozen=True)
class Task:
    name: str
    build: Callable  # () -> keras.Model (float)
    load_data: Callable  # (data_dir, *, limit, seed) -> lowbit.pipeline.data.splits.Splits
    loss: str
    metric: str  # the Keras metric monitored on validation and reported on test
    higher_is_better: bool
    # (trained model, splits) -> extra test figures for run.json, e.g. the summation task's
    # exact-match accuracy or the frames task's MSE per predicted frame.
    test_measures: Callable = _no_measures


def _imdb_task(rnn: str) -> Task:
    from lowbit.models import imdb
    from lowbit.pipeline.data import splits as datasets

    return Task(
        name=f"imdb-{rnn}",
        build=lambda: imdb.build(rnn),
        load_data=datasets.imdb_splits,
        loss="binary_crossentropy",
        metric="accuracy",
        higher_is_better=True,
    )


def _summation_task(rnn: str) -> Task:
    from lowbit.models import summation
    from lowbit.pipeline.data import splits as datasets

    return Task(
        name=f"summation-{rnn}",
        build=lambda: summation.build(rnn),
        load_data=datasets.summation_splits,
        loss="categorical_crossentropy",
        metric="accuracy",  # per answer symbol; exact match is among the test measures
        higher_is_better=True,
        test_measures=datasets.summation_measures,
    )


def _frames_task(canvas: int) -> Task:
    from lowbit.models import frames
    from lowbit.pipeline.data import splits as datasets

    suffix = "" if canvas == 64 else f"-{canvas}"
    return Task(
        name=f"frames-convlstm{suffix}",
        build=lambda: frames.build(canvas=canvas),
        load_data=lambda data_dir=None, *, limit=None, seed=0: datasets.frames_splits(
            data_dir, limit=limit, seed=seed, canvas=canvas),
        loss="binary_crossentropy",  # per pixel, intensities in [0, 1]
        metric="mse",
        higher_is_better=False,
        test_measures=datasets.frames_measures,
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
        raise ValueError(f"unknown task {name!r}; valid choices: {', '.join(TASKS)}")
    return _FACTORIES[name]()
