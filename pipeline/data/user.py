"""A user's own data: an ``.npz`` of arrays, or a folder of labelled texts.

* **npz**: ``x_train``, ``y_train``, ``x_test``, ``y_test`` and optionally ``x_val``, ``y_val``
  (else :data:`~lowbit.pipeline.data.splits.VALIDATION_SHARE` of the training split is held out,
  a seeded random choice). Arrays of any numeric dtype; object arrays are refused (loading them
  would unpickle code). NaN or Inf anywhere, an empty split, or x and y of different lengths is a
  ``ValueError`` naming the array.
* **text folder**: ``DATA/{train,test}/<label>/*.txt`` (the IMDB tarball's layout), any number of
  labels (at least two), each one a non-empty folder in ``train``; ``test`` may lack a label but
  holds no label ``train`` has not. Label ids follow the sorted folder names; files in name order.
  Refused in one line, before any text is used: a file, label folder or split folder that is a
  link leading outside the folder (its words would land in ``vocab.txt``); a file over
  ``max_text_mb`` (default :data:`MAX_TEXT_MB`; one file is one example, read whole); files that
  are not UTF-8 text (invalid UTF-8 or NUL bytes: binary), counted, the first ones named. The vocabulary comes from the training split
  only and the sequences are those of :mod:`lowbit.pipeline.data.text` (the Android app tokenizes
  identically). Two labels give float ``y`` in {0, 1} (a sigmoid output), more give int32 ids.

Both also stream (``--input stream``): :func:`npz_streams` and :func:`text_folder_streams` write
the same splits for the same ``seed`` and ``limit`` as record shards
(:mod:`lowbit.pipeline.data.streams`) without holding the data: an ``.npz`` is read member by
member in chunks of rows (C order; an array saved in Fortran order is refused), a text folder one
file at a time. The checks and their messages are those of the in-memory loaders.
"""

from __future__ import annotations

import hashlib
import math
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lowbit.pipeline.data import streams
from lowbit.pipeline.data.splits import Splits, selected_indices
from lowbit.pipeline.data.text import Vocabulary, tokenize

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
TEXT_SPLITS = ("train", "test")
MAX_TEXT_MB = 10  # per text file; --max-text-mb raises it


def is_text_folder(path) -> bool:
    return Path(path).is_dir()


# --------------------------------------------------------------------------- npz


def npz_splits(path, *, seed: int = 0, limit: int | None = None) -> Splits:
    """The splits of an ``.npz`` file (module docstring); ``limit`` keeps a seeded random subset
    of that many training and test examples."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"data file {path} does not exist")
    _check_fits_in_memory(path)
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError("one array, not an archive of named arrays")
        with loaded as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise _not_an_npz(path, err) from None
    _check_keys(path, arrays)
    for key, array in arrays.items():
        _check_kind(path, key, array.dtype, array.ndim)
        _check_finite(path, key, _non_finite(array))
    for split in _npz_splits(arrays):
        _check_pair(path, split, len(arrays[f"x_{split}"]), len(arrays[f"y_{split}"]))
    x_train, y_train, x_test, y_test = (arrays[k] for k in NPZ_KEYS)
    train_idx, test_idx, n_val = _npz_selection(path, len(x_train), len(x_test), "x_val" in arrays,
                                                limit=limit, seed=seed)
    x_train, y_train, x_test, y_test = x_train[train_idx], y_train[train_idx], x_test[test_idx], y_test[test_idx]
    if "x_val" in arrays:
        x_val, y_val = arrays["x_val"], arrays["y_val"]
    else:  # the training subset is already in a seeded random order
        x_val, y_val, x_train, y_train = x_train[:n_val], y_train[:n_val], x_train[n_val:], y_train[n_val:]
    return Splits(x_train, y_train, x_val, y_val, x_test, y_test)


# Peak resident memory of npz_splits per byte its arrays declare (measured: a 6.9 MB .npz declaring
# 1.5 GB took 5.1 GB: the arrays, the seeded selection's copies, the split).
LOAD_PEAK_FACTOR = 3.5


def _check_fits_in_memory(path: Path) -> None:
    """``ValueError`` before loading when the arrays ``path`` declares would need more memory at
    the peak of loading than the machine has available (a small, well-compressed file can declare
    gigabytes); a file whose headers cannot be read is left to ``np.load``'s message."""
    try:
        headers = npz_headers(path)
    except ValueError:
        return
    declared = sum(int(np.prod(h.shape, dtype=np.int64)) * h.dtype.itemsize for h in headers.values())
    available = available_memory()
    if available is not None and declared * LOAD_PEAK_FACTOR > available:
        raise ValueError(f"{path}: its arrays hold {_size(declared)}, about {_size(declared * LOAD_PEAK_FACTOR)} at "
                         f"the peak of loading them, more than the {_size(available)} this machine has available; "
                         "use --input stream (reads the file in chunks of rows)")


