"""Fetch a dataset file once, check its hash, keep it in a cache (like ``keras.utils.get_file``).

Cache folder: ``$LOWBIT_CACHE`` or ``~/.cache/lowbit``. Downloads go to a temporary file that is
renamed into place only after the hash matched, so an interrupted or corrupted download never
leaves a file that looks valid.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from lowbit.pipeline.errors import LowbitError


class DataUnavailableError(LowbitError):
    """A dataset is neither available locally nor downloadable; the message says what to do."""


def cache_dir() -> Path:
    return Path(os.environ.get("LOWBIT_CACHE", Path.home() / ".cache" / "lowbit"))


def file_hash(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(url: str, filename: str, *, md5: str | None = None, sha256: str | None = None,
          hint: str = "", progress: bool = True) -> Path:
    """The cached file ``filename``, downloading it from ``url`` if it is not cached yet.

    A cached file whose hash does not match is downloaded again. Raises
    :class:`DataUnavailableError` (with ``hint`` appended) when the download fails, and
    ``ValueError`` when the downloaded bytes do not match the expected hash.
    """
    algorithm, expected = ("sha256", sha256) if sha256 else ("md5", md5)
    target = cache_dir() / filename
    if target.is_file() and (expected is None or file_hash(target, algorithm) == expected):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{filename}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = urllib.request.urlopen(url, timeout=60)
            except (urllib.error.URLError, OSError) as err:
                raise DataUnavailableError(f"cannot download {url} ({err}). {hint}".strip()) from err
            with response, tqdm(total=int(response.headers.get("Content-Length") or 0) or None,
                                unit="B", unit_scale=True, desc=filename, disable=not progress) as bar:
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
                    bar.update(len(block))
        if expected is not None and (actual := file_hash(tmp, algorithm)) != expected:
            raise ValueError(f"{url}: {algorithm} {actual} does not match the expected {expected}")
        shutil.move(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
