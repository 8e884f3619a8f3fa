"""One writer per directory: an exclusive lock that a second writer meets at once.

``lowbit train``, ``convert``, ``evaluate`` and ``deploy`` hold :func:`locked` on the directory
they write (a run directory, a report folder, the app's assets). The lock is ``fcntl.flock`` on
``DIR/.lowbit.lock``, which records the holder's pid; the kernel releases it when the holder
exits, however it exits, so a killed writer never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

from lowbit.pipeline.errors import LowbitError

LOCK_FILE = ".lowbit.lock"


class DirectoryInUse(LowbitError):
    """Another process is writing the directory."""


@contextmanager
def locked(directory):
    """Hold the exclusive lock of ``directory`` (created if missing) for the block; raises
    :class:`DirectoryInUse` naming the holder's pid when another process holds it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            raise DirectoryInUse(f"{directory} is in use by pid {holder}; wait for it to finish") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield directory
    finally:
        os.close(fd)  # releases the lock
