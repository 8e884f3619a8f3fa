"""How training is spread over devices and hosts: the names ``lowbit train --strategy`` takes and
the ``tf.distribute`` strategy each stands for. TensorFlow is imported only when a strategy is built.

``multi-worker`` is ``tf.distribute.MultiWorkerMirroredStrategy`` over the cluster of
``TF_CONFIG`` (:mod:`lowbit.pipeline.train.cluster`), with two checks TensorFlow does not make:

* :func:`multi_worker` gives up after ``timeout`` seconds when the other workers do not connect
  (TensorFlow waits for them without limit, holding Python's GIL, so no thread of this process can
  act: a watchdog process prints the one-line error and ends the worker with SIGKILL, before
  anything was written);
* :func:`handshake` has every worker compare what it is about to do — the lowbit version and
  code, the training options, the epochs its checkpoint holds — before anything is written, and
  refuses on every worker, in one line, when they differ.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lowbit.pipeline.train.cluster import Cluster, ClusterError

STRATEGIES = ("default", "mirrored", "multi-worker")
CONNECT_TIMEOUT = 300.0  # seconds a worker waits for the others to start


def distribution_strategy(name: str):
    """``default``: TensorFlow's default strategy. ``mirrored``: ``MirroredStrategy`` over all
    logical GPUs, or over all logical CPUs when there is no GPU (TF alone would use just one).
    (``multi-worker``: :func:`multi_worker`, which needs the cluster.)"""
    from lowbit.pipeline.keras2 import tf

    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; valid choices: {', '.join(STRATEGIES)}")
    if name == "multi-worker":
        raise ValueError("the multi-worker strategy is built by multi_worker(cluster)")
    if name == "default":
        return tf.distribute.get_strategy()
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([d.name for d in devices])


def multi_worker(cluster: Cluster, *, timeout: float = CONNECT_TIMEOUT):
    """``MultiWorkerMirroredStrategy`` for ``cluster`` (``TF_CONFIG`` must describe it), once every
    worker has connected; :class:`ClusterError` after ``timeout`` seconds without them. Built once
    per process, before TensorFlow's first op (it configures collectives only then); later calls
    return the same strategy.

    TensorFlow installs a SIGTERM handler for its preemption notice, after which a worker no
    longer ends on ``kill``/``timeout``; the default action is put back."""
    import signal

    from lowbit.pipeline.keras2 import tf

    if cluster in _BUILT:  # one per process: TensorFlow configures collectives once
        return _BUILT[cluster]
    others = ", ".join(a for a in cluster.addresses if a != cluster.address)
    with watchdog(timeout, f"worker {cluster.rank} ({cluster.address}) could not reach the other workers of "
                           f"TF_CONFIG ({others}) within {timeout:g} s; start every worker (or raise --cluster-timeout)"):
        try:
            strategy = tf.distribute.MultiWorkerMirroredStrategy()
        except tf.errors.OpError as err:
            raise ClusterError(f"worker {cluster.rank} ({cluster.address}) could not join the other workers "
                               f"({others}): {type(err).__name__}") from None
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _BUILT[cluster] = strategy
    return strategy


_BUILT: dict = {}


@dataclass(frozen=True)
class Agreement:
    """What every worker of a job must hold equal, by name: text values are compared by digest."""

    fields: tuple[tuple[str, str | int], ...]

    def vector(self) -> np.ndarray:
        words = []
        for _, value in self.fields:
            if isinstance(value, int):
                words += [value, 0]
            else:
                words += list(np.frombuffer(hashlib.sha256(str(value).encode()).digest()[:8], np.int32))
        return np.array(words, np.int32)

    def disagreement(self, rows: np.ndarray) -> str | None:
        """None when every worker's row (``vector()`` of each, the chief's first) equals the
        chief's; else the first field in which one differs, with the numbers when they are."""
        rows = np.asarray(rows)
        for i, (name, value) in enumerate(self.fields):
            column = rows[:, 2 * i:2 * i + 2]
            differing = [k for k in range(len(rows)) if not np.array_equal(column[k], column[0])]
            if differing:
                numbers = f" ({', '.join(str(int(c[0])) for c in column)} by worker)" if isinstance(value, int) else ""
                return f"the workers differ in {name}{numbers}: worker {differing[0]} against the chief"
        return None


def handshake(strategy, cluster: Cluster, agreement: Agreement, *, timeout: float = CONNECT_TIMEOUT) -> None:
    """Gather ``agreement`` from every worker; :class:`ClusterError` on every worker naming the
    first field in which a worker differs from the chief, or when the exchange takes longer
    than ``timeout`` seconds."""
    from lowbit.pipeline.keras2 import tf

    mine = tf.constant(agreement.vector()[None, :])
    with watchdog(timeout, f"worker {cluster.rank}: the other workers did not answer within {timeout:g} s"):
        try:
            result = strategy.run(tf.function(lambda: tf.distribute.get_replica_context().all_gather(mine, axis=0)))
            rows = strategy.experimental_local_results(result)[0].numpy()
        except tf.errors.OpError as err:
            raise ClusterError(f"worker {cluster.rank}: lost the other workers while comparing options "
                               f"({type(err).__name__})") from None
    line = agreement.disagreement(rows)
    if line is not None:
        raise ClusterError(f"{line}; start every worker with the same lowbit and the same options")


_WATCHDOG = """
import os, select, signal, sys
pid, timeout, line = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
ready, _, _ = select.select([sys.stdin], [], [], timeout)
if not ready:
    sys.stderr.write(line + "\\n"); sys.stderr.flush()
    os.kill(pid, signal.SIGKILL)
"""


class watchdog:
    """Within the block, a separate process watches the clock: if the block has not ended after
    ``timeout`` seconds, it writes ``lowbit: error: <line>`` to this process's standard error and
    ends this process with SIGKILL (exit status 137). It goes quietly when the block ends, or when
    this process dies first (its pipe closes)."""

    def __init__(self, timeout: float, line: str):
        self.timeout, self.line = timeout, line

    def __enter__(self):
        import os
        import subprocess
        import sys

        self.process = subprocess.Popen([sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(self.timeout),
                                         f"lowbit: error: {self.line}"], stdin=subprocess.PIPE)
        return self

    def __exit__(self, *exc):
        self.process.stdin.close()  # EOF: the watchdog's select returns, it exits
        self.process.wait()
        return False


def code_digest() -> str:
    """sha256 over lowbit's Python sources (package-relative path and bytes): workers must run the
    same code, not only the same version number."""
    from importlib import import_module

    digest = hashlib.sha256()
    for package in ("lowbit", "lowbit.pipeline", "lowbit.models", "lowbit.deploy"):
        folder = Path(import_module(package).__file__).parent
        for path in sorted(folder.rglob("*.py")):
            relative = path.relative_to(folder).as_posix()
            if package == "lowbit" and "/" in relative:
                continue  # lowbit's own modules only; its sub-packages come next
            digest.update(f"{package}/{relative}".encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
