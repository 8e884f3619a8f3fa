"""The text pipeline shared by training, ``lowbit predict`` and the Android app.

The rules keep the letters of every script and are defined on Unicode properties that Python's
``unicodedata`` and Java's ``Character`` share, so that the Java port is exact (tested on a
multilingual corpus; characters assigned after Unicode 13, Java 17's version, may differ):

1. The text is put in Unicode normalization form NFC (so "café" typed as ``e`` + U+0301 and
   as U+00E9 is one word).
2. HTML line breaks ``<br>``, ``<br/>``, ``<br />`` become a space: ``<``, ``b``/``B``,
   ``r``/``R``, any run of ASCII whitespace (space, TAB, LF, VT, FF, CR), an optional ``/``,
   any run of ASCII whitespace, ``>``.
3. Every code point is lower-cased by its simple (one-to-one) Unicode mapping, Java's
   ``Character.toLowerCase(int)``: "İ" becomes "i" and "Σ" always "σ" (no final-sigma rule).
4. A code point of a Han, Hiragana or Katakana block (:data:`SINGLE_CHARACTER_RANGES`) is a token
   by itself: Chinese and Japanese are written without spaces.
5. Every other token is a maximal run of letters (general categories L*), marks (M*: accents,
   the vowel signs of Indic scripts), decimal digits of any script (Nd) and the ASCII
   apostrophe ``'``; every other code point (punctuation, symbols, emoji, whitespace) separates.
6. Apostrophes are stripped from both ends of a token; tokens that become empty are dropped.

Up to 2026-12 the rules kept only ASCII letters and digits ("café" gave "caf"); a vocabulary
built then holds no non-ASCII token, so its non-ASCII words now map to ``<oov>``.

Ids: 0 = padding, 1 = start of review, 2 = out of vocabulary, words from 3 in vocabulary order.
A sequence is ``[1] + ids``, keeping the *last* ``maxlen`` ids and padding with 0 at the front
(Keras' ``pad_sequences`` defaults).
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from lowbit.pipeline import atomic

PAD, START, OOV = 0, 1, 2
RESERVED = ("<pad>", "<start>", "<oov>")
TOKENIZER = "unicode-1"  # the rules above; caches built from tokens carry it in their keys
_BREAK = re.compile(r"<[bB][rR][ \t\n\v\f\r]*/?[ \t\n\v\f\r]*>")  # ASCII only, like the Java port
SINGLE_CHARACTER_RANGES = (  # rule 4, inclusive; the Java port holds the same table
    (0x3040, 0x309F),    # Hiragana
    (0x30A0, 0x30FF),    # Katakana (with the prolonged sound mark)
    (0x31F0, 0x31FF),    # Katakana phonetic extensions
    (0x3400, 0x4DBF),    # CJK unified ideographs extension A
    (0x4E00, 0x9FFF),    # CJK unified ideographs
    (0xF900, 0xFAFF),    # CJK compatibility ideographs
    (0xFF66, 0xFF9F),    # halfwidth Katakana
    (0x20000, 0x2FA1F),  # CJK extensions B-F, compatibility supplement
    (0x30000, 0x3134F),  # CJK extension G
)
WORD_CATEGORIES = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd"})  # rule 5


def tokenize(text: str) -> list[str]:
    """Split ``text`` into tokens by the rules in the module docstring."""
    text = _BREAK.sub(" ", unicodedata.normalize("NFC", text))
    # rule 3 by str.lower, whose full mapping differs from the simple one only for these two
    text = text.replace("\u0130", "i").replace("\u03a3", "\u03c3").lower()
    astral = bool(text) and max(text) > "\uffff"
    return [t for t in (m.strip("'") for m in _token_pattern(astral).findall(text)) if t]


@functools.cache
def _token_pattern(astral: bool) -> re.Pattern:
    """Rules 4 and 5 as one expression: a single-character token, or a run of word characters;
    of the Basic Multilingual Plane only unless ``astral`` (8 times faster: ``re`` matches a class
    of BMP characters by bitmap, one holding others range by range). Built once per kind from
    ``unicodedata`` (about 0.3 s: every code point's category)."""
    top = sys.maxunicode if astral else 0xFFFF
    single = {cp for first, last in SINGLE_CHARACTER_RANGES for cp in range(first, min(last, top) + 1)}
    word = [cp for cp in range(top + 1) if cp not in single and unicodedata.category(chr(cp)) in WORD_CATEGORIES]
    return re.compile(f"[{_ranges(sorted(single))}]|[{_ranges(word)}']+")


def _ranges(code_points: list[int]) -> str:
    """A regex character class body for the sorted ``code_points``, as ranges."""
    parts, start = [], None
    for i, cp in enumerate(code_points):
        if start is None:
            start = cp
        if i + 1 == len(code_points) or code_points[i + 1] != cp + 1:
            parts.append(re.escape(chr(start)) + ("" if cp == start else "-" + re.escape(chr(cp))))
            start = None
    return "".join(parts)


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