def _size(n: float) -> str:
    return f"{n / 1e9:,.2f} GB" if n >= 1e9 else f"{n / 1e6:,.1f} MB"


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux' MemAvailable), None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _not_an_npz(path: Path, err: Exception) -> ValueError:
    return ValueError(f"{path}: not an .npz archive of numeric arrays ({err}); save one with "
                      "numpy.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)")


def _check_keys(path: Path, keys) -> None:
    missing = [k for k in NPZ_KEYS if k not in keys]
    if missing:
        raise ValueError(f"{path}: no {', '.join(missing)}; an .npz needs {', '.join(NPZ_KEYS)} "
                         f"(and optionally x_val, y_val); it holds {', '.join(sorted(keys)) or 'nothing'}")
    if ("x_val" in keys) != ("y_val" in keys):
        raise ValueError(f"{path}: x_val and y_val come together; it holds only one of them")


def _npz_splits(keys) -> tuple[str, ...]:
    return ("train", "test", "val") if "x_val" in keys else ("train", "test")


def _npz_selection(path: Path, n_train: int, n_test: int, has_val: bool, *, limit, seed) -> tuple:
    """``selected_indices``, with an error when no validation examples can be held out."""
    train_idx, test_idx, n_val = selected_indices(n_train, n_test, limit=limit, seed=seed)
    if not has_val and len(train_idx) < 2:
        raise ValueError(f"{path}: {len(train_idx)} training example(s); at least 2 are needed to hold "
                         "some out for validation (or give x_val, y_val)")
    return train_idx, test_idx, (0 if has_val else n_val)


def _check_kind(path: Path, key: str, dtype: np.dtype, ndim: int) -> None:
    if dtype.kind not in "biuf":
        raise ValueError(f"{path}: {key} has dtype {dtype}; lowbit takes numeric arrays")
    if ndim == 0:
        raise ValueError(f"{path}: {key} is a scalar, not an array of examples")


def _non_finite(array: np.ndarray) -> int:
    return 0 if array.dtype.kind != "f" else int(np.size(array) - np.count_nonzero(np.isfinite(array)))


def _check_finite(path: Path, key: str, bad: int) -> None:
    if bad:
        raise ValueError(f"{path}: {key} holds {bad:,} NaN or infinite value(s); clean the data first")


def _check_pair(path: Path, split: str, n_x: int, n_y: int) -> None:
    if n_x == 0:
        raise ValueError(f"{path}: x_{split} is empty")
    if n_x != n_y:
        raise ValueError(f"{path}: x_{split} has {n_x:,} examples but y_{split} {n_y:,}")


# --------------------------------------------------------------------------- npz, streamed

CHUNK_BYTES = 1 << 24  # rows read from an .npz member at a time (16 MiB of x and y)


@dataclass(frozen=True)
class NpyHeader:
    """An ``.npz`` member's array, as its ``.npy`` header describes it."""

    key: str
    shape: tuple
    dtype: np.dtype
    fortran_order: bool

    @property
    def row_bytes(self) -> int:
        return self.dtype.itemsize * math.prod(self.shape[1:])


def npz_headers(path) -> dict:
    """``{key: NpyHeader}`` of an ``.npz`` file's arrays, read without reading the arrays."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"data file {path} does not exist")
    try:
        with zipfile.ZipFile(path) as archive:
            return {info.filename[:-4]: _header(archive, info.filename)
                    for info in archive.infolist() if info.filename.endswith(".npy")}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise _not_an_npz(path, err) from None


def _header(archive: zipfile.ZipFile, member: str) -> NpyHeader:
    with archive.open(member) as file:
        shape, fortran_order, dtype = _read_header(file)
    return NpyHeader(member[:-4], tuple(shape), np.dtype(dtype), bool(fortran_order))


def _read_header(file) -> tuple:
    version = np.lib.format.read_magic(file)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(file)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(file)
    raise ValueError(f".npy format version {version[0]}.{version[1]} (lowbit streams 1.0 and 2.0)")


def _chunks(archive: zipfile.ZipFile, path: Path, header: NpyHeader, rows: int):
    """The member's rows, ``rows`` at a time, as arrays in its dtype."""
    with archive.open(header.key + ".npy") as file:
        _read_header(file)
        for start in range(0, header.shape[0], rows):
            n = min(rows, header.shape[0] - start)
            data = file.read(n * header.row_bytes)
            if len(data) != n * header.row_bytes:
                raise ValueError(f"{path}: {header.key} ends after {start:,} of {header.shape[0]:,} rows (truncated)")
            yield np.frombuffer(data, header.dtype).reshape(n, *header.shape[1:])


