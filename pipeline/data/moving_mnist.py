"""Moving MNIST (Srivastava et al., 2015): handwritten digits bouncing inside a square canvas.

Digits come from Keras' ``mnist.npz`` layout (``x_train``, ``y_train``, ``x_test``, ``y_test``;
28x28 uint8): a local ``mnist.npz`` or ``mnist-5k.npz`` in ``data_dir`` / ``$LOWBIT_DATA``, else
the official file, downloaded once, sha256-checked and cached. Files are read with
``allow_pickle=False``.

Sequence contract (:func:`sequences`): ``float32`` array ``(n, frames, canvas, canvas, 1)`` in
[0, 1]. Each sequence has ``digits`` digits scaled to ``round(28 * canvas / 64)`` pixels (28 at
the paper's 64x64 canvas), each starting at a uniform random position with a uniform random
direction and a speed of ``canvas / 32`` pixels per frame, reflecting off the canvas edges;
overlapping digits combine by pixelwise maximum. Training sequences use ``x_train`` digits,
test sequences ``x_test`` digits, so no test digit is ever seen in training. Deterministic in
``seed``.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from lowbit.pipeline.downloads import DataUnavailableError, fetch

OFFICIAL_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
OFFICIAL_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
LOCAL_NAMES = ("mnist.npz", "mnist-5k.npz")
KEYS = ("x_train", "y_train", "x_test", "y_test")
CANVAS = 64
FRAMES = 15
SEEN = 7
DIGITS = 2


def expected_files_hint() -> str:
    return (
        f"Point --data-dir (or LOWBIT_DATA) at a folder holding {' or '.join(LOCAL_NAMES)} "
        f"(Keras' mnist.npz key layout: {', '.join(KEYS)}; 28x28 uint8 digits)."
    )


def find_source(data_dir: str | os.PathLike | None = None, *, download: bool = True) -> Path:
    """The npz file to read, downloading the official ``mnist.npz`` if no local one is given."""
    data_dir = data_dir or os.environ.get("LOWBIT_DATA")
    if data_dir:
        root = Path(data_dir)
        candidates = [root] if root.is_file() else [root / name for name in LOCAL_NAMES]
        for path in candidates:
            if path.is_file():
                return path
        raise DataUnavailableError(f"no MNIST digits in {root}. {expected_files_hint()}")
    if not download:
        raise DataUnavailableError(f"no local MNIST digits given. {expected_files_hint()}")
    return fetch(OFFICIAL_URL, "mnist.npz", sha256=OFFICIAL_SHA256, hint=expected_files_hint())


def load_digits(data_dir=None) -> dict[str, np.ndarray]:
    """``{"train": uint8 (n, 28, 28), "test": uint8 (m, 28, 28)}`` from the MNIST npz."""
    path = find_source(data_dir)
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in ("x_train", "x_test") if k in f.files}
    except (OSError, ValueError, zipfile.BadZipFile) as err:  # numpy says "pickled" for non-npz bytes
        raise ValueError(f"{path} is not a readable npz of plain arrays ({err}). {expected_files_hint()}") from err
    missing = [k for k in ("x_train", "x_test") if k not in arrays]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}. {expected_files_hint()}")
    digits = {"train": arrays["x_train"], "test": arrays["x_test"]}
    for split, images in digits.items():
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise ValueError(f"{path}: x_{split} has shape {images.shape}, expected (n, 28, 28)")
    return digits


def digit_size(canvas: int) -> int:
    return max(4, round(28 * canvas / CANVAS))


def resize(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of ``(n, h, w)`` images to ``(n, size, size)`` (float32 in [0, 1])."""
    images = images.astype(np.float32) / (255.0 if images.dtype == np.uint8 else 1.0)
    if images.shape[1] == size and images.shape[2] == size:
        return images
    rows = _interpolation_matrix(images.shape[1], size)
    cols = _interpolation_matrix(images.shape[2], size)
    return np.einsum("ih,nhw,jw->nij", rows, images, cols).astype(np.float32)


