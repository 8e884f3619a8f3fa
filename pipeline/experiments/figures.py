"""The paper's figures as PNG files, drawn from run summaries and histories (matplotlib, Agg).

Every function takes plain data (dicts, lists, numpy arrays) and a path, writes one PNG, and
returns the path; none trains or loads a model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lowbit.pipeline import quantizers
from lowbit.pipeline.plotting import color, label, plt, save
from lowbit.pipeline.schemes import get_scheme


def training_curves(histories: dict[str, list[dict]], metric: str, title: str, path) -> Path:
    """Fig. 12-13, 15, 17: training loss (left) and the metric (right: validation solid,
    training dashed) per epoch, one line per run (keyed by scheme or result key, e.g. ``tc-uniform``)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    for key, history in histories.items():
        epochs = [h["epoch"] for h in history]
        style = dict(color=color(key), label=label(key))
        left.plot(epochs, [h["loss"] for h in history], **style)
        right.plot(epochs, [h[f"val_{metric}"] for h in history], **style)
        right.plot(epochs, [h[metric] for h in history], color=style["color"], linestyle="--", alpha=0.5)
    fig.suptitle(title)
    left.set(xlabel="epoch", ylabel="training loss", title="training loss")
    right.set(xlabel="epoch", ylabel=metric, title=f"{metric}: validation solid, training dashed")
    left.legend(fontsize=8)
    for ax in (left, right):
        ax.grid(alpha=0.3)
    return save(fig, path)


def test_scores(scores: dict[str, dict[str, float]], ylabel: str, title: str, path,
                reference: dict[str, dict[str, float]] | None = None) -> Path:
    """Fig. 16, 18: one bar per scheme, grouped by architecture (``{arch: {scheme: value}}``),
    with the value printed on each bar; ``reference`` ({arch: {scheme: value}}) marks the paper's."""
    archs = list(scores)
    schemes = list(dict.fromkeys(k for s in scores.values() for k in s))
    width = 0.8 / len(schemes)
    fig, ax = plt.subplots(figsize=(1.2 + 1.6 * len(archs) * len(schemes) / 2, 3.6))
    for j, scheme in enumerate(schemes):
        xs = [i + (j - (len(schemes) - 1) / 2) * width for i in range(len(archs))]
        values = [scores[a].get(scheme, np.nan) for a in archs]
        bars = ax.bar(xs, values, width, color=color(scheme), label=label(scheme))
        ax.bar_label(bars, [f"{v:.2f}" for v in values], fontsize=7)
        marked = [(x, reference[a][scheme]) for x, a in zip(xs, archs) if scheme in (reference or {}).get(a, {})]
        if marked:
            ax.scatter(*zip(*marked), marker="_", s=300, color="grey", zorder=3)
    finite = [v for s in scores.values() for v in s.values() if np.isfinite(v)] or [0.0]
    low = min(finite + [v for r in (reference or {}).values() for v in r.values()])
    ax.set_ylim(max(0.0, low - 5), max(finite) + 2)  # zoomed: differences of a point show
    ax.set_xticks(range(len(archs)), archs)
    ax.set(ylabel=ylabel, title=title + ("  (grey ticks: the paper's " + ", ".join(reference).upper() + ")"
                                         if reference else ""))
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(axis="y", alpha=0.3)
    return save(fig, path)


def weight_distributions(weights: np.ndarray, layer: str, path) -> Path:
    """Fig. 8-10: the trained float weights of one layer, then the share of each code value
    after each quantizer (BC; TC and QC with the normal and the uniform threshold)."""
    panels = [("bc", "normal"), ("tc", "normal"), ("tc", "uniform"), ("qc", "normal"), ("qc", "uniform")]
    fig, axes = plt.subplots(1, len(panels) + 1, figsize=(16, 2.8))
    axes[0].hist(weights.ravel(), bins=80, color="grey")
    axes[0].set(title=f"{layer}: float weights", xlabel="w")
    for ax, (scheme, distribution) in zip(axes[1:], panels):
        codes = quantizers.codes(weights, scheme, distribution=distribution)
        values = get_scheme(scheme).codes
        shares = [float(np.mean(codes == v)) for v in values]
        ax.bar([str(v) for v in values], shares, color=get_scheme(scheme).color(distribution))
        ax.bar_label(ax.containers[0], [f"{s:.0%}" for s in shares], fontsize=7)
        name = scheme.upper() + ("" if scheme == "bc" else f" {distribution}")
        ax.set(title=name, ylim=(0, 1.1), xlabel="code")
    axes[1].set_ylabel("share of weights")
    return save(fig, path)