def npz_streams(path, *, seed: int = 0, limit: int | None = None, cache=None) -> "streams.StreamedSplits":
    """The splits of ``npz_splits(path, seed=seed, limit=limit)`` as record shards (module
    docstring), built on first use into lowbit's cache (or ``cache``)."""
    path = Path(path)
    headers = npz_headers(path)
    _check_keys(path, headers)
    for key, header in headers.items():
        _check_kind(path, key, header.dtype, len(header.shape))
        if header.fortran_order and len(header.shape) > 1:
            raise ValueError(f"{path}: {key} is saved in Fortran order and cannot be read row by row; save "
                             "numpy.ascontiguousarray of it, or use --input memory")
    sources = _npz_splits(headers)
    for split in sources:
        _check_pair(path, split, headers[f"x_{split}"].shape[0], headers[f"y_{split}"].shape[0])
    records = streams.TensorRecords(*_one_layout(path, headers, "x", sources), *_one_layout(path, headers, "y", sources))
    stat = path.stat()
    folder = streams.stream_folder("npz", {"source": str(path.resolve()), "size": stat.st_size,
                                           "mtime_ns": stat.st_mtime_ns, "limit": limit, "seed": seed}, cache)
    if not streams.is_built(folder):
        train_idx, test_idx, n_val = _npz_selection(path, headers["x_train"].shape[0], headers["x_test"].shape[0],
                                                    "x_val" in headers, limit=limit, seed=seed)
        _build_npz(folder, path, headers, records, _destinations(headers, train_idx, test_idx, n_val))
    return streams.load(folder, records)


def _one_layout(path: Path, headers: dict, axis: str, sources) -> tuple[str, tuple]:
    """The stored dtype and row shape of every split's ``axis`` ("x" or "y") array."""
    arrays = [headers[f"{axis}_{s}"] for s in sources]
    shapes = {a.shape[1:] for a in arrays}
    if len(shapes) > 1:
        each = ", ".join(f"{a.key} {a.shape[1:]}" for a in arrays)
        raise ValueError(f"{path}: the {axis} arrays have rows of different shapes ({each}); "
                         "a stream needs one shape, or use --input memory")
    try:
        stored = [streams.stored_dtype(a.dtype) for a in arrays]
    except ValueError as err:
        raise ValueError(f"{path}: {axis}: {err}") from None
    return np.result_type(*stored).name, shapes.pop()


def _destinations(headers: dict, train_idx, test_idx, n_val: int) -> dict:
    """:func:`streams.destinations` of the ``.npz``'s rows, with its own validation split (all
    of it, in order) when it has one."""
    where = streams.destinations(headers["x_train"].shape[0], headers["x_test"].shape[0], train_idx, test_idx, n_val)
    if "x_val" in headers:
        n = headers["x_val"].shape[0]
        where["val"] = (np.full(n, streams.SPLITS.index("val"), np.int8), np.arange(n))
    return where


