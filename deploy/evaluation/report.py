"""The evaluation report: ``report.json``, ``report.md`` (a table to read at a glance), PNG plots.

:func:`checks` turns a report into pass/fail lines against lowbit's deployment targets:

* quantized latency at batch 1, 1 thread (p50) ≤ :data:`LATENCY_TARGETS` × the float artifact's
  (ONNX Runtime 0.5×, LiteRT 0.45×); for an LSTM, whose float ``.tflite`` from TensorFlow alone
  is the fused op (the report's ``reference``), LiteRT ≤ :data:`REFERENCE_TARGET` × that file
  instead, and LiteRT's quantized p50 ≤ ONNX Runtime's for the same scheme;
* every low-bit matrix op of a ``.tflite`` runs in XNNPACK (no silent slow kernel);
* the artifact's quality within :data:`QUALITY_TOLERANCE` of its Keras model's (accuracy: 0.1
  point; MSE: 1 % relative);
* peak memory of the inference process ≤ the float artifact's;
* the artifact's decisions agree with its Keras model's on ≥ :data:`AGREEMENT_TARGET` of the
  test examples (classification tasks);
* a quantized artifact's quality within the report's quality target of the baseline (float)
  artifact of the same format: :data:`QUALITY_TARGET` by default (accuracy: 2 points; MSE/MAE:
  10 % relative), ``settings.quality_target`` when the user set one. The other checks compare an
  artifact with its own Keras model, so a scheme that lost 40 points in training passed them all;
  :func:`advice` says, per scheme that misses this one, what to try.

The latency and memory targets are lowbit's for its own tasks (the IMDB models); a user's model
(task ``user``) is reported with every figure but checked for quality and agreement only.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lowbit.models.user import USER_TASK
from lowbit.pipeline import atomic
from lowbit.pipeline.plotting import color, plt
from lowbit.pipeline.plotting import save as _save

LATENCY_TARGETS = {"onnx": 0.5, "tflite": 0.45}
REFERENCE_TARGET = 0.30  # LiteRT quantized × TensorFlow's own float file (fused LSTM)
QUALITY_TOLERANCE = {"accuracy": 0.001, "exact_match": 0.001, "mse": 0.01, "mae": 0.01}  # mse, mae: relative
AGREEMENT_TARGET = 0.995
QUALITY_TARGET = {"accuracy": 0.02, "exact_match": 0.02, "mse": 0.10, "mae": 0.10}  # vs float; mse, mae: relative
AGAINST_BASELINE = "quality_vs_baseline"  # the kind of the checks advice() reads
RELATIVE = ("mse", "mae")
MARKERS = {"tflite": "o", "onnx": "s"}
RUNTIME = {"tflite": "LiteRT", "onnx": "ONNX Runtime"}


def checks(report: dict) -> list[dict]:
    out = []
    baseline = report["baseline"]
    for a in report["artifacts"]:
        name = f"{a['scheme']}/{a['format']}"
        tolerance = QUALITY_TOLERANCE[a["metric"]]
        if a["metric"] in RELATIVE:
            off = abs(a["value"] - a["keras_value"]) / max(a["keras_value"], 1e-12)
            label = f"{a['metric']} within {tolerance:.0%} of Keras"
        else:
            off = abs(a["value"] - a["keras_value"])
            label = f"{a['metric']} within {100 * tolerance:.1f} point of Keras"
        out.append({"artifact": name, "check": label, "value": round(off, 6), "passed": off <= tolerance})
        if a.get("agreement") is not None:
            out.append({"artifact": name, "check": f"decisions agree with Keras on ≥ {AGREEMENT_TARGET:.1%}",
                        "value": round(a["agreement"], 6), "passed": a["agreement"] >= AGREEMENT_TARGET})
        slow = (a.get("xnnpack") or {}).get("slow_low_bit")
        if slow is not None:
            out.append({"artifact": name, "check": "every low-bit matrix op runs in XNNPACK",
                        "value": "; ".join(slow) or "all", "passed": not slow})
        if a["scheme"] != baseline:
            out.append(_against_baseline(report, a))
        if a["scheme"] == baseline or report.get("task") == USER_TASK:
            continue
        if a.get("reference_latency_ratio_by_threads"):
            ratio = a["reference_latency_ratio_by_threads"]["1"]
            out.append({"artifact": name, "check": f"latency p50 (1 thread) ≤ {REFERENCE_TARGET}× TensorFlow's "
                        "float .tflite", "value": ratio, "passed": ratio <= REFERENCE_TARGET})
            onnx = [b for b in report["artifacts"] if b["scheme"] == a["scheme"] and b["format"] == "onnx"]
            if onnx:
                ratio = round(a["latency_ms"]["p50"] / onnx[0]["latency_ms"]["p50"], 4)
                out.append({"artifact": name, "check": "latency p50 (1 thread) ≤ ONNX Runtime's",
                            "value": ratio, "passed": ratio <= 1.0})
        else:
            target = LATENCY_TARGETS[a["format"]]
            out.append({"artifact": name, "check": f"latency p50 (1 thread) ≤ {target}× {baseline}",
                        "value": a["latency_ratio"], "passed": a["latency_ratio"] <= target})
        if a.get("memory_ratio") is not None:
            out.append({"artifact": name, "check": f"peak memory ≤ {baseline}'s", "value": a["memory_ratio"],
                        "passed": a["memory_ratio"] <= 1.0})
    return out


def quality_target(report: dict) -> float:
    """How far a quantized artifact's quality may fall behind the baseline's (a fraction: accuracy
    points / 100, or the relative rise of an error)."""
    chosen = report["settings"].get("quality_target")
    return QUALITY_TARGET[report["metric"]] if chosen is None else chosen


def _against_baseline(report: dict, a: dict) -> dict:
    base = next(b for b in report["artifacts"] if b["scheme"] == report["baseline"] and b["format"] == a["format"])
    target = quality_target(report)
    if a["metric"] in RELATIVE:
        off = (a["value"] - base["value"]) / max(base["value"], 1e-12)
        label = f"{a['metric']} within {target:.0%} of {report['baseline']}'s"
    else:
        off = base["value"] - a["value"]
        label = f"{a['metric']} within {100 * target:g} points of {report['baseline']}'s"
    return {"artifact": f"{a['scheme']}/{a['format']}", "check": label, "value": round(off, 6),
            "passed": off <= target + 1e-12, "kind": AGAINST_BASELINE, "scheme": a["scheme"]}


def advice(report: dict, runs: dict | None = None) -> list[str]:
    """One line per scheme that misses the quality target against the baseline: how far off (the
    worse format), and what to try, from its training record ``runs[scheme]`` (``run.json``;
    read from each artifact's ``run_dir`` when not given)."""
    lines = []
    for scheme in dict.fromkeys(c["scheme"] for c in report["checks"] if c.get("kind") == AGAINST_BASELINE):
        missed = [c for c in report["checks"] if c.get("kind") == AGAINST_BASELINE and c["scheme"] == scheme
                  and not c["passed"]]
        if not missed:
            continue
        worst = max(missed, key=lambda c: c["value"])
        by = f"{100 * worst['value']:.1f} points" if report["metric"] not in RELATIVE else f"{worst['value']:.0%}"
        run = (runs or {}).get(scheme) or _run_record(report, scheme)
        lines.append(f"{scheme}: {by} behind {report['baseline']} ({worst['artifact']}); try " + _what_to_try(scheme, run))
    return lines


def _run_record(report: dict, scheme: str) -> dict:
    for a in report["artifacts"]:
        path = Path(a.get("run_dir") or "") / "run.json"
        if a["scheme"] == scheme and a.get("run_dir") and path.is_file():
            return json.loads(path.read_text())
    return {}


def _what_to_try(scheme: str, run: dict) -> str:
    tips = []
    completed, budget, best = run.get("epochs_completed"), run.get("epochs_budget", run.get("epochs")), run.get("best_epoch")
    if completed is not None and budget is not None and completed >= budget and best == completed:
        tips.append(f"longer fine-tuning: it was still improving after its {completed} epoch(s) "
                    "(no --epochs: until validation stops improving)")
    elif completed is not None:
        tips.append(f"a lower --learning-rate (it stopped improving at epoch {best} of {completed})")
    if scheme == "bc":
        tips.append("tc or qc (more levels)")
    elif scheme == "tc":
        tips.append("qc (4 levels)")
    tips.append("--keep-float for the layer that matters most (often the first or the last)")
    return "; ".join(tips)


# The files :func:`write` puts into a report folder (evaluate refuses, before measuring, a folder
# where a file of the user's holds one of these names).
FILES = ("report.json", "report.md", "quality-vs-size.png", "latency.png")


def write(report: dict, out_dir: Path) -> list[Path]:
    """``report.json``, ``report.md`` and the plots into ``out_dir`` (atomically each)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = [quality_vs_size(report, out_dir / "quality-vs-size.png"),
               latency_per_artifact(report, out_dir / "latency.png")]
    report["figures"] = [p.name for p in figures]
    atomic.write_text(out_dir / "report.json", json.dumps(report, indent=2) + "\n")
    atomic.write_text(out_dir / "report.md", markdown(report))
    return [out_dir / "report.json", out_dir / "report.md", *figures]


def _quality(a: dict, value: float) -> str:
    return f"{value:.5f}" if a["metric"] in RELATIVE else f"{100 * value:.2f} %"


def _ratio(x) -> str:
    return "—" if x is None else f"{x:.2f}×"


def table(report: dict) -> list[str]:
    """The Markdown table of every artifact's figures (the CLI prints it; report.md holds it)."""
    many = report["settings"]["threads"][-1]
    metric = report["metric"].replace("_", " ")
    lines = [
        f"| scheme | runtime | size | × | bits/weight | {metric} (artifact) | Keras | agreement "
        f"| p50 ms (1 thread) | p90 | p99 | × | p50 ms ({many} threads) | × | load + 1st run ms | × | peak RSS MB | × |",
        "|---" * 18 + "|",
    ]
    for a in report["artifacts"]:
        by = a["latency_by_threads"]
        agreement = "—" if a["agreement"] is None else f"{100 * a['agreement']:.2f} %"
        lines.append(
            f"| {a['scheme']} | {RUNTIME[a['format']]} | {a['size_bytes'] / 1e6:.3f} MB | {_ratio(a['size_ratio'])} "
            f"| {a['bits_per_weight']:.2f} | {_quality(a, a['value'])} | {_quality(a, a['keras_value'])} "
            f"| {agreement} | {a['latency_ms']['p50']:.3f} | {a['latency_ms']['p90']:.3f} "
            f"| {a['latency_ms']['p99']:.3f} | {_ratio(a['latency_ratio'])} "
            f"| {by[str(many)]['p50']:.3f} | {_ratio(a['latency_ratio_by_threads'][str(many)])} "
            f"| {a['load_ms']:.1f} | {_ratio(a['load_ratio'])} "
            f"| {a.get('peak_rss_mb', float('nan')):.1f} | {_ratio(a.get('memory_ratio'))} |")
    return lines


def markdown(report: dict) -> str:
    lines = [
        f"# Deployment report: {report['task']}", "",
        f"Every artifact measured in its stock runtime on this machine ({report['machine']['cpus']} CPUs, "
        f"{report['machine']['platform']}; LiteRT {report['machine']['ai_edge_litert']}, ONNX Runtime "
        f"{report['machine']['onnxruntime']}), {report['created']}. Quality on "
        f"{report['test_examples']:,} test examples through the artifact itself; latency at batch 1, "
        f"{report['settings']['runs']} interleaved runs after {report['settings']['warmup']} warm-up runs; "
        f"ratios (×) are against the `{report['baseline']}` artifact of the same format, measured in "
        "the same process.", "",
    ] + table(report)
    kept = sorted({f"{a['scheme']}: {', '.join(a['keep_float'])}" for a in report["artifacts"] if a.get("keep_float")})
    if kept:
        lines += ["", "Layers kept float (not quantized, stored as float32): " + "; ".join(kept) + "."]
    lines += reference_section(report) + xnnpack_section(report)
    lines += ["", "## Targets", "", "| artifact | check | value | |", "|---|---|---|---|"]
    for c in report["checks"]:
        lines.append(f"| {c['artifact']} | {c['check']} | {c['value']} | {'✅' if c['passed'] else '❌'} |")
    lines += advice_section(report)
    lines += [""] + [f"![{Path(f).stem}]({f})" for f in report.get("figures", [])] + [""]
    return "\n".join(lines)


def advice_section(report: dict) -> list[str]:
    """report.md's list of the schemes behind the baseline and what to try (none: no lines)."""
    if not report.get("advice"):
        return []
    return ["", f"## Behind {report['baseline']}: what to try", ""] + [f"- {line}" for line in report["advice"]]


def reference_section(report: dict) -> list[str]:
    """LiteRT's files against TensorFlow's own float ``.tflite`` (when the report measured it)."""
    ref = report.get("reference")
    if not ref:
        return []
    threads = [str(t) for t in report["settings"]["threads"]]
    by = ref["latency_by_threads"]
    lines = ["", "## LiteRT against TensorFlow's own float file", "",
             f"{ref['what']}: {ref['size_bytes'] / 1e6:.3f} MB, p50 "
             + ", ".join(f"{by[t]['p50']:.3f} ms ({t} thread{'s' if t != '1' else ''})" for t in threads)
             + "; measured in the same interleaved runs as the files below.", "",
             "| scheme |" + "".join(f" p50 ms ({t} thread{'s' if t != '1' else ''}) | × TensorFlow's file |"
                                    for t in threads),
             "|---|" + "---|---|" * len(threads)]
    for a in report["artifacts"]:
        if a["format"] != "tflite":
            continue
        cells = [f"{a['latency_by_threads'][t]['p50']:.3f} | {a['reference_latency_ratio_by_threads'][t]:.2f}×"
                 for t in threads]
        lines.append(f"| {a['scheme']} | " + " | ".join(cells) + " |")
    return lines


def xnnpack_section(report: dict) -> list[str]:
    """Per ``.tflite``: ops, how many XNNPACK took, what it left, and the weights' stored form."""
    rows = [a for a in report["artifacts"] if a.get("xnnpack")]
    if not rows:
        return []
    lines = ["", "## Where LiteRT runs each op", "",
             "Every subgraph (the main graph and each loop body) loaded on its own, XNNPACK's decision read "
             "back from LiteRT (`lowbit bench --ops FILE` lists them op by op).", "",
             "| scheme | ops | XNNPACK took | left to LiteRT's builtin kernels | weights |", "|---|---|---|---|---|"]
    for a in rows:
        x = a["xnnpack"]
        left = ", ".join(f"{op} ×{n}" if n > 1 else op for op, n in sorted(x["not_xnnpack"].items()))
        weights = ", ".join(f"{w} ×{n}" if n > 1 else w for w, n in sorted(x["weights"].items()))
        lines.append(f"| {a['scheme']} | {x['ops']} | {x['xnnpack']} | {left or '—'} | {weights or '—'} |")
    return lines


def quality_vs_size(report: dict, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6.4, 4))
    scale = 1 if report["metric"] in RELATIVE else 100
    for a in report["artifacts"]:
        ax.scatter(a["size_bytes"] / 1e6, scale * a["value"], color=color(a["scheme"]),
                   marker=MARKERS[a["format"]], s=60, label=f"{a['scheme']} {RUNTIME[a['format']]}")
        ax.annotate(a["scheme"], (a["size_bytes"] / 1e6, scale * a["value"]), textcoords="offset points",
                    xytext=(5, 4), fontsize=8)
    ax.set_xscale("log")
    ylabel = "MSE per predicted frame (lower is better)" if scale == 1 else f"{report['metric'].replace('_', ' ')} (%)"
    ax.set(xlabel="file size (MB, log scale)", ylabel=ylabel,
           title=f"{report['task']}: quality vs size ({report['test_examples']:,} test examples)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)


def latency_per_artifact(report: dict, path: Path) -> Path:
    threads = [str(t) for t in report["settings"]["threads"]]
    formats = sorted({a["format"] for a in report["artifacts"]})
    fig, axes = plt.subplots(1, len(formats), figsize=(5.2 * len(formats), 3.8), squeeze=False)
    for ax, fmt in zip(axes[0], formats):
        group = [a for a in report["artifacts"] if a["format"] == fmt]
        width = 0.8 / len(threads)
        for j, t in enumerate(threads):
            xs = np.arange(len(group)) + (j - (len(threads) - 1) / 2) * width
            p50 = [a["latency_by_threads"][t]["p50"] for a in group]
            p90 = [a["latency_by_threads"][t]["p90"] for a in group]
            bars = ax.bar(xs, p50, width, yerr=[np.zeros(len(group)), np.subtract(p90, p50)], capsize=3,
                          color=[color(a["scheme"]) for a in group], alpha=1.0 if j == 0 else 0.5,
                          label=f"{t} thread{'s' if t != '1' else ''}")
            ax.bar_label(bars, [f"{v:.2f}" for v in p50], fontsize=7)
        ax.set_xticks(range(len(group)), [a["scheme"] for a in group])
        ax.set(ylabel="ms per inference (p50, whisker p90)", title=f"{RUNTIME[fmt]}, batch 1")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle(f"{report['task']}: latency (solid: 1 thread, light: all threads)")
    return _save(fig, path)


