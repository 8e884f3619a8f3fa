"""A user's own data: an ``.npz`` of arrays, or a folder of labelled texts.

* **npz**: ``x_train``, ``y_train``, ``x_test``, ``y_test`` and optionally ``x_val``, ``y_val``
  (else :data:`~lowbit.pipeline.data.splits.VALIDATION_SHARE` of the training split is held out,
  a seeded random choice). Arrays of any numeric dtype; object arrays are refused (loading them
  would unpickle code). NaN or Inf anywhere, an empty split, or x and y of different lengths is a
  ``ValueError`` naming the array.
* **text folder**: ``DATA/{train,test}/<label>/*.txt`` (the IMDB tarball's layout), any number of
  labels (at least two), each one a non-empty folder in ``train``; ``test`` may lack a label but
  holds no label ``train`` has not. Label ids follow the sorted folder names; texts are read as
  UTF-8 (invalid bytes replaced), files in name order. The vocabulary comes from the training split
  only and the sequences are those of :mod:`lowbit.pipeline.data.text` (the Android app tokenizes
  identically). Two labels give float ``y`` in {0, 1} (a sigmoid output), more give int32 ids.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lowbit.pipeline.data.splits import VALIDATION_SHARE, Splits, seeded_subset
from lowbit.pipeline.data.text import Vocabulary

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
TEXT_SPLITS = ("train", "test")


def is_text_folder(path) -> bool:
    return Path(path).is_dir()


# --------------------------------------------------------------------------- npz


def npz_splits(path, *, seed: int = 0, limit: int | None = None) -> Splits:
    """The splits of an ``.npz`` file (module docstring); ``limit`` keeps a seeded random subset
    of that many training and test examples."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"data file {path} does not exist")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError("one array, not an archive of named arrays")
        with loaded as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path}: not an .npz archive of numeric arrays ({err}); save one with "
                         "numpy.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)") from None
    missing = [k for k in NPZ_KEYS if k not in arrays]
    if missing:
        raise ValueError(f"{path}: no {', '.join(missing)}; an .npz needs {', '.join(NPZ_KEYS)} "
                         f"(and optionally x_val, y_val); it holds {', '.join(sorted(arrays)) or 'nothing'}")
    if ("x_val" in arrays) != ("y_val" in arrays):
        raise ValueError(f"{path}: x_val and y_val come together; it holds only one of them")
    for key, array in arrays.items():
        _check_array(path, key, array)
    rng = np.random.default_rng(seed)
    x_train, y_train = _pair(path, arrays, "train")
    x_test, y_test = _pair(path, arrays, "test")
    train_idx = seeded_subset(len(x_train), limit, rng)
    test_idx = seeded_subset(len(x_test), limit, rng)
    x_train, y_train, x_test, y_test = x_train[train_idx], y_train[train_idx], x_test[test_idx], y_test[test_idx]
    if "x_val" in arrays:
        x_val, y_val = _pair(path, arrays, "val")
    else:
        if len(x_train) < 2:
            raise ValueError(f"{path}: {len(x_train)} training example(s); at least 2 are needed to hold "
                             "some out for validation (or give x_val, y_val)")
        n_val = max(1, int(round(len(x_train) * VALIDATION_SHARE)))
        x_val, y_val = x_train[:n_val], y_train[:n_val]  # already a seeded random order
        x_train, y_train = x_train[n_val:], y_train[n_val:]
    return Splits(x_train, y_train, x_val, y_val, x_test, y_test)


def _check_array(path: Path, key: str, array: np.ndarray) -> None:
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{path}: {key} has dtype {array.dtype}; lowbit takes numeric arrays")
    if array.ndim == 0:
        raise ValueError(f"{path}: {key} is a scalar, not an array of examples")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValueError(f"{path}: {key} holds {bad:,} NaN or infinite value(s); clean the data first")


