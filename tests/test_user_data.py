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
