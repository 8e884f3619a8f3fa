"""Shared test set-up: quiet TensorFlow, deterministic seeds, and where the shared data lives."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def _seed():
    from pipeline.keras2 import keras

    keras.utils.set_random_seed(1234)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data not found at {SHARED_DATA}; CI clones the project next to it")
    return SHARED_DATA
