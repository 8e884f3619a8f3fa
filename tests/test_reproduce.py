"""lowbit reproduce: the sweep's plan over seeds and protocols, results JSON over seeds, figures,
Markdown, reuse and resumption of runs, parallel jobs, bad settings."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from lowbit.pipeline.experiments import reproduce
from lowbit.pipeline.train import recipe

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


# ----------------------------------------------------------------------------- the plan


def test_plan_trains_seed_by_seed_and_each_quantized_run_starts_from_its_own_seeds_float_run(tmp_path):
    planned = reproduce.plan(reproduce.EXPERIMENTS["imdb"], runs_dir=tmp_path, seeds=[0, 1])
    assert len(planned) == 2 * 2 * 2 * 4  # seeds x protocols x tasks x schemes
    assert [r.seed for r in planned] == [0] * 16 + [1] * 16
    by_name = {r.name: r for r in planned}
    tc = by_name["seed-1/recipe/imdb-gru-tc"].config
    assert tc.out == str(tmp_path / "imdb" / "seed-1" / "recipe" / "imdb-gru-tc") and tc.seed == 1
    assert tc.init_from == by_name["seed-1/recipe/imdb-gru-fp"].config.out
    assert tc.learning_rate == recipe.FINETUNE_LEARNING_RATE
    assert by_name["seed-1/recipe/imdb-gru-fp"].config.learning_rate == recipe.FLOAT_LEARNING_RATE
    for scheme in ("fp", "bc", "tc", "qc"):  # the paper's protocol: every scheme from scratch
        config = by_name[f"seed-0/paper_protocol/imdb-lstm-{scheme}"].config
        assert config.init_from is None and config.learning_rate == recipe.SCRATCH_LEARNING_RATE
    position = {r.config.out: i for i, r in enumerate(planned)}
    assert all(position[r.config.init_from] < position[r.config.out] for r in planned if r.config.init_from)
    assert len({r.config.out for r in planned}) == len(planned)


def test_bad_experiment_task_or_counts_are_refused_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="valid choices: imdb, summation, frames"):
        reproduce.reproduce("mnist", runs_dir=tmp_path)
    with pytest.raises(ValueError, match="does not fit experiment imdb"):
        reproduce.reproduce("imdb", runs_dir=tmp_path, task="frames-convlstm")
    with pytest.raises(ValueError, match="--seeds and --jobs must be at least 1"):
        reproduce.reproduce("summation", runs_dir=tmp_path, seeds=0)
    assert not any(tmp_path.iterdir())


# ----------------------------------------------------------------------------- sweeps


@pytest.mark.slow  # trains 6 small models (~20 s)
def test_summation_sweep_over_two_seeds_writes_summaries_gaps_figures_markdown_then_reuses_runs(
        tmp_path, small_experiments, capsys):
    options = dict(runs_dir=tmp_path / "runs", docs_dir=tmp_path / "docs", epochs=1, limit=60, seeds=2,
                   progress=False)
    results = reproduce.reproduce("summation", **options)
    saved = json.loads((tmp_path / "docs" / "results" / "summation.json").read_text())
    assert saved == json.loads(json.dumps(results))
    assert saved["setup"]["seeds"] == [0, 1] and saved["setup"]["examples"]["test"] == 60
    entries = saved["lstm"]["recipe"]
    assert set(entries) == {"fp", "tc", "tc-uniform"}
    run_dir = tmp_path / "runs" / "summation"
    for key, entry in entries.items():
        runs = [json.loads((run_dir / f"seed-{s}" / "recipe" / f"summation-lstm-{key}" / "run.json").read_text())
                for s in (0, 1)]
        values = [r["test_exact_match"] for r in runs]
        assert entry["test_exact_match"]["seeds"] == values
        assert entry["test_exact_match"]["mean"] == pytest.approx(np.mean(values))
        assert entry["test_accuracy"]["seeds"] == [r["test_accuracy"] for r in runs]
        assert entry["best_epoch"] == [r["best_epoch"] for r in runs]
    fp, tc, uniform = (entries[k]["test_exact_match"]["seeds"] for k in ("fp", "tc", "tc-uniform"))
    assert entries["tc"]["gap_to_fp"]["test_exact_match"]["seeds"] == pytest.approx(np.subtract(tc, fp).tolist())
    assert entries["tc-uniform"]["normal_minus_uniform"]["test_exact_match"]["seeds"] == pytest.approx(
        np.subtract(tc, uniform).tolist())
    assert "gap_to_fp" not in entries["fp"]
    names = {p.split("/")[-1] for p in saved["figures"]}
    assert names == {"summation-lstm-curves.png", "summation-lstm-normal-vs-uniform.png",
                     "summation-test.png", "summation-weight-distributions.png"}
    for figure in saved["figures"]:
        assert (tmp_path / "docs" / figure).read_bytes()[:8] == PNG_MAGIC
    markdown = (tmp_path / "docs" / "results.md").read_text()
    assert "## summation" in markdown and "| lstm | tc-uniform |" in markdown and "Normal vs uniform" in markdown
    assert all(f"]({figure})" in markdown for figure in saved["figures"])
    log = (run_dir / "sweep.log").read_text().splitlines()
    assert len(log) == 12 and sum(": done in" in line for line in log) == 6

    stamps = {p: p.stat().st_mtime_ns for p in run_dir.glob("seed-*/*/*/run.json")}
    assert len(stamps) == 6
    capsys.readouterr()
    reproduce.reproduce("summation", **options)
    assert capsys.readouterr().err.count("finished earlier, reused") == 6
    log = (run_dir / "sweep.log").read_text().splitlines()
    assert len(log) == 18 and sum(line.endswith(": reused, finished earlier") for line in log) == 6
    assert stamps == {p: p.stat().st_mtime_ns for p in run_dir.glob("seed-*/*/*/run.json")}

    with pytest.raises(FileExistsError, match="other settings"):
        reproduce.reproduce("summation", **{**options, "epochs": 2})


@pytest.mark.slow  # two worker processes, each importing TensorFlow (~40 s)
def test_parallel_jobs_train_every_run_once_and_a_quantized_run_only_after_its_float_run(tmp_path, small_experiments):
    results = reproduce.reproduce("summation", runs_dir=tmp_path / "runs", docs_dir=tmp_path / "docs",
                                  epochs=1, limit=40, seeds=2, jobs=2, progress=False)
    log = (tmp_path / "runs" / "summation" / "sweep.log").read_text().splitlines()
    finished = {line.split("] ")[1].split(":")[0]: i for i, line in enumerate(log) if ": done in" in line}
    started = {line.split("] ")[1].split(":")[0]: i for i, line in enumerate(log) if line.endswith(": start")}
    assert len(finished) == len(started) == 6
    for seed in (0, 1):
        fp = f"seed-{seed}/recipe/summation-lstm-fp"
        assert finished[fp] < started[f"seed-{seed}/recipe/summation-lstm-tc"]
    assert len(results["lstm"]["recipe"]["tc"]["test_exact_match"]["seeds"]) == 2


def test_frames_sweep_reports_baselines_mse_and_ssim_per_predicted_frame(tmp_path, small_experiments, shared_data):
    results = reproduce.reproduce("frames", runs_dir=tmp_path / "runs", docs_dir=tmp_path / "docs",
                                  data_dir=str(shared_data), epochs=1, limit=20, progress=False)
    assert results["predicted_frame_numbers"] == list(range(8, 16))
    assert set(results["baselines"]) == {"copy_last", "black"}
    assert all(len(v) == 8 for v in [*results["baselines"].values(), *results["baselines_ssim"].values()])
    run = json.loads((tmp_path / "runs" / "frames" / "seed-0" / "recipe" / "frames-convlstm-32-bc" / "run.json")
                     .read_text())
    assert results["bc"]["mse_per_frame"]["seeds"] == [run["test_mse_per_frame"]]
    assert results["bc"]["ssim_per_frame"]["seeds"] == [run["test_ssim_per_frame"]]
    fp = results["fp"]["mse_per_frame"]["mean"]
    assert results["bc"]["ratio_to_fp"]["mean"] == pytest.approx(np.divide(run["test_mse_per_frame"], fp).tolist())
    better = np.minimum(results["baselines"]["copy_last"], results["baselines"]["black"])
    assert results["fp"]["ratio_to_best_baseline"]["mean"] == pytest.approx((np.asarray(fp) / better).tolist())
    assert {p.split("/")[-1] for p in results["figures"]} >= {"frames-predictions.png", "frames-mse.png"}
    markdown = (tmp_path / "docs" / "results.md").read_text()
    assert "| baseline: copy last |" in markdown and "| bc ÷ fp (≤ 1.2) |" in markdown


def test_imdb_sweep_trains_the_recipe_and_the_papers_protocol_side_by_side(tmp_path, monkeypatch, shared_data):
    imdb = dataclasses.replace(reproduce.EXPERIMENTS["imdb"], tasks=("imdb-lstm",),
                               runs=(("imdb-lstm", "fp", "normal"), ("imdb-lstm", "tc", "normal")))
    monkeypatch.setitem(reproduce.EXPERIMENTS, "imdb", imdb)
    results = reproduce.reproduce("imdb", runs_dir=tmp_path / "runs", docs_dir=tmp_path / "docs",
                                  data_dir=str(shared_data), epochs=1, limit=100, progress=False)
    runs = tmp_path / "runs" / "imdb" / "seed-0"
    tc = json.loads((runs / "recipe" / "imdb-lstm-tc" / "config.json").read_text())
    scratch = json.loads((runs / "paper_protocol" / "imdb-lstm-tc" / "config.json").read_text())
    assert tc["init_from"] == str(runs / "recipe" / "imdb-lstm-fp")
    assert scratch["init_from"] is None and scratch["learning_rate"] == recipe.SCRATCH_LEARNING_RATE
    assert set(results["lstm"]) == {"recipe", "paper_protocol"}
    assert set(results["setup"]["protocols"]) == {"recipe", "paper_protocol"}
    assert Path(tmp_path / "docs" / "results" / "imdb-lstm-paper-protocol-curves.png").is_file()
    markdown = (tmp_path / "docs" / "results.md").read_text()
    assert "**recipe**" in markdown and "**paper protocol**" in markdown


@pytest.mark.slow  # two worker processes importing TensorFlow, then an interrupt (~60 s)
def test_ctrl_c_sent_to_the_parent_alone_stops_a_parallel_sweep_and_its_children(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    def as_from_a_shell():  # SIGINT delivered and handled by default, whatever this test process inherited
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    runs = tmp_path / "runs"
    child = subprocess.Popen(
        [sys.executable, "-m", "lowbit.cli", "reproduce", "summation", "--runs", str(runs), "--docs",
         str(tmp_path / "docs"), "--epochs", "60", "--limit", "2000", "--seeds", "2", "--jobs", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=as_from_a_shell)
    log = runs / "summation" / "sweep.log"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not list(runs.glob("summation/seed-*/recipe/*/checkpoint.h5")):
        time.sleep(1)
    status = Path(f"/proc/{child.pid}/status").read_text()  # for the message below, if it comes to that
    os.kill(child.pid, signal.SIGINT)  # the parent only, as `kill -INT` would
    try:
        _, err = child.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        child.kill()
        masks = [line for line in status.splitlines() if line.startswith(("SigBlk", "SigIgn", "SigCgt"))]
        pytest.fail(f"the sweep went on 120 s after SIGINT; its signal masks when it was sent: {masks}; "
                    f"sweep.log: {log.read_text()[-1500:]}")
    assert child.returncode == 130 and "interrupted; resume with the same command" in err
    assert ": start" in log.read_text()
    for _ in range(20):  # the children (and multiprocessing's resource tracker) end within seconds
        leftovers = subprocess.run(["pgrep", "-a", "-s", str(child.pid)], capture_output=True, text=True).stdout
        if not leftovers:
            break
        time.sleep(1)
    assert leftovers == ""
