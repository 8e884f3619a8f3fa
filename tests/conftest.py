"""Shared test set-up: quiet TensorFlow, deterministic seeds, and where the shared data lives."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def _seed():
    from lowbit.pipeline.keras2 import keras

    keras.utils.set_random_seed(1234)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data not found at {SHARED_DATA}; CI clones the project next to it")
    return SHARED_DATA


@pytest.fixture(scope="session")
def imdb_models(shared_data):
    """Small real IMDB models for export tests: per architecture one float model trained for two
    epochs on 2,000 reviews (vocabulary 2,000), and from it the stripped BC/TC/QC twins
    (``strip(quantize_model(float))``); plus 500 real test sequences. ``{(arch, scheme): model}``
    and ``x``."""
    import numpy as np

    from lowbit.models import imdb
    from lowbit.pipeline.data import splits as datasets
    from lowbit.pipeline import qat
    from lowbit.pipeline.keras2 import keras

    splits = datasets.imdb_splits(shared_data, limit=2000, seed=0, vocab_size=2000)
    models = {}
    for arch in ("lstm", "gru"):
        keras.utils.set_random_seed(7)
        float_model = imdb.build(arch, vocab_size=2000)
        float_model.compile("adam", "binary_crossentropy")
        float_model.fit(splits.x_train, splits.y_train, batch_size=64, epochs=2, verbose=0)
        models[(arch, "fp")] = float_model
        for scheme in ("bc", "tc", "qc"):
            models[(arch, scheme)] = qat.strip(qat.quantize_model(float_model, scheme))
    return {"models": models, "x": np.ascontiguousarray(splits.x_test[:500]).astype(np.int32)}


@pytest.fixture(scope="session")
def converted_runs(tmp_path_factory, shared_data):
    """Two small real IMDB LSTM runs, ``fp`` and ``tc`` fine-tuned from it (300 reviews, one epoch
    each), exported by ``lowbit convert``: ``{"fp": run_dir, "tc": run_dir}``. Tests must not
    modify them (copy a run first)."""
    from lowbit.deploy.export.convert import convert_run
    from lowbit.pipeline.train.loop import TrainConfig, train

    root = tmp_path_factory.mktemp("converted")
    common = dict(task="imdb-lstm", epochs=1, limit=300, data_dir=str(shared_data), batch_size=32)
    train(TrainConfig(scheme="fp", out=str(root / "imdb-lstm-fp"), **common), progress=False)
    train(TrainConfig(scheme="tc", out=str(root / "imdb-lstm-tc"), init_from=str(root / "imdb-lstm-fp"),
                      learning_rate=3e-4, **common), progress=False)
    runs = {"fp": root / "imdb-lstm-fp", "tc": root / "imdb-lstm-tc"}
    for run in runs.values():
        convert_run(run)
    return runs