def _build_npz(folder: Path, path: Path, headers: dict, records, destinations: dict) -> None:
    from tqdm import tqdm

    total = sum(headers[f"x_{s}"].shape[0] for s in destinations)
    with streams.ShardWriter(folder, streams.split_sizes(destinations)) as out, zipfile.ZipFile(path) as archive, \
            tqdm(total=total, desc="streaming arrays into records", unit="example", disable=None, leave=False) as bar:
        for source, (codes, positions) in destinations.items():
            hx, hy = headers[f"x_{source}"], headers[f"y_{source}"]
            rows = max(1, CHUNK_BYTES // max(1, hx.row_bytes + hy.row_bytes))
            bad = {hx.key: 0, hy.key: 0}
            start = 0
            for x, y in zip(_chunks(archive, path, hx, rows), _chunks(archive, path, hy, rows)):
                bad[hx.key] += _non_finite(x)
                bad[hy.key] += _non_finite(y)
                code, position = codes[start:start + len(x)], positions[start:start + len(x)]
                for k, split in enumerate(streams.SPLITS):
                    mine = np.flatnonzero(code == k)
                    if len(mine):
                        out.summarize(split, x[mine], y[mine])
                    for j in mine:
                        out.write(split, int(position[j]), records.example(x[j], y[j]))
                start += len(x)
                bar.update(len(x))
            for key, count in bad.items():
                _check_finite(path, key, count)



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
        _check_inside(root, root / split)
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


def text_files(root, split: str, labels: list[str], *, max_text_mb: float | None = None) -> list[tuple[Path, int]]:
    """``(file, label id)`` of every text of one split, labels in ``labels``' order, files by name;
    ``ValueError`` for a link leading outside ``root`` and for a file over ``max_text_mb`` (None:
    :data:`MAX_TEXT_MB`)."""
    root = Path(root)
    inside, max_text_mb = root.resolve(), MAX_TEXT_MB if max_text_mb is None else max_text_mb
    files = []
    for k, label in enumerate(labels):
        folder = root / split / label
        if folder.is_dir():
            _check_inside(root, folder, inside)
            for file in sorted(folder.glob("*.txt")):
                _check_inside(root, file, inside)
                size = file.stat().st_size
                if size > max_text_mb * 1e6:
                    raise ValueError(f"{file}: {size:,} bytes, over the {max_text_mb:g} MB limit for one text "
                                     "(each file is one example, read whole); split it into texts, or raise "
                                     "--max-text-mb")
                files.append((file, k))
    if not files:
        raise ValueError(f"{root}/{split} holds no .txt file under any label folder")
    return files


def _check_inside(root: Path, path: Path, inside: Path | None = None) -> None:
    """``ValueError`` unless ``path`` (through any links) lies inside ``root`` (through its own;
    ``inside``: ``root`` resolved already)."""
    target = path.resolve()
    if not target.is_relative_to(inside or root.resolve()):
        raise ValueError(f"{path}: a link to {target}, outside {root}; lowbit reads only what lies in the data "
                         "folder (copy the file in instead)")


class NotText(ValueError):
    """A file of a text folder that is not UTF-8 text."""


def read_text(file: Path) -> str:
    """The UTF-8 text of ``file``; :class:`NotText` for invalid UTF-8 or a NUL byte (binary data)."""
    raw = file.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise NotText(f"invalid UTF-8 at byte {err.start:,}") from None
    if "\x00" in text:
        raise NotText(f"a NUL byte at character {text.index(chr(0)):,} (binary data)")
    return text


class TextReader:
    """Reads the texts of a folder one by one and collects the files that are not text, so that
    one error can name them all (:meth:`check`) instead of the first alone."""

    SHOWN = 3

    def __init__(self, root):
        self.root = Path(root)
        self.rejected: list[tuple[Path, str]] = []

    def read(self, file: Path) -> str:
        try:
            return read_text(file)
        except NotText as err:
            self.rejected.append((file, str(err)))
            return ""

    def check(self) -> None:
        """``ValueError`` naming the count and the first files that were not text, if any."""
        if self.rejected:
            shown = "; ".join(f"{file.relative_to(self.root)} ({why})" for file, why in self.rejected[:self.SHOWN])
            more = f" and {len(self.rejected) - self.SHOWN:,} more" if len(self.rejected) > self.SHOWN else ""
            raise ValueError(f"{self.root}: {len(self.rejected):,} file(s) are not UTF-8 text: {shown}{more}; "
                             "convert them to UTF-8 (iconv -f latin1 -t utf-8) or remove them")


def read_texts(root, split: str, labels: list[str], *, max_text_mb: float | None = None) -> LabelledTexts:
    """Every text of one split (:func:`text_files`' order); ``ValueError`` for files that are not text."""
    return _read_texts(root, text_files(root, split, labels, max_text_mb=max_text_mb))


def _read_texts(root, files: list[tuple[Path, int]]) -> LabelledTexts:
    reader = TextReader(root)
    texts = [reader.read(file) for file, _ in files]
    reader.check()
    return LabelledTexts(texts, np.asarray([k for _, k in files], np.int32))


def label_targets(label_ids: np.ndarray, n_labels: int) -> np.ndarray:
    """Training targets: float {0, 1} for two labels (sigmoid), int32 ids for more (softmax)."""
    return label_ids.astype(np.float32) if n_labels == 2 else label_ids.astype(np.int32)


def text_folder_splits(root, *, seed: int = 0, limit: int | None = None, vocab_size: int = 20_000,
                       max_tokens: int = 80, max_text_mb: float | None = None) -> Splits:
    """Token sequences of a text folder (module docstring); ``vocab.txt`` is the run artifact."""
    _check_text_options(vocab_size, max_tokens)
    labels = text_labels(root)
    # every link and size of both splits checked before the first text is read
    files = {split: text_files(root, split, labels, max_text_mb=max_text_mb) for split in TEXT_SPLITS}
    train, test = (_read_texts(root, files[split]) for split in TEXT_SPLITS)
    train_idx, test_idx, n_val = _text_selection(root, len(train.texts), len(test.texts), limit=limit, seed=seed)
    train_texts = [train.texts[i] for i in train_idx]
    vocab = Vocabulary.build(train_texts, vocab_size)
    x = vocab.sequences(train_texts, max_tokens)
    y = label_targets(train.label_ids[train_idx], len(labels))
    return Splits(
        x[n_val:], y[n_val:], x[:n_val], y[:n_val],
        vocab.sequences([test.texts[i] for i in test_idx], max_tokens),
        label_targets(test.label_ids[test_idx], len(labels)),
        artifacts={"vocab.txt": lambda path: vocab.save(Path(path))},
    )


def _check_text_options(vocab_size: int, max_tokens: int) -> None:
    if vocab_size <= 3 or max_tokens < 1:
        raise ValueError(f"vocabulary size must exceed 3 and max tokens be positive, got {vocab_size}, {max_tokens}")


def _text_selection(root, n_train: int, n_test: int, *, limit, seed) -> tuple:
    train_idx, test_idx, n_val = selected_indices(n_train, n_test, limit=limit, seed=seed)
    if len(train_idx) < 2:
        raise ValueError(f"{root}/train: {len(train_idx)} text(s); at least 2 are needed")
    return train_idx, test_idx, n_val


# --------------------------------------------------------------------------- text folder, streamed


def text_folder_streams(root, *, seed: int = 0, limit: int | None = None, vocab_size: int = 20_000,
                        max_tokens: int = 80, max_text_mb: float | None = None, cache=None) -> "streams.StreamedSplits":
    """The splits and vocabulary of ``text_folder_splits`` with the same arguments, as record
    shards of the raw texts (tokenized when read), built on first use into lowbit's cache (or
    ``cache``), keyed by the folder's listing (every file's name, size and modification time)."""
    _check_text_options(vocab_size, max_tokens)
    labels = text_labels(root)
    files = {split: text_files(root, split, labels, max_text_mb=max_text_mb) for split in TEXT_SPLITS}
    listing = hashlib.sha256()
    for split, items in files.items():
        for file, k in items:
            stat = file.stat()
            listing.update(f"{file.relative_to(root)}\t{k}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    folder = streams.stream_folder("texts", {"source": str(Path(root).resolve()), "listing": listing.hexdigest(),
                                             "limit": limit, "seed": seed, "vocab_size": vocab_size}, cache)
    label_dtype = "float32" if len(labels) == 2 else "int32"
    if not streams.is_built(folder):
        n_train, n_test = len(files["train"]), len(files["test"])
        where = streams.destinations(n_train, n_test, *_text_selection(root, n_train, n_test, limit=limit, seed=seed))
        _build_texts(folder, files, where, vocab_size=vocab_size, label_dtype=label_dtype, root=root)
    vocabulary = Vocabulary.load(folder / "vocab.txt")
    return streams.load(folder, streams.TextRecords(vocabulary, max_tokens, label_dtype),
                        artifacts={"vocab.txt": lambda path: vocabulary.save(Path(path))})


