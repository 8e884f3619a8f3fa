"""Shared test set-up: quiet TensorFlow, deterministic seeds, where the shared data lives, and the
two tiers: a test that reads the real data (through ``shared_data`` or a fixture built on it) is
marked ``slow`` here; modules of end-to-end, fuzzing and Java tests mark themselves."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


REAL_DATA_FIXTURES = {"shared_data", "imdb_models"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if REAL_DATA_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _seed():
    from lowbit.pipeline.keras2 import keras

    keras.utils.set_random_seed(1234)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"the real-data tests read ../shared/data (the IMDB tarball, Keras' word index, "
                    f"MNIST digits), which is not at {SHARED_DATA}; clone the project next to it, "
                    f"or run the fast tier: pytest -m 'not slow'")
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
def random_imdb_models():
    """The IMDB architectures with random weights (vocabulary 2,000): per architecture the float
    model and its stripped BC/TC/QC twins, ``{(arch, scheme): model}``, and 64 random token
    sequences as ``x``. Their graphs and stored tensors are those of trained models: structure and
    exactness tests need no training."""
    import numpy as np

    from lowbit.models import imdb
    from lowbit.pipeline import qat
    from lowbit.pipeline.keras2 import keras

    models = {}
    for arch in ("lstm", "gru"):
        keras.utils.set_random_seed(7)
        float_model = imdb.build(arch, vocab_size=2000)
        models[(arch, "fp")] = float_model
        for scheme in ("bc", "tc", "qc"):
            models[(arch, scheme)] = qat.strip(qat.quantize_model(float_model, scheme))
    x = np.random.default_rng(0).integers(0, 2000, size=(64, imdb.MAXLEN)).astype(np.int32)
    return {"models": models, "x": x}


@pytest.fixture(scope="session")
def random_imdb_tflite(random_imdb_models):
    """The ``.tflite`` files of :func:`random_imdb_models` (each scheme's own width), converted
    once per session: ``{(arch, scheme): bytes}``."""
    from lowbit.deploy.export import tflite_export

    return {key: tflite_export.convert_keras_model(m, scheme=key[1]) for key, m in random_imdb_models["models"].items()}


@pytest.fixture(scope="session")
def random_imdb_onnx(random_imdb_models):
    """The ``.onnx`` files of :func:`random_imdb_models`, converted once per session."""
    from lowbit.deploy.export import onnx_export

    return {key: onnx_export.convert_keras_model(m, scheme=key[1]) for key, m in random_imdb_models["models"].items()}


POSITIVE = "great wonderful loved superb moving brilliant fun touching best enjoyable".split()
NEGATIVE = "awful boring hated dull terrible waste worst silly poor annoying".split()
NEUTRAL = ("the a film movie plot actor scene story it was and of to in this that with script music "
           "director ending character time").split()


@pytest.fixture(scope="session")
def synthetic_imdb(tmp_path_factory):
    """A small corpus laid out like the IMDB tarball's ``aclImdb/`` folder (200 reviews per split
    and label): neutral words with a sprinkle of positive or negative ones, some ``<br />``
    breaks and punctuation. Fast-tier runs read it instead of the real reviews."""
    import numpy as np

    root = tmp_path_factory.mktemp("synthetic_imdb") / "aclImdb"
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for label, pool in (("pos", POSITIVE), ("neg", NEGATIVE)):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(200):
                words = list(rng.choice(NEUTRAL, size=rng.integers(20, 90)))
                for k in rng.choice(len(words), size=rng.integers(2, 6), replace=False):
                    words[k] = rng.choice(pool)
                text = " ".join(words).capitalize() + ". <br /><br />" + " ".join(rng.choice(NEUTRAL, 5)) + "!"
                (folder / f"{i}_{7 if label == 'pos' else 2}.txt").write_text(text)
    return root


@pytest.fixture(scope="session")
def converted_runs(tmp_path_factory, synthetic_imdb):
    """Two small IMDB LSTM runs on the synthetic corpus, ``fp`` and ``tc`` fine-tuned from it (300
    reviews, one epoch each), exported by ``lowbit convert``, the tc run with its phone file
    (``phone/``, :func:`lowbit.deploy.phone.prepare`, measured once here rather than by every
    deploy): ``{"fp": run_dir, "tc": run_dir}``. Tests must not modify them (copy a run first)."""
    from lowbit.deploy.export.convert import convert_run
    from lowbit.pipeline.train.loop import TrainConfig, train

    root = tmp_path_factory.mktemp("converted")
    common = dict(task="imdb-lstm", epochs=1, limit=300, data_dir=str(synthetic_imdb), batch_size=32)
    train(TrainConfig(scheme="fp", out=str(root / "imdb-lstm-fp"), **common), progress=False)
    train(TrainConfig(scheme="tc", out=str(root / "imdb-lstm-tc"), init_from=str(root / "imdb-lstm-fp"),
                      learning_rate=3e-4, **common), progress=False)
    runs = {"fp": root / "imdb-lstm-fp", "tc": root / "imdb-lstm-tc"}
    for run in runs.values():
        convert_run(run)
    from lowbit.deploy import phone

    phone.prepare(runs["tc"], runs=50)
    return runs
