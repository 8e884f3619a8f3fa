"""lowbit.deploy.evaluation.evaluate / lowbit.deploy.evaluation.report: the report of two real converted runs — schema, values equal
to an independent recomputation, ratios, Markdown and plots — and the refusals."""

import json
import shutil

import numpy as np
import pytest

from lowbit.deploy.runtime import runtimes
from lowbit.deploy.runtime.artifacts import open_artifact
from lowbit.deploy.evaluation.evaluate import evaluate
from lowbit.deploy.evaluation.testsets import load as load_test_set
from lowbit import cli
from lowbit.pipeline.keras2 import keras

LIMIT = 200


@pytest.fixture(scope="module")
def report(converted_runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    evaluate([converted_runs["fp"], converted_runs["tc"]], out_dir=out, limit=LIMIT,
             runs=30, warmup=3, loads=2, progress=False)
    return out


def test_report_files_and_schema(report):
    data = json.loads((report / "report.json").read_text())
    assert data["task"] == "imdb-lstm" and data["baseline"] == "fp" and data["test_examples"] == LIMIT
    assert len(data["artifacts"]) == 4
    keys = {"scheme", "format", "path", "size_bytes", "bits_per_weight", "metric", "value", "keras_value",
            "agreement", "latency_ms", "threads", "size_ratio", "latency_ratio", "load_ms", "peak_rss_mb",
            "memory_ratio", "latency_by_threads"}
    for a in data["artifacts"]:
        assert keys <= set(a), keys - set(a)
        assert set(a["latency_ms"]) >= {"p50", "p90", "p99"} and a["threads"] == 1
        assert a["latency_ms"]["p50"] <= a["latency_ms"]["p90"] <= a["latency_ms"]["p99"]
        assert a["metric"] == "accuracy" and 0 <= a["agreement"] <= 1
    assert {(a["scheme"], a["format"]) for a in data["artifacts"]} == {
        (s, f) for s in ("fp", "tc") for f in ("tflite", "onnx")}
    for name in ("report.md", "quality-vs-size.png", "latency.png"):
        assert (report / name).is_file()
    assert (report / "latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_values_equal_an_independent_recomputation(report, converted_runs):
    data = json.loads((report / "report.json").read_text())
    test = load_test_set(converted_runs["tc"], limit=LIMIT)
    labels = test.truth > 0.5
    keras_model = keras.models.load_model(converted_runs["tc"] / "model.h5", compile=False)
    keras_pred = keras_model.predict(test.x, verbose=0).ravel() > 0.5
    for a in data["artifacts"]:
        if a["scheme"] != "tc":
            continue
        artifact = open_artifact(a["path"])
        assert a["size_bytes"] == len(artifact.content) == (converted_runs["tc"] / artifact.path.name).stat().st_size
        assert a["bits_per_weight"] == artifact.entry["bits_per_weight"]
        runner = runtimes.load(artifact)
        pred = np.array([runner.run(row[None])[0, 0] for row in test.x]) > 0.5
        assert a["value"] == pytest.approx(np.mean(pred == labels), abs=1e-12)
        assert a["keras_value"] == pytest.approx(np.mean(keras_pred == labels), abs=1e-12)
        assert a["agreement"] == pytest.approx(np.mean(pred == keras_pred), abs=1e-12)


def test_ratios_refer_to_the_baseline_of_the_same_format(report):
    data = json.loads((report / "report.json").read_text())
    by = {(a["scheme"], a["format"]): a for a in data["artifacts"]}
    for fmt in ("tflite", "onnx"):
        fp, tc = by[("fp", fmt)], by[("tc", fmt)]
        assert fp["size_ratio"] == 1 and fp["latency_ratio"] == 1
        assert tc["size_ratio"] == pytest.approx(tc["size_bytes"] / fp["size_bytes"], abs=1e-4)
        assert tc["latency_ratio"] == pytest.approx(tc["latency_ms"]["p50"] / fp["latency_ms"]["p50"], abs=1e-3)
        assert tc["memory_ratio"] == pytest.approx(tc["peak_rss_mb"] / fp["peak_rss_mb"], abs=1e-3)
        assert tc["size_ratio"] < 0.1  # 2-bit embedding and int8 gates vs float32
        # the float file's bytes are in the float process' memory, the packed ones are not
        assert tc["peak_rss_mb"] < fp["peak_rss_mb"]


def test_markdown_has_one_row_per_artifact_and_the_targets(report):
    text = (report / "report.md").read_text()
    assert text.count("| tc | LiteRT |") == 1 and text.count("| fp | ONNX Runtime |") == 1
    assert "## Targets" in text and "latency p50 (1 thread) ≤ 0.5× fp" in text
    assert "≤ 0.3× TensorFlow's float .tflite" in text and "≤ ONNX Runtime's" in text
    assert "every low-bit matrix op runs in XNNPACK | all | ✅" in text


def test_lstm_litert_files_are_timed_against_tensorflows_fused_float_file(report):
    from lowbit.deploy.export import tflite_export as te

    data = json.loads((report / "report.json").read_text())
    reference = data["reference"]
    assert reference["what"].startswith("TensorFlow's own float .tflite")
    assert set(reference["latency_by_threads"]) == {str(t) for t in data["settings"]["threads"]}
    for a in data["artifacts"]:
        if a["format"] != "tflite":
            assert "reference_latency_ratio_by_threads" not in a and "xnnpack" not in a
            continue
        for t, ratio in a["reference_latency_ratio_by_threads"].items():
            assert ratio == pytest.approx(a["latency_by_threads"][t]["p50"] / reference["latency_by_threads"][t]["p50"],
                                          abs=1e-3)
        assert a["xnnpack"]["histogram"]["WHILE"] == [1, 0] and a["xnnpack"]["slow_low_bit"] == []
    text = (report / "report.md").read_text()
    assert "## LiteRT against TensorFlow's own float file" in text and "## Where LiteRT runs each op" in text
    assert text.count("| tc | ") >= 3  # the main table, the reference table and the op table


def test_markdown_lists_the_layers_kept_float(report):
    import copy

    from lowbit.deploy.evaluation.report import markdown

    written = json.loads((report / "report.json").read_text())
    assert "kept float" not in markdown(written)
    edited = copy.deepcopy(written)
    for a in edited["artifacts"]:
        a["keep_float"] = ["positive"] if a["scheme"] != "fp" else []
    schemes = sorted({a["scheme"] for a in edited["artifacts"]} - {"fp"})
    assert schemes and ("Layers kept float (not quantized, stored as float32): "
                        + "; ".join(f"{s}: positive" for s in schemes) + ".") in markdown(edited)


def test_refusals(converted_runs, tmp_path):
    with pytest.raises(ValueError, match="need exactly one fp run"):
        evaluate([converted_runs["tc"]], out_dir=tmp_path, limit=10, runs=1)
    bare = tmp_path / "bare"
    shutil.copytree(converted_runs["tc"], bare)
    (bare / "manifest.json").unlink()
    with pytest.raises(ValueError, match="no manifest.json; export it first"):
        evaluate([converted_runs["fp"], bare], out_dir=tmp_path, limit=10, runs=1)
    assert cli.main(["evaluate", str(converted_runs["tc"]), "--out", str(tmp_path / "r"), "--limit", "5"]) == 2
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("task, limit, metric", [("summation-gru", 200, "exact_match"),
                                                 ("frames-convlstm-32", 20, "mse")])
def test_summation_and_frames_runs_are_measured_through_their_artifacts(tmp_path, shared_data, task, limit, metric):
    from lowbit.deploy.export.convert import convert_run
    from lowbit.pipeline.train.loop import TrainConfig, train

    runs = []
    for scheme in ("fp", "qc"):
        out = tmp_path / f"{task}-{scheme}"
        train(TrainConfig(task=task, scheme=scheme, out=str(out), epochs=1, limit=limit, batch_size=8,
                          data_dir=str(shared_data)), progress=False)
        convert_run(out)
        runs.append(out)
    data = evaluate(runs, out_dir=tmp_path / "report", data_dir=shared_data, runs=5, warmup=1, loads=1,
                    memory_probe=False, progress=False)
    assert data["metric"] == metric and len(data["artifacts"]) == 4
    for a in data["artifacts"]:
        if metric == "mse":  # ConvLSTM computes in float in both runtimes: the artifact is the model
            assert a["agreement"] is None and len(a["value_per_frame"]) == 8
            assert a["value"] == pytest.approx(a["keras_value"], rel=1e-4)
        else:
            assert 0 <= a["value"] <= 1 and a["agreement"] >= 0.9
    assert (tmp_path / "report" / "report.md").is_file()


def test_quality_measured_in_two_processes_equals_one_process(report, converted_runs, tmp_path):
    one = {(a["scheme"], a["format"]): a for a in json.loads((report / "report.json").read_text())["artifacts"]}
    two = evaluate([converted_runs["fp"], converted_runs["tc"]], out_dir=tmp_path, limit=LIMIT, runs=1, warmup=0,
                   loads=1, memory_probe=False, progress=False, jobs=2)
    assert len(two["artifacts"]) == len(one) == 4
    for a in two["artifacts"]:
        b = one[(a["scheme"], a["format"])]
        assert (a["value"], a["keras_value"], a["agreement"], a["max_abs_diff"]) == (
            b["value"], b["keras_value"], b["agreement"], b["max_abs_diff"])


@pytest.mark.parametrize("seen", [pytest.param(None, id="direct"), pytest.param(3, id="rollout")])
def test_outputs_of_parts_are_the_rows_of_the_whole(seen):
    from lowbit.deploy.evaluation.testsets import outputs

    x = np.random.default_rng(0).random((7, 6, 2)).astype(np.float32)
    predict = lambda rows: np.cumsum(rows, axis=1) * 0.5  # row-wise, step-causal, like a recurrent model
    whole = outputs(predict, x, seen)
    parts = np.concatenate([outputs(predict, x[a:b], seen) for a, b in ((0, 3), (3, 4), (4, 7))])
    np.testing.assert_array_equal(parts, whole)
    assert whole.shape == ((7, 6, 2) if seen is None else (7, 3, 2))


def test_a_users_report_in_the_out_folder_is_refused_before_any_measuring(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.md").write_text("my own report")
    assert cli.main(["evaluate", str(tmp_path / "no-such-run"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "report.md is not lowbit's to replace" in err and len(err.strip().splitlines()) == 1
    assert (out / "report.md").read_text() == "my own report" and sorted(p.name for p in out.iterdir()) == ["report.md"]
