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
    except OSError as err:
        raise _naming(err, path) from None
    finally:
        tmp.unlink(missing_ok=True)


def _naming(err: OSError, path: Path) -> OSError:
    """The same error, naming the file it is about (a full disk's ENOSPC names none)."""
    if err.filename is not None and err.filename != str(path.with_name(f".{path.stem}.tmp{path.suffix}")):
        return err
    return type(err)(err.errno, err.strerror or str(err), str(path))


def write_bytes(path, data: bytes) -> None:
    with replacing(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def write_text(path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_all(files: dict) -> None:
    """All or nothing, for a set of files that vouch for each other (artifacts and their manifest).

    Every file is written to a temporary name beside its target first (and synced); only when all
    are written are they renamed over their targets, in the order given, so put the one that
    describes the others (the manifest) last. A failure while writing any of them (a full disk,
    say) removes the temporaries and leaves every target as it was."""
    staged = []
    try:
        for path, data in files.items():
            path = Path(path)
            tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
            staged.append((tmp, path))
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        for tmp, path in staged:
            os.replace(tmp, path)
    except OSError as err:
        raise _naming(err, staged[-1][1]) from None
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)


def check_writable(directory) -> None:
    """Raise the ``OSError`` (read-only file system, permission denied, a file where a folder
    should be) that writing into ``directory`` would meet, before any long work is done."""
    directory = Path(directory)
    probe = directory / f".lowbit-write-probe-{os.getpid()}"
    with open(probe, "wb"):
        pass
    probe.unlink()
