"""lowbit.deploy.evaluation.report: the checks of a hand-built report — above all the quality of
every quantized scheme against float, which the checks against each artifact's own Keras model
cannot see — and the advice for a scheme behind float."""

import json

import pytest

from lowbit.deploy.evaluation import report as report_mod


def _artifact(scheme, fmt, value, metric="accuracy", run_dir=None):
    return {"scheme": scheme, "format": fmt, "metric": metric, "value": value, "keras_value": value,
            "agreement": None, "latency_ratio": 0.4, "run_dir": run_dir}


def _report(values: dict, *, metric="accuracy", quality_target=None, task="user"):
    """values: {scheme: value}, each scheme in both formats."""
    return {"task": task, "baseline": "fp", "metric": metric, "settings": {"quality_target": quality_target},
            "artifacts": [_artifact(s, f, v, metric) for s, v in values.items() for f in ("onnx", "tflite")]}


def _against_float(report):
    return {c["artifact"]: c["passed"] for c in report_mod.checks(report) if c.get("kind") == report_mod.AGAINST_BASELINE}


@pytest.mark.parametrize("values, metric, target, passed", [
    # the speaker classifier: every artifact equal to its Keras model, "20 of 20 met"
    pytest.param({"fp": 0.9351, "bc": 0.5054, "tc": 0.7514, "qc": 0.9251}, "accuracy", None,
                 {"bc": False, "tc": False, "qc": True}, id="accuracy, default 2 points"),
    pytest.param({"fp": 0.90, "tc": 0.885}, "accuracy", 0.01, {"tc": False}, id="accuracy, the user's 1 point"),
    pytest.param({"fp": 0.90, "tc": 0.88}, "accuracy", None, {"tc": True}, id="exactly 2 points is within"),
    pytest.param({"fp": 0.010, "tc": 0.0109, "bc": 0.0112}, "mse", None, {"tc": True, "bc": False},
                 id="mse, 10 % relative"),
])
def test_every_quantized_scheme_is_checked_against_float_in_each_format(values, metric, target, passed):
    checks = _against_float(_report(values, metric=metric, quality_target=target))
    assert checks == {f"{s}/{f}": p for s, p in passed.items() for f in ("onnx", "tflite")}


def test_the_check_names_the_target_and_how_far_off():
    (check,) = [c for c in report_mod.checks(_report({"fp": 0.9351, "tc": 0.7514}))
                if c.get("kind") == report_mod.AGAINST_BASELINE and c["artifact"] == "tc/onnx"]
    assert check["check"] == "accuracy within 2 points of fp's" and check["value"] == pytest.approx(0.1837)


def test_advice_names_each_scheme_behind_float_and_what_to_try(tmp_path):
    report = _report({"fp": 0.9351, "bc": 0.5054, "tc": 0.7514, "qc": 0.93})
    report["checks"] = report_mod.checks(report)
    runs = {"bc": {"epochs_completed": 2, "epochs_budget": 2, "best_epoch": 2},  # cut short while improving
            "tc": {"epochs_completed": 60, "epochs_budget": 500, "best_epoch": 10}}  # early-stopped
    lines = report_mod.advice(report, runs)
    assert len(lines) == 2
    assert lines[0].startswith("bc: 43.0 points behind fp (bc/onnx); try longer fine-tuning: it was still "
                               "improving after its 2 epoch(s)") and "tc or qc" in lines[0]
    assert lines[1].startswith("tc: 18.4 points behind fp") and "a lower --learning-rate (it stopped improving " \
        "at epoch 10 of 60)" in lines[1] and "qc (4 levels)" in lines[1] and "--keep-float" in lines[1]
    report["advice"] = lines
    assert report_mod.advice_section(report)[:4] == ["", "## Behind fp: what to try", "", f"- {lines[0]}"]
    assert report_mod.advice_section({**report, "advice": []}) == []


def test_advice_reads_the_runs_records_when_not_given(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"epochs_completed": 5, "epochs_budget": 5, "best_epoch": 5}))
    report = _report({"fp": 0.9, "tc": 0.5})
    for a in report["artifacts"]:
        a["run_dir"] = str(tmp_path)
    report["checks"] = report_mod.checks(report)
    assert "still improving after its 5 epoch(s)" in report_mod.advice(report)[0]
    report = _report({"fp": 0.9, "tc": 0.89})
    report["checks"] = report_mod.checks(report)
    assert report_mod.advice(report) == []
