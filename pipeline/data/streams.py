"""Splits streamed with ``tf.data`` from record files, for data that does not fit in memory.

A stream folder holds each split's examples as TFRecord shards (``tf.train.Example``), example
``p`` of the split's seeded order in shard ``p % shards``, and ``meta.json`` (the counts, the
shard files and each split's :class:`~lowbit.pipeline.data.summaries.Summary`).
It is built once per key (the source file, seed, limit, vocabulary size and tokenizer rules) in a temporary folder
renamed into place, so concurrent builders (workers of one host) do not collide and a failed build
leaves nothing behind. Two kinds of records:

* :class:`TextRecords`: ``text`` (UTF-8 bytes) and ``label`` (int64), tokenized when read
  (:func:`tf_sequences`: the Python rules of :mod:`lowbit.pipeline.data.text`, run in the pipeline);
* :class:`TensorRecords`: ``x`` and ``y`` as the raw little-endian C-order bytes of one example.

:func:`imdb_streams` reads the IMDB tarball in two passes (headers, then texts, one review in
memory at a time); the **splits** and **vocabulary** are exactly those of
:func:`lowbit.pipeline.data.splits.imdb_splits` for the same ``seed`` and ``limit``. A user's
``.npz`` and text folder stream through :mod:`lowbit.pipeline.data.user` the same way.

:meth:`StreamedSplits.batches` reads a split back: shards in a seeded order, a shuffle buffer,
**global** batches, this worker's slice of each (rows ``[k*b, (k+1)*b)`` for worker ``k`` of
``n``, ``b = batch/n``), and only then the decoding. Every worker reads the same record stream
and decodes only its own slice; one process and ``n`` workers see the same global batches.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from lowbit.pipeline.data import imdb
from lowbit.pipeline.data.splits import selected_indices
from lowbit.pipeline.data.summaries import Summary, merge, of_arrays
from lowbit.pipeline.data.text import TOKENIZER, Vocabulary, tokenize

INPUTS = ("memory", "stream")  # lowbit train --input: arrays in memory, or these record files
FORMAT = 2  # of the stream folder; another format is built anew
SHUFFLE_BUFFER = 4_096  # examples (IMDB: raw reviews, ~5 MB)
SPLITS = ("train", "val", "test")
META = "meta.json"


@dataclass(frozen=True)
class RecordSplit:
    """One split's shards and how many examples they hold."""

    files: tuple[str, ...]
    count: int


