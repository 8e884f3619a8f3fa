"""Model builders, one per task, and the registry that maps task names to builder + data.

Every command takes ``--task`` with one of :data:`TASKS`' names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Task:
    name: str
    build: Callable  # () -> keras.Model (float)
    load_data: Callable  # (data_dir, *, limit, seed) -> pipeline.datasets.Splits
    loss: str
    metric: str  # the quality measure reported for the task
    higher_is_better: bool


def _imdb_task(rnn: str) -> Task:
    from models import imdb
    from pipeline import datasets

    return Task(
        name=f"imdb-{rnn}",
        build=lambda: imdb.build(rnn),
        load_data=datasets.imdb_splits,
        loss="binary_crossentropy",
        metric="accuracy",
        higher_is_better=True,
    )


_FACTORIES = {
    "imdb-lstm": lambda: _imdb_task("lstm"),
    "imdb-gru": lambda: _imdb_task("gru"),
}
TASKS = tuple(_FACTORIES)


def get_task(name: str) -> Task:
    if name not in _FACTORIES:
        raise ValueError(f"unknown task {name!r}; valid choices: {', '.join(TASKS)}")
    return _FACTORIES[name]()
