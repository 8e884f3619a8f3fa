"""The one place that decides which Keras lowbit uses: Keras 2 (``tf_keras``).

tensorflow-model-optimization only works with Keras 2 objects, and importing it flips
``TF_USE_LEGACY_KERAS`` as a side effect, so import order would otherwise change what
``tf.keras`` means. Every module in lowbit imports ``keras``, ``tf`` and ``tfmot`` from here;
nothing imports ``keras``/``tf.keras`` any other way.
"""

import os

from lowbit.pipeline import quiet

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", quiet.QUIET_LEVEL)


# TensorFlow 2.21 writes INFO lines (oneDNN, CUDA) from C++ before absl's logging starts, so
# TF_CPP_MIN_LOG_LEVEL cannot hide them; and it finds the devices on first use, which on a machine
# without a GPU logs "failed call to cuInit" as an ERROR. Both happen here, with the native stream
# quiet (lowbit.pipeline.quiet); Python errors still surface.
with quiet.native_stderr():
    import tensorflow as tf  # noqa: E402

    tf.config.list_physical_devices()
import tf_keras as keras  # noqa: E402
import tensorflow_model_optimization as tfmot  # noqa: E402
# tf-keras' H5 compile-and-optimizer restore, which lowbit.pipeline.qat.load_saved reuses.
from tf_keras.src.saving.legacy import hdf5_format as h5_saving, saving_utils  # noqa: E402

__all__ = ["keras", "tf", "tfmot", "h5_saving", "saving_utils"]


def keras_3():
    """Keras 3 itself (the ``keras`` package TensorFlow 2.21 installs), imported on first use: only
    to read model files and models made with it (:mod:`lowbit.pipeline.keras3`), never to train."""
    import keras as keras_3

    return keras_3
