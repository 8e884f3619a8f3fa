"""Atomic file replacement: a reader sees the old file or the new one, never half of one.

Every file lowbit writes (checkpoints, models, artifacts, manifests, reports, app assets) goes
through :func:`replacing`: the writer fills a temporary file in the same directory, which is
renamed over the target only after the writer returned (``os.replace``, atomic on POSIX); if
the writer raises, or the process dies, the target is untouched and the temporary file is
removed (after a SIGKILL it stays behind as ``.NAME.tmp.SUFFIX``, never under the real name).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(path):
    """Yields the temporary path to write; renames it over ``path`` when the block succeeds.

    The temporary name keeps the suffix, for writers that choose the format by it
    (``model.save``, ``savefig``)."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path, data: bytes) -> None:
    with replacing(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def write_text(path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))