def _pair(path: Path, arrays: dict, split: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
    if len(x) == 0:
        raise ValueError(f"{path}: x_{split} is empty")
    if len(x) != len(y):
        raise ValueError(f"{path}: x_{split} has {len(x):,} examples but y_{split} {len(y):,}")
    return x, y



# --------------------------------------------------------------------------- text folder


@dataclass(frozen=True)
class LabelledTexts:
    texts: list[str]
    label_ids: np.ndarray  # int32, index into the folder's labels


def text_labels(root) -> list[str]:
    """The label names of a text folder (its ``train`` subfolders, sorted), checked."""
    root = Path(root)
    for split in TEXT_SPLITS:
        if not (root / split).is_dir():
            raise ValueError(f"{root} has no {split}/ folder; a text corpus is "
                             f"{root}/{{train,test}}/<label>/*.txt")
    labels = sorted(p.name for p in (root / "train").iterdir() if p.is_dir())
    if len(labels) < 2:
        raise ValueError(f"{root}/train has {len(labels)} label folder(s) ({', '.join(labels) or 'none'}); "
                         "a classifier needs at least two")
    for label in labels:
        if not any((root / "train" / label).glob("*.txt")):
            raise ValueError(f"{root}/train/{label} holds no .txt file; every label needs training texts")
    unknown = sorted(p.name for p in (root / "test").iterdir() if p.is_dir() and p.name not in labels)
    if unknown:
        raise ValueError(f"{root}/test has label(s) {', '.join(unknown)} that train/ does not have")
    return labels


def read_texts(root, split: str, labels: list[str]) -> LabelledTexts:
    """Every text of one split, labels in ``labels``' order, files by name."""
    texts, ids = [], []
    for k, label in enumerate(labels):
        folder = Path(root) / split / label
        if not folder.is_dir():
            continue
        for file in sorted(folder.glob("*.txt")):
            texts.append(file.read_bytes().decode("utf-8", errors="replace"))
            ids.append(k)
    if not texts:
        raise ValueError(f"{root}/{split} holds no .txt file under any label folder")
    return LabelledTexts(texts, np.asarray(ids, np.int32))


def label_targets(label_ids: np.ndarray, n_labels: int) -> np.ndarray:
    """Training targets: float {0, 1} for two labels (sigmoid), int32 ids for more (softmax)."""
    return label_ids.astype(np.float32) if n_labels == 2 else label_ids.astype(np.int32)


def text_folder_splits(root, *, seed: int = 0, limit: int | None = None, vocab_size: int = 20_000,
                       max_tokens: int = 80) -> Splits:
    """Token sequences of a text folder (module docstring); ``vocab.txt`` is the run artifact."""
    if vocab_size <= 3 or max_tokens < 1:
        raise ValueError(f"vocabulary size must exceed 3 and max tokens be positive, got {vocab_size}, {max_tokens}")
    labels = text_labels(root)
    rng = np.random.default_rng(seed)
    train, test = read_texts(root, "train", labels), read_texts(root, "test", labels)
    train_idx, test_idx = seeded_subset(len(train.texts), limit, rng), seeded_subset(len(test.texts), limit, rng)
    train_texts = [train.texts[i] for i in train_idx]
    vocab = Vocabulary.build(train_texts, vocab_size)
    x = vocab.sequences(train_texts, max_tokens)
    y = label_targets(train.label_ids[train_idx], len(labels))
    if len(x) < 2:
        raise ValueError(f"{root}/train: {len(x)} text(s); at least 2 are needed")
    n_val = max(1, int(round(len(x) * VALIDATION_SHARE)))
    return Splits(
        x[n_val:], y[n_val:], x[:n_val], y[:n_val],
        vocab.sequences([test.texts[i] for i in test_idx], max_tokens),
        label_targets(test.label_ids[test_idx], len(labels)),
        artifacts={"vocab.txt": lambda path: vocab.save(Path(path))},
    )
