"""Next-frame prediction on moving MNIST (paper Fig. 6):

frames (T x H x W x 1) -> ConvLSTM2D(filters, 3x3, all steps) -> BatchNormalization
-> Conv3D(1, 1x3x3, sigmoid): the predicted next frame at every step.

The reconstruction kernel spans one time step: a 3-deep kernel with ``same`` padding (Keras'
conv_lstm example) would let step t read the ConvLSTM state of step t+1, which has seen the very
frame step t must predict.

Training runs closed-loop (:func:`closed_loop`), the way the model is tested: it reads the first
``SEEN`` frames, then every later input is its own previous prediction, and the loss on those
predictions is back-propagated through the fed-back frames. Trained next-frame only (each input
the true frame), the float model's predictions faded to black within three fed-back frames: by
frame 15 its MSE (0.0359) was an all-black frame's (0.0364).
"""

from __future__ import annotations

import numpy as np

from lowbit.pipeline.data import moving_mnist
from lowbit.pipeline.keras2 import keras

FILTERS = 16


def build(*, canvas: int = moving_mnist.CANVAS, filters: int = FILTERS) -> keras.Model:
    frames = keras.Input((None, canvas, canvas, 1), name="frames")
    x = keras.layers.ConvLSTM2D(filters, 3, padding="same", return_sequences=True, name="convlstm")(frames)
    x = keras.layers.BatchNormalization(name="batchnorm")(x)
    nxt = keras.layers.Conv3D(1, (1, 3, 3), padding="same", activation="sigmoid", name="reconstruction")(x)
    return keras.Model(frames, nxt, name="frames_convlstm")


class ClosedLoop(keras.Model):
    """The training twin of a frames model (its layers, shared): reads the first ``seen`` frames
    ``(n, seen, h, w, 1)``, then feeds each predicted frame back as the next input until
    ``seen + fed_back`` frames are predicted ``(n, seen + fed_back, h, w, 1)``: frames 2 ..
    ``seen + fed_back + 1``, the same targets as next-frame training on the whole sequence.

    The model must be ``Input -> recurrent layer -> per-step layers`` (:func:`build`'s shape),
    float or QAT-wrapped; the recurrent layer returns its state only inside this call.

    BatchNormalization runs in inference mode here, also in training: it normalizes with its
    moving statistics (which therefore keep their starting values; gamma and beta train), so
    training computes exactly what the fed-back rollout computes at test. With batch statistics,
    each fed-back step was normalized by its own batch in training but by one shared average at
    test, and the rollout's last frames swung from epoch to epoch (measured, 16 filters: frame 15
    at 0.82-1.25x the better trivial predictor's MSE over epochs 8-12; frozen: 0.80 at epoch 6
    and falling every epoch).
    """

    def __init__(self, model: keras.Model, fed_back: int):
        super().__init__(name=f"{model.name}_closed_loop")
        layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
        self.recurrent, self.head, self.fed_back = layers[0], layers[1:], fed_back
        self._rnn = getattr(self.recurrent, "layer", self.recurrent)  # inside a QAT wrapper
        if not isinstance(self._rnn, keras.layers.ConvLSTM2D):
            raise ValueError(f"closed-loop training needs a ConvLSTM2D first, got {type(self._rnn).__name__}")

    def _frame(self, x, training):
        for layer in self.head:
            frozen = isinstance(getattr(layer, "layer", layer), keras.layers.BatchNormalization)
            x = layer(x, training=False if frozen else training)
        return x

    def call(self, seen, training=None):
        self._rnn.return_state = True
        try:
            sequence, *state = self.recurrent(seen, training=training)
            predicted = self._frame(sequence, training)
            outputs, nxt = [predicted], predicted[:, -1:]
            for _ in range(self.fed_back):
                step, *state = self.recurrent(nxt, initial_state=state, training=training)
                nxt = self._frame(step, training)
                outputs.append(nxt)
        finally:
            self._rnn.return_state = False
        return keras.layers.concatenate(outputs, axis=1)


def closed_loop(model: keras.Model) -> ClosedLoop:
    """:class:`ClosedLoop` for the training sequences: ``SEEN`` frames given, the rest fed back
    (``FRAMES - SEEN - 1`` of them: the last frame is only ever a target)."""
    return ClosedLoop(model, moving_mnist.FRAMES - moving_mnist.SEEN - 1)


def closed_loop_inputs(x: np.ndarray) -> np.ndarray:
    """What :func:`closed_loop` reads of a split's ``x`` (frames 1 .. T-1): the first ``SEEN``."""
    return x[:, :moving_mnist.SEEN]


def predict_frames(model, seen: np.ndarray, horizon: int, *, batch_size: int = 16) -> np.ndarray:
    """Frames ``seen.shape[1] + 1 ...`` predicted one at a time, each fed back as input.

    ``seen``: ``(n, t, h, w, 1)``; returns ``(n, horizon, h, w, 1)``.
    """
    sequence = seen.astype(np.float32)
    predicted = []
    for _ in range(horizon):
        nxt = model.predict(sequence, batch_size=batch_size, verbose=0)[:, -1:]
        predicted.append(nxt)
        sequence = np.concatenate([sequence, nxt], axis=1)
    return np.concatenate(predicted, axis=1)


def mean_mse(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Mean over the predicted frames of the per-frame MSE (paper eq. 25)."""
    return float(np.mean(moving_mnist.mse_per_frame(truth, predicted)))


def _rollout_split(splits):
    """The test split as (seen frames, frames to predict): the first ``SEEN`` given, the rest predicted."""
    full = np.concatenate([splits.x_test[:, :1], splits.y_test], axis=1)
    return full[:, :moving_mnist.SEEN], full[:, moving_mnist.SEEN:]


def test_measures(model, splits) -> dict:
    """MSE (paper eq. 25, Fig. 23) and SSIM per predicted frame: the first ``SEEN`` frames are
    given, the rest are predicted one at a time, each prediction fed back as the next input."""
    seen, truth = _rollout_split(splits)
    predicted = predict_frames(model, seen, truth.shape[1])
    return {
        "test_mse_per_frame": [float(v) for v in moving_mnist.mse_per_frame(truth, predicted)],
        "test_ssim_per_frame": [float(v) for v in moving_mnist.ssim_per_frame(truth, predicted)],
        "predicted_frame_numbers": list(range(moving_mnist.SEEN + 1, seen.shape[1] + truth.shape[1] + 1)),
    }


def baselines(splits) -> dict:
    """The trivial predictors on the same test frames as :func:`test_measures`:
    ``{"copy_last": ..., "black": ...}``, each ``{"mse_per_frame": [...], "ssim_per_frame": [...]}``.
    ``copy_last`` repeats the last seen frame; ``black`` predicts an empty (all-zero) frame."""
    seen, truth = _rollout_split(splits)
    guesses = {"copy_last": np.repeat(seen[:, -1:], truth.shape[1], axis=1), "black": np.zeros_like(truth)}
    return {name: {"mse_per_frame": [float(v) for v in moving_mnist.mse_per_frame(truth, guess)],
                   "ssim_per_frame": [float(v) for v in moving_mnist.ssim_per_frame(truth, guess)]}
            for name, guess in guesses.items()}
