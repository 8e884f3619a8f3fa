"""lowbit convert: files and manifest of a trained run, and clear errors that write nothing."""

import hashlib
import json

import pytest

from lowbit.deploy.export.convert import FORMATS, convert_run, parse_formats
from lowbit import cli
from lowbit.pipeline.train.loop import TrainConfig, train


@pytest.fixture(scope="module")
def tc_run(tmp_path_factory, shared_data):
    out = tmp_path_factory.mktemp("runs") / "imdb-lstm-tc"
    train(TrainConfig(task="imdb-lstm", scheme="tc", out=str(out), epochs=1, limit=300,
                      data_dir=str(shared_data)), progress=False)
    return out


def test_convert_writes_both_artifacts_and_a_truthful_manifest(tc_run, capsys):
    assert cli.main(["convert", str(tc_run)]) == 0
    manifest = json.loads((tc_run / "manifest.json").read_text())
    assert manifest["task"] == "imdb-lstm" and manifest["scheme"] == "tc"
    assert manifest["source"]["sha256"] == hashlib.sha256((tc_run / "model.h5").read_bytes()).hexdigest()
    for name, fmt, limit in (("model.tflite", "tflite", 0.80e6), ("model.onnx", "onnx", 0.77e6)):
        artifact = manifest["artifacts"][name]
        blob = (tc_run / name).read_bytes()
        assert artifact["format"] == fmt and artifact["size_bytes"] == len(blob) < limit
        assert artifact["sha256"] == hashlib.sha256(blob).hexdigest()
        embedding = [t for t in artifact["tensors"] if "embedding" in t["name"]]
        assert len(embedding) == 1 and embedding[0]["bits"] == 2 and embedding[0]["scale"] > 0
        assert 2.0 <= artifact["bits_per_weight"] <= 2.5
    assert "model.tflite" in capsys.readouterr().out


def test_converting_one_format_keeps_the_other_in_the_manifest(tc_run):
    convert_run(tc_run, formats=("onnx",))
    manifest = json.loads((tc_run / "manifest.json").read_text())
    assert set(manifest["artifacts"]) == {"model.tflite", "model.onnx"}


@pytest.mark.parametrize("text", ["pdf", "tflite,", "", "onnx,coreml"])
def test_unknown_formats_are_refused(text):
    if text == "tflite,":
        assert parse_formats(text) == ("tflite",)
        return
    with pytest.raises(ValueError, match="valid choices: tflite, onnx"):
        parse_formats(text)


def test_a_run_dir_without_a_model_is_a_clear_error_and_nothing_is_written(tmp_path, capsys):
    (tmp_path / "config.json").write_text(json.dumps({"task": "imdb-lstm", "scheme": "tc"}))
    assert cli.main(["convert", str(tmp_path)]) == 2
    assert "has no model.h5" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]
    assert cli.main(["convert", str(tmp_path), "--to", "pdf"]) == 2
    assert FORMATS == ("tflite", "onnx")


def test_tflite_weights_int4_widens_bc_tc_files_and_is_recorded(tc_run, capsys):
    from lowbit.deploy.export.convert import is_current

    convert_run(tc_run, formats=("tflite",))
    narrow = json.loads((tc_run / "manifest.json").read_text())["artifacts"]["model.tflite"]
    assert narrow["weight_bits"] == 2 and is_current(tc_run, formats=("tflite",))
    assert not is_current(tc_run, formats=("tflite",), tflite_bits=4)
    assert cli.main(["convert", str(tc_run), "--to", "tflite", "--tflite-weights", "int4"]) == 0
    wide = json.loads((tc_run / "manifest.json").read_text())["artifacts"]["model.tflite"]
    assert wide["weight_bits"] == 4 and {t["bits"] for t in wide["tensors"]} == {4}
    assert 1.9 * narrow["code_bits_per_weight"] < wide["code_bits_per_weight"] <= 4.0
    assert is_current(tc_run, formats=("tflite",), tflite_bits=4) and not is_current(tc_run, formats=("tflite",))


def test_tflite_weights_narrower_than_the_scheme_or_unknown_are_refused(tmp_path, capsys):
    from lowbit.deploy.export.tflite_export import weight_bits

    with pytest.raises(ValueError, match="qc weights cannot be stored in INT2 in .tflite; choose int4"):
        weight_bits("qc", 2)
    assert weight_bits("tc", None) == 2 and weight_bits("qc", None) == 4 and weight_bits("fp", 4) is None
    (tmp_path / "config.json").write_text(json.dumps({"task": "imdb-lstm", "scheme": "tc"}))
    with pytest.raises(SystemExit):
        cli.main(["convert", str(tmp_path), "--tflite-weights", "int3"])
    assert "'int3': choose int2, int4 or int8" in capsys.readouterr().err
