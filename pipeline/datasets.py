"""Train / validation / test arrays per task, ready for ``model.fit``.

The validation split is held out of the *training* data (seeded), never taken from the test set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline import imdb
from pipeline.text import Vocabulary

VALIDATION_SHARE = 0.1


@dataclass
class Splits:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    artifacts: dict = field(default_factory=dict)  # file name -> writer(path), saved with the run


def _subset(n: int, limit: int | None, rng: np.random.Generator) -> np.ndarray:
    order = rng.permutation(n)
    return order if limit is None else order[:limit]


def imdb_splits(data_dir=None, *, limit: int | None = None, seed: int = 0,
                vocab_size: int = 20_000, maxlen: int = 80) -> Splits:
    """IMDB as int32 token sequences; the vocabulary comes from the training split only.

    ``limit`` keeps a seeded random subset of that many training and test reviews.
    """
    data = imdb.load(data_dir)
    rng = np.random.default_rng(seed)
    train_idx = _subset(len(data["train"]), limit, rng)
    test_idx = _subset(len(data["test"]), limit, rng)
    train_texts = [data["train"].texts[i] for i in train_idx]
    vocab = Vocabulary.build(train_texts, vocab_size)
    x = vocab.sequences(train_texts, maxlen)
    y = data["train"].labels[train_idx].astype(np.float32)
    n_val = max(1, int(round(len(x) * VALIDATION_SHARE)))
    return Splits(
        x[n_val:], y[n_val:], x[:n_val], y[:n_val],
        vocab.sequences([data["test"].texts[i] for i in test_idx], maxlen),
        data["test"].labels[test_idx].astype(np.float32),
        artifacts={"vocab.txt": lambda path: vocab.save(Path(path))},
    )
