"""1,200 damaged artifacts through lowbit predict, in child processes: every one is either
scored (the damage hit weights only) or refused with a one-line error naming the file — no
crash by a signal, no traceback. Cases carry no manifest, so the structural checks of
lowbit.deploy.runtime.artifacts, not the sha256, must catch the damage."""

import collections

import pytest
from fuzz_predict import make_cases, run_all

pytestmark = pytest.mark.slow  # see the module docstring


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """A ternary IMDB-shaped LSTM small enough that damage often lands in the structure."""
    from lowbit.deploy.export import onnx_export, tflite_export
    from lowbit.models import imdb
    from lowbit.pipeline import qat
    from lowbit.pipeline.data.text import Vocabulary

    out = tmp_path_factory.mktemp("tiny")
    stripped = qat.strip(qat.quantize_model(imdb.build("lstm", vocab_size=100, units=8), "tc"))
    (out / "model.tflite").write_bytes(tflite_export.convert_keras_model(stripped, scheme="tc"))
    (out / "model.onnx").write_bytes(onnx_export.convert_keras_model(stripped, scheme="tc"))
    Vocabulary([f"w{i}" for i in range(97)]).save(out / "vocab.txt")
    return out


@pytest.mark.parametrize("name, seed", [("model.tflite", 11), ("model.onnx", 12)])
def test_damaged_artifacts_never_crash_predict(tiny_models, tmp_path, name, seed):
    cases = make_cases(tiny_models / name, tmp_path, 600, seed=seed)
    outcomes = run_all(cases)
    counts = collections.Counter(o.split(" ")[0] for o in outcomes.values())
    print(f"{name}: {len(cases)} damaged files: {dict(counts)}")
    assert len(outcomes) == 600
    bad = {p: o for p, o in outcomes.items() if not o.startswith(("ok", "refused"))}
    assert not bad, list(bad.items())[:5]
    assert counts["refused"] >= 200  # most damage is structural and must be caught
