"""Moving MNIST: loading the real digits, the sequence contract, determinism, eq. 25."""

import numpy as np
import pytest

from lowbit.pipeline.data import splits as datasets, moving_mnist
from lowbit.pipeline.downloads import DataUnavailableError


@pytest.fixture(scope="module")
def digits(shared_data):
    return moving_mnist.load_digits(shared_data)


def test_real_digits_load_from_the_shared_npz(digits):
    assert digits["train"].shape == (4000, 28, 28) and digits["test"].shape == (1000, 28, 28)
    assert digits["train"].dtype == np.uint8


def test_sequences_follow_the_contract(digits):
    seq = moving_mnist.sequences(digits["train"], 6, frames=15, canvas=64, seed=0)
    assert seq.shape == (6, 15, 64, 64, 1) and seq.dtype == np.float32
    assert seq.min() >= 0 and seq.max() <= 1 and seq.max() > 0.9
    # every frame shows ink (digits never leave the canvas), and the digits move
    assert np.all(seq.sum(axis=(2, 3, 4)) > 20)
    assert np.abs(seq[:, 1:] - seq[:, :-1]).sum() > 0


def test_sequences_are_deterministic_by_seed(digits):
    a = moving_mnist.sequences(digits["test"], 3, canvas=32, seed=5)
    assert np.array_equal(a, moving_mnist.sequences(digits["test"], 3, canvas=32, seed=5))
    assert not np.array_equal(a, moving_mnist.sequences(digits["test"], 3, canvas=32, seed=6))


def test_ink_is_conserved_while_one_digit_moves(digits):
    # one digit alone never overlaps anything: its ink is the same in every frame
    seq = moving_mnist.sequences(digits["train"], 4, frames=30, canvas=64, digits=1, seed=2)
    ink = seq.sum(axis=(2, 3, 4))
    assert np.allclose(ink, ink[:, :1], rtol=1e-5)


def test_resize_keeps_a_constant_image_constant_and_halves_size():
    img = np.full((1, 28, 28), 255, np.uint8)
    small = moving_mnist.resize(img, 14)
    assert small.shape == (1, 14, 14) and np.allclose(small, 1.0)


def test_mse_per_frame_matches_eq_25_by_hand():
    truth = np.zeros((2, 3, 4, 4, 1), np.float32)
    pred = truth.copy()
    pred[:, 1] = 0.5
    pred[0, 2, 0, 0, 0] = 1.0
    assert np.allclose(moving_mnist.mse_per_frame(truth, pred), [0.0, 0.25, 1.0 / 32])


def test_missing_or_bad_files_are_clear_errors(tmp_path):
    with pytest.raises(DataUnavailableError, match="--data-dir.*mnist.npz"):
        moving_mnist.load_digits(tmp_path)
    (tmp_path / "mnist.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable npz"):
        moving_mnist.load_digits(tmp_path)
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="lacks x_test"):
        moving_mnist.load_digits(tmp_path)


def test_pickled_arrays_are_refused(tmp_path):
    np.savez(tmp_path / "mnist.npz", x_train=np.array([{"a": 1}], dtype=object),
             x_test=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(ValueError):
        moving_mnist.load_digits(tmp_path)


def test_frames_splits_shift_by_one_frame_and_use_disjoint_digits(shared_data):
    s = datasets.frames_splits(shared_data, limit=20, canvas=32, seed=0)
    assert s.x_train.shape == (18, 14, 32, 32, 1) and s.x_val.shape[0] == 2 and s.x_test.shape[0] == 20
    assert np.array_equal(s.x_train[:, 1:], s.y_train[:, :-1])


def test_frames_test_sequences_are_the_same_for_every_seed(shared_data):
    a = datasets.frames_splits(shared_data, limit=20, seed=0, canvas=16)
    b = datasets.frames_splits(shared_data, limit=20, seed=3, canvas=16)
    assert np.array_equal(a.x_test, b.x_test) and not np.array_equal(a.x_train, b.x_train)


def test_ssim_per_frame_equals_tensorflows_ssim():
    import tensorflow as tf

    rng = np.random.default_rng(0)
    truth = rng.random((3, 2, 16, 20, 1)).astype(np.float32)
    noisy = np.clip(truth + rng.normal(0, 0.2, truth.shape), 0, 1).astype(np.float32)
    expected = tf.image.ssim(tf.constant(truth), tf.constant(noisy), max_val=1.0).numpy().mean(axis=0)
    assert np.allclose(moving_mnist.ssim_per_frame(truth, noisy), expected, atol=1e-6)
    assert np.allclose(moving_mnist.ssim_per_frame(truth, truth), 1.0)


@pytest.mark.parametrize("shape", [(2, 3, 10, 16, 1), (2, 3, 16, 16)], ids=["smaller-than-window", "no-channel"])
def test_ssim_refuses_frames_it_cannot_measure(shape):
    frames = np.zeros(shape, np.float32)
    with pytest.raises(ValueError, match="ssim needs"):
        moving_mnist.ssim_per_frame(frames, frames)
