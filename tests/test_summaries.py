"""lowbit.pipeline.data.summaries: a split's summary equals the merge of its chunks' summaries."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lowbit.pipeline.data.summaries import Summary, merge, of_arrays


@settings(max_examples=80, deadline=None)
@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 12), st.just(3)),
                  elements=st.sampled_from([0.0, 1.0, 2.0, -1.5, 0.5])),
       hnp.arrays(np.int32, st.integers(1, 12), elements=st.integers(-2, 3)), st.data())
def test_merge_of_chunks_equals_the_whole(x, y, data):
    n = min(len(x), len(y))
    x, y = x[:n], y[:n]
    cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=3)))
    parts = np.split(np.arange(n), cuts)
    merged = None
    for part in parts:
        merged = merge(merged, of_arrays(x[part], y[part]))
    assert merged == of_arrays(x, y)


@pytest.mark.parametrize("y, binary, integral, one_hot", [
    pytest.param(np.array([0, 1, 1]), True, True, False, id="binary-ids"),
    pytest.param(np.array([0.0, 2.0]), False, True, False, id="whole-floats"),
    pytest.param(np.array([0.5, 1.0]), False, False, False, id="fractions"),
    pytest.param(np.eye(3, dtype=np.float32), True, True, True, id="one-hot"),
    pytest.param(np.array([[0.5, 0.2]]), False, False, False, id="rows-not-summing-to-one"),
])
def test_target_facts(y, binary, integral, one_hot):
    summary = of_arrays(np.zeros((len(y), 2)), y)
    assert (summary.y_binary, summary.y_integral, summary.y_rows_sum_to_one) == (binary, integral, one_hot)


def test_empty_split_has_no_range_and_json_round_trips():
    empty = of_arrays(np.zeros((0, 4), np.int32), np.zeros(0, np.float32))
    assert (empty.count, empty.x_shape, empty.x_min, empty.y_max) == (0, (4,), None, None)
    full = of_arrays(np.arange(8).reshape(2, 4), np.array([0.0, 1.0]))
    assert Summary.from_json(full.to_json()) == full and merge(empty, full) == merge(full, empty) == full


def test_rows_of_different_shapes_do_not_merge():
    with pytest.raises(ValueError, match="cannot merge"):
        merge(of_arrays(np.zeros((1, 3)), np.zeros(1)), of_arrays(np.zeros((1, 4)), np.zeros(1)))
