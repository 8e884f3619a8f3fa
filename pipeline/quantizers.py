"""Binary, Ternary and Quaternary Connect (Alom et al., 2018, eqs. 20-24).

Two implementations of the same math, kept bit-identical:

* :func:`quantize` — numpy, the public reference used by tests, export and users;
* :func:`quantize_tf` — TensorFlow, used in training, with a straight-through gradient.

Contract (both):

* μ is the mean and σ the population standard deviation (ddof=0) of *all* entries of ``w``,
  computed in float64.
* ``bc`` (eq. 20): +1 where w ≥ 0, else −1.
* ``tc``: t = μ + σ (``normal``, eq. 21) or μ + σ/2 (``uniform``, eq. 22);
  −1 where w ≤ −t, 0 where −t < w ≤ t, +1 where w > t.
* ``qc``: t = μ + σ/4 (``normal``, eq. 23) or μ + σ/6 (``uniform``, eq. 24);
  −1 where w ≤ −t, −0.5 where −t < w ≤ 0, +0.5 where 0 < w ≤ t, +1 where w > t.
* The conditions are applied in the order listed (the first that holds wins), which only
  matters in the degenerate case t < 0.
* ``scale="none"`` returns the codes; ``scale="tensor"`` returns codes × α with the
  least-squares α = Σ|w·c| / Σc² (float64, then rounded once to float32; α = 0 when every code
  is 0). ``fp`` is the identity whatever the scale.

The tfmot ``Quantizer`` classes at the bottom are thin, serializable holders of
(scheme, distribution, scale) around :func:`quantize_tf`.
"""

from __future__ import annotations

import numpy as np

from lowbit.pipeline.keras2 import keras, tf, tfmot

from lowbit.pipeline.schemes import (  # noqa: F401  (re-exported)
    CODE_VALUES,
    DISTRIBUTIONS,
    SCALES,
    SCHEMES,
    SIGMA_DIVISOR,
    check_choices,
)


# --------------------------------------------------------------------------- numpy reference


def threshold(w: np.ndarray, scheme: str, distribution: str = "normal") -> float:
    """The paper's threshold t = μ + σ/divisor for ``tc``/``qc`` (float64)."""
    check_choices(scheme, distribution)
    if (scheme, distribution) not in SIGMA_DIVISOR:
        raise ValueError(f"scheme {scheme!r} has no threshold; only tc and qc do")
    w64 = _checked_array(w).astype(np.float64)
    mu = w64.mean()
    sigma = np.sqrt(np.mean(np.square(w64 - mu)))
    return float(mu + sigma / SIGMA_DIVISOR[(scheme, distribution)])


def codes(w: np.ndarray, scheme: str, distribution: str = "normal") -> np.ndarray:
    """The unscaled codes of ``w`` (float32, same shape) — exactly eqs. 20-24."""
    check_choices(scheme, distribution)
    w = _checked_array(w)
    if scheme == "fp":
        return w.astype(np.float32)
    w64 = w.astype(np.float64)
    if scheme == "bc":
        return np.where(w64 >= 0, 1.0, -1.0).astype(np.float32)
    t = threshold(w, scheme, distribution)
    if scheme == "tc":
        conditions, values = [w64 <= -t, w64 <= t], [-1.0, 0.0]
        otherwise = 1.0
    else:
        conditions, values = [w64 <= -t, w64 <= 0, w64 <= t], [-1.0, -0.5, 0.5]
        otherwise = 1.0
    return np.select(conditions, values, otherwise).astype(np.float32)


def least_squares_scale(w: np.ndarray, c: np.ndarray) -> np.float32:
    """α = Σ|w·c| / Σc² minimising ‖w − α·c‖², in float64 then rounded once to float32."""
    w64, c64 = np.asarray(w, np.float64), np.asarray(c, np.float64)
    denominator = np.sum(np.square(c64))
    if denominator == 0:
        return np.float32(0.0)
    return np.float32(np.sum(np.abs(w64 * c64)) / denominator)


def quantize(
    w: np.ndarray, scheme: str, *, distribution: str = "normal", scale: str = "none"
) -> np.ndarray:
    """Quantize ``w`` with the paper's scheme; returns float32 of the same shape.

    Raises ``ValueError`` for non-finite or empty input and for unknown options.
    """
    check_choices(scheme, distribution, scale)
    c = codes(w, scheme, distribution)
    if scheme == "fp" or scale == "none":
        return c
    return c * least_squares_scale(w, c)


def _checked_array(w) -> np.ndarray:
    w = np.asarray(w)
    if w.size == 0:
        raise ValueError("cannot quantize an empty tensor")
    if not np.issubdtype(w.dtype, np.floating) and not np.issubdtype(w.dtype, np.integer):
        raise ValueError(f"cannot quantize a tensor of dtype {w.dtype}; need real numbers")
    if not np.all(np.isfinite(w)):
        raise ValueError("cannot quantize a tensor with non-finite values (nan or inf)")
    return w


# --------------------------------------------------------------------------- TensorFlow


