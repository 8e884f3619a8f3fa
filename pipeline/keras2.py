"""The one place that decides which Keras lowbit uses: Keras 2 (``tf_keras``).

tensorflow-model-optimization only works with Keras 2 objects, and importing it flips
``TF_USE_LEGACY_KERAS`` as a side effect, so import order would otherwise change what
``tf.keras`` means. Every module in lowbit imports ``keras``, ``tf`` and ``tfmot`` from here;
nothing imports ``keras``/``tf.keras`` any other way.
"""

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402
import tensorflow_model_optimization as tfmot  # noqa: E402

__all__ = ["keras", "tf", "tfmot"]