@dataclass(frozen=True)
class TextRecords:
    """Records of a raw ``text`` and an int64 ``label``, read back as ``(int32 [rows, maxlen]
    token ids of vocabulary, label as label_dtype [rows])``."""

    vocabulary: Vocabulary
    maxlen: int
    label_dtype: str = "float32"  # float {0, 1} for a sigmoid, int32 class ids for a softmax

    @staticmethod
    def example(text: str, label: int) -> bytes:
        import tensorflow as tf

        return tf.train.Example(features=tf.train.Features(feature={
            "text": tf.train.Feature(bytes_list=tf.train.BytesList(value=[text.encode("utf-8")])),
            "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)]))})).SerializeToString()

    def decoder(self):
        """``serialized [rows] -> (x, y)``, in TensorFlow ops."""
        import tensorflow as tf

        vocabulary, maxlen, dtype = self.vocabulary, self.maxlen, tf.as_dtype(self.label_dtype)
        features = {"text": tf.io.FixedLenFeature([], tf.string), "label": tf.io.FixedLenFeature([], tf.int64)}

        def decode(serialized):
            parsed = tf.io.parse_example(serialized, features)
            return tf_sequences(parsed["text"], vocabulary, maxlen), tf.cast(parsed["label"], dtype)

        return decode

    def summary(self, stored: Summary) -> Summary:
        """A split's summary from the stored one (its labels): x is ``maxlen`` token ids, in the
        vocabulary's range (every id of the vocabulary occurs in the training texts)."""
        return replace(stored, x_shape=(self.maxlen,), x_kind="i", x_integral=True,
                       x_min=0 if stored.count else None,
                       x_max=len(self.vocabulary.tokens) - 1 if stored.count else None)


# numpy dtypes TensorFlow's decode_raw reads, and how other numeric ones are stored (exactly)
_STORED = {"uint32": "int64"}
_DECODABLE = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "float16", "float32", "float64")


def stored_dtype(dtype) -> np.dtype:
    """The dtype a tensor record stores values of ``dtype`` as: the same, in native byte order,
    uint32 widened to int64; ``ValueError`` for one TensorFlow cannot decode without loss (uint64)."""
    name = _STORED.get(np.dtype(dtype).name, np.dtype(dtype).name)
    if name not in _DECODABLE:
        raise ValueError(f"dtype {np.dtype(dtype).name} cannot be streamed (TensorFlow reads {', '.join(_DECODABLE)}); "
                         "convert it, or use --input memory")
    return np.dtype(name)


@dataclass(frozen=True)
class TensorRecords:
    """Records of one example's ``x`` and ``y`` as raw little-endian C-order bytes of
    :func:`stored_dtype` and the row shapes given, read back as ``(x [rows, *x_shape],
    y [rows, *y_shape])``."""

    x_dtype: str
    x_shape: tuple
    y_dtype: str
    y_shape: tuple

    def example(self, x_row: np.ndarray, y_row: np.ndarray) -> bytes:
        import tensorflow as tf

        raw = lambda a, dtype: np.ascontiguousarray(a, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()
        return tf.train.Example(features=tf.train.Features(feature={
            "x": tf.train.Feature(bytes_list=tf.train.BytesList(value=[raw(x_row, self.x_dtype)])),
            "y": tf.train.Feature(bytes_list=tf.train.BytesList(value=[raw(y_row, self.y_dtype)]))})).SerializeToString()

    def decoder(self):
        import tensorflow as tf

        features = {"x": tf.io.FixedLenFeature([], tf.string), "y": tf.io.FixedLenFeature([], tf.string)}
        x_dtype, y_dtype = tf.as_dtype(self.x_dtype), tf.as_dtype(self.y_dtype)
        x_shape, y_shape = [-1, *self.x_shape], [-1, *self.y_shape]

        def decode(serialized):
            parsed = tf.io.parse_example(serialized, features)
            return (tf.reshape(tf.io.decode_raw(parsed["x"], x_dtype), x_shape),
                    tf.reshape(tf.io.decode_raw(parsed["y"], y_dtype), y_shape))

        return decode

    def summary(self, stored: Summary) -> Summary:
        return stored

@dataclass
class StreamedSplits:
    """Train / validation / test as record shards, with how to decode them."""

    train: RecordSplit
    val: RecordSplit
    test: RecordSplit
    records: TextRecords | TensorRecords
    summaries: dict  # split -> Summary, measured while the records were written
    artifacts: dict = field(default_factory=dict)  # file name -> writer(path), saved with the run

    def split(self, name: str) -> RecordSplit:
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; valid choices: {', '.join(SPLITS)}")
        return getattr(self, name)

    def size(self, split: str) -> int:
        """How many examples ``split`` holds (as ``Splits.size``)."""
        return self.split(split).count

    def summary(self, split: str) -> Summary:
        """What ``split`` holds (as ``Splits.summary``)."""
        self.split(split)
        return self.records.summary(self.summaries[split])

    def batches(self, split: str, *, batch_size: int, shuffle_seed: int | None = None, worker: int = 0,
                workers: int = 1, drop_remainder: bool = False):
        """``tf.data.Dataset`` of ``(x, y)`` batches for ``split`` (as :attr:`records` decodes
        them): global batches of ``batch_size``, of which this ``worker`` (of ``workers``) gets
        rows ``[worker*b, (worker+1)*b)``, ``b = batch_size / workers`` (a last partial batch gives
        fewer rows, possibly none, unless dropped). ``shuffle_seed`` None: the shards' order.
        Every worker must use the same seed to see slices of the same global batches."""
        import tensorflow as tf

        if workers < 1 or not 0 <= worker < workers:
            raise ValueError(f"worker {worker} of {workers}: need 0 <= worker < workers")
        if batch_size % workers:
            raise ValueError(f"the batch size {batch_size} does not split evenly over {workers} workers; "
                             f"choose a multiple of {workers}")
        part = batch_size // workers
        files = tf.data.Dataset.from_tensor_slices(list(self.split(split).files))
        if shuffle_seed is not None:
            files = files.shuffle(len(self.split(split).files), seed=shuffle_seed)
        records = files.interleave(tf.data.TFRecordDataset, cycle_length=4)  # sequential: deterministic
        if shuffle_seed is not None:
            records = records.shuffle(SHUFFLE_BUFFER, seed=shuffle_seed + 1)
        decode = self.records.decoder()
        return (records.batch(batch_size, drop_remainder=drop_remainder)
                .map(lambda serialized: decode(serialized[worker * part:(worker + 1) * part]),
                     num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                .prefetch(2))


def stream_folder(prefix: str, identity: dict, cache=None) -> Path:
    """The cache folder of a stream: ``prefix`` and a digest of ``identity`` (the source and the
    options the records depend on) under ``cache`` (default: lowbit's cache, ``streams/``)."""
    from lowbit.pipeline.downloads import cache_dir

    key = hashlib.sha256(json.dumps({"format": FORMAT, "tokenizer": TOKENIZER, **identity},  # its vocab.txt
                                    sort_keys=True).encode()).hexdigest()[:20]
    return Path(cache or cache_dir() / "streams") / f"{prefix}-{key}"


def is_built(folder: Path) -> bool:
    return (Path(folder) / META).is_file()


def load(folder: Path, records, *, artifacts=None) -> StreamedSplits:
    """The streamed splits of a built ``folder``, decoded by ``records``."""
    meta = json.loads((Path(folder) / META).read_text())

    def split(name):
        return RecordSplit(tuple(str(Path(folder) / f) for f in meta["splits"][name]["files"]),
                           meta["splits"][name]["count"])

    return StreamedSplits(split("train"), split("val"), split("test"), records,
                          {s: Summary.from_json(meta["splits"][s]["summary"]) for s in SPLITS},
                          artifacts=artifacts or {})


class ShardWriter:
    """Writes a stream folder of ``sizes`` examples per split: :meth:`write` puts a serialized
    record in its shard, :meth:`summarize` adds examples to the split's summary; leaving the
    ``with`` block without an error writes ``meta.json`` and renames the folder into place, with
    one its contents are deleted. SIGTERM inside the block is such an error (exit status 143 after
    the cleanup; before, a terminated build left gigabytes in the cache), and a scratch folder of a
    builder that died unclean (SIGKILL, power loss) is removed by the next builder of that stream."""

    def __init__(self, folder: Path, sizes: dict):
        self.folder, self.sizes = Path(folder), dict(sizes)
        self.shards = {s: max(1, min(16, n // 1_000)) for s, n in self.sizes.items()}
        self.names = {s: [f"{s}-{k:05d}-of-{self.shards[s]:05d}.tfrecord" for k in range(self.shards[s])]
                      for s in self.sizes}
        self.scratch = self.folder.with_name(f"{self.folder.name}.tmp-{os.getpid()}")
        self.summaries: dict = {s: None for s in self.sizes}
        self.written: Counter = Counter()

    def __enter__(self):
        import tensorflow as tf

        for stale in self.folder.parent.glob(f"{self.folder.name}.tmp-*") if self.folder.parent.is_dir() else ():
            if not _alive(stale.name.rsplit("-", 1)[-1]):
                shutil.rmtree(stale, ignore_errors=True)
        shutil.rmtree(self.scratch, ignore_errors=True)
        self.scratch.mkdir(parents=True)
        self._terminate = _raise_on_sigterm()
        self.writers = {s: [tf.io.TFRecordWriter(str(self.scratch / n)) for n in self.names[s]] for s in self.sizes}
        return self

    def write(self, split: str, position: int, record: bytes) -> None:
        self.writers[split][position % self.shards[split]].write(record)
        self.written[split] += 1

    def summarize(self, split: str, x: np.ndarray, y: np.ndarray) -> None:
        """Add a chunk of ``split``'s examples to its summary."""
        self.summaries[split] = merge(self.summaries[split], of_arrays(x, y))

    def summarize_labels(self, split: str, label_ids, label_dtype: str) -> None:
        """A text split's summary: its labels (the texts are summarized by :class:`TextRecords`)."""
        y = np.asarray(label_ids, dtype=label_dtype)
        self.summarize(split, np.zeros((len(y), 0), np.int32), y)

    def __exit__(self, kind, err, tb):
        try:
            _restore_sigterm(self._terminate)
            for writers in self.writers.values():
                for writer in writers:
                    writer.close()
            if err is not None:
                return False
            if dict(self.written) != {s: n for s, n in self.sizes.items() if n} or None in self.summaries.values():
                raise RuntimeError(f"wrote {dict(self.written)} records, expected {self.sizes}, or a split "
                                   "was never summarized")
            (self.scratch / META).write_text(json.dumps({
                "format": FORMAT,
                "splits": {s: {"count": self.sizes[s], "files": self.names[s],
                               "summary": self.summaries[s].to_json()} for s in self.sizes}}, indent=2) + "\n")
            try:
                os.replace(self.scratch, self.folder)
            except OSError:  # another process built it first: theirs is the same
                if not is_built(self.folder):
                    raise
            return False
        finally:
            shutil.rmtree(self.scratch, ignore_errors=True)


def _alive(pid: str) -> bool:
    """Whether the process ``pid`` (a folder name's suffix) may still be running."""
    if not pid.isdigit():
        return True  # not one of ours: leave it
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _raise_on_sigterm():
    """Make SIGTERM raise ``SystemExit(143)`` here (so ``finally`` blocks run); the previous
    handler, or None off the main thread (where signals cannot be handled)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def terminate(signum, frame):
        raise SystemExit(128 + signum)

    return signal.signal(signal.SIGTERM, terminate)


def _restore_sigterm(previous) -> None:
    import signal

    if previous is not None:
        signal.signal(signal.SIGTERM, previous)


def imdb_streams(data_dir=None, *, limit: int | None = None, seed: int = 0, vocab_size: int = 20_000,
                 maxlen: int = 80, cache=None) -> StreamedSplits:
    """IMDB as record shards (built on first use, see the module docstring), same splits and
    vocabulary as ``imdb_splits(data_dir, limit=limit, seed=seed, vocab_size=vocab_size)``."""
    source = imdb.find_source(data_dir)
    stat = source.stat()
    folder = stream_folder("imdb", {"source": str(source.resolve()), "size": stat.st_size,
                                    "mtime_ns": stat.st_mtime_ns, "limit": limit, "seed": seed,
                                    "vocab_size": vocab_size}, cache)
    if not is_built(folder):
        _build_imdb(folder, source, limit=limit, seed=seed, vocab_size=vocab_size)
    vocabulary = Vocabulary.load(folder / "vocab.txt")
    return load(folder, TextRecords(vocabulary, maxlen),
                artifacts={"vocab.txt": lambda path: vocabulary.save(Path(path))})


def destinations(n_train: int, n_test: int, train_idx, test_idx, n_val: int) -> dict:
    """Where each example of the training and test sources goes, for a selection of
    :func:`~lowbit.pipeline.data.splits.selected_indices`: ``{source: (codes, positions)}``, one
    entry per example, code ``k`` for ``SPLITS[k]`` (-1: not selected) and its position in that
    split (its index in the in-memory loaders' arrays: the first ``n_val`` selected training
    examples are validation)."""
    train = (np.full(n_train, -1, np.int8), np.zeros(n_train, np.int64))
    test = (np.full(n_test, -1, np.int8), np.zeros(n_test, np.int64))
    p = np.arange(len(train_idx))
    train[0][train_idx], train[1][train_idx] = np.where(p < n_val, 1, 0), np.where(p < n_val, p, p - n_val)
    test[0][test_idx], test[1][test_idx] = 2, np.arange(len(test_idx))
    return {"train": train, "test": test}


def split_sizes(where: dict) -> dict:
    """``{split: examples}`` of :func:`destinations`' result."""
    return {s: int(sum(np.count_nonzero(codes == k) for codes, _ in where.values())) for k, s in enumerate(SPLITS)}


def split_positions(keys: dict, *, limit: int | None, seed: int) -> dict:
    """``{ReviewKey: (split, position)}`` for every review the run uses: the selection of
    ``splits.imdb_splits`` (position = index in that split's arrays)."""
    n_train, n_test = len(keys["train"]), len(keys["test"])
    where = destinations(n_train, n_test, *selected_indices(n_train, n_test, limit=limit, seed=seed))
    return {keys[source][i]: (SPLITS[codes[i]], int(positions[i]))
            for source, (codes, positions) in where.items() for i in np.flatnonzero(codes >= 0)}


def _build_imdb(folder: Path, source: Path, *, limit, seed, vocab_size) -> None:
    from tqdm import tqdm

    where = split_positions(imdb.review_keys(source), limit=limit, seed=seed)
    sizes = {s: sum(1 for split, _ in where.values() if split == s) for s in SPLITS}
    counts: Counter = Counter()
    with ShardWriter(folder, sizes) as out:
        for key, text in tqdm(imdb.read_reviews(source, lambda k: k in where), total=len(where),
                              desc="streaming reviews into records", unit="review", disable=None, leave=False):
            split, position = where[key]
            if split != "test":  # the vocabulary comes from the training subset (validation included)
                counts.update(tokenize(text))
            out.write(split, position, TextRecords.example(text, int(key.positive)))
        Vocabulary.from_counts(counts, vocab_size).save(out.scratch / "vocab.txt")
        for split in SPLITS:
            out.summarize_labels(split, [int(key.positive) for key, (s, _) in where.items() if s == split], "float32")


def tf_sequences(texts, vocabulary: Vocabulary, maxlen: int):
    """int32 ``[rows, maxlen]`` from a string tensor ``[rows]`` of UTF-8 texts: ``Vocabulary.sequences``
    itself, run by ``tf.numpy_function`` inside the input pipeline. Not TensorFlow string ops: the
    rules (NFC, simple lower case, letters of every script, single-character Han and kana) rest on
    Python's Unicode tables, which RE2's and ICU's would only approximate; invalid UTF-8 is
    replaced by U+FFFD as ``lowbit predict`` does."""
    import tensorflow as tf

    def sequences(batch: np.ndarray) -> np.ndarray:
        return vocabulary.sequences([t.decode("utf-8", errors="replace") for t in batch.reshape(-1)], maxlen)

    rows = tf.numpy_function(sequences, [texts], tf.int32, stateful=False)
    rows.set_shape([None, maxlen])
    return rows
