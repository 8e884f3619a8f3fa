"""``lowbit predict ARTIFACT [TEXT ...]``: the class of raw text through a deployed text artifact
(IMDB sentiment, or a user's text classifier), and ``lowbit predict ARTIFACT --npz FILE`` for
numeric inputs.

The artifact (``.tflite`` or ``.onnx``) is opened through :func:`lowbit.deploy.runtime.artifacts.open_artifact`
(checked, and its sha256 compared with ``manifest.json`` when one lies beside it); the
vocabulary is the ``vocab.txt`` beside it. Each text goes through the same pipeline as training
and the Android app (:mod:`lowbit.pipeline.data.text`), then the artifact.

One JSON object per input, in input order::

    {"text_sha256": "<sha256 of the text's UTF-8 bytes>", "score": <P(second label)>,
     "label": "<label name>", "tokens": <number of tokens of the text>}

for a two-label model (one sigmoid output; IMDB: ``positive`` when ``score > 0.5``, else
``negative``), and for more labels (softmax) ``"label"`` is the most probable one, ``"score"`` its
probability and ``"scores"`` every label's probability by name. The label names are the task's
(the manifest's record of the run); an artifact without a manifest beside it has none, and its
labels are the class ids as strings ("0", "1", ...), never another task's names; an output of
more than ``MAX_LABELS`` scores per text is refused as a damaged shape. ``tokens``
counts every token of the text, in or out of the vocabulary, before the sequence keeps the last
ones. Any text is valid: empty, only unknown
words, megabytes long, emoji; input read as bytes has invalid UTF-8 replaced by U+FFFD. Should the
model give a score that is not finite, ``score`` and ``label`` are ``null``.

``--npz FILE``: the rows of one array of FILE (``--key``, default ``x_test``, or the only array)
through the artifact, one ``{"row": i, "outputs": [...]}`` per row (nested like the model's
output), with ``"label"`` (the class id) for a classifier. The array is checked before any row
runs, the same for both formats: NaN or Inf, fractions into an integer input, values outside the
input's integer type and non-numeric arrays are refused with a ``ValueError`` that names the array,
the count and the first row. Every line is strict JSON: an output that is not finite (a model can
overflow on finite input) is written as ``null``, and such a row gets no label.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from typing import Iterable, Iterator

import numpy as np

from lowbit.deploy.runtime import artifacts, runtimes
from lowbit.pipeline.data.text import tokenize

THRESHOLD = 0.5
# Most labels a text classifier may have. A damaged shape constant once declared 33,554,433
# scores per text, and naming them "0", "1", ... took 2.4 GB before any check (a larger one:
# killed by the kernel); real classifiers are far below this.
MAX_LABELS = 100_000


class Predictor:
    """A text task's artifact with its vocabulary, ready to score texts."""

    def __init__(self, artifact_path, *, threads: int = 1):
        artifact = artifacts.open_artifact(artifact_path)
        task = artifact.task_record
        if task is not None and not task.text_demo:
            raise artifacts.ArtifactError(f"{artifact.path}: a {artifact.task} model that reads tensors, not text; "
                                          "give its inputs as rows of an array: lowbit predict ARTIFACT --npz FILE")
        self.vocab = artifacts.load_vocabulary(artifact)
        self.artifact = artifact
        self.runner = runtimes.load(artifact, threads=threads)
        shape = self.runner.input_shape
        if len(shape) != 2 or shape[1] is None or self.runner.input_dtype.kind not in "iu":
            raise artifacts.ArtifactError(f"{artifact.path}: input {shape} of {self.runner.input_dtype} "
                                          "is not a token sequence; not a text model (use --npz for arrays)")
        self.seq_len = int(shape[1])
        width = int(np.prod([d or 1 for d in self.runner.output_shape[1:]]))
        if width > MAX_LABELS:  # checked before the class-id names are built: one string per class
            raise artifacts.ArtifactError(f"{artifact.path}: output {list(self.runner.output_shape)} gives {width:,} "
                                          f"scores per text; a text classifier here has at most {MAX_LABELS:,} "
                                          "labels (a damaged shape?)")
        # without the manifest's record of the task the names are unknown: the class ids stand for them
        self.labels = list(task.labels) if task is not None and task.labels else \
            [str(k) for k in range(2 if width == 1 else width)]
        self.width = 1 if len(self.labels) == 2 else len(self.labels)  # one sigmoid, or a score per label
        # a model trained on logits (from_logits=True) gets its sigmoid / softmax here
        self.from_logits = bool(task is not None and task.user is not None and task.user.from_logits)
        if tuple(self.runner.output_shape[1:]) not in ((self.width,), ()):
            raise artifacts.ArtifactError(f"{artifact.path}: output {list(self.runner.output_shape)}, but "
                                          f"{len(self.labels)} labels need {self.width} score(s) per text")

    def outputs(self, texts: list[str]) -> np.ndarray:
        x = self.vocab.sequences(texts, self.seq_len)
        out = self.runner.predict(x).reshape(len(texts), -1).astype(np.float64)
        if out.shape[1] != self.width:
            raise artifacts.ArtifactError(f"{self.artifact.path}: the model gave {out.shape[1]} scores per text, "
                                          f"but its {len(self.labels)} labels need {self.width}")
        if self.from_logits:
            if self.width == 1:
                return 1 / (1 + np.exp(-out))
            shifted = np.exp(out - out.max(axis=1, keepdims=True))
            return shifted / shifted.sum(axis=1, keepdims=True)
        return out

    def results(self, texts: Iterable[str], *, batch: int = 256) -> Iterator[dict]:
        pending: list[str] = []
        for text in texts:
            pending.append(text)
            if len(pending) == batch:
                yield from self._results(pending)
                pending = []
        if pending:
            yield from self._results(pending)

    def _results(self, texts: list[str]) -> Iterator[dict]:
        for text, row in zip(texts, self.outputs(texts)):
            result = {"text_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}
            if not np.isfinite(row).all():  # a broken model; strict JSON, and no label to trust
                result.update(score=None, label=None)
            elif row.size == 1:  # one sigmoid: P(second label)
                result.update(score=round(float(row[0]), 6),
                              label=self.labels[1] if row[0] > THRESHOLD else self.labels[0])
            else:
                best = int(np.argmax(row))
                result.update(score=round(float(row[best]), 6), label=self.labels[best],
                              scores={name: round(float(p), 6) for name, p in zip(self.labels, row)})
            result["tokens"] = len(tokenize(text))
            yield result


def npz_results(artifact_path, npz_path, *, key: str | None = None, threads: int = 1) -> Iterator[dict]:
    """One ``{"row", "outputs"[, "label"]}`` per row of an array of ``npz_path`` (module docstring)."""
    from pathlib import Path

    artifact = artifacts.open_artifact(artifact_path)
    path = Path(npz_path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            chosen = key or ("x_test" if "x_test" in names else (names[0] if len(names) == 1 else None))
            if chosen not in names:
                raise ValueError(f"{path}: no array {chosen!r}; it holds {', '.join(names)} (choose one with --key)")
            x = archive[chosen]
    except (OSError, EOFError, zipfile.BadZipFile, ValueError) as err:
        raise ValueError(f"{path}: {err}") from None
    runner = runtimes.load(artifact, threads=threads)
    try:
        outputs = runner.predict(x)
    except ValueError as err:
        raise ValueError(f"{path}: {chosen}: {err}") from None
    task = artifact.task_record
    for i, row in enumerate(outputs):
        finite = bool(np.isfinite(row).all())
        result = {"row": i, "outputs": _strict(np.round(row.astype(np.float64), 6).tolist())}
        if finite and task is not None and task.decide is not None:
            decision = np.asarray(task.decide(row[None])).reshape(-1)
            result["label"] = decision.astype(int).tolist() if decision.size > 1 else int(decision[0])
        yield result


def _strict(values):
    """``values`` (nested lists of floats) with every non-finite float as ``None`` (JSON null)."""
    if isinstance(values, list):
        return [_strict(v) for v in values]
    return values if np.isfinite(values) else None


def lines_of(stream) -> Iterator[str]:
    """One text per line of a binary stream, invalid UTF-8 replaced, the line end removed."""
    for raw in stream:
        yield raw.decode("utf-8", errors="replace").rstrip("\r\n")


def print_results(results: Iterable[dict], out) -> int:
    count = 0
    for result in results:
        out.write(json.dumps(result, allow_nan=False) + "\n")
        count += 1
    out.flush()
    return count

