"""``lowbit predict ARTIFACT [TEXT ...]``: sentiment of raw text through a deployed IMDB artifact.

The artifact (``.tflite`` or ``.onnx``) is opened through :func:`lowbit.deploy.runtime.artifacts.open_artifact`
(checked, and its sha256 compared with ``manifest.json`` when one lies beside it); the
vocabulary is the ``vocab.txt`` beside it. Each text goes through the same pipeline as training
and the Android app (:mod:`lowbit.pipeline.data.text`), then the artifact.

One JSON object per input, in input order::

    {"text_sha256": "<sha256 of the text's UTF-8 bytes>", "score": <P(positive)>,
     "label": "positive" | "negative", "tokens": <number of tokens of the text>}

``label`` is ``positive`` when ``score > 0.5``. ``tokens`` counts every token of the text, in
or out of the vocabulary, before the sequence keeps the last ones. Any text is valid: empty, only
unknown words, megabytes long, emoji; input read as bytes has invalid UTF-8 replaced by U+FFFD.
"""

from __future__ import annotations

import hashlib
import json
from typing import Iterable, Iterator

import numpy as np

from lowbit.deploy.runtime import artifacts, runtimes
from lowbit.models import text_tasks
from lowbit.pipeline.data.text import tokenize

THRESHOLD = 0.5


class Predictor:
    """A text task's artifact with its vocabulary, ready to score texts."""

    def __init__(self, artifact_path, *, threads: int = 1):
        artifact = artifacts.open_artifact(artifact_path)
        task = artifact.task_record
        if task is not None and not task.text_demo:
            raise artifacts.ArtifactError(f"{artifact.path}: a {artifact.task} model; lowbit predict "
                                          f"scores text with the models of text tasks ({', '.join(text_tasks())})")
        self.vocab = artifacts.load_vocabulary(artifact)
        self.artifact = artifact
        self.runner = runtimes.load(artifact, threads=threads)
        shape = self.runner.input_shape
        if len(shape) != 2 or shape[1] is None or self.runner.input_dtype.kind not in "iu":
            raise artifacts.ArtifactError(f"{artifact.path}: input {shape} of {self.runner.input_dtype} "
                                          "is not a token sequence; not an IMDB model")
        self.seq_len = int(shape[1])

    def score(self, texts: list[str]) -> np.ndarray:
        x = self.vocab.sequences(texts, self.seq_len)
        return self.runner.predict(x).reshape(len(texts), -1)[:, 0].astype(np.float64)

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
        for text, score in zip(texts, self.score(texts)):
            yield {"text_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                   "score": round(float(score), 6),
                   "label": "positive" if score > THRESHOLD else "negative",
                   "tokens": len(tokenize(text))}


def lines_of(stream) -> Iterator[str]:
    """One text per line of a binary stream, invalid UTF-8 replaced, the line end removed."""
    for raw in stream:
        yield raw.decode("utf-8", errors="replace").rstrip("\r\n")


def print_results(results: Iterable[dict], out) -> int:
    count = 0
    for result in results:
        out.write(json.dumps(result) + "\n")
        count += 1
    out.flush()
    return count

