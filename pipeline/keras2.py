"""The one place that decides which Keras lowbit uses: Keras 2 (``tf_keras``).

tensorflow-model-optimization only works with Keras 2 objects, and importing it flips
``TF_USE_LEGACY_KERAS`` as a side effect, so import order would otherwise change what
``tf.keras`` means. Every module in lowbit imports ``keras``, ``tf`` and ``tfmot`` from here;
nothing imports ``keras``/``tf.keras`` any other way.
"""

import os
from contextlib import contextmanager

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextmanager
def _quiet_native_stderr():
    """TensorFlow 2.21 writes INFO lines (oneDNN, CUDA) from C++ before absl's logging starts, so
    ``TF_CPP_MIN_LOG_LEVEL`` cannot hide them; while ``import tensorflow`` runs, file descriptor
    2 points at /dev/null unless the user set ``TF_CPP_MIN_LOG_LEVEL`` below 2. Python errors
    still surface: they are raised after the descriptor is restored."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") < "2":
        yield
        return
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


with _quiet_native_stderr():
    import tensorflow as tf  # noqa: E402
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
