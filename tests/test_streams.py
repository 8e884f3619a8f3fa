"""lowbit.pipeline.data.streams: the TF tokenizer equals the Python one, the streamed splits equal
the in-memory ones, workers' slices make up the global batches."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lowbit.pipeline.data import splits as datasets
from lowbit.pipeline.data import streams
from lowbit.pipeline.data.text import Vocabulary

VOCAB_TEXTS = ["the movie was great, it's a film", "hello world don't", "naive cafe vu", "naïve café 私 οδοσ"]


def _tf_rows(texts, vocabulary, maxlen):
    import tensorflow as tf

    return streams.tf_sequences(tf.constant(texts, tf.string), vocabulary, maxlen).numpy()


# ---------------------------------------------------------------- tokenizer: TF equals Python


@pytest.mark.parametrize("text", [
    pytest.param("Hello <br />World, it's 'quoted' ''' x", id="breaks-and-apostrophes"),
    pytest.param("", id="empty"),
    pytest.param("ÄBC déjà vu naïve Don't cafe\u0301 私は ΟΔΟΣ", id="non-ascii"),
    pytest.param("the " * 200, id="longer-than-maxlen-keeps-last"),
    pytest.param("<BR>a<br/>b<bR \t/ >c<br x>", id="break-variants"),
    pytest.param("\x00the\ufffdmovie\U0001F600film", id="nul-replacement-emoji"),
    pytest.param("'''", id="only-apostrophes"),
    pytest.param("THE MOVIE", id="upper-case"),
])
def test_tf_sequences_equal_vocabulary_sequences(text):
    vocabulary = Vocabulary.build(VOCAB_TEXTS, 30)
    np.testing.assert_array_equal(_tf_rows([text], vocabulary, 12), vocabulary.sequences([text], 12))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=60)
                | st.lists(st.sampled_from(["the", "Movie", "'", "<br/>", " ", "é", "don't", "\n", "<"]),
                           max_size=20).map("".join), min_size=1, max_size=5))
def test_tf_sequences_equal_vocabulary_sequences_on_any_text(texts):
    vocabulary = Vocabulary.build(VOCAB_TEXTS, 30)
    np.testing.assert_array_equal(_tf_rows(texts, vocabulary, 8), vocabulary.sequences(texts, 8))


# ---------------------------------------------------------------- splits: the in-memory ones


def _rows(x, y):
    """The examples as a sorted list of (label, token ids): the split as a multiset."""
    return sorted((float(label), tuple(int(t) for t in row)) for row, label in zip(x, y))


def _streamed(stream, split, **kwargs):
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in stream.batches(split, batch_size=64, **kwargs)])
    return np.concatenate(xs), np.concatenate(ys)


@pytest.mark.parametrize("limit,seed", [pytest.param(None, 0, id="all-seed0"),
                                        pytest.param(150, 3, id="limit150-seed3")])
def test_streamed_splits_equal_imdb_splits(synthetic_imdb, tmp_path, limit, seed):
    memory = datasets.imdb_splits(synthetic_imdb, limit=limit, seed=seed, vocab_size=40, maxlen=20)
    stream = streams.imdb_streams(synthetic_imdb, limit=limit, seed=seed, vocab_size=40, maxlen=20, cache=tmp_path)
    assert stream.records.vocabulary.tokens == Vocabulary.load(_saved(memory, tmp_path)).tokens
    for split, (x, y) in {"train": (memory.x_train, memory.y_train), "val": (memory.x_val, memory.y_val),
                          "test": (memory.x_test, memory.y_test)}.items():
        assert stream.split(split).count == len(x)
        assert _rows(*_streamed(stream, split)) == _rows(x, y), split


def _saved(splits, folder):
    splits.artifacts["vocab.txt"](folder / "memory-vocab.txt")
    return folder / "memory-vocab.txt"


def test_cache_is_reused_and_keyed_by_seed(synthetic_imdb, tmp_path):
    first = streams.imdb_streams(synthetic_imdb, seed=0, vocab_size=40, cache=tmp_path)
    again = streams.imdb_streams(synthetic_imdb, seed=0, vocab_size=40, cache=tmp_path)
    other = streams.imdb_streams(synthetic_imdb, seed=1, vocab_size=40, cache=tmp_path)
    assert first.train.files == again.train.files and first.train.files != other.train.files
    assert len(list(tmp_path.iterdir())) == 2  # one folder per key, no scratch left behind


# ---------------------------------------------------------------- batches: workers' slices


@pytest.fixture(scope="module")
def stream(synthetic_imdb, tmp_path_factory):
    return streams.imdb_streams(synthetic_imdb, seed=0, vocab_size=40, maxlen=20,
                                cache=tmp_path_factory.mktemp("streams"))


@pytest.mark.parametrize("workers", [pytest.param(2, id="two-workers"), pytest.param(4, id="four-workers")])
def test_worker_slices_make_up_the_global_batches(stream, workers):
    whole = [x.numpy() for x, _ in stream.batches("train", batch_size=64, shuffle_seed=5, drop_remainder=True)]
    parts = [[x.numpy() for x, _ in stream.batches("train", batch_size=64, shuffle_seed=5, worker=k,
                                                   workers=workers, drop_remainder=True)]
             for k in range(workers)]
    assert len(whole) == stream.train.count // 64
    for i, batch in enumerate(whole):
        assert [len(p[i]) for p in parts] == [64 // workers] * workers
        np.testing.assert_array_equal(np.concatenate([p[i] for p in parts]), batch)


def test_shuffle_is_seeded_and_changes_with_the_seed(stream):
    first = lambda seed: next(iter(stream.batches("train", batch_size=64, shuffle_seed=seed)))[0].numpy()
    np.testing.assert_array_equal(first(1), first(1))
    assert not np.array_equal(first(1), first(2))
    unshuffled = _rows(*_streamed(stream, "train"))
    assert _rows(*_streamed(stream, "train", shuffle_seed=3)) == unshuffled


def test_last_partial_batch_is_kept_unless_dropped(stream):
    assert stream.train.count % 64  # the fixture's 720 training reviews: a partial last batch
    kept = [len(y) for _, y in stream.batches("train", batch_size=64)]
    dropped = [len(y) for _, y in stream.batches("train", batch_size=64, drop_remainder=True)]
    assert sum(kept) == stream.train.count and kept[-1] == stream.train.count % 64
    assert dropped == [64] * (stream.train.count // 64)


@pytest.mark.parametrize("kwargs,message", [
    pytest.param(dict(batch_size=63, workers=2), "does not split evenly over 2 workers", id="uneven-batch"),
    pytest.param(dict(batch_size=64, worker=2, workers=2), "worker 2 of 2", id="worker-out-of-range"),
])
def test_bad_worker_arguments_are_refused(stream, kwargs, message):
    with pytest.raises(ValueError, match=message):
        stream.batches("train", **kwargs)


def test_streamed_splits_of_the_real_tarball_equal_imdb_splits(shared_data, tmp_path):
    memory = datasets.imdb_splits(shared_data, limit=1500, seed=2, vocab_size=3000)
    stream = streams.imdb_streams(shared_data, limit=1500, seed=2, vocab_size=3000, cache=tmp_path)
    for split, (x, y) in {"train": (memory.x_train, memory.y_train), "val": (memory.x_val, memory.y_val),
                          "test": (memory.x_test, memory.y_test)}.items():
        assert _rows(*_streamed(stream, split)) == _rows(x, y), split
