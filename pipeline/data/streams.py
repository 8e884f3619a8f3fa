"""IMDB reviews streamed with ``tf.data`` from record files, for corpora that do not fit in memory.

:func:`imdb_streams` makes two passes over the reviews (the tarball's headers, then the texts,
one review in memory at a time) and holds nothing but the vocabulary's counts:

* the **splits** are exactly those of :func:`lowbit.pipeline.data.splits.imdb_splits` for the
  same ``seed`` and ``limit`` (the same seeded permutation of the same review index, the first
  10 % of the training subset held out for validation), and so is the **vocabulary**;
* each split's raw texts and labels are written to TFRecord shards (``tf.train.Example`` with
  ``text`` bytes and ``label`` int64), review ``p`` of the split's permuted order in shard
  ``p % shards``, into a cache folder keyed by the source file, seed, limit and vocabulary size
  (built once, in a temporary folder renamed into place: concurrent builders do not collide).

:meth:`StreamedSplits.batches` reads them back: shards in a seeded order, a shuffle buffer,
**global** batches, this worker's slice of each (rows ``[k*b, (k+1)*b)`` for worker ``k`` of
``n``, ``b = batch/n``), and only then the tokenization, in TensorFlow (:func:`tf_sequences`,
the rules of :mod:`lowbit.pipeline.data.text` exactly). Every worker reads the same record stream
and tokenizes only its own slice; one process and ``n`` workers see the same global batches.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from lowbit.pipeline.data import imdb
from lowbit.pipeline.data.splits import review_indices
from lowbit.pipeline.data.text import OOV, PAD, RESERVED, START, Vocabulary, tokenize

INPUTS = ("memory", "stream")  # lowbit train --input: arrays in memory, or these record files
FORMAT = 1  # of the cache folder; another format is built anew
SHUFFLE_BUFFER = 4_096  # raw reviews (~5 MB)


@dataclass(frozen=True)
class RecordSplit:
    """One split's shards and how many examples they hold."""

    files: tuple[str, ...]
    count: int


