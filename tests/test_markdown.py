"""results.md from hand-built results JSON: targets met and missed (by how much), gaps, the
normal-vs-uniform verdict and the frames tables."""

import json

from lowbit.pipeline.experiments import markdown, stats

SETUP = {"note": "n", "seeds": [0, 1, 2], "epochs": 20, "batch_size": 64, "patience": 3, "scale": "tensor",
         "limit": None, "examples": {"train": 9, "val": 1, "test": 10},
         "protocols": {"recipe": {"description": "lowbit's recipe: fine-tuned"}}}


def _entry(values, fp=None, **extra):
    entry = {"test_accuracy": stats.summarize(values), "best_epoch": [1] * len(values),
             "epochs_completed": [4] * len(values), **extra}
    if fp is not None:
        entry["gap_to_fp"] = {"test_accuracy": stats.paired_gap(values, fp)}
    return entry


def _render(tmp_path, results):
    results = {"layout": markdown.LAYOUT, **results}
    (tmp_path / f"{results['experiment']}.json").write_text(json.dumps(results))
    return markdown.render_markdown(tmp_path, [results["experiment"]])


def test_imdb_targets_on_the_mean_and_the_gap_are_marked_with_the_miss(tmp_path):
    fp = [0.8400, 0.8420, 0.8410]
    bc = [0.8300, 0.8320, 0.8250]  # mean 82.90; gap -1.20 points
    results = {"experiment": "imdb", "figures": [],
               "setup": {**SETUP, "score_key": "test_accuracy", "score_label": "test accuracy (%)",
                         "targets": {"fp": 84.0, "bc": 82.5}, "gap_target": 1.0, "paper": {"lstm": {"fp": 82.87}}},
               "lstm": {"recipe": {"fp": _entry(fp), "bc": _entry(bc, fp)}}}
    text = _render(tmp_path, results)
    fp_row = next(line for line in text.splitlines() if line.startswith("| lstm | fp |"))
    bc_row = next(line for line in text.splitlines() if line.startswith("| lstm | bc |"))
    assert "84.10 ± 0.10 [83.85, 84.35]" in fp_row and "84.00, 84.20, 84.10" in fp_row
    assert "≥ 84.0 ✅" in fp_row and "| 82.87 |" in fp_row
    assert "≥ 82.5 ✅; gap ≥ −1.0 ❌ (by 0.20)" in bc_row and "-1.20 [" in bc_row
    assert "Seeds 0, 1, 2 (3)" in text


def test_normal_vs_uniform_says_what_the_interval_shows(tmp_path):
    tc, uniform = [0.52, 0.53, 0.51], [0.49, 0.50, 0.47]
    flat_tc, flat_uniform = [0.52, 0.50, 0.51], [0.51, 0.51, 0.50]
    results = {"experiment": "summation", "figures": [],
               "setup": {**SETUP, "score_key": "test_accuracy", "score_label": "exact match (%)",
                         "targets": None, "gap_target": None, "paper": None},
               "lstm": {"recipe": {"tc": _entry(tc), "tc-uniform": _entry(uniform, normal_minus_uniform={
                   "test_accuracy": stats.paired_gap(tc, uniform)})}},
               "gru": {"recipe": {"tc": _entry(flat_tc), "tc-uniform": _entry(flat_uniform, normal_minus_uniform={
                   "test_accuracy": stats.paired_gap(flat_tc, flat_uniform)})}}}
    table = _render(tmp_path, results).split("**Normal vs uniform thresholds**")[1]
    rows = [line for line in table.splitlines() if line.startswith(("| lstm | tc |", "| gru | tc |"))]
    assert rows[0].endswith("| normal better |") and "+3.33" in rows[0]
    assert rows[1].endswith("| no difference shown |")


def test_frames_tables_mark_the_baseline_margin_and_the_ratio_to_float(tmp_path):
    base = {"copy_last": [0.02, 0.04], "black": [0.036, 0.036]}
    fp = [[0.010, 0.030], [0.012, 0.030]]
    bc = [[0.011, 0.040], [0.013, 0.040]]
    results = {"experiment": "frames", "figures": [], "predicted_frame_numbers": [8, 9],
               "setup": {**SETUP, "seeds": [0, 1], "score_key": None, "score_label": "", "targets": None,
                         "gap_target": None, "paper": None, "mse_ratio_target": 1.2, "baseline_margin": 0.2},
               "baselines": base, "baselines_ssim": {"copy_last": [0.6, 0.4], "black": [0.44, 0.44]},
               "fp": {"mse_per_frame": stats.summarize(fp), "ssim_per_frame": stats.summarize([[0.7, 0.5]] * 2),
                      "ratio_to_best_baseline": stats.summarize([[v / 0.02, w / 0.036] for v, w in fp])},
               "bc": {"mse_per_frame": stats.summarize(bc), "ssim_per_frame": stats.summarize([[0.7, 0.5]] * 2),
                      "ratio_to_fp": stats.summarize([[b / f for b, f in zip(bs, fs)] for bs, fs in zip(bc, fp)])}}
    text = _render(tmp_path, results)
    assert "| fp ÷ better baseline (≤ 0.8) | 0.55 ✅ | 0.83 ❌ |" in text
    assert "| bc ÷ fp (≤ 1.2) | 1.09 ✅ | 1.33 ❌ |" in text
    assert "| baseline: black | 0.0360 | 0.0360 |" in text
    assert "BC 1.33×" in text


def test_a_results_file_of_an_older_layout_says_how_to_regenerate_it(tmp_path):
    (tmp_path / "summation.json").write_text(json.dumps({"experiment": "summation", "lstm": {"fp": {}}}))
    text = markdown.render_markdown(tmp_path, ["summation"])
    assert "written by an older lowbit" in text and "lowbit reproduce summation --seeds N" in text
