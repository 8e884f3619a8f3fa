"""The test split of a trained run's task, the way a deployed artifact sees it, and its measure.

:func:`load` gives a :class:`TestSet` for a run directory:

* ``imdb-*``: the 25,000 test reviews of the raw dataset, tokenized with the run's own
  ``vocab.txt`` into int32 sequences of the artifact's length; measure: accuracy of
  ``score > 0.5``; labels (for agreement): that decision.
* ``summation-*``: the run's generated test problems (same seed and limit as training, so never
  one of its training questions), one-hot float32; measure: exact-match accuracy of the decoded
  answer; labels: the decoded answer per problem.
* ``frames-*``: the run's moving-MNIST test sequences; the first ``SEEN`` frames are given and
  every later frame is predicted from the sequence so far, each prediction fed back (paper
  eq. 25); measure: MSE over the predicted frames (per frame in :meth:`TestSet.per_frame`);
  no labels (agreement is not defined for a regression).

``TestSet.outputs(predict)`` runs any batched forward function (a runtime's
:meth:`~lowbit.deploy.runtime.runtimes.Runner.predict` or a Keras model's ``predict``) over the whole set, so
the artifact and the Keras model are measured on exactly the same inputs.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

METRICS = {"imdb": "accuracy", "summation": "exact_match", "frames": "mse"}


@dataclass
class TestSet:
    task: str
    x: np.ndarray  # what the model is fed (frames: the full sequences, of which SEEN are given)
    truth: np.ndarray

    @property
    def family(self) -> str:
        return self.task.split("-")[0]

    @property
    def metric(self) -> str:
        return METRICS[self.family]

    @property
    def higher_is_better(self) -> bool:
        return self.metric != "mse"

    def __len__(self) -> int:
        return len(self.x)

    def sample_input(self, i: int = 0) -> np.ndarray:
        """One model input (batch of 1), as the latency benchmarks feed it."""
        if self.family == "frames":
            from lowbit.pipeline.data.moving_mnist import SEEN

            return self.x[i:i + 1, :SEEN]
        return self.x[i:i + 1]

    def outputs(self, predict: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """The model's outputs on the whole set (frames: the predicted frames)."""
        if self.family != "frames":
            return np.asarray(predict(self.x))
        from lowbit.pipeline.data.moving_mnist import SEEN

        sequence = self.x[:, :SEEN]
        predicted = []
        for _ in range(self.x.shape[1] - SEEN):
            nxt = np.asarray(predict(sequence))[:, -1:]
            predicted.append(nxt)
            sequence = np.concatenate([sequence, nxt], axis=1)
        return np.concatenate(predicted, axis=1)

    def value(self, outputs: np.ndarray) -> float:
        if self.family == "imdb":
            return float(np.mean((outputs.reshape(-1) > 0.5) == (self.truth > 0.5)))
        if self.family == "summation":
            from lowbit.pipeline.data.summation import exact_match

            return exact_match(self.truth, outputs)
        return float(np.mean(self.per_frame(outputs)))

    def per_frame(self, outputs: np.ndarray) -> list[float]:
        """Frames only: MSE of every predicted frame."""
        from lowbit.pipeline.data.moving_mnist import SEEN, mse_per_frame

        return [float(v) for v in mse_per_frame(self.x[:, SEEN:], outputs)]

    def labels(self, outputs: np.ndarray) -> np.ndarray | None:
        """The decision per example, for the agreement between two models (None: regression)."""
        if self.family == "imdb":
            return outputs.reshape(-1) > 0.5
        if self.family == "summation":
            return np.argmax(outputs, axis=-1)
        return None

    def agreement(self, outputs: np.ndarray, reference: np.ndarray) -> float | None:
        """Share of examples on which two models decide the same (None for frames)."""
        mine, theirs = self.labels(outputs), self.labels(reference)
        if mine is None:
            return None
        same = mine == theirs
        return float(np.mean(same.reshape(len(same), -1).all(axis=1)))


def load(run_dir, *, data_dir=None, limit: int | None = None, seq_len: int | None = None) -> TestSet:
    """The test set of the run in ``run_dir`` (module docstring); ``limit`` keeps a seeded random
    sample of that many examples; ``seq_len`` (IMDB) is the artifact's sequence length."""
    run_dir = Path(run_dir)
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise ValueError(f"{run_dir} has no config.json; is it a run directory of lowbit train?")
    config = json.loads(config_path.read_text())
    task = config["task"]
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be positive, got {limit}")
    if task.startswith("imdb-"):
        test = _imdb(task, run_dir, data_dir or config.get("data_dir"), seq_len)
    else:
        from lowbit import models

        splits = models.get_task(task).load_data(data_dir or config.get("data_dir"),
                                                 limit=config.get("limit"), seed=config.get("seed", 0))
        if task.startswith("frames-"):
            full = np.concatenate([splits.x_test[:, :1], splits.y_test], axis=1)
            test = TestSet(task, full, full)
        else:
            test = TestSet(task, splits.x_test, splits.y_test)
    if limit is not None and limit < len(test):  # a seeded sample: IMDB's test split is sorted by label
        keep = np.sort(np.random.default_rng(0).permutation(len(test))[:limit])
        test = TestSet(test.task, test.x[keep], test.truth[keep])
    return test


@functools.lru_cache(maxsize=2)
def _test_reviews(source: Path):
    """The raw test reviews, read once per source: evaluating several runs needs them each time."""
    from lowbit.pipeline.data import imdb

    return imdb.load(source, splits=("test",))["test"]


def _imdb(task: str, run_dir: Path, data_dir, seq_len: int | None) -> TestSet:
    from lowbit.models.imdb import MAXLEN
    from lowbit.pipeline.data import imdb
    from lowbit.pipeline.data.text import Vocabulary

    vocab_path = run_dir / "vocab.txt"
    if not vocab_path.is_file():
        raise ValueError(f"{run_dir} has no vocab.txt")
    vocab = Vocabulary.load(vocab_path)
    reviews = _test_reviews(imdb.find_source(data_dir))
    x = vocab.sequences(reviews.texts, seq_len or MAXLEN)
    return TestSet(task, x, reviews.labels.astype(np.float32))