def _float32_at_or_below(x64: tf.Tensor) -> tf.Tensor:
    """The largest float32 ≤ ``x64``, so that for float32 ``w``: ``w <= x64`` ⟺ ``w <= result``.

    This lets the element-wise comparisons run in float32 while keeping the exact float64
    threshold semantics of the numpy reference.
    """
    nearest = tf.cast(x64, tf.float32)
    too_high = tf.cast(nearest, tf.float64) > x64
    return tf.where(too_high, tf.math.nextafter(nearest, tf.float32.min), nearest)


def _codes_tf(w: tf.Tensor, scheme: str, distribution: str) -> tf.Tensor:
    if scheme == "bc":
        return tf.where(w >= 0, 1.0, -1.0)
    w64 = tf.cast(w, tf.float64)
    mu = tf.reduce_mean(w64)
    sigma = tf.sqrt(tf.reduce_mean(tf.square(w64 - mu)))
    t = mu + sigma / SIGMA_DIVISOR[(scheme, distribution)]
    low, high = _float32_at_or_below(-t), _float32_at_or_below(t)
    if scheme == "tc":
        return tf.where(w <= low, -1.0, tf.where(w <= high, 0.0, 1.0))
    return tf.where(w <= low, -1.0, tf.where(w <= 0, -0.5, tf.where(w <= high, 0.5, 1.0)))


def _least_squares_scale_tf(w: tf.Tensor, c: tf.Tensor) -> tf.Tensor:
    # w·c is exact in float32 (c is 0, ±1 or ±0.5); the sums run in float64 like numpy's.
    numerator = tf.reduce_sum(tf.cast(tf.abs(w * c), tf.float64))
    denominator = tf.reduce_sum(tf.cast(tf.square(c), tf.float64))
    return tf.cast(tf.math.divide_no_nan(numerator, denominator), tf.float32)


def quantize_tf(
    w, scheme: str, *, distribution: str = "normal", scale: str = "none"
) -> tf.Tensor:
    """TensorFlow twin of :func:`quantize` with a straight-through gradient.

    Forward values are bit-identical to :func:`quantize`; the gradient with respect to ``w``
    is the identity (dL/dw = dL/dq), so the float weights keep learning.
    """
    check_choices(scheme, distribution, scale)
    w = tf.convert_to_tensor(w, dtype=tf.float32)
    if scheme == "fp":
        return tf.identity(w)

    @tf.custom_gradient
    def straight_through(x):
        c = _codes_tf(x, scheme, distribution)
        q = c if scale == "none" else c * _least_squares_scale_tf(x, c)
        return q, lambda dy: dy

    return straight_through(w)


# --------------------------------------------------------------------------- tfmot quantizers


class ConnectQuantizer(tfmot.quantization.keras.quantizers.Quantizer):
    """A tfmot weight quantizer for one of the paper's schemes; it holds no variables."""

    scheme: str = ""

    def __init__(self, distribution: str = "normal", scale: str = "tensor"):
        check_choices(self.scheme, distribution, scale)
        self.distribution = distribution
        self.scale = scale

    def build(self, tensor_shape, name, layer):
        return {}

    def __call__(self, inputs, training, weights, **kwargs):
        return quantize_tf(inputs, self.scheme, distribution=self.distribution, scale=self.scale)

    def quantize_numpy(self, w: np.ndarray) -> np.ndarray:
        """The same quantization through the numpy reference."""
        return quantize(w, self.scheme, distribution=self.distribution, scale=self.scale)

    def get_config(self):
        return {"distribution": self.distribution, "scale": self.scale}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


@keras.utils.register_keras_serializable(package="lowbit")
class BinaryConnect(ConnectQuantizer):
    """{-1, +1} (eq. 20); the distribution has no effect and is not part of the config."""

    scheme = "bc"

    def __init__(self, scale: str = "tensor"):
        super().__init__("normal", scale)

    def get_config(self):
        return {"scale": self.scale}


@keras.utils.register_keras_serializable(package="lowbit")
class TernaryConnect(ConnectQuantizer):
    """{-1, 0, +1} with t = μ+σ (normal, eq. 21) or μ+σ/2 (uniform, eq. 22)."""

    scheme = "tc"


@keras.utils.register_keras_serializable(package="lowbit")
class QuaternaryConnect(ConnectQuantizer):
    """{-1, -0.5, +0.5, +1} with t = μ+σ/4 (normal, eq. 23) or μ+σ/6 (uniform, eq. 24)."""

    scheme = "qc"


QUANTIZER_CLASSES = {"bc": BinaryConnect, "tc": TernaryConnect, "qc": QuaternaryConnect}


def make_quantizer(scheme: str, *, distribution: str = "normal", scale: str = "tensor"):
    """The tfmot quantizer for ``scheme`` (``bc``/``tc``/``qc``)."""
    check_choices(scheme, distribution, scale)
    if scheme == "fp":
        raise ValueError("scheme 'fp' has no quantizer; valid choices: bc, tc, qc")
    if scheme == "bc":
        return BinaryConnect(scale=scale)
    return QUANTIZER_CLASSES[scheme](distribution=distribution, scale=scale)


def _types_dict():
    return {cls.__name__: cls for cls in QUANTIZER_CLASSES.values()}
