"""lowbit.pipeline.data.user: a user's .npz and text folder read into splits, and every bad input a
one-line ValueError that names what is wrong."""

import numpy as np
import pytest

from lowbit.pipeline.data import user
from lowbit.pipeline.data.text import Vocabulary


def npz(path, **arrays):
    base = {"x_train": np.zeros((20, 3), np.float32), "y_train": np.zeros(20, np.int32),
            "x_test": np.zeros((5, 3), np.float32), "y_test": np.zeros(5, np.int32)}
    base.update(arrays)
    np.savez(path, **{k: v for k, v in base.items() if v is not None})
    return path


def text_folder(root, texts: dict):
    """texts: {(split, label): [text, ...]}"""
    for (split, label), items in texts.items():
        folder = root / split / label
        folder.mkdir(parents=True, exist_ok=True)
        for k, text in enumerate(items):
            (folder / f"{k}.txt").write_text(text)
    return root


def test_npz_holds_out_a_seeded_tenth_of_training_for_validation(tmp_path):
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    path = npz(tmp_path / "d.npz", x_train=x, y_train=np.arange(20) % 2, x_test=x[:5], y_test=np.arange(5) % 2)
    splits = user.npz_splits(path, seed=3)
    assert (len(splits.x_train), len(splits.x_val), len(splits.x_test)) == (18, 2, 5)
    seen = np.concatenate([splits.x_train, splits.x_val])[:, 0]
    assert sorted(seen.tolist()) == sorted(x[:, 0].tolist())  # nothing lost, nothing repeated
    again = user.npz_splits(path, seed=3)
    assert np.array_equal(again.x_val, splits.x_val)
    assert not np.array_equal(user.npz_splits(path, seed=4).x_val, splits.x_val)


def test_npz_with_its_own_validation_split_keeps_it(tmp_path):
    path = npz(tmp_path / "d.npz", x_val=np.ones((4, 3), np.float32), y_val=np.ones(4, np.int32))
    splits = user.npz_splits(path)
    assert len(splits.x_train) == 20 and np.array_equal(splits.x_val, np.ones((4, 3)))


@pytest.mark.parametrize("arrays, message", [
    pytest.param({"y_test": None}, "no y_test", id="missing key"),
    pytest.param({"x_val": np.zeros((2, 3))}, "x_val and y_val come together", id="half a validation split"),
    pytest.param({"x_train": np.array([[np.nan, 0, 0]] * 20, np.float32)}, "x_train holds 20 NaN or infinite", id="nan"),
    pytest.param({"y_test": np.array([0, 1, np.inf, 0, 0])}, "y_test holds 1 NaN or infinite", id="inf"),
    pytest.param({"x_test": np.zeros((0, 3)), "y_test": np.zeros(0)}, "x_test is empty", id="empty split"),
    pytest.param({"y_train": np.zeros(19)}, "x_train has 20 examples but y_train 19", id="lengths differ"),
    pytest.param({"x_test": np.array(["a"] * 5)}, "dtype <U1; lowbit takes numeric arrays", id="strings"),
])
def test_bad_npz_is_one_line_naming_the_array(tmp_path, arrays, message):
    with pytest.raises(ValueError, match=message):
        user.npz_splits(npz(tmp_path / "d.npz", **arrays))


