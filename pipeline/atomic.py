"""Atomic file replacement: a reader sees the old file or the new one, never half of one.

Every file lowbit writes (checkpoints, models, artifacts, manifests, reports, app assets) goes
through :func:`replacing`: the writer fills a temporary file in the same directory, which is
renamed over the target only after the writer returned (``os.replace``, atomic on POSIX); if
the writer raises, or the process dies, the target is untouched and the temporary file is
removed (after a SIGKILL it stays behind as ``.NAME.tmp.SUFFIX``, never under the real name).

**Ownership.** lowbit overwrites and deletes only files it wrote. Every file written here is
recorded, by name, in its directory's ledger ``.lowbit-files`` (one name a line, appended); a
write whose target exists but is not in the ledger raises :class:`ForeignFileError` and leaves
the file as it is: a user's ``report.md`` in ``--out`` or their notes in a run folder are never
replaced. :func:`remove_owned` deletes a directory's recorded files and nothing else;
:func:`check_claimable` lets a stage refuse, before minutes of work, a folder where a user's file
holds a name the stage will write.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from lowbit.pipeline.errors import LowbitError

LEDGER = ".lowbit-files"


class ForeignFileError(LowbitError, FileExistsError):
    """A file lowbit would overwrite or delete was not written by lowbit (not in the ledger)."""


def owned(directory) -> frozenset[str]:
    """The names of the files lowbit wrote into ``directory`` (its ledger; empty if none)."""
    try:
        text = (Path(directory) / LEDGER).read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return frozenset()
    return frozenset(line for line in text.split("\n") if line)


def foreign(directory, names=None) -> list[str]:
    """The files in ``directory`` that lowbit did not write (of ``names`` only, if given), sorted;
    its own lock, ledger and leftover temporaries are not counted."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    mine = owned(directory)
    present = (p.name for p in directory.iterdir() if p.is_file() or p.is_symlink())
    return sorted(n for n in present if n not in mine and not _lowbit_internal(n)
                  and (names is None or n in names))


def check_claimable(directory, names, *, what: str = "lowbit") -> None:
    """Raise :class:`ForeignFileError` if a file of ``names`` exists in ``directory`` and was not
    written by lowbit: one line naming every such file, before any work is done."""
    found = foreign(directory, set(names))
    if found:
        raise ForeignFileError(_foreign_message(Path(directory), found, what))


def remove_owned(directory, *, keep=()) -> list[str]:
    """Delete the files lowbit wrote into ``directory`` (except ``keep``), not one other; returns
    the names of the files left there that are not lowbit's."""
    directory = Path(directory)
    mine = owned(directory)
    for name in sorted(mine - set(keep)):
        (directory / name).unlink(missing_ok=True)
    if mine:
        _rewrite_ledger(directory, sorted(mine & set(keep)))
    return foreign(directory)


def _lowbit_internal(name: str) -> bool:
    return name in (LEDGER, ".lowbit.lock") or (name.startswith(".") and ".tmp" in name)


def _foreign_message(directory: Path, names: list[str], what: str) -> str:
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return (f"{directory}: {shown} {'is' if len(names) == 1 else 'are'} not {what}'s to replace "
            f"(lowbit did not write {'it' if len(names) == 1 else 'them'}); move "
            f"{'it' if len(names) == 1 else 'them'} away or choose another folder")


def _claim(path: Path) -> None:
    if (path.exists() or path.is_symlink()) and path.name not in owned(path.parent):
        raise ForeignFileError(_foreign_message(path.parent, [path.name], "lowbit"))


def _record(paths) -> None:
    by_dir: dict[Path, list[str]] = {}
    for path in paths:
        by_dir.setdefault(path.parent, []).append(path.name)
    for directory, names in by_dir.items():
        new = [n for n in dict.fromkeys(names) if n not in owned(directory)]
        if new:  # one append (O_APPEND): concurrent writers of one folder do not lose each other's lines
            fd = os.open(directory / LEDGER, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, "".join(f"{n}\n" for n in new).encode("utf-8"))
            finally:
                os.close(fd)


def _rewrite_ledger(directory: Path, names: list[str]) -> None:
    tmp = directory / f".{LEDGER}.tmp"
    tmp.write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
    os.replace(tmp, directory / LEDGER)


@contextmanager
def replacing(path):
    """Yields the temporary path to write; renames it over ``path`` when the block succeeds.

    The temporary name keeps the suffix, for writers that choose the format by it
    (``model.save``, ``savefig``)."""
    path = Path(path)
    _claim(path)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        yield tmp
        _record([path])  # before the rename: a death between the two leaves no unrecorded file
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
    for path in files:
        _claim(Path(path))
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
        _record([path for _, path in staged])
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