def _interpolation_matrix(source: int, target: int) -> np.ndarray:
    """``(target, source)`` linear-interpolation weights, pixel centres aligned."""
    positions = (np.arange(target) + 0.5) * source / target - 0.5
    low = np.clip(np.floor(positions).astype(int), 0, source - 1)
    high = np.clip(low + 1, 0, source - 1)
    frac = np.clip(positions - low, 0.0, 1.0)
    matrix = np.zeros((target, source), np.float32)
    matrix[np.arange(target), low] += 1.0 - frac
    matrix[np.arange(target), high] += frac
    return matrix


def sequences(digit_images: np.ndarray, n: int, *, frames: int = FRAMES, canvas: int = CANVAS,
              digits: int = DIGITS, seed: int = 0) -> np.ndarray:
    """``n`` moving-digit sequences (see the module docstring for the contract)."""
    if n < 1 or frames < 2 or digits < 1:
        raise ValueError(f"need n >= 1, frames >= 2 and digits >= 1, got {n}, {frames}, {digits}")
    size = digit_size(canvas)
    if canvas < size + 2:
        raise ValueError(f"canvas {canvas} is too small for {size}-pixel digits")
    rng = np.random.default_rng(seed)
    sprites = resize(digit_images[rng.integers(0, len(digit_images), n * digits)], size)
    out = np.zeros((n, frames, canvas, canvas, 1), np.float32)
    limit = canvas - size
    speed = canvas / 32
    for i in range(n):
        for d in range(digits):
            sprite = sprites[i * digits + d]
            position = rng.uniform(0, limit, 2)
            angle = rng.uniform(0, 2 * np.pi)
            velocity = speed * np.array([np.sin(angle), np.cos(angle)])
            for t in range(frames):
                y, x = np.rint(position).astype(int)
                window = out[i, t, y:y + size, x:x + size, 0]
                np.maximum(window, sprite, out=window)
                position = position + velocity
                for axis in range(2):  # reflect off the edges
                    if position[axis] < 0:
                        position[axis], velocity[axis] = -position[axis], -velocity[axis]
                    elif position[axis] > limit:
                        position[axis], velocity[axis] = 2 * limit - position[axis], -velocity[axis]
    return out


def mse_per_frame(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Paper eq. 25 per frame: mean over sequences and pixels of ``(I - K)^2``, shape ``(frames,)``."""
    if truth.shape != predicted.shape:
        raise ValueError(f"shapes differ: {truth.shape} vs {predicted.shape}")
    axes = tuple(i for i in range(truth.ndim) if i != 1)
    return np.mean((truth.astype(np.float64) - predicted.astype(np.float64)) ** 2, axis=axes)


SSIM_WINDOW, SSIM_SIGMA, SSIM_K1, SSIM_K2 = 11, 1.5, 0.01, 0.03


def ssim_per_frame(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Structural similarity (Wang et al., 2004) per frame, shape ``(frames,)``: mean over sequences
    of each frame's mean SSIM map. Intensities in [0, 1] (dynamic range 1); an 11x11 Gaussian window
    of sigma 1.5 applied without padding (only windows inside the frame), K1 = 0.01, K2 = 0.03 —
    the definition ``tf.image.ssim`` uses. Inputs ``(n, frames, h, w, 1)``, h and w at least 11."""
    if truth.shape != predicted.shape:
        raise ValueError(f"shapes differ: {truth.shape} vs {predicted.shape}")
    if truth.ndim != 5 or truth.shape[-1] != 1 or min(truth.shape[2:4]) < SSIM_WINDOW:
        raise ValueError(f"ssim needs (n, frames, h, w, 1) frames of at least {SSIM_WINDOW} pixels, got {truth.shape}")
    x, y = truth[..., 0].astype(np.float64), predicted[..., 0].astype(np.float64)
    taps = np.exp(-0.5 * ((np.arange(SSIM_WINDOW) - (SSIM_WINDOW - 1) / 2) / SSIM_SIGMA) ** 2)
    taps /= taps.sum()

    def blur(a):  # separable Gaussian, 'valid' in both spatial axes
        a = np.lib.stride_tricks.sliding_window_view(a, SSIM_WINDOW, axis=2) @ taps
        return np.lib.stride_tricks.sliding_window_view(a, SSIM_WINDOW, axis=3) @ taps

    c1, c2 = SSIM_K1 ** 2, SSIM_K2 ** 2
    mx, my = blur(x), blur(y)
    vx, vy, cov = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    ssim = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return ssim.mean(axis=(2, 3)).mean(axis=0)