def test_not_an_npz_and_object_arrays_are_refused_without_unpickling(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not an .npz archive"):
        user.npz_splits(tmp_path / "bad.npz")
    np.savez(tmp_path / "obj.npz", x_train=np.array([{"a": 1}] * 3, dtype=object), y_train=np.zeros(3),
             x_test=np.zeros(3), y_test=np.zeros(3))
    with pytest.raises(ValueError, match="not an .npz archive"):
        user.npz_splits(tmp_path / "obj.npz")
    with pytest.raises(ValueError, match="does not exist"):
        user.npz_splits(tmp_path / "missing.npz")


def test_text_folder_gives_label_ids_in_name_order_and_a_vocabulary_from_training(tmp_path):
    root = text_folder(tmp_path / "corpus", {
        ("train", "sports"): ["goal goal match"] * 6, ("train", "cooking"): ["salt pepper oven"] * 6,
        ("train", "music"): ["guitar drum"] * 6, ("test", "music"): ["drum solo"], ("test", "sports"): ["match"]})
    assert user.text_labels(root) == ["cooking", "music", "sports"]
    splits = user.text_folder_splits(root, vocab_size=50, max_tokens=5)
    assert splits.y_train.dtype == np.int32 and sorted(set(splits.y_train) | set(splits.y_val)) == [0, 1, 2]
    assert splits.y_test.tolist() == [1, 2] and splits.x_test.shape == (2, 5)
    saved = tmp_path / "vocab.txt"
    splits.artifacts["vocab.txt"](saved)
    vocab = Vocabulary.load(saved)
    assert "solo" not in vocab.tokens and "guitar" in vocab.tokens  # from the training split only


def test_two_labels_give_sigmoid_targets(tmp_path):
    root = text_folder(tmp_path / "c", {("train", "neg"): ["bad"] * 5, ("train", "pos"): ["good"] * 5,
                                        ("test", "pos"): ["good"]})
    splits = user.text_folder_splits(root)
    assert splits.y_train.dtype == np.float32 and set(splits.y_train.tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("layout, message", [
    pytest.param({("train", "only"): ["a"], ("test", "only"): ["a"]}, "1 label folder", id="one label"),
    pytest.param({("train", "a"): ["x"], ("train", "b"): [], ("test", "a"): ["x"]}, "train/b holds no .txt", id="empty label"),
    pytest.param({("train", "a"): ["x"], ("train", "b"): ["y"], ("test", "c"): ["z"]}, "test has label", id="unknown test label"),
    pytest.param({("train", "a"): ["x"], ("train", "b"): ["y"]}, "no test/ folder", id="no test split"),
])
def test_bad_text_folders_are_one_line(tmp_path, layout, message):
    root = tmp_path / "c"
    for (split, label), items in layout.items():
        (root / split / label).mkdir(parents=True, exist_ok=True)
    text_folder(root, {k: v for k, v in layout.items() if v})
    with pytest.raises(ValueError, match=message):
        user.text_folder_splits(root)


# ---------------------------------------------------------------- streamed: the in-memory splits


def _examples(x, y):
    """A split as a sorted list of (x bytes, y bytes) in float64: the split as a multiset."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return sorted((a.tobytes(), b.tobytes()) for a, b in zip(x, y))


def _read(stream, split):
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in stream.batches(split, batch_size=7)])
    return np.concatenate(xs), np.concatenate(ys)


def _assert_same_splits(memory, stream):
    for split in ("train", "val", "test"):
        x, y = _read(stream, split)
        assert stream.size(split) == memory.size(split) == len(x), split
        assert x.shape[1:] == getattr(memory, f"x_{split}").shape[1:], split
        assert _examples(x, y) == _examples(getattr(memory, f"x_{split}"), getattr(memory, f"y_{split}")), split


def _sequence_npz(path, dtype=np.float32, **arrays):
    rng = np.random.default_rng(0)
    base = {"x_train": rng.normal(size=(53, 6, 3)).astype(dtype), "y_train": rng.integers(0, 4, 53),
            "x_test": rng.normal(size=(17, 6, 3)).astype(dtype), "y_test": rng.integers(0, 4, 17)}
    np.savez(path, **{**base, **arrays})
    return path


@pytest.mark.parametrize("arrays, limit, seed", [
    pytest.param({}, None, 0, id="sequences-all"),
    pytest.param({}, 30, 5, id="sequences-limit30-seed5"),
    pytest.param({"x_val": np.ones((4, 6, 3), np.float32), "y_val": np.arange(4)}, None, 1, id="own-validation"),
    pytest.param({"y_train": np.eye(4)[np.arange(53) % 4], "y_test": np.eye(4)[np.arange(17) % 4]}, None, 2,
                 id="one-hot-targets"),
    pytest.param({"x_train": np.arange(53 * 5, dtype=">i4").reshape(53, 5),
                  "x_test": np.arange(17 * 5, dtype=np.uint32).reshape(17, 5)}, None, 0, id="big-endian-and-uint32"),
])
def test_streamed_npz_equals_npz_splits(tmp_path, arrays, limit, seed):
    path = _sequence_npz(tmp_path / "d.npz", **arrays)
    memory = user.npz_splits(path, seed=seed, limit=limit)
    stream = user.npz_streams(path, seed=seed, limit=limit, cache=tmp_path / "cache")
    _assert_same_splits(memory, stream)
    for split in ("train", "val", "test"):
        assert stream.summary(split) == memory.summary(split), split


def test_streamed_npz_reads_in_chunks_of_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(user, "CHUNK_BYTES", 200)  # 2 rows of x (72 bytes) and y (8 bytes) at a time
    path = _sequence_npz(tmp_path / "d.npz")
    _assert_same_splits(user.npz_splits(path, seed=4), user.npz_streams(path, seed=4, cache=tmp_path / "cache"))


def test_streamed_npz_cache_is_rebuilt_when_the_file_changes(tmp_path):
    path = _sequence_npz(tmp_path / "d.npz")
    first = user.npz_streams(path, cache=tmp_path / "cache")
    assert user.npz_streams(path, cache=tmp_path / "cache").train.files == first.train.files
    _sequence_npz(path, dtype=np.float64)
    changed = user.npz_streams(path, cache=tmp_path / "cache")
    assert changed.train.files != first.train.files and changed.records.x_dtype == "float64"


@pytest.mark.parametrize("arrays, message", [
    pytest.param({"x_train": np.array([[np.nan, 0, 0]] * 20, np.float32)}, "x_train holds 20 NaN or infinite", id="nan"),
    pytest.param({"y_test": np.array([0, 1, np.inf, 0, 0])}, "y_test holds 1 NaN or infinite", id="inf"),
    pytest.param({"y_test": None}, "no y_test", id="missing key"),
    pytest.param({"x_val": np.zeros((2, 3))}, "x_val and y_val come together", id="half a validation split"),
    pytest.param({"y_train": np.zeros(19)}, "x_train has 20 examples but y_train 19", id="lengths differ"),
    pytest.param({"x_test": np.zeros((0, 3)), "y_test": np.zeros(0)}, "x_test is empty", id="empty split"),
])
def test_bad_npz_streams_with_the_in_memory_message_and_leaves_no_records(tmp_path, arrays, message):
    path = npz(tmp_path / "d.npz", **arrays)
    with pytest.raises(ValueError, match=message):
        user.npz_splits(path)
    with pytest.raises(ValueError, match=message):
        user.npz_streams(path, cache=tmp_path / "cache")
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


@pytest.mark.parametrize("arrays, message", [
    pytest.param({"x_train": np.asfortranarray(np.zeros((20, 3), np.float32))}, "saved in Fortran order",
                 id="fortran-order"),
    pytest.param({"x_test": np.zeros((5, 4), np.float32)}, r"rows of different shapes \(x_train \(3,\), x_test \(4,\)\)",
                 id="row-shapes-differ"),
    pytest.param({"y_train": np.zeros(20, np.uint64)}, "dtype uint64 cannot be streamed", id="uint64"),
])
def test_what_cannot_be_streamed_is_refused_in_one_line(tmp_path, arrays, message):
    with pytest.raises(ValueError, match=message):
        user.npz_streams(npz(tmp_path / "d.npz", **arrays), cache=tmp_path / "cache")


def test_a_truncated_npz_is_refused(tmp_path):
    path = _sequence_npz(tmp_path / "d.npz")
    path.write_bytes(path.read_bytes()[:-3000])
    with pytest.raises(ValueError, match="not an .npz archive"):
        user.npz_streams(path, cache=tmp_path / "cache")


@pytest.mark.parametrize("labels", [pytest.param(2, id="two-labels-sigmoid"),
                                    pytest.param(3, id="three-labels-softmax")])
@pytest.mark.parametrize("limit,seed", [pytest.param(None, 0, id="all"), pytest.param(25, 7, id="limit25-seed7")])
def test_streamed_text_folder_equals_text_folder_splits(tmp_path, labels, limit, seed):
    words = ["goal match team", "salt pepper oven", "guitar drum <br/>solo"][:labels]
    names = ["sports", "cooking", "music"][:labels]
    texts = {("train", n): [f"{w} {k} extra{k % 5}" for k in range(15)] for n, w in zip(names, words)}
    texts.update({("test", n): [f"{w} new{k}" for k in range(6)] for n, w in zip(names, words)})
    root = text_folder(tmp_path / "corpus", texts)
    memory = user.text_folder_splits(root, seed=seed, limit=limit, vocab_size=30, max_tokens=6)
    stream = user.text_folder_streams(root, seed=seed, limit=limit, vocab_size=30, max_tokens=6,
                                      cache=tmp_path / "cache")
    memory.artifacts["vocab.txt"](tmp_path / "vocab.txt")
    assert stream.records.vocabulary.tokens == Vocabulary.load(tmp_path / "vocab.txt").tokens
    assert stream.records.label_dtype == ("float32" if labels == 2 else "int32")
    _assert_same_splits(memory, stream)
    for split in ("train", "val", "test"):
        streamed, held = stream.summary(split), memory.summary(split)
        assert (streamed.count, streamed.x_shape, streamed.y_min, streamed.y_max, streamed.y_binary) == (
            held.count, held.x_shape, held.y_min, held.y_max, held.y_binary), split
        assert streamed.x_min <= held.x_min and held.x_max <= streamed.x_max < len(stream.records.vocabulary.tokens)


def test_streamed_text_folder_cache_follows_the_files(tmp_path):
    root = text_folder(tmp_path / "c", {("train", "neg"): ["bad"] * 5, ("train", "pos"): ["good"] * 5,
                                        ("test", "pos"): ["good"]})
    first = user.text_folder_streams(root, cache=tmp_path / "cache")
    (root / "train" / "pos" / "9.txt").write_text("great")
    second = user.text_folder_streams(root, cache=tmp_path / "cache")
    assert second.train.files != first.train.files and "great" in second.records.vocabulary.tokens
    assert second.size("train") + second.size("val") == 11


# ---------------------------------------------------------------- text folders: hostile files


def _corpus(root):
    return text_folder(root, {("train", "neg"): ["bad film"] * 4, ("train", "pos"): ["good film"] * 4,
                              ("test", "neg"): ["bad"], ("test", "pos"): ["good"]})


def _link_file(root, outside):
    (root / "train" / "pos" / "9.txt").symlink_to(outside / "secret.txt")


def _link_label(root, outside):
    (outside / "9.txt").write_text("elsewhere")
    (root / "train" / "leak").symlink_to(outside, target_is_directory=True)


def _link_split(root, outside):
    import shutil

    shutil.move(root / "test", outside / "test")
    (root / "test").symlink_to(outside / "test", target_is_directory=True)


def _big(root, _):
    (root / "train" / "pos" / "9.txt").write_text("word " * 400)  # 2,000 bytes; the limit here: 1,000


def _latin1(root, _):
    for k in range(5):
        (root / "train" / "neg" / f"l{k}.txt").write_bytes("très café".encode("latin-1"))


def _binary(root, _):
    (root / "test" / "pos" / "9.txt").write_bytes(b"\x00\x01\x02PNG\x00 garbage")


HOSTILE_FOLDERS = {
    "a file linked from outside": (_link_file, r"train/pos/9.txt: a link to .*secret.txt, outside .*copy the file in"),
    "a label folder linked from outside": (_link_label, r"train/leak: a link to .*outside"),
    "the test folder linked from outside": (_link_split, r"test: a link to .*outside"),
    "a file over the size limit": (_big, r"9.txt: 2,000 bytes, over the 0.001 MB limit for one text.*--max-text-mb"),
    "files that are not UTF-8": (_latin1, r"5 file\(s\) are not UTF-8 text: train/neg/l0.txt \(invalid UTF-8 at byte "
                                          r"2\); .*l1.txt.*l2.txt.* and 2 more; convert them"),
    "a binary file": (_binary, r"1 file\(s\) are not UTF-8 text: test/pos/9.txt \(a NUL byte at character 0 \(binary"),
}


@pytest.mark.parametrize("case", list(HOSTILE_FOLDERS))
@pytest.mark.parametrize("input", ["memory", "stream"])
def test_hostile_text_folders_are_refused_in_one_line_and_leave_no_records(tmp_path, case, input):
    """Before this check a link's target was read into vocab.txt, a 1 GB file read whole (2.8 GB
    RSS) and binary or Latin-1 files used as mojibake; now each is refused, streamed or not."""
    make, message = HOSTILE_FOLDERS[case]
    root, outside = _corpus(tmp_path / "c"), tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("password hunter2")
    make(root, outside)
    load = user.text_folder_splits if input == "memory" else \
        lambda r, **kw: user.text_folder_streams(r, cache=tmp_path / "cache", **kw)
    with pytest.raises(ValueError, match=message) as raised:
        load(root, max_text_mb=0.001) if case == "a file over the size limit" else load(root)
    assert "\n" not in str(raised.value)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("meta.json"))


def test_links_inside_the_folder_are_read_and_a_raised_limit_reads_a_big_file(tmp_path):
    root = _corpus(tmp_path / "c")
    (root / "train" / "pos" / "9.txt").symlink_to(root / "train" / "pos" / "0.txt")
    (root / "train" / "neg" / "9.txt").write_text("dreadful " * 200)
    with pytest.raises(ValueError, match="over the 0.001 MB limit"):
        user.text_folder_splits(root, max_text_mb=0.001)
    splits = user.text_folder_splits(root, max_text_mb=0.01)
    assert splits.size("train") + splits.size("val") == 10


TERMINATED_BUILD = """
import sys, time
from pathlib import Path
from lowbit.pipeline.data import user
read = user.read_text
def slow(file):
    Path(sys.argv[3]).touch()  # the build is under way
    time.sleep(0.5)
    return read(file)
user.read_text = slow
user.text_folder_streams(sys.argv[1], cache=sys.argv[2])
"""


def test_a_terminated_stream_build_leaves_nothing_and_a_dead_builders_scratch_is_removed(tmp_path):
    """SIGTERM during a text folder's build left its scratch folder (1.6 GB for a big folder)."""
    import signal
    import subprocess
    import sys
    import time

    root = _corpus(tmp_path / "c")
    cache, ready = tmp_path / "cache", tmp_path / "ready"
    child = subprocess.Popen([sys.executable, "-c", TERMINATED_BUILD, str(root), str(cache), str(ready)])
    deadline = time.monotonic() + 120
    while not ready.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists(), "the build never started"
    assert list(cache.glob("texts-*.tmp-*"))  # its scratch folder, mid-build
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=60) == 143
    assert list(cache.iterdir()) == []
    import shutil

    user.text_folder_streams(root, cache=cache)
    (built,) = cache.iterdir()
    shutil.rmtree(built)
    (cache / f"{built.name}.tmp-999999999").mkdir()  # a builder that was SIGKILLed: its pid is gone
    user.text_folder_streams(root, cache=cache)
    assert [p.name for p in cache.iterdir()] == [built.name]


def test_an_npz_declaring_more_than_memory_holds_is_refused_before_loading(tmp_path, monkeypatch):
    """A 6.9 MB file declaring 1.5 GB took 5.1 GB of memory to load, unasked."""
    path = npz(tmp_path / "d.npz", x_train=np.zeros((2_000, 500), np.float32), y_train=np.zeros(2_000, np.int32))
    monkeypatch.setattr(user, "available_memory", lambda: 10_000_000)
    monkeypatch.setattr(np, "load", lambda *a, **k: pytest.fail("loaded"))
    with pytest.raises(ValueError, match=r"d.npz: its arrays hold 4.0 MB, about 14.0 MB at the peak of loading them, "
                                         r"more than the 10.0 MB this machine has available; use --input stream"):
        user.npz_splits(path)
    monkeypatch.undo()
    assert user.available_memory() > 0
    assert len(user.npz_splits(path).x_train) == 1_800
