"""lowbit reproduce: results JSON, figures, Markdown, reuse of finished runs, bad settings."""

import dataclasses
import json

import pytest

from lowbit.pipeline.experiments import reproduce

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def small_experiments(monkeypatch):
    """The real experiments with fewer runs, so a test trains a handful of tiny models."""
    summation = dataclasses.replace(reproduce.EXPERIMENTS["summation"], runs=(
        ("summation-lstm", "fp", "normal"), ("summation-lstm", "tc", "normal"),
        ("summation-lstm", "tc", "uniform")))
    frames = dataclasses.replace(reproduce.EXPERIMENTS["frames"], runs=(
        ("frames-convlstm-32", "fp", "normal"), ("frames-convlstm-32", "bc", "normal")))
    monkeypatch.setitem(reproduce.EXPERIMENTS, "summation", summation)
    monkeypatch.setitem(reproduce.EXPERIMENTS, "frames", frames)


@pytest.mark.slow  # trains 8 small models (19 s)
def test_summation_sweep_writes_results_figures_and_markdown_then_reuses_runs(tmp_path, small_experiments, capsys):
    options = dict(runs_dir=tmp_path / "runs", docs_dir=tmp_path / "docs", epochs=1, limit=60, progress=False)
    results = reproduce.reproduce("summation", **options)
    saved = json.loads((tmp_path / "docs" / "results" / "summation.json").read_text())
    assert saved == json.loads(json.dumps(results))
    assert set(saved["lstm"]) == {"fp", "tc", "tc-uniform"}
    for key, entry in saved["lstm"].items():
        run = json.loads((tmp_path / "runs" / "summation" / f"summation-lstm-{key}" / "run.json").read_text())
        assert entry["test_exact_match"] == run["test_exact_match"]
        assert entry["test_accuracy"] == run["test_accuracy"] and entry["n_test"] == 60
    assert saved["setup"]["epochs"] == 1 and saved["setup"]["limit"] == 60
    names = {p.split("/")[-1] for p in saved["figures"]}
    assert names == {"summation-lstm-curves.png", "summation-lstm-normal-vs-uniform.png",
                     "summation-test.png", "summation-weight-distributions.png"}
    for figure in saved["figures"]:
        assert (tmp_path / "docs" / figure).read_bytes()[:8] == PNG_MAGIC
    markdown = (tmp_path / "docs" / "results.md").read_text()
    assert "## summation" in markdown and "| lstm | tc-uniform |" in markdown
    assert all(f"]({figure})" in markdown for figure in saved["figures"])

    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("*/*/run.json")}
    capsys.readouterr()
    reproduce.reproduce("summation", **options)
    assert "finished earlier, reused" in capsys.readouterr().err
    assert stamps == {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("*/*/run.json")}

    with pytest.raises(FileExistsError, match="other settings"):
        reproduce.reproduce("summation", **{**options, "epochs": 2})

    run_json = tmp_path / "runs" / "summation" / "summation-lstm-fp" / "run.json"
    run_json.write_text(json.dumps({**json.loads(run_json.read_text()), "architecture_sha256": "0" * 64}))
    with pytest.raises(FileExistsError, match="another definition of the summation-lstm model"):
        reproduce.reproduce("summation", **options)


def test_frames_sweep_reports_mse_per_predicted_frame(tmp_path, small_experiments, shared_data):
    results = reproduce.reproduce("frames", runs_dir=tmp_path / "runs", docs_dir=tmp_path / "docs",
                                  data_dir=str(shared_data), epochs=1, limit=20, progress=False)
    entry = results["convlstm"]["bc"]
    assert entry["predicted_frame_numbers"] == list(range(8, 16))
    assert len(entry["test_mse_per_frame"]) == 8 and all(0 < v < 1 for v in entry["test_mse_per_frame"])
    assert {p.split("/")[-1] for p in results["figures"]} >= {"frames-predictions.png", "frames-mse.png"}
    markdown = (tmp_path / "docs" / "results.md").read_text()
    assert "| bc |" in markdown and "worst ratio to FP" in markdown


def test_markdown_marks_imdb_targets_met_and_missed(tmp_path):
    entry = lambda acc: {"test_accuracy": acc, "best_epoch": 1, "epochs_completed": 4,
                         "n_train": 9, "n_val": 1, "n_test": 10}
    results = {"experiment": "imdb", "setup": {"note": "n", "epochs": 20, "batch_size": 64, "patience": 3,
                                               "learning_rate": 0.001, "scale": "tensor", "limit": None},
               "figures": [], "lstm": {"fp": entry(0.8412), "bc": entry(0.8249)}}
    (tmp_path / "imdb.json").write_text(json.dumps(results))
    markdown = reproduce.render_markdown(tmp_path)
    assert "| lstm | fp | 84.12 | ≥ 84.0 ✅ | 82.87 |" in markdown
    assert "| lstm | bc | 82.49 | ≥ 82.5 ❌ | 76.25 |" in markdown


def test_bad_experiment_or_task_is_refused_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="valid choices: imdb, imdb-scratch, summation, frames"):
        reproduce.reproduce("mnist", runs_dir=tmp_path)
    with pytest.raises(ValueError, match="does not fit experiment imdb"):
        reproduce.reproduce("imdb", runs_dir=tmp_path, task="frames-convlstm")
    assert not any(tmp_path.iterdir())


def test_imdb_quantized_runs_start_from_the_float_run(tmp_path, monkeypatch, shared_data):
    from lowbit.pipeline.train import recipe

    imdb = dataclasses.replace(reproduce.EXPERIMENTS["imdb"], tasks=("imdb-lstm",),
                               runs=(("imdb-lstm", "fp", "normal"), ("imdb-lstm", "tc", "normal")))
    monkeypatch.setitem(reproduce.EXPERIMENTS, "imdb", imdb)
    results = reproduce.reproduce("imdb", runs_dir=tmp_path / "runs", docs_dir=tmp_path / "docs",
                                  data_dir=str(shared_data), epochs=1, limit=100, progress=False)
    runs = tmp_path / "runs" / "imdb"
    fp = json.loads((runs / "imdb-lstm-fp" / "config.json").read_text())
    tc = json.loads((runs / "imdb-lstm-tc" / "config.json").read_text())
    assert fp["learning_rate"] == recipe.FLOAT_LEARNING_RATE and fp["init_from"] is None
    assert tc["learning_rate"] == recipe.FINETUNE_LEARNING_RATE and tc["init_from"] == str(runs / "imdb-lstm-fp")
    assert results["setup"]["finetune_learning_rate"] == recipe.FINETUNE_LEARNING_RATE
    assert "QAT from the float weights" in (tmp_path / "docs" / "results.md").read_text()