@dataclass
class StreamedSplits:
    """Train / validation / test as record shards, with the training vocabulary."""

    train: RecordSplit
    val: RecordSplit
    test: RecordSplit
    vocabulary: Vocabulary
    maxlen: int
    artifacts: dict = field(default_factory=dict)  # file name -> writer(path), saved with the run

    def split(self, name: str) -> RecordSplit:
        if name not in ("train", "val", "test"):
            raise ValueError(f"unknown split {name!r}; valid choices: train, val, test")
        return getattr(self, name)

    def size(self, split: str) -> int:
        """How many examples ``split`` holds (as ``Splits.size``)."""
        return self.split(split).count

    def batches(self, split: str, *, batch_size: int, shuffle_seed: int | None = None, worker: int = 0,
                workers: int = 1, drop_remainder: bool = False):
        """``tf.data.Dataset`` of ``(int32 [rows, maxlen], float32 [rows])`` for ``split``: global
        batches of ``batch_size``, of which this ``worker`` (of ``workers``) gets rows
        ``[worker*b, (worker+1)*b)``, ``b = batch_size / workers`` (a last partial batch gives
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
        table = _lookup_table(self.vocabulary)
        maxlen = self.maxlen

        def tokenized(serialized):
            mine = serialized[worker * part:(worker + 1) * part]
            parsed = tf.io.parse_example(mine, {"text": tf.io.FixedLenFeature([], tf.string),
                                                "label": tf.io.FixedLenFeature([], tf.int64)})
            return tf_sequences(parsed["text"], table, maxlen), tf.cast(parsed["label"], tf.float32)

        return (records.batch(batch_size, drop_remainder=drop_remainder)
                .map(tokenized, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                .prefetch(2))


def imdb_streams(data_dir=None, *, limit: int | None = None, seed: int = 0, vocab_size: int = 20_000,
                 maxlen: int = 80, cache=None) -> StreamedSplits:
    """IMDB as record shards (built on first use, see the module docstring), same splits and
    vocabulary as ``imdb_splits(data_dir, limit=limit, seed=seed, vocab_size=vocab_size)``."""
    from lowbit.pipeline.downloads import cache_dir

    source = imdb.find_source(data_dir)
    stat = source.stat()
    key = hashlib.sha256(json.dumps({
        "format": FORMAT, "source": str(source.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
        "limit": limit, "seed": seed, "vocab_size": vocab_size}, sort_keys=True).encode()).hexdigest()[:20]
    folder = Path(cache or cache_dir() / "streams") / f"imdb-{key}"
    if not (folder / "counts.json").is_file():
        _build(folder, source, limit=limit, seed=seed, vocab_size=vocab_size)
    counts = json.loads((folder / "counts.json").read_text())
    vocabulary = Vocabulary.load(folder / "vocab.txt")

    def split(name):
        return RecordSplit(tuple(str(folder / f) for f in counts[name]["files"]), counts[name]["count"])

    return StreamedSplits(split("train"), split("val"), split("test"), vocabulary, maxlen,
                          artifacts={"vocab.txt": lambda path: vocabulary.save(Path(path))})


def split_positions(keys: dict, *, limit: int | None, seed: int) -> dict:
    """``{ReviewKey: (split, position)}`` for every review the run uses: the permutation and
    validation hold-out of ``splits.imdb_splits`` (position = index in that split's arrays)."""
    train_idx, test_idx, n_val = review_indices(len(keys["train"]), len(keys["test"]), limit=limit, seed=seed)
    where = {}
    for p, i in enumerate(train_idx):
        where[keys["train"][i]] = ("val", p) if p < n_val else ("train", p - n_val)
    for p, i in enumerate(test_idx):
        where[keys["test"][i]] = ("test", p)
    return where


def _shards(count: int) -> int:
    return max(1, min(16, count // 1_000))


def _build(folder: Path, source: Path, *, limit, seed, vocab_size) -> None:
    import tensorflow as tf
    from collections import Counter

    from tqdm import tqdm

    where = split_positions(imdb.review_keys(source), limit=limit, seed=seed)
    sizes = {s: sum(1 for split, _ in where.values() if split == s) for s in ("train", "val", "test")}
    shards = {s: _shards(n) for s, n in sizes.items()}
    names = {s: [f"{s}-{k:05d}-of-{shards[s]:05d}.tfrecord" for k in range(shards[s])] for s in sizes}
    scratch = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    scratch.mkdir(parents=True, exist_ok=True)
    counts: Counter = Counter()
    try:
        writers = {s: [tf.io.TFRecordWriter(str(scratch / n)) for n in names[s]] for s in sizes}
        try:
            for key, text in tqdm(imdb.read_reviews(source, lambda k: k in where), total=len(where),
                                  desc="streaming reviews into records", unit="review", disable=None, leave=False):
                split, position = where[key]
                if split != "test":  # the vocabulary comes from the training subset (validation included)
                    counts.update(tokenize(text))
                example = tf.train.Example(features=tf.train.Features(feature={
                    "text": tf.train.Feature(bytes_list=tf.train.BytesList(value=[text.encode("utf-8")])),
                    "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(key.positive)]))}))
                writers[split][position % shards[split]].write(example.SerializeToString())
        finally:
            for split_writers in writers.values():
                for writer in split_writers:
                    writer.close()
        Vocabulary.from_counts(counts, vocab_size).save(scratch / "vocab.txt")
        (scratch / "counts.json").write_text(json.dumps(
            {s: {"count": sizes[s], "files": names[s]} for s in sizes}, indent=2) + "\n")
        try:
            os.replace(scratch, folder)
        except OSError:  # another process built it first: theirs is the same
            if not (folder / "counts.json").is_file():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _lookup_table(vocabulary: Vocabulary):
    import tensorflow as tf

    words = vocabulary.tokens[len(RESERVED):]
    return tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(words, tf.string),
                                            tf.range(len(RESERVED), len(RESERVED) + len(words), dtype=tf.int32)),
        default_value=OOV)


def tf_sequences(texts, table, maxlen: int):
    """int32 ``[rows, maxlen]`` from a string tensor ``[rows]``, in TensorFlow ops: the rules of
    :mod:`lowbit.pipeline.data.text` (``<br>`` variants to a space, ASCII lower case, tokens of
    ``a-z 0-9 '`` with apostrophes stripped from both ends, ``[START] + ids``, the last ``maxlen``
    kept, zeros in front). Equals ``Vocabulary.sequences`` on every UTF-8 text (tested)."""
    import tensorflow as tf

    text = tf.strings.regex_replace(texts, r"<[bB][rR][ \t\n\v\f\r]*/?[ \t\n\v\f\r]*>", " ")
    text = tf.strings.lower(text)  # encoding "": ASCII letters only, like the Java port
    text = tf.strings.regex_replace(text, r"[^a-z0-9']+", " ")
    tokens = tf.strings.split(text)  # ragged [rows, (tokens)]
    tokens = tf.ragged.map_flat_values(tf.strings.regex_replace, tokens, r"^'+|'+$", "")
    tokens = tf.ragged.boolean_mask(tokens, tf.not_equal(tokens, ""))
    ids = tf.ragged.map_flat_values(table.lookup, tokens)
    rows = tf.shape(ids.row_lengths())[0]
    ids = tf.concat([tf.RaggedTensor.from_tensor(tf.fill([rows, 1], START)), ids], axis=1)[:, -maxlen:]
    pad = maxlen - ids.row_lengths()
    zeros = tf.RaggedTensor.from_row_lengths(tf.fill([tf.reduce_sum(pad)], PAD), pad)
    return tf.concat([zeros, ids], axis=1).to_tensor(shape=[None, maxlen])
