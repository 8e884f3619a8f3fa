"""lowbit.pipeline.quiet: native log lines and the HDF5 warning hidden by default, shown with
--verbose; other warnings and errors untouched; and the CLI's terminal free of them."""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from lowbit.deploy.runtime import runtimes
from lowbit.deploy.runtime.artifacts import open_artifact
from lowbit.pipeline import quiet

NOISE = ("cuInit", "XNNPACK delegate", "HDF5 file", "oneDNN", "absl::InitializeLog", "Applying Transformations")


def _native_write(level: str | None) -> str:
    """stderr of a process that writes to fd 2 inside ``quiet.native_stderr()``."""
    probe = ("import os\nfrom lowbit.pipeline import quiet\nwith quiet.native_stderr():\n"
             "    os.write(2, b'native line\\n')\nos.write(2, b'after\\n')\n")
    env = None if level is None else {**os.environ, "TF_CPP_MIN_LOG_LEVEL": level}
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env,
                          check=True).stderr


@pytest.mark.parametrize("level, shown", [pytest.param("3", False, id="quiet by default"),
                                          pytest.param("0", True, id="verbose")])
def test_native_lines_are_hidden_unless_verbose_and_the_stream_comes_back(level, shown):
    err = _native_write(level)
    assert ("native line" in err) is shown
    assert err.endswith("after\n")  # the descriptor is restored after the block


def test_an_error_in_the_block_still_surfaces(monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    with pytest.raises(RuntimeError, match="kept"):
        with quiet.native_stderr():
            raise RuntimeError("kept")


@pytest.mark.parametrize("level, hidden", [pytest.param("3", True, id="quiet by default"),
                                           pytest.param("0", False, id="verbose")])
def test_only_the_hdf5_warning_is_hidden(monkeypatch, level, hidden):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", level)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with quiet.hdf5_on_purpose():
            warnings.warn("You are saving your model as an HDF5 file via `model.save()`.", UserWarning)
            warnings.warn("a real warning", UserWarning)
    assert [str(w.message) for w in caught][-1] == "a real warning"
    assert len(caught) == (1 if hidden else 2)


@pytest.mark.parametrize("level, hidden", [pytest.param("3", True, id="quiet by default"),
                                           pytest.param("0", False, id="verbose")])
def test_only_the_named_progress_bar_is_dropped(monkeypatch, capsys, level, hidden):
    import tqdm

    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", level)
    with quiet.without_progress_bar("Applying Transformations to tensors:"):
        for _ in tqdm.tqdm(range(150), desc="Applying Transformations to tensors:", mininterval=0):
            pass
        print("a line of its own", file=sys.stderr)
    err = capsys.readouterr().err
    assert ("Applying Transformations" in err) is not hidden
    assert "a line of its own\n" in err
    if hidden:
        assert err == "a line of its own\n"


@pytest.mark.slow  # three CLI processes that load TensorFlow
def test_train_convert_and_predict_print_no_native_noise(tmp_path):
    """What a user sees: the commands' own lines and Keras' progress, none of TensorFlow's or
    LiteRT's log lines; with --verbose they are back."""
    run = tmp_path / "run"
    cli = [sys.executable, "-m", "lowbit.cli"]
    user_env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # as a user has it

    def lowbit(*argv: str) -> str:
        done = subprocess.run(cli + list(argv), capture_output=True, text=True, timeout=600, env=user_env)
        assert done.returncode == 0, done.stderr
        return done.stderr

    errs = [lowbit("train", "--task", "summation-gru", "--scheme", "tc", "--limit", "64", "--epochs", "1",
                   "--out", str(run)),
            lowbit("convert", str(run))]
    shape = [d or 2 for d in runtimes.load(open_artifact(run / "model.tflite")).input_shape]
    np.savez(tmp_path / "x.npz", x_test=np.zeros(shape, np.float32))
    predict = ["predict", str(run / "model.tflite"), "--npz", str(tmp_path / "x.npz")]
    errs.append(lowbit(*predict))
    for err in errs:
        assert not [line for line in err.splitlines() if any(n in line for n in NOISE)], err
    assert "XNNPACK delegate" in lowbit("--verbose", *predict)