def seed_scores(scores: dict, ylabel: str, title: str, path,
                reference: dict[str, dict[str, float]] | None = None) -> Path:
    """Fig. 16, 18 over seeds: one panel per architecture (``{arch: {protocol: {scheme: [% per
    seed]}}}``); per scheme one bar per protocol at the mean, its 95 % t interval as an error bar
    and every seed's value as a dot on it; ``reference`` ({arch: {scheme: %}}) adds the paper's
    bar, hatched."""
    from lowbit.pipeline.experiments import stats

    archs = list(scores)
    fig, axes = plt.subplots(1, len(archs), figsize=(6.2 * len(archs), 4), squeeze=False)
    everything = []
    for ax, arch in zip(axes[0], archs):
        protocols = list(scores[arch])
        paper = (reference or {}).get(arch, {})
        schemes = list(dict.fromkeys(k for p in protocols for k in scores[arch][p]))
        slots = protocols + (["paper"] if paper else [])
        width = 0.8 / len(slots)
        for j, slot in enumerate(slots):
            for i, scheme in enumerate(schemes):
                x = i + (j - (len(slots) - 1) / 2) * width
                if slot == "paper":
                    if scheme in paper:
                        ax.bar(x, paper[scheme], width, color="white", edgecolor=color(scheme), hatch="//")
                        ax.text(x, paper[scheme], f"{paper[scheme]:.1f}", ha="center", va="bottom", fontsize=6)
                        everything.append(paper[scheme])
                    continue
                values = scores[arch][slot].get(scheme)
                if not values:
                    continue
                summary = stats.summarize(values)
                ax.bar(x, summary["mean"], width, color=color(scheme), alpha=1.0 if j == 0 else 0.55,
                       edgecolor="black", linewidth=0.4)
                if summary["ci95"]:
                    low, high = summary["ci95"]
                    ax.errorbar(x, summary["mean"], yerr=[[summary["mean"] - low], [high - summary["mean"]]],
                                color="black", capsize=3, linewidth=0.8)
                ax.scatter([x] * len(values), values, color="black", s=9, zorder=3)
                ax.text(x, max(values), f"{summary['mean']:.2f}", ha="center", va="bottom", fontsize=6)
                everything += values
        ax.set_xticks(range(len(schemes)), [label(s) for s in schemes], fontsize=7)
        ax.set(ylabel=ylabel, title=f"{arch.upper()}: " + ", ".join(
            p.replace("_", " ") + (" (solid)" if k == 0 else " (light)" if p != "paper" else " (hatched)")
            for k, p in enumerate(slots)))
        ax.title.set_fontsize(8)
        ax.grid(axis="y", alpha=0.3)
    finite = [v for v in everything if np.isfinite(v)] or [0.0]
    for ax in axes[0]:
        ax.set_ylim(max(0.0, min(finite) - 3), max(finite) + 1.5)  # zoomed: differences of a point show
    fig.suptitle(title + " (bars: mean; whiskers: 95 % interval; dots: seeds)", fontsize=9)
    return save(fig, path)


def frame_predictions(truth: np.ndarray, predictions: dict[str, np.ndarray],
                      frame_numbers: list[int], path, *, seen: np.ndarray | None = None) -> Path:
    """Fig. 19-22: one row of ground-truth frames, then one row per scheme's predictions.

    ``truth`` and each prediction: ``(frames, h, w)`` for the frames ``frame_numbers`` label;
    ``seen`` (h, w), when given, is drawn first in every row: the last frame the model saw."""
    columns = ([("last seen", seen)] if seen is not None else []) + [(f"frame {n}", None) for n in frame_numbers]
    rows = 1 + len(predictions)
    fig, axes = plt.subplots(rows, len(columns), figsize=(1.3 * len(columns), 1.4 * rows), squeeze=False)
    images = [("ground truth", truth)] + [(label(k), v) for k, v in predictions.items()]
    offset = 1 if seen is not None else 0
    for r, (row_label, frames) in enumerate(images):
        for c, (title, fixed) in enumerate(columns):
            ax = axes[r][c]
            ax.imshow(fixed if fixed is not None else frames[c - offset], cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(title, fontsize=8)
            if c == 0:
                ax.set_ylabel(row_label, fontsize=7)
    return save(fig, path)


def mse_per_frame(curves: dict, frame_numbers: list[int], title: str, path,
                  baselines: dict[str, list[float]] | None = None) -> Path:
    """Fig. 23: MSE (eq. 25) of each predicted frame, one line per scheme. A curve is a list of
    values, or a seed summary (:func:`lowbit.pipeline.experiments.stats.summarize`) drawn as its
    mean with the 95 % interval shaded; ``baselines`` (name -> values) are drawn dashed grey."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for key, values in curves.items():
        mean = values["mean"] if isinstance(values, dict) else values
        ax.plot(frame_numbers, mean, marker="o", color=color(key), label=label(key))
        if isinstance(values, dict) and values["ci95"]:
            ax.fill_between(frame_numbers, *values["ci95"], color=color(key), alpha=0.15)
    for (name, values), style in zip((baselines or {}).items(), ("--", ":", "-.")):
        ax.plot(frame_numbers, values, linestyle=style, color="grey", label=f"baseline: {name.replace('_', ' ')}")
    ax.set(xlabel="predicted frame", ylabel="MSE", title=title)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return save(fig, path)
