"""lowbit.deploy.evaluation.testsets: each task's test split as an artifact sees it, and its measure."""

import numpy as np
import pytest

from lowbit.deploy.evaluation import testsets
from lowbit.models import get_task


def test_imdb_full_test_split_with_the_runs_vocabulary(converted_runs, shared_data):
    test = testsets.load(converted_runs["tc"], data_dir=shared_data)
    assert test.x.shape == (25_000, 80) and test.x.dtype == np.int32
    assert test.truth.sum() == 12_500 and test.metric == "accuracy" and test.higher_is_better
    sample = testsets.load(converted_runs["tc"], data_dir=shared_data, limit=500)
    assert len(sample) == 500 and 150 < sample.truth.sum() < 350  # a mix of labels, not the sorted head


def test_imdb_measures():
    test = testsets.TestSet(get_task("imdb-lstm"), np.zeros((4, 80), np.int32), np.array([1, 0, 1, 0], np.float32))
    outputs = np.array([[0.9], [0.2], [0.4], [0.5]])
    assert test.value(outputs) == 0.75  # 0.5 is negative
    assert test.agreement(outputs, np.array([[0.6], [0.1], [0.7], [0.4]])) == 0.75


def test_summation_measures_whole_answers(tmp_path):
    import json

    (tmp_path / "config.json").write_text(json.dumps({"task": "summation-lstm", "limit": 200, "seed": 0}))
    test = testsets.load(tmp_path)
    assert test.metric == "exact_match" and test.x.shape[1:] == (7, 12) and test.truth.shape[1:] == (4, 12)
    assert test.value(test.truth) == 1.0
    wrong = test.truth.copy()
    wrong[0, 0] = np.roll(wrong[0, 0], 1)
    assert test.value(wrong) == pytest.approx(1 - 1 / len(test))
    assert test.agreement(wrong, test.truth) == pytest.approx(1 - 1 / len(test))


def test_frames_feed_predictions_back(tmp_path, shared_data):
    import json

    from lowbit.pipeline.data.moving_mnist import SEEN

    (tmp_path / "config.json").write_text(json.dumps({"task": "frames-convlstm-32", "limit": 20, "seed": 0}))
    test = testsets.load(tmp_path, data_dir=shared_data)
    calls = []

    def copy_last(x):
        calls.append(x.shape[1])
        return x  # "predicts" each frame as the previous one
    outputs = test.outputs(copy_last)
    assert calls == list(range(SEEN, test.x.shape[1]))
    assert outputs.shape == test.x[:, SEEN:].shape
    assert np.array_equal(outputs[:, 0], test.x[:, SEEN - 1]) and test.agreement(outputs, outputs) is None
    per_step = test.per_step(outputs)
    assert len(per_step) == test.x.shape[1] - SEEN and np.mean(per_step) == pytest.approx(test.value(outputs))
