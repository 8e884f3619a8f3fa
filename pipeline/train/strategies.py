"""How training is spread over devices: the names ``lowbit train --strategy`` takes and the
``tf.distribute`` strategy each stands for. TensorFlow is imported only when a strategy is built."""

from __future__ import annotations

STRATEGIES = ("default", "mirrored")


def distribution_strategy(name: str):
    """``default``: TensorFlow's default strategy. ``mirrored``: ``MirroredStrategy`` over all
    logical GPUs, or over all logical CPUs when there is no GPU (TF alone would use just one)."""
    from lowbit.pipeline.keras2 import tf

    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; valid choices: {', '.join(STRATEGIES)}")
    if name == "default":
        return tf.distribute.get_strategy()
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([d.name for d in devices])
