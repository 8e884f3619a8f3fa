"""The cluster of a multi-worker run, read from ``TF_CONFIG`` as TensorFlow defines it.

``TF_CONFIG`` is a JSON object::

    {"cluster": {"worker": ["host0:port", "host1:port"]},   # optionally also "chief": ["host:port"]
     "task": {"type": "worker", "index": 0}}

Every address is ``host:port`` with a port in 1..65535, every address appears once, and the
task names a type of the cluster and an index inside its list. The chief, which alone writes
the run directory, is ``chief`` 0 when the cluster has a chief, else ``worker`` 0 (TensorFlow's
``multi_worker_util.is_chief``). :func:`from_environment` checks all of this before TensorFlow
reads the variable, so a mistake is one line naming the field, not a stack trace from gRPC.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from lowbit.pipeline.errors import LowbitError

TRAINING_TYPES = ("chief", "worker")  # the task types MultiWorkerMirroredStrategy trains with


class ClusterError(LowbitError):
    """TF_CONFIG is missing or malformed, or the workers cannot start together."""


class PeerLost(LowbitError):
    """Another worker of a multi-worker job stopped answering in the middle of training; this
    worker's run resumes from its last completed epoch once every worker runs again."""

    exit_code = 75  # EX_TEMPFAIL: try again


@dataclass(frozen=True)
class Cluster:
    spec: tuple[tuple[str, tuple[str, ...]], ...]  # (task type, its addresses), as TF_CONFIG lists them
    task_type: str
    task_index: int

    @property
    def addresses(self) -> tuple[str, ...]:
        """Every training task's address: the chief first, then the workers in order."""
        by_type = dict(self.spec)
        return by_type.get("chief", ()) + by_type.get("worker", ())

    @property
    def address(self) -> str:
        return dict(self.spec)[self.task_type][self.task_index]

    @property
    def rank(self) -> int:
        """This task's position in :attr:`addresses` (0: the chief)."""
        return self.addresses.index(self.address)

    @property
    def is_chief(self) -> bool:
        return self.rank == 0

    @property
    def size(self) -> int:
        return len(self.addresses)


def parse(text: str) -> Cluster:
    """The :class:`Cluster` of a ``TF_CONFIG`` value, or :class:`ClusterError` naming what is wrong."""
    try:
        config = json.loads(text)
    except json.JSONDecodeError as err:
        raise ClusterError(f"TF_CONFIG is not JSON ({err.msg} at character {err.pos})") from None
    if not isinstance(config, dict):
        raise ClusterError("TF_CONFIG must be a JSON object with \"cluster\" and \"task\"")
    spec, task = config.get("cluster"), config.get("task")
    if not isinstance(spec, dict) or not spec:
        raise ClusterError("TF_CONFIG has no \"cluster\" object (e.g. {\"worker\": [\"host0:2222\", \"host1:2222\"]})")
    unknown = sorted(set(spec) - set(TRAINING_TYPES) - {"evaluator"})
    if unknown:
        raise ClusterError(f"TF_CONFIG cluster has task type {unknown[0]!r}; multi-worker training takes "
                           f"{' and '.join(TRAINING_TYPES)} (parameter servers are not supported)")
    seen: set = set()
    for kind, addresses in spec.items():
        if not isinstance(addresses, list) or not addresses:
            raise ClusterError(f"TF_CONFIG cluster.{kind} must be a non-empty list of \"host:port\" addresses")
        for i, address in enumerate(addresses):
            _check_address(address, f"cluster.{kind}[{i}]")
            if address in seen:
                raise ClusterError(f"TF_CONFIG lists {address} twice")
            seen.add(address)
    if "chief" in spec and len(spec["chief"]) != 1:
        raise ClusterError(f"TF_CONFIG cluster.chief must list exactly one address, got {len(spec['chief'])}")
    if "worker" not in spec and "chief" not in spec:
        raise ClusterError("TF_CONFIG cluster lists no worker")
    if not isinstance(task, dict):
        raise ClusterError("TF_CONFIG has no \"task\" object (e.g. {\"type\": \"worker\", \"index\": 0})")
    kind, index = task.get("type"), task.get("index", 0)
    if kind not in TRAINING_TYPES or kind not in spec:
        raise ClusterError(f"TF_CONFIG task.type {kind!r} is not a training task type of the cluster "
                           f"({', '.join(k for k in TRAINING_TYPES if k in spec)})")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(spec[kind]):
        raise ClusterError(f"TF_CONFIG task.index {index!r} is outside cluster.{kind} "
                           f"(0..{len(spec[kind]) - 1})")
    return Cluster(tuple((k, tuple(v)) for k, v in spec.items()), kind, index)


def from_environment(environ=None) -> Cluster:
    """The cluster ``TF_CONFIG`` describes; :class:`ClusterError` when it is unset or malformed."""
    text = (environ if environ is not None else os.environ).get("TF_CONFIG")
    if not text:
        raise ClusterError("--strategy multi-worker needs TF_CONFIG, e.g. TF_CONFIG='{\"cluster\": {\"worker\": "
                           "[\"host0:2222\", \"host1:2222\"]}, \"task\": {\"type\": \"worker\", \"index\": 0}}' "
                           "on host0 (index 1 on host1)")
    return parse(text)


def _check_address(address, where: str) -> None:
    if not isinstance(address, str) or address.count(":") < 1:
        raise ClusterError(f"TF_CONFIG {where} is {address!r}, not a \"host:port\" address")
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ClusterError(f"TF_CONFIG {where} is {address!r}: the port must be a number in 1..65535")
