"""lowbit.pipeline.quantizers: value sets, exact thresholds, distributions, TF parity, gradients,
serialization. The reference below is written independently of the implementation (per-element
Python loop, thresholds from the ``statistics`` module)."""

import statistics

import zlib

import numpy as np
import pytest

from lowbit.pipeline import quantizers
from lowbit.pipeline.keras2 import keras, tf
from lowbit.pipeline.quantizers import (
    BinaryConnect,
    QuaternaryConnect,
    TernaryConnect,
    quantize,
    quantize_tf,
)

DIVISOR = {("tc", "normal"): 1, ("tc", "uniform"): 2, ("qc", "normal"): 4, ("qc", "uniform"): 6}
VALUE_SETS = {"bc": {-1.0, 1.0}, "tc": {-1.0, 0.0, 1.0}, "qc": {-1.0, -0.5, 0.5, 1.0}}
QUANTIZED = [("bc", "normal"), ("tc", "normal"), ("tc", "uniform"), ("qc", "normal"), ("qc", "uniform")]

# Mean exactly 0 and population std exactly 12, so every threshold t = 12/d (12, 6, 3, 2) is
# itself an entry, as are -t and 0.
EXACT = np.array([12, -12, 6, -6, 3, -3, 2, -2, 0, 1, -1, 3, -3, 11, -11, 30, -30], np.float32)


def reference_code(x: float, scheme: str, t: float) -> float:
    if scheme == "bc":
        return 1.0 if x >= 0 else -1.0
    if scheme == "tc":
        if x <= -t:
            return -1.0
        if x <= t:
            return 0.0
        return 1.0
    if x <= -t:
        return -1.0
    if x <= 0:
        return -0.5
    if x <= t:
        return 0.5
    return 1.0


def reference(w: np.ndarray, scheme: str, distribution: str, scale: str) -> np.ndarray:
    flat = [float(x) for x in np.asarray(w).ravel()]
    t = None
    if scheme != "bc":
        t = statistics.fmean(flat) + statistics.pstdev(flat) / DIVISOR[(scheme, distribution)]
    c = [reference_code(x, scheme, t) for x in flat]
    out = np.array(c, np.float64)
    if scale == "tensor":
        den = sum(v * v for v in c)
        alpha = np.float32(sum(abs(x * v) for x, v in zip(flat, c)) / den) if den else np.float32(0)
        return (out.astype(np.float32) * alpha).reshape(np.shape(w))
    return out.astype(np.float32).reshape(np.shape(w))


# ---------------------------------------------------------------- value sets and thresholds


@pytest.mark.parametrize("scheme,distribution", QUANTIZED)
def test_codes_take_only_the_schemes_values(scheme, distribution):
    w = np.random.default_rng(0).normal(size=(64, 32)).astype(np.float32)
    q = quantize(w, scheme, distribution=distribution)
    assert q.dtype == np.float32 and q.shape == w.shape
    assert set(np.unique(q).tolist()) == VALUE_SETS[scheme]


@pytest.mark.parametrize("scheme,distribution", QUANTIZED)
@pytest.mark.parametrize("scale", ["none", "tensor"])
def test_matches_reference_on_random_weights(scheme, distribution, scale):
    rng = np.random.default_rng(1)
    w = (rng.normal(size=(40, 24)) * 0.3 + 0.05).astype(np.float32)
    np.testing.assert_array_equal(
        quantize(w, scheme, distribution=distribution, scale=scale),
        reference(w, scheme, distribution, scale),
    )


def test_exact_vector_has_mean_zero_and_std_twelve():
    assert statistics.fmean(EXACT.tolist()) == 0.0
    assert statistics.pstdev(EXACT.tolist()) == 12.0


@pytest.mark.parametrize("scheme,distribution", QUANTIZED)
def test_values_exactly_at_plus_minus_t_and_zero(scheme, distribution):
    q = quantize(EXACT, scheme, distribution=distribution)
    np.testing.assert_array_equal(q, reference(EXACT, scheme, distribution, "none"))
    at = {float(x): float(c) for x, c in zip(EXACT, q)}
    assert at[0.0] == {"bc": 1.0, "tc": 0.0, "qc": -0.5}[scheme]
    if scheme != "bc":
        t = 12.0 / DIVISOR[(scheme, distribution)]
        assert quantizers.threshold(EXACT, scheme, distribution) == t
        # w == t falls in the lower bin, w == -t in the -1 bin (paper: "<=").
        assert at[t] == {"tc": 0.0, "qc": 0.5}[scheme]
        assert at[-t] == -1.0


