"""What lowbit keeps off the terminal unless asked (``lowbit --verbose``): the native log lines
of TensorFlow and LiteRT ("failed call to cuInit" on a machine without a GPU, "Created TensorFlow
Lite XNNPACK delegate for CPU", oneDNN notices) and the legacy-format warning of the HDF5 files
lowbit writes on purpose. Real warnings and errors still surface: Python warnings other than that
one are untouched, and the runtimes raise their errors as Python exceptions after the native
stream is restored.

Verbose means ``TF_CPP_MIN_LOG_LEVEL`` is set below 3 — by the user, or by ``lowbit --verbose``,
which sets it to 0 before anything native is imported. Imports nothing but the standard library.
"""

from __future__ import annotations

import io
import os
import re
import sys
import warnings
from contextlib import contextmanager

# TF_CPP_MIN_LOG_LEVEL unless the user chose: INFO, WARNING and ERROR lines of TensorFlow's C++
# logging hidden — TF 2.21 logs notices as ERROR ("oneDNN supports DT_INT32 only on platforms with
# AVX-512"); a real failure is raised to Python with its message.
QUIET_LEVEL = "3"


def verbose() -> bool:
    level = os.environ.get("TF_CPP_MIN_LOG_LEVEL", QUIET_LEVEL).strip()
    return level.isdigit() and int(level) < int(QUIET_LEVEL)


@contextmanager
def native_stderr():
    """While the block runs, file descriptor 2 (what C++ code writes to) points at /dev/null,
    unless :func:`verbose`. Python's own ``sys.stderr`` writes in the block are lost too: keep
    the block to the native call."""
    if verbose():
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


@contextmanager
def hdf5_on_purpose():
    """tf_keras warns on every ``model.save("x.h5")`` that HDF5 is legacy; lowbit's runs are H5
    by design (tfmot's QAT wrappers and the Android bundle read them), so the warning is noise
    there. Hidden in the block unless :func:`verbose`; other warnings pass."""
    with warnings.catch_warnings():
        if not verbose():
            warnings.filterwarnings("ignore", message="You are saving your model as an HDF5 file",
                                    category=UserWarning)
        yield


@contextmanager
def without_progress_bar(description: str):
    """Drops from ``sys.stderr`` the tqdm bar whose text starts with ``description`` while the block
    runs, unless :func:`verbose`; everything else written there is passed on when the block ends.
    For ai-edge-quantizer 0.10, whose ``Quantizer.quantize(enable_progress_bar=False)`` still
    draws "Applying Transformations to tensors:" for a model of 100 tensors or more (its
    ``_get_quantized_model`` does not pass the flag on to ``modify_model``)."""
    if verbose():
        yield
        return
    buffer = io.StringIO()
    saved, sys.stderr = sys.stderr, buffer
    try:
        yield
    finally:
        sys.stderr = saved
        # tqdm redraws with "\r" and ends with "\n": drop each drawing of the bar
        rest = re.sub(r"\r?" + re.escape(description) + r"[^\r\n]*(\r|\n)?", "", buffer.getvalue())
        if rest.strip():
            saved.write(rest)
