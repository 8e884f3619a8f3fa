"""lowbit.deploy.runtime.memory: a fresh process per artifact; the float model's bytes show up in its peak."""

import numpy as np

from lowbit.deploy.runtime import memory


def test_peak_memory_of_float_and_packed_artifacts(converted_runs):
    x = np.zeros((1, 80), np.int32)
    fp = memory.measure(converted_runs["fp"] / "model.tflite", x)
    tc = memory.measure(converted_runs["tc"] / "model.tflite", x)
    for probe in (fp, tc):
        assert set(probe) == {"before_load_mb", "peak_rss_mb", "model_rss_mb"}
        assert probe["peak_rss_mb"] >= probe["before_load_mb"] > 10  # python + numpy + LiteRT
    float_file_mb = (converted_runs["fp"] / "model.tflite").stat().st_size / 1e6
    assert fp["model_rss_mb"] >= float_file_mb  # the 10.8 MB of float weights are resident
    assert tc["model_rss_mb"] < fp["model_rss_mb"] / 2


def test_a_failing_probe_says_why(tmp_path):
    import pytest

    bad = tmp_path / "model.tflite"
    bad.write_bytes(b"garbage garbage garbage")
    with pytest.raises(RuntimeError, match="memory probe of .* failed"):
        memory.measure(bad, np.zeros((1, 80), np.int32))