def test_binary_connect_zero_is_plus_one_and_ignores_distribution():
    w = np.array([-0.0, 0.0, -1e-30, 1e-30], np.float32)
    np.testing.assert_array_equal(quantize(w, "bc"), [1, 1, -1, 1])
    x = np.random.default_rng(2).normal(size=100).astype(np.float32)
    np.testing.assert_array_equal(
        quantize(x, "bc", distribution="normal"), quantize(x, "bc", distribution="uniform")
    )


def test_fp_is_identity_in_float32():
    w = np.random.default_rng(3).normal(size=(5, 7))
    out = quantize(w, "fp", scale="tensor")
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, w.astype(np.float32))


def test_tensor_scale_is_least_squares_optimal():
    w = np.random.default_rng(4).normal(size=(30, 30)).astype(np.float32)
    for scheme in ("bc", "tc", "qc"):
        c = quantize(w, scheme)
        q = quantize(w, scheme, scale="tensor")
        alpha = float(np.unique(np.abs(q[c != 0] / c[c != 0]))[0])
        err = lambda a: float(np.sum((w - a * c) ** 2))  # noqa: E731
        assert err(alpha) <= err(alpha * 1.001) and err(alpha) <= err(alpha * 0.999)


def test_all_zero_codes_give_zero_scale():
    w = np.full((4, 4), 0.25, np.float32)  # σ = 0, t = μ: every entry is in the zero bin
    np.testing.assert_array_equal(quantize(w, "tc", scale="tensor"), np.zeros((4, 4)))


# ---------------------------------------------------------------- distributions (Fig. 9, 10)


def test_ternary_zero_share_on_standard_normal():
    w = np.random.default_rng(5).normal(size=200_000).astype(np.float32)
    assert np.mean(quantize(w, "tc", distribution="normal") == 0) == pytest.approx(0.683, abs=0.01)
    assert np.mean(quantize(w, "tc", distribution="uniform") == 0) == pytest.approx(0.383, abs=0.01)


def test_quaternary_outer_share_on_standard_normal():
    w = np.random.default_rng(6).normal(size=200_000).astype(np.float32)
    outer = lambda d: np.mean(np.abs(quantize(w, "qc", distribution=d)) == 1)  # noqa: E731
    assert outer("normal") == pytest.approx(0.803, abs=0.01)  # P(|z| > 1/4)
    assert outer("uniform") == pytest.approx(0.868, abs=0.01)  # P(|z| > 1/6)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        ({"scheme": "xx"}, "fp, bc, tc, qc"),
        ({"scheme": "tc", "distribution": "laplace"}, "normal, uniform"),
        ({"scheme": "tc", "scale": "channel"}, "none, tensor"),
    ],
)
def test_unknown_options_name_the_valid_choices(kwargs, needle):
    w = np.ones(3, np.float32)
    with pytest.raises(ValueError, match=needle):
        quantize(w, **kwargs)
    with pytest.raises(ValueError, match=needle):
        quantize_tf(w, **kwargs)


@pytest.mark.parametrize("bad", [np.array([1.0, np.nan]), np.array([np.inf, 0.0]), np.zeros((0, 3))])
def test_non_finite_and_empty_are_rejected(bad):
    with pytest.raises(ValueError, match="non-finite|empty"):
        quantize(bad, "tc")


# ---------------------------------------------------------------- TensorFlow twin


@pytest.mark.parametrize("scheme,distribution", QUANTIZED)
@pytest.mark.parametrize("scale", ["none", "tensor"])
@pytest.mark.parametrize("shape", [(17,), (128, 512), (3, 3, 4, 64), (2000, 128)])
def test_tf_is_bit_identical_to_numpy(scheme, distribution, scale, shape):
    seed = zlib.crc32(repr((scheme, distribution, scale, shape)).encode())  # hash() is salted per process
    w = (np.random.default_rng(seed).normal(size=shape) * 0.05).astype(np.float32)
    got = quantize_tf(tf.constant(w), scheme, distribution=distribution, scale=scale).numpy()
    want = quantize(w, scheme, distribution=distribution, scale=scale)
    assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("scheme,distribution", QUANTIZED)
