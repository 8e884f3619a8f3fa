"""lowbit.deploy.export.packing: round trips (hypothesis), the documented bit order, codebooks, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lowbit.deploy.export import packing
from lowbit.pipeline.schemes import QUANTIZED

shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=9)


@settings(max_examples=300, deadline=None)
@given(bits=st.sampled_from(packing.WIDTHS), shape=shapes, data=st.data())
def test_unpack_inverts_pack_for_any_shape_and_width(bits, shape, data):
    levels = data.draw(hnp.arrays(np.uint8, shape, elements=st.integers(0, (1 << bits) - 1)))
    packed = packing.pack(levels, bits)
    assert packed.dtype == np.uint8 and packed.size == -(-levels.size * bits // 8)
    assert np.array_equal(packing.unpack(packed, bits, shape), levels)


@settings(max_examples=200, deadline=None)
@given(scheme=st.sampled_from(QUANTIZED), shape=shapes, data=st.data())
def test_codes_survive_levels_and_packing(scheme, shape, data):
    bits, book = packing.codebook(scheme)
    values = [v for v in book if v == v]
    codes = data.draw(hnp.arrays(np.float32, shape, elements=st.sampled_from(values)))
    levels = packing.to_levels(codes, scheme)
    back = packing.from_levels(packing.unpack(packing.pack(levels, bits), bits, shape), scheme)
    assert np.array_equal(back, codes)


def test_bit_order_is_least_significant_first_in_c_order():
    assert packing.pack(np.array([1, 0, 0, 0, 0, 0, 0, 1]), 1).tolist() == [0b1000_0001]
    assert packing.pack(np.array([[1, 2], [3, 0]]), 2).tolist() == [0b00_11_10_01]
    assert packing.pack(np.array([0xA, 0x5, 0xF]), 4).tolist() == [0x5A, 0x0F]  # zero padding


def test_tc_levels_are_int2_twos_complement():
    levels = packing.to_levels(np.array([-1, 0, 1], np.float32), "tc")
    assert levels.tolist() == [3, 0, 1]
    as_int2 = np.where(levels >= 2, levels.astype(int) - 4, levels)
    assert as_int2.tolist() == [-1, 0, 1]


@pytest.mark.parametrize("levels, bits, message", [
    (np.array([2]), 1, r"\[0, 2\)"), (np.array([-1]), 2, r"\[0, 4\)"), (np.array([16]), 4, r"\[0, 16\)"),
    (np.array([0.5]), 2, "integers"),
])
def test_out_of_range_levels_are_refused(levels, bits, message):
    with pytest.raises((ValueError, TypeError), match=message):
        packing.pack(levels, bits)


def test_bad_widths_lengths_and_codes_are_refused():
    with pytest.raises(ValueError, match="bits must be one of"):
        packing.pack(np.zeros(3, np.uint8), 3)
    with pytest.raises(ValueError, match="expected 2"):
        packing.unpack(np.zeros(3, np.uint8), 2, (5,))
    with pytest.raises(ValueError, match="not tc codes"):
        packing.to_levels(np.array([0.5], np.float32), "tc")
    with pytest.raises(ValueError, match="unused level"):
        packing.from_levels(np.array([2], np.uint8), "tc")
    with pytest.raises(ValueError, match="valid choices"):
        packing.to_levels(np.zeros(1), "fp")
