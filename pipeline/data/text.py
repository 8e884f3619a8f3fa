"""The text pipeline shared by training, ``lowbit predict`` and the Android app.

The rules are deliberately ASCII-only so that the Java port is exact (no Unicode case tables):

1. HTML line breaks ``<br>``, ``<br/>``, ``<br />`` become a space: ``<``, ``b``/``B``,
   ``r``/``R``, any run of ASCII whitespace (space, TAB, LF, VT, FF, CR), an optional ``/``,
   any run of ASCII whitespace, ``>``.
2. ASCII ``A``-``Z`` are lower-cased; every other character is kept as it is.
3. A token is a maximal run of ``a``-``z``, ``0``-``9`` and ``'``; every other character
   (punctuation, whitespace, any non-ASCII character) separates tokens.
4. Apostrophes are stripped from both ends of a token; tokens that become empty are dropped.

Ids: 0 = padding, 1 = start of review, 2 = out of vocabulary, words from 3 in vocabulary order.
A sequence is ``[1] + ids``, keeping the *last* ``maxlen`` ids and padding with 0 at the front
(Keras' ``pad_sequences`` defaults).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from lowbit.pipeline import atomic

PAD, START, OOV = 0, 1, 2
RESERVED = ("<pad>", "<start>", "<oov>")
_BREAK = re.compile(r"<[bB][rR][ \t\n\v\f\r]*/?[ \t\n\v\f\r]*>")  # ASCII only, like the Java port
_TOKEN = re.compile(r"[a-z0-9']+")
_UPPER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def tokenize(text: str) -> list[str]:
    """Split ``text`` into tokens by the rules in the module docstring."""
    text = _BREAK.sub(" ", text).translate(_UPPER)
    return [t for t in (m.strip("'") for m in _TOKEN.findall(text)) if t]


class Vocabulary:
    """Token <-> id mapping; ``vocab.txt`` holds one token per line, line i being id i."""

    def __init__(self, words: Iterable[str]):
        self.tokens = list(RESERVED) + list(words)
        self._ids = {t: i for i, t in enumerate(self.tokens) if i >= len(RESERVED)}

    @classmethod
    def build(cls, texts: Iterable[str], size: int) -> "Vocabulary":
        """The ``size - 3`` most frequent tokens of ``texts`` (ties: alphabetical), so that
        every id is below ``size``."""
        return cls.from_counts(Counter(t for text in texts for t in tokenize(text)), size)

    @classmethod
    def from_counts(cls, counts: Counter, size: int) -> "Vocabulary":
        """:meth:`build` from token counts already made (e.g. while streaming the texts)."""
        if size <= len(RESERVED):
            raise ValueError(f"vocabulary size must exceed {len(RESERVED)}, got {size}")
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return cls(word for word, _ in ranked[: size - len(RESERVED)])

    def __len__(self) -> int:
        return len(self.tokens)

    def ids(self, text: str) -> list[int]:
        return [self._ids.get(t, OOV) for t in tokenize(text)]

    def sequence(self, text: str, maxlen: int) -> np.ndarray:
        """int32 ``[maxlen]``: ``[START] + ids``, last ``maxlen`` kept, front-padded with 0."""
        ids = ([START] + self.ids(text))[-maxlen:]
        return np.array([PAD] * (maxlen - len(ids)) + ids, np.int32)

    def sequences(self, texts: Iterable[str], maxlen: int) -> np.ndarray:
        """int32 ``[len(texts), maxlen]``, one :meth:`sequence` per text."""
        rows = [self.sequence(t, maxlen) for t in texts]
        return np.stack(rows) if rows else np.zeros((0, maxlen), np.int32)

    def save(self, path: Path) -> None:
        """Write ``vocab.txt`` atomically: a reader never sees half a vocabulary."""
        atomic.write_text(path, "\n".join(self.tokens) + "\n")

    @classmethod
    def load(cls, path: Path) -> "Vocabulary":
        return cls.from_text(Path(path).read_text(encoding="utf-8"), source=path)

    @classmethod
    def from_text(cls, text: str, *, source="vocabulary") -> "Vocabulary":
        """Parse a ``vocab.txt``; ``ValueError`` (naming ``source``) for anything but the reserved
        lines followed by distinct, non-empty tokens."""
        tokens = text.split("\n")
        if tokens and tokens[-1] == "":
            tokens.pop()
        if tuple(tokens[: len(RESERVED)]) != RESERVED:
            raise ValueError(f"{source}: not a lowbit vocabulary (first lines must be {', '.join(RESERVED)})")
        seen = set(RESERVED)
        for line, token in enumerate(tokens[len(RESERVED):], len(RESERVED) + 1):
            if not token or token in seen:
                what = "an empty token" if not token else f"the token {token!r} again"
                raise ValueError(f"{source}: line {line} holds {what}; each line must be a distinct token")
            seen.add(token)
        return cls(tokens[len(RESERVED):])