def _build_texts(folder: Path, files: dict, where: dict, *, vocab_size: int, label_dtype: str, root) -> None:
    """Each selected text (``where``: :func:`streams.destinations`) read once, in the folder's
    order, into its split's shard; the vocabulary from the training and validation texts. Files
    that are not text fail the build (nothing is left in the cache) with one error naming them."""
    reader = TextReader(root)
    from tqdm import tqdm

    sizes = streams.split_sizes(where)
    counts: Counter = Counter()
    labels: dict = {s: [] for s in streams.SPLITS}
    with streams.ShardWriter(folder, sizes) as out, \
            tqdm(total=sum(sizes.values()), desc="streaming texts into records", unit="text", disable=None,
                 leave=False) as bar:
        for source, (codes, positions) in where.items():
            for i in np.flatnonzero(codes >= 0):
                (file, k), split = files[source][i], streams.SPLITS[codes[i]]
                text = reader.read(file)
                if split != "test":
                    counts.update(tokenize(text))
                out.write(split, int(positions[i]), streams.TextRecords.example(text, k))
                labels[split].append(k)
                bar.update()
        reader.check()
        Vocabulary.from_counts(counts, vocab_size).save(out.scratch / "vocab.txt")
        for split in streams.SPLITS:
            out.summarize_labels(split, labels[split], label_dtype)