def test_tf_exact_vector(scheme, distribution):
    got = quantize_tf(tf.constant(EXACT), scheme, distribution=distribution).numpy()
    np.testing.assert_array_equal(got, reference(EXACT, scheme, distribution, "none"))


# ---------------------------------------------------------------- gradients


@pytest.mark.parametrize("scheme", ["fp", "bc", "tc", "qc"])
@pytest.mark.parametrize("scale", ["none", "tensor"])
def test_straight_through_gradient_matches_numpy_reference(scheme, scale):
    rng = np.random.default_rng(7)
    w = tf.Variable(rng.normal(size=(8, 6)).astype(np.float32))
    upstream = rng.normal(size=(8, 6)).astype(np.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(quantize_tf(w, scheme, scale=scale) * upstream)
    grad = tape.gradient(loss, w)
    # Reference: L = Σ q(w)·u with dq/dw := I (straight-through) gives dL/dw = u.
    np.testing.assert_array_equal(grad.numpy(), upstream)


def test_gradient_of_a_nonlinear_loss_passes_through_unchanged():
    w = tf.Variable(np.linspace(-2, 2, 12, dtype=np.float32))
    with tf.GradientTape() as tape:
        q = quantize_tf(w, "tc", scale="tensor")
        loss = tf.reduce_sum(tf.square(q - 0.1))
    np.testing.assert_allclose(tape.gradient(loss, w).numpy(), 2 * (q.numpy() - 0.1), rtol=1e-6)


# ---------------------------------------------------------------- tfmot quantizer classes


ALL_QUANTIZERS = [
    BinaryConnect(),
    BinaryConnect(scale="none"),
    TernaryConnect(),
    TernaryConnect(distribution="uniform", scale="none"),
    QuaternaryConnect(),
    QuaternaryConnect(distribution="uniform"),
]


@pytest.mark.parametrize("quantizer", ALL_QUANTIZERS, ids=repr)
def test_quantizer_config_round_trip(quantizer):
    clone = type(quantizer).from_config(quantizer.get_config())
    assert clone == quantizer and hash(clone) == hash(quantizer)
    restored = keras.utils.deserialize_keras_object(keras.utils.serialize_keras_object(quantizer))
    assert restored == quantizer


def test_quantizer_equality_distinguishes_settings():
    assert TernaryConnect() != TernaryConnect(distribution="uniform")
    assert TernaryConnect() != QuaternaryConnect()
    assert BinaryConnect(scale="none") != BinaryConnect()


@pytest.mark.parametrize("quantizer", ALL_QUANTIZERS, ids=repr)
def test_quantizer_call_equals_numpy(quantizer):
    w = np.random.default_rng(8).normal(size=(16, 16)).astype(np.float32)
    got = quantizer(tf.constant(w), True, {}).numpy()
    np.testing.assert_array_equal(got, quantizer.quantize_numpy(w))


def test_make_quantizer_rejects_fp_and_unknown():
    with pytest.raises(ValueError, match="bc, tc, qc"):
        quantizers.make_quantizer("fp")
    with pytest.raises(ValueError, match="fp, bc, tc, qc"):
        quantizers.make_quantizer("int8")


# ---------------------------------------------------------------- float32 threshold rounding


@pytest.mark.parametrize("seed", range(3))
def test_float32_at_or_below_is_the_largest_float32_not_above(seed):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(size=296) * 10.0 ** rng.integers(-8, 8, 296), [0.0, -0.0, 1e300, -1e300]])
    got = np.array([quantizers._float32_at_or_below(tf.constant(v, tf.float64)).numpy() for v in x])
    assert got.dtype == np.float32
    assert np.all(got.astype(np.float64) <= x)
    above = np.nextafter(got, np.float32(np.inf))
    assert np.all((above.astype(np.float64) > x) | np.isinf(above))
