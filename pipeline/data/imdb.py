"""The Large Movie Review Dataset (Maas et al., 2011) read from its raw text.

Sources, in order: ``data_dir`` (or ``$LOWBIT_DATA``) holding ``aclImdb_v1.tar.gz`` or an
extracted ``aclImdb/`` folder (or being one of those); else the official tarball, downloaded
once, md5-checked and cached. Reviews are ``aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt``;
the tarball is read in place, never extracted. Order is deterministic: neg then pos, by id.
"""

from __future__ import annotations

import os
import re
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lowbit.pipeline.downloads import DataUnavailableError, fetch

OFFICIAL_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
OFFICIAL_MD5 = "7c2ac02c03563afcf9b574c7e56c153a"
TARBALL = "aclImdb_v1.tar.gz"
SPLITS = ("train", "test")
_REVIEW = re.compile(r"(?:^|/)aclImdb/(train|test)/(neg|pos)/(\d+)_(\d+)\.txt$")


@dataclass(frozen=True)
class Reviews:
    """One split: raw review texts and labels (1 = positive, 0 = negative)."""

    texts: list[str]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.texts)


def expected_files_hint() -> str:
    return (
        f"Point --data-dir (or LOWBIT_DATA) at a folder holding {TARBALL} or the extracted "
        "aclImdb/ folder (aclImdb/{train,test}/{pos,neg}/*.txt)."
    )


def find_source(data_dir: str | os.PathLike | None = None, *, download: bool = True) -> Path:
    """The tarball or ``aclImdb`` folder to read, downloading the official tarball if needed."""
    data_dir = data_dir or os.environ.get("LOWBIT_DATA")
    if data_dir:
        root = Path(data_dir)
        for candidate in (root, root / TARBALL, root / "aclImdb"):
            if candidate.is_file() and candidate.name.endswith((".tar.gz", ".tgz")):
                return candidate
            if candidate.is_dir() and (candidate / "train").is_dir() and (candidate / "test").is_dir():
                return candidate
        raise DataUnavailableError(f"no IMDB reviews found in {root}. {expected_files_hint()}")
    if not download:
        raise DataUnavailableError(f"no IMDB data directory given. {expected_files_hint()}")
    return fetch(OFFICIAL_URL, TARBALL, md5=OFFICIAL_MD5, hint=expected_files_hint())


def load(data_dir=None, *, splits=SPLITS, download: bool = True) -> dict[str, Reviews]:
    """``{split: Reviews}`` for the requested splits, read from :func:`find_source`."""
    unknown = set(splits) - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown split(s) {sorted(unknown)}; valid choices: {', '.join(SPLITS)}")
    source = find_source(data_dir, download=download)
    found: dict[str, list] = {s: [] for s in splits}
    for key, text in read_reviews(source, lambda key: key.split in found):
        found[key.split].append((key, text))
    result = {}
    for split, rows in found.items():
        if not rows:
            raise DataUnavailableError(f"{source} has no {split} reviews. {expected_files_hint()}")
        rows.sort(key=lambda r: r[0].order)
        result[split] = Reviews([r[1] for r in rows], np.array([r[0].positive for r in rows], np.int8))
    return result


@dataclass(frozen=True)
class ReviewKey:
    """Where one review sits: its split, polarity and id (``aclImdb/<split>/<neg|pos>/<id>_*.txt``)."""

    split: str
    positive: bool
    review_id: int

    @property
    def order(self) -> tuple:
        """The position rule of :func:`load`: negative before positive, then by id."""
        return (self.positive, self.review_id)


def review_keys(source: Path) -> dict[str, list[ReviewKey]]:
    """Every review's key per split, in :func:`load`'s order, without reading any review's text
    (one pass over the tarball's headers)."""
    found: dict[str, list] = {s: [] for s in SPLITS}
    for name, _ in _review_files(source):
        key = _key(name)
        if key is not None:
            found[key.split].append(key)
    for split, keys in found.items():
        if not keys:
            raise DataUnavailableError(f"{source} has no {split} reviews. {expected_files_hint()}")
        keys.sort(key=lambda k: k.order)
    return found


def read_reviews(source: Path, wanted):
    """``(ReviewKey, text)`` of every review for which ``wanted(key)`` holds, in the archive's
    order, one at a time (text decoded as UTF-8, undecodable bytes replaced)."""
    for name, read in _review_files(source):
        key = _key(name)
        if key is None or not wanted(key):
            continue
        try:
            text = read().decode("utf-8", errors="replace")
        except (tarfile.TarError, EOFError, OSError, zlib.error) as err:  # a truncated tarball fails late
            raise DataUnavailableError(f"{source}: damaged or truncated at {name} ({type(err).__name__}: "
                                       f"{err}). {expected_files_hint()}") from None
        yield key, text


def _key(name: str) -> ReviewKey | None:
    match = _REVIEW.search(name)
    if not match:
        return None
    split, polarity, review_id, _ = match.groups()
    return ReviewKey(split, polarity == "pos", int(review_id))


def _review_files(source: Path):
    """(name, read-bytes callable) for every file in the tarball or folder."""
    if source.is_file():
        try:
            with tarfile.open(source, "r:*") as tar:
                for member in tar:
                    if member.isfile():
                        yield member.name, tar.extractfile(member).read
        except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
            raise DataUnavailableError(f"{source} is not a readable tarball ({err}). {expected_files_hint()}") from err
        return
    for path in sorted(source.rglob("*.txt")):
        yield "aclImdb/" + path.relative_to(source).as_posix(), path.read_bytes
