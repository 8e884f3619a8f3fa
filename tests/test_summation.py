"""Summation data: alphabet contract, distinct seeded problems, encode/decode, exact match."""

import numpy as np
import pytest

from lowbit.pipeline.data import splits as datasets, summation


def test_alphabet_is_the_papers_twelve_symbols():
    assert summation.ALPHABET == "0123456789+ " and len(set(summation.ALPHABET)) == 12


def test_problems_are_distinct_deterministic_and_in_range():
    pairs = summation.problems(5000, seed=3)
    assert len(set(pairs)) == 5000
    assert pairs == summation.problems(5000, seed=3)
    assert pairs != summation.problems(5000, seed=4)
    assert all(0 <= a < 1000 and 0 <= b < 1000 for a, b in pairs)


def test_short_operands_are_not_exhausted_into_the_front():
    pairs = summation.problems(20000, seed=0)
    length = lambda ps: np.mean([len(str(a)) + len(str(b)) for a, b in ps])
    assert abs(length(pairs[:4000]) - length(pairs[-4000:])) < 0.1


def test_asking_for_more_problems_than_exist_is_an_error():
    with pytest.raises(ValueError, match="only 100 distinct"):
        summation.problems(101, digits=1)


def test_questions_and_answers_have_the_fixed_layout():
    assert summation.questions([(7, 123)]) == ["7+123  "]
    assert summation.answers([(999, 999)]) == ["1998"]
    assert summation.answers([(1, 2)]) == ["3   "]


def test_encode_decode_round_trip_and_bad_symbols():
    strings = ["12+5   ", "999+999"]
    onehot = summation.encode(strings, 7)
    assert onehot.shape == (2, 7, 12) and onehot.dtype == np.float32
    assert np.all(onehot.sum(-1) == 1)
    assert summation.decode(onehot) == strings
    with pytest.raises(ValueError, match="not in the alphabet"):
        summation.encode(["12-5   "], 7)
    with pytest.raises(ValueError, match="expected 7"):
        summation.encode(["1+1"], 7)


def test_exact_match_counts_whole_answers_only():
    truth = summation.encode(["12  ", "7   "], 4)
    almost = summation.encode(["12  ", "8   "], 4)
    assert summation.exact_match(truth, truth) == 1.0
    assert summation.exact_match(truth, almost) == 0.5


def test_splits_are_disjoint_and_answers_are_the_sums():
    s = datasets.summation_splits(limit=600, seed=1)
    assert len(s.x_train) + len(s.x_val) == 600 and len(s.x_test) == 600
    q = lambda x: set(summation.decode(x))
    assert not (q(s.x_train) & q(s.x_test)) and not (q(s.x_val) & q(s.x_test)) and not (q(s.x_train) & q(s.x_val))
    for question, answer in zip(summation.decode(s.x_test[:50]), summation.decode(s.y_test[:50])):
        a, b = question.strip().split("+")
        assert int(answer) == int(a) + int(b)
