"""The paper's summation problem (Fig. 11): learn ``"a+b"`` -> ``"a+b"``'s value, character by character.

Contract:

* alphabet :data:`ALPHABET` = ``"0123456789+ "`` (12 symbols); symbol ``i`` is one-hot index ``i``;
* a question is ``f"{a}+{b}"`` right-padded with spaces to ``2 * digits + 1`` characters, where
  ``a`` and ``b`` have 1 to ``digits`` digits (the number of digits is drawn uniformly first,
  so short operands are as common as long ones);
* its answer is ``str(a + b)`` right-padded with spaces to ``digits + 1`` characters;
* :func:`problems` draws distinct ``(a, b)`` pairs from a seeded generator, so the training,
  validation and test sets never share a question.

Nothing is downloaded: the data is generated on the fly from the seed.
"""

from __future__ import annotations

import numpy as np

ALPHABET = "0123456789+ "
DIGITS = 3


def question_length(digits: int = DIGITS) -> int:
    return 2 * digits + 1


def answer_length(digits: int = DIGITS) -> int:
    return digits + 1


def problems(n: int, *, digits: int = DIGITS, seed: int = 0) -> list[tuple[int, int]]:
    """``n`` distinct ``(a, b)`` pairs in random order, deterministic in ``seed``.

    Rejecting repeats exhausts the short problems first (there are only 100 one-digit sums),
    so the pairs are shuffled after drawing: any slice of the result, e.g. the test split taken
    from the end, has the same mix of lengths as any other.
    """
    if digits < 1:
        raise ValueError(f"digits must be at least 1, got {digits}")
    # Pairs with each operand's digit count drawn uniformly from 1..digits.
    possible = sum(9 * 10 ** (k - 1) + (k == 1) for k in range(1, digits + 1)) ** 2
    if n > possible:
        raise ValueError(f"only {possible} distinct {digits}-digit problems exist, asked for {n}")
    rng = np.random.default_rng(seed)
    seen: set[tuple[int, int]] = set()
    pairs: list[tuple[int, int]] = []
    while len(pairs) < n:
        a, b = (_operand(rng, digits) for _ in range(2))
        if (a, b) not in seen:
            seen.add((a, b))
            pairs.append((a, b))
    return [pairs[i] for i in rng.permutation(n)]


def _operand(rng: np.random.Generator, digits: int) -> int:
    k = int(rng.integers(1, digits + 1))
    low = 0 if k == 1 else 10 ** (k - 1)
    return int(rng.integers(low, 10**k))


def questions(pairs, digits: int = DIGITS) -> list[str]:
    return [f"{a}+{b}".ljust(question_length(digits)) for a, b in pairs]


def answers(pairs, digits: int = DIGITS) -> list[str]:
    return [str(a + b).ljust(answer_length(digits)) for a, b in pairs]


def encode(strings: list[str], length: int) -> np.ndarray:
    """One-hot ``float32`` array of shape ``(len(strings), length, 12)``."""
    out = np.zeros((len(strings), length, len(ALPHABET)), np.float32)
    for i, s in enumerate(strings):
        if len(s) != length:
            raise ValueError(f"{s!r} has {len(s)} characters, expected {length}")
        for j, ch in enumerate(s):
            k = ALPHABET.find(ch)
            if k < 0:
                raise ValueError(f"{ch!r} in {s!r} is not in the alphabet {ALPHABET!r}")
            out[i, j, k] = 1.0
    return out


def decode(probabilities: np.ndarray) -> list[str]:
    """The most probable symbol at every position, as strings."""
    return ["".join(ALPHABET[k] for k in row) for row in np.argmax(probabilities, axis=-1)]


def exact_match(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Share of answers whose every character is right (the task's accuracy)."""
    return float(np.mean(np.all(np.argmax(y_true, -1) == np.argmax(y_pred, -1), axis=-1)))
