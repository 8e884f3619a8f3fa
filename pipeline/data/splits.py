"""Train / validation / test arrays per task, ready for ``model.fit``.

The validation split is held out of the *training* data (seeded), never taken from the test set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lowbit.pipeline.data import imdb, moving_mnist, summation
from lowbit.pipeline.data.summaries import Summary, of_arrays
from lowbit.pipeline.data.text import Vocabulary

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

    def size(self, split: str) -> int:
        """How many examples ``split`` ("train", "val" or "test") holds."""
        return int(len(getattr(self, f"x_{split}")))

    def summary(self, split: str) -> Summary:
        """What ``split``'s arrays hold (:mod:`lowbit.pipeline.data.summaries`)."""
        return of_arrays(getattr(self, f"x_{split}"), getattr(self, f"y_{split}"))


def seeded_subset(n: int, limit: int | None, rng: np.random.Generator) -> np.ndarray:
    order = rng.permutation(n)
    return order if limit is None else order[:limit]


def selected_indices(n_train: int, n_test: int, *, limit: int | None, seed: int) -> tuple:
    """The selection for ``seed`` of IMDB and of a user's data: ``(train_idx, test_idx, n_val)``,
    seeded permutations of the training and test examples (the first ``limit`` of each kept), of
    which the first ``n_val`` training ones are held out for validation (when the data has no
    validation split of its own). Shared by the in-memory and streamed loaders."""
    rng = np.random.default_rng(seed)
    train_idx = seeded_subset(n_train, limit, rng)
    test_idx = seeded_subset(n_test, limit, rng)
    return train_idx, test_idx, max(1, int(round(len(train_idx) * VALIDATION_SHARE)))


def imdb_splits(data_dir=None, *, limit: int | None = None, seed: int = 0,
                vocab_size: int = 20_000, maxlen: int = 80) -> Splits:
    """IMDB as int32 token sequences; the vocabulary comes from the training split only.

    ``limit`` keeps a seeded random subset of that many training and test reviews.
    """
    data = imdb.load(data_dir)
    train_idx, test_idx, n_val = selected_indices(len(data["train"]), len(data["test"]), limit=limit, seed=seed)
    train_texts = [data["train"].texts[i] for i in train_idx]
    vocab = Vocabulary.build(train_texts, vocab_size)
    x = vocab.sequences(train_texts, maxlen)
    y = data["train"].labels[train_idx].astype(np.float32)
    return Splits(
        x[n_val:], y[n_val:], x[:n_val], y[:n_val],
        vocab.sequences([data["test"].texts[i] for i in test_idx], maxlen),
        data["test"].labels[test_idx].astype(np.float32),
        artifacts={"vocab.txt": lambda path: vocab.save(Path(path))},
    )


def summation_splits(data_dir=None, *, limit: int | None = None, seed: int = 0,
                     digits: int = summation.DIGITS, n_train: int = 20_000, n_test: int = 5_000) -> Splits:
    """Generated addition problems, one-hot: x ``(n, 2*digits+1, 12)``, y ``(n, digits+1, 12)``.

    Train, validation and test questions are distinct. ``data_dir`` is unused (nothing to load);
    ``limit`` caps the number of training and test problems.
    """
    n_train = min(n_train, limit or n_train)
    n_test = min(n_test, limit or n_test)
    n_val = max(1, int(round(n_train * VALIDATION_SHARE)))
    pairs = summation.problems(n_train + n_test, digits=digits, seed=seed)
    q_len, a_len = summation.question_length(digits), summation.answer_length(digits)
    x = summation.encode(summation.questions(pairs, digits), q_len)
    y = summation.encode(summation.answers(pairs, digits), a_len)
    return Splits(x[n_val:n_train], y[n_val:n_train], x[:n_val], y[:n_val], x[n_train:], y[n_train:])


TEST_SEED = 2_000_003  # frames_splits' test sequences, whatever the run's seed (seed 0's before)


def frames_splits(data_dir=None, *, limit: int | None = None, seed: int = 0,
                  canvas: int = moving_mnist.CANVAS, frames: int = moving_mnist.FRAMES,
                  n_train: int = 2_000, n_test: int = 200) -> Splits:
    """Moving MNIST for next-frame prediction: x = frames 1..T-1, y = frames 2..T.

    ``limit`` caps the number of training and test sequences; validation is a tenth of the
    training count, drawn from training digits with its own seed. The test sequences do not depend
    on ``seed`` (results over seeds are measured on the same frames).
    """
    digits = moving_mnist.load_digits(data_dir)
    n_train = min(n_train, limit or n_train)
    n_test = min(n_test, limit or n_test)
    n_val = max(1, int(round(n_train * VALIDATION_SHARE)))
    make = lambda images, n, s: moving_mnist.sequences(images, n, frames=frames, canvas=canvas, seed=s)
    train = make(digits["train"], n_train - n_val, seed)
    val = make(digits["train"], n_val, seed + 1_000_003)
    test = make(digits["test"], n_test, TEST_SEED)
    return Splits(train[:, :-1], train[:, 1:], val[:, :-1], val[:, 1:], test[:, :-1], test[:, 1:])
