"""lowbit.deploy.runtime.runtimes: one contract for LiteRT and ONNX Runtime — shapes, batching with padding,
LSTM state reset between sequences, outputs equal to Keras', clear errors."""

import numpy as np
import pytest

from lowbit.deploy.runtime import runtimes
from lowbit.deploy.runtime.artifacts import open_artifact
from lowbit.deploy.evaluation.testsets import load as load_test_set
from lowbit.pipeline.keras2 import keras


@pytest.fixture(scope="module")
def inputs(converted_runs):
    return load_test_set(converted_runs["fp"], limit=37).x


@pytest.mark.parametrize("name", ["model.tflite", "model.onnx"])
def test_runner_shapes(converted_runs, name):
    runner = runtimes.load(open_artifact(converted_runs["tc"] / name))
    assert runner.input_dtype == np.int32 and runner.input_shape[1] == 80
    assert runner.batch_size == (1 if name.endswith("tflite") else None)


@pytest.mark.parametrize("name", ["model.tflite", "model.onnx"])
def test_predict_equals_keras_for_any_row_count(converted_runs, inputs, name):
    """37 rows: LiteRT's fixed batch of 1 and ORT's chunks of 16 (the last one short)."""
    runner = runtimes.load(open_artifact(converted_runs["fp"] / name))
    keras_scores = keras.models.load_model(converted_runs["fp"] / "model.h5", compile=False).predict(inputs, verbose=0)
    scores = runner.predict(inputs, chunk=16)
    assert scores.shape == (37, 1)
    assert np.abs(scores - keras_scores).max() <= 1e-5


def test_a_fixed_batch_artifact_pads_the_last_batch(tmp_path, converted_runs, inputs):
    from lowbit.deploy.export import tflite_export

    model = keras.models.load_model(converted_runs["fp"] / "model.h5", compile=False)
    path = tmp_path / "batch4.tflite"
    path.write_bytes(tflite_export.convert_keras_model(model, scheme="fp", batch_size=4))
    runner = runtimes.load(open_artifact(path))
    assert runner.batch_size == 4
    seen = []
    scores = runner.predict(inputs[:6], progress=seen.append)
    assert seen == [4, 2]
    assert np.abs(scores - model.predict(inputs[:6], verbose=0)).max() <= 1e-5


def test_lstm_state_does_not_leak_between_sequences(converted_runs, inputs):
    """The same input scores the same after another input (the files keep no state between calls)."""
    runner = runtimes.load(open_artifact(converted_runs["tc"] / "model.tflite"))
    first = runner.run(inputs[:1])
    runner.run(inputs[1:2])
    assert np.array_equal(runner.run(inputs[:1]), first)


@pytest.mark.parametrize("name", ["model.tflite", "model.onnx"])
def test_wrong_inputs_are_clear_errors(converted_runs, name):
    runner = runtimes.load(open_artifact(converted_runs["tc"] / name))
    with pytest.raises(ValueError, match="does not fit"):
        runner.run(np.zeros((1, 79), np.int32))
    with pytest.raises(ValueError, match="no inputs"):
        runner.predict(np.zeros((0, 80), np.int32))
    with pytest.raises(ValueError, match="threads must be positive"):
        runtimes.load(open_artifact(converted_runs["tc"] / name), threads=0)


def test_all_threads_is_the_usable_cpu_count():
    assert 1 <= runtimes.all_threads() <= 4096
