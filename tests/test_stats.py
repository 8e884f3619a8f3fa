"""Figures over seeds: values against hand computation and textbook t quantiles, pairing, errors."""

import math

import numpy as np
import pytest

from lowbit.pipeline.experiments import stats


@pytest.mark.parametrize("dof, quantile", [(1, 12.706), (2, 4.303), (4, 2.776), (9, 2.262), (30, 2.042), (200, 1.960)],
                         ids=lambda v: str(v))
def test_t_quantile_matches_the_textbook_table(dof, quantile):
    assert stats.t975(dof) == pytest.approx(quantile, abs=1e-3)


def test_three_seeds_give_mean_sample_std_and_t_interval():
    summary = stats.summarize([0.80, 0.82, 0.84])
    assert summary["seeds"] == [0.80, 0.82, 0.84]
    assert summary["mean"] == pytest.approx(0.82)
    assert summary["std"] == pytest.approx(0.02)  # sample std: sqrt((0.02^2 + 0 + 0.02^2) / 2)
    half = 4.3027 * 0.02 / math.sqrt(3)
    assert summary["ci95"] == pytest.approx([0.82 - half, 0.82 + half])


def test_one_seed_has_no_spread_and_no_interval():
    assert stats.summarize([0.5]) == {"seeds": [0.5], "mean": 0.5, "std": None, "ci95": None}


def test_per_frame_lists_are_summarized_frame_by_frame():
    summary = stats.summarize([[1.0, 4.0], [3.0, 4.0]])
    assert summary["mean"] == [2.0, 4.0]
    assert summary["std"] == pytest.approx([math.sqrt(2), 0.0])
    assert summary["ci95"][0][1] == summary["ci95"][1][1] == 4.0


def test_a_paired_gap_cancels_what_the_seeds_share():
    fp = [0.80, 0.86, 0.83]  # seeds that differ a lot ...
    quantized = [v - 0.01 for v in fp]  # ... and a scheme exactly one point below on each
    gap = stats.paired_gap(quantized, fp)
    assert gap["mean"] == pytest.approx(-0.01) and gap["std"] == pytest.approx(0.0, abs=1e-12)
    unpaired_std = np.std(quantized, ddof=1)
    assert unpaired_std > 0.02


@pytest.mark.parametrize("values, message", [
    ([], "one scalar or one list per seed"),
    ([0.5, float("nan")], "not finite"),
], ids=["empty", "nan"])
def test_bad_values_are_refused(values, message):
    with pytest.raises(ValueError, match=message):
        stats.summarize(values)


def test_a_gap_needs_the_same_seeds_on_both_sides():
    with pytest.raises(ValueError, match="same seeds"):
        stats.paired_gap([0.1, 0.2], [0.1])
