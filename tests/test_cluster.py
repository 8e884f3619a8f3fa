"""TF_CONFIG as TensorFlow defines it: who is chief, each task's rank, and one clear line for
every malformed field."""

import json

import pytest

from lowbit.pipeline.train import cluster

TWO = {"cluster": {"worker": ["localhost:2222", "localhost:2223"]}, "task": {"type": "worker", "index": 1}}


def test_two_workers_worker_zero_is_chief():
    second = cluster.parse(json.dumps(TWO))
    first = cluster.parse(json.dumps({**TWO, "task": {"type": "worker", "index": 0}}))
    assert first.is_chief and not second.is_chief
    assert (first.rank, second.rank, second.size) == (0, 1, 2)
    assert second.address == "localhost:2223"


def test_an_explicit_chief_comes_first_and_worker_zero_is_not_chief():
    spec = {"cluster": {"worker": ["b:1", "c:1"], "chief": ["a:1"]}, "task": {"type": "worker", "index": 0}}
    worker = cluster.parse(json.dumps(spec))
    chief = cluster.parse(json.dumps({**spec, "task": {"type": "chief", "index": 0}}))
    assert worker.addresses == ("a:1", "b:1", "c:1")
    assert chief.is_chief and not worker.is_chief and worker.rank == 1


@pytest.mark.parametrize("text, message", [
    ("{nope", "TF_CONFIG is not JSON"),
    ("[1]", "must be a JSON object"),
    (json.dumps({"task": {"type": "worker", "index": 0}}), "no \"cluster\" object"),
    (json.dumps({**TWO, "cluster": {"ps": ["a:1"], "worker": ["b:1"]}}), "task type 'ps'"),
    (json.dumps({**TWO, "cluster": {"worker": []}}), "non-empty list"),
    (json.dumps({**TWO, "cluster": {"worker": ["localhost"]}}), "not a \"host:port\" address"),
    (json.dumps({**TWO, "cluster": {"worker": ["localhost:99999"]}}), "port must be a number in 1..65535"),
    (json.dumps({**TWO, "cluster": {"worker": ["a:1", "a:1"]}}), "lists a:1 twice"),
    (json.dumps({**TWO, "cluster": {"chief": ["a:1", "b:1"], "worker": ["c:1"]}}), "exactly one address"),
    (json.dumps({"cluster": TWO["cluster"]}), "no \"task\" object"),
    (json.dumps({**TWO, "task": {"type": "chief", "index": 0}}), "task.type 'chief' is not a training task type"),
    (json.dumps({**TWO, "task": {"type": "worker", "index": 2}}), r"task.index 2 is outside cluster.worker \(0..1\)"),
    (json.dumps({**TWO, "task": {"type": "worker", "index": "0"}}), "task.index '0'"),
], ids=["not-json", "not-object", "no-cluster", "parameter-server", "empty-list", "no-port", "bad-port",
        "duplicate", "two-chiefs", "no-task", "type-not-in-cluster", "index-out-of-range", "index-not-int"])
def test_malformed_tf_config_is_one_line_naming_the_field(text, message):
    with pytest.raises(cluster.ClusterError, match=message) as err:
        cluster.parse(text)
    assert "\n" not in str(err.value)


def test_missing_tf_config_says_how_to_set_it():
    with pytest.raises(cluster.ClusterError, match="needs TF_CONFIG, e.g."):
        cluster.from_environment({})
    assert cluster.from_environment({"TF_CONFIG": json.dumps(TWO)}).rank == 1
