"""The test split of a trained run's task, the way a deployed artifact sees it, and its measure.

:func:`load` gives a :class:`TestSet` for a run directory:

* text tasks (:attr:`Task.inputs` is ``TEXT``: IMDB, a user's text folder): the raw test texts
  (:attr:`Task.load_test_texts`; IMDB's 25,000 reviews), tokenized with the run's own
  ``vocab.txt`` into int32 sequences of the artifact's length;
* other tasks: the test split of the task's loader with the run's seed and limit (summation: never
  one of its training questions);
* a closed-loop task (:attr:`Task.rollout_seen`, moving MNIST): the first steps are given and
  every later one is predicted from the sequence so far, each prediction fed back (paper eq. 25);
  MSE per predicted step in :meth:`TestSet.per_step`.

The measure is the task's :attr:`Task.score` (accuracy, exact match, MSE) and the labels for the
agreement of two models its :attr:`Task.decide` (none for a regression).

``TestSet.outputs(predict)`` runs any batched forward function (a runtime's
:meth:`~lowbit.deploy.runtime.runtimes.Runner.predict` or a Keras model's ``predict``) over the whole set, so
the artifact and the Keras model are measured on exactly the same inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from lowbit.models import InputKind, Task, run_task

@dataclass
class TestSet:
    task: Task
    x: np.ndarray  # what the model is fed (rollout: the full sequences, of which the first are given)
    truth: np.ndarray

    @property
    def metric(self) -> str:
        return self.task.test_metric

    @property
    def higher_is_better(self) -> bool:
        return self.task.test_higher_is_better

    @property
    def rollout_steps(self) -> int:
        """Forward passes per example: 1, or the number of predicted steps of a rollout."""
        seen = self.task.rollout_seen
        return 1 if seen is None else self.x.shape[1] - seen

    def __len__(self) -> int:
        return len(self.x)

    def sample_input(self, i: int = 0) -> np.ndarray:
        """One model input (batch of 1), as the latency benchmarks feed it."""
        seen = self.task.rollout_seen
        return self.x[i:i + 1] if seen is None else self.x[i:i + 1, :seen]

    def outputs(self, predict: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """The model's outputs on the whole set (rollout: the predicted steps)."""
        return outputs(predict, self.x, self.task.rollout_seen)

    def _target(self) -> np.ndarray:
        seen = self.task.rollout_seen
        return self.truth if seen is None else self.truth[:, seen:]

    def value(self, outputs: np.ndarray) -> float:
        return self.task.score(self._target(), outputs)

    def per_step(self, outputs: np.ndarray) -> list[float] | None:
        """Rollout only: the mean squared error of every predicted step (None otherwise)."""
        if self.task.rollout_seen is None:
            return None
        error = np.square(self._target().astype(np.float64) - outputs.astype(np.float64))
        return [float(v) for v in np.mean(error, axis=tuple(i for i in range(error.ndim) if i != 1))]

    def labels(self, outputs: np.ndarray) -> np.ndarray | None:
        """The decision per example, for the agreement between two models (None: regression)."""
        return None if self.task.decide is None else self.task.decide(outputs)

    def agreement(self, outputs: np.ndarray, reference: np.ndarray) -> float | None:
        """Share of examples on which two models decide the same (None for a regression)."""
        mine, theirs = self.labels(outputs), self.labels(reference)
        if mine is None:
            return None
        same = mine == theirs
        return float(np.mean(same.reshape(len(same), -1).all(axis=1)))


def outputs(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, rollout_seen: int | None) -> np.ndarray:
    """``predict`` over the rows of ``x``: one call (``rollout_seen`` None), or a closed-loop
    rollout that gives the first ``rollout_seen`` steps and predicts each later one from the
    sequence so far (returns the predicted steps). Rows never influence each other, so the
    outputs of a split of ``x`` are the matching rows of the whole's."""
    if rollout_seen is None:
        return np.asarray(predict(x))
    sequence = x[:, :rollout_seen]
    predicted = []
    for _ in range(x.shape[1] - rollout_seen):
        nxt = np.asarray(predict(sequence))[:, -1:]
        predicted.append(nxt)
        sequence = np.concatenate([sequence, nxt], axis=1)
    return np.concatenate(predicted, axis=1)


def load(run_dir, *, data_dir=None, limit: int | None = None, seq_len: int | None = None,
         artifact=None) -> TestSet:
    """The test set of the run in ``run_dir`` (module docstring); ``limit`` keeps a seeded random
    sample of that many examples; ``seq_len`` (text) is the artifact's sequence length, and the
    vocabulary is checked against ``artifact`` when one is given (its manifest's record of
    ``vocab.txt`` and its embedding's rows)."""
    run_dir = Path(run_dir)
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise ValueError(f"{run_dir} has no config.json; is it a run directory of lowbit train?")
    from lowbit.deploy.export.convert import read_config

    config = read_config(config_path, keys=("task",))
    task = run_task(run_dir)
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be positive, got {limit}")
    if task.inputs is InputKind.TEXT:
        test = _text(task, run_dir, data_dir or config.get("data_dir"), seq_len, artifact)
    else:
        splits = task.load_data(data_dir or config.get("data_dir"), limit=config.get("limit"),
                                seed=config.get("seed", 0))
        if task.rollout_seen is not None:  # y is x shifted by one step: the whole sequence is both
            full = np.concatenate([splits.x_test[:, :1], splits.y_test], axis=1)
            test = TestSet(task, full, full)
        else:
            test = TestSet(task, splits.x_test, splits.y_test)
    if limit is not None and limit < len(test):  # a seeded sample: IMDB's test split is sorted by label
        keep = np.sort(np.random.default_rng(0).permutation(len(test))[:limit])
        test = TestSet(test.task, test.x[keep], test.truth[keep])
    return test


def _text(task: Task, run_dir: Path, data_dir, seq_len: int | None, artifact) -> TestSet:
    from lowbit.deploy.runtime import artifacts

    vocab_path = run_dir / "vocab.txt"
    if not vocab_path.is_file():
        raise ValueError(f"{run_dir} has no vocab.txt")
    if artifact is not None:
        vocab = artifacts.load_vocabulary(artifact, vocab_path)
    else:
        vocab = artifacts.read_vocabulary(vocab_path, artifacts.recorded_vocabulary(run_dir))
    texts, truth = task.load_test_texts(data_dir)
    return TestSet(task, vocab.sequences(texts, seq_len or task.max_tokens), truth)
