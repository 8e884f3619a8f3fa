"""lowbit.pipeline.model_files: a model file may only hold lowbit's classes; a Lambda layer (code
stored in the file, which tf-keras' H5 loader would run even in safe mode) is refused."""

import json

import numpy as np
import pytest

from lowbit import cli
from lowbit.pipeline import model_files, qat
from lowbit.pipeline.keras2 import keras


def lambda_model_file(path):
    inputs = keras.Input((3,))
    outputs = keras.layers.Lambda(lambda x: x * 2)(inputs)
    keras.Model(inputs, outputs).save(path)
    return path


def test_a_lambda_layer_is_refused_before_keras_reads_the_file(tmp_path):
    path = lambda_model_file(tmp_path / "model.h5")
    assert "Lambda" in model_files.classes_in(path)
    with pytest.raises(ValueError, match="refusing to load Lambda"):
        model_files.load(path)


def test_lowbit_models_load_plain_and_qat(tmp_path):
    from lowbit.models import imdb

    model = imdb.build("lstm", vocab_size=50, units=4)
    quantized = qat.quantize_model(model, "tc")
    model.save(tmp_path / "model.h5")
    quantized.save(tmp_path / "qat.h5")
    x = np.random.default_rng(0).integers(0, 50, (2, 80)).astype(np.int32)
    assert np.array_equal(model_files.load(tmp_path / "model.h5").predict(x, verbose=0), model.predict(x, verbose=0))
    assert np.array_equal(model_files.load(tmp_path / "qat.h5", qat=True).predict(x, verbose=0),
                          quantized.predict(x, verbose=0))


def test_convert_refuses_a_run_whose_model_holds_code(tmp_path, capsys):
    (tmp_path / "config.json").write_text(json.dumps({"task": "imdb-lstm", "scheme": "fp"}))
    lambda_model_file(tmp_path / "model.h5")
    assert cli.main(["convert", str(tmp_path)]) == 2
    assert "refusing to load Lambda" in capsys.readouterr().err
    (tmp_path / "model.h5").write_bytes(b"not hdf5")
    assert cli.main(["convert", str(tmp_path)]) == 2
    assert "not a readable HDF5 model file" in capsys.readouterr().err


# ------------------------------------------------ names in a .keras file that Keras would import


def keras_archive(path, edit):
    """A small tf_keras ``.keras`` archive whose ``config.json`` is changed by ``edit(config)``."""
    import zipfile

    model = keras.Sequential([keras.Input((12, 4)), keras.layers.LSTM(4), keras.layers.Dense(1)])
    model.save(path.with_name("clean.keras"))
    with zipfile.ZipFile(path.with_name("clean.keras")) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                edit(config)
                data = json.dumps(config).encode()
            target.writestr(item, data)
    return path


PROBE = "lowbit_import_probe"


@pytest.fixture
def probe_module(tmp_path, monkeypatch):
    """A module on sys.path that leaves a marker file when it is imported."""
    import sys

    folder = tmp_path / "site"
    folder.mkdir()
    marker = tmp_path / "imported"
    (folder / f"{PROBE}.py").write_text(f"open({str(marker)!r}, 'w').close()\nclass Dense: pass\n")
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, PROBE, raising=False)
    return marker


def _layer(config, class_name):
    return next(layer for layer in config["config"]["layers"] if layer["class_name"] == class_name)


ATTACKS = {
    "top-level module": lambda c: c.update(module=PROBE),
    "layer module": lambda c: _layer(c, "Dense").update(module=PROBE),
    "initializer module": lambda c: _layer(c, "LSTM")["config"]["kernel_initializer"].update(module=PROBE),
    "module of a submodule": lambda c: _layer(c, "Dense").update(module=f"{PROBE}.sub"),
    "keras-looking module": lambda c: _layer(c, "Dense").update(module="keras_" + PROBE),
    "non-string module": lambda c: _layer(c, "Dense").update(module=["keras.layers"]),
    "registered name": lambda c: _layer(c, "Dense").update(registered_name="Lambda"),
    "class name": lambda c: _layer(c, "Dense").update(class_name="Lambda"),
    "new object deep inside": lambda c: _layer(c, "LSTM")["config"].update(
        extra={"module": PROBE, "class_name": "Dense", "config": {}}),
}


@pytest.mark.parametrize("attack", ATTACKS.values(), ids=ATTACKS.keys())
def test_no_module_or_class_named_in_a_model_file_is_imported_or_loaded(tmp_path, probe_module, attack):
    path = keras_archive(tmp_path / "model.keras", attack)
    with pytest.raises(ValueError, match="refusing to load"):
        model_files.load(path)
    assert not probe_module.exists()


def test_keras_itself_would_import_the_module_the_file_names(tmp_path, probe_module):
    """The threat the refusal above guards against is real: Keras' own loader imports it."""
    path = keras_archive(tmp_path / "model.keras", ATTACKS["top-level module"])
    with pytest.raises(Exception):
        keras.models.load_model(path, safe_mode=True)
    assert probe_module.exists()


def test_an_unaltered_keras_archive_loads(tmp_path):
    path = keras_archive(tmp_path / "model.keras", lambda config: None)
    assert model_files.refused_in(path) == []
    assert model_files.load(path).count_params() == keras.models.load_model(path).count_params()


@pytest.mark.parametrize("module, allowed", [
    (None, True), ("builtins", True), ("keras", True), ("keras.layers", True), ("tf_keras.src.layers", True),
    ("lowbit.pipeline.quantizers", True), ("lowbit.cli", False),
    ("os", False), ("keras_evil", False), ("keras.layers;os", False), ("", False), (3, False),
])
def test_allowed_module(module, allowed):
    assert model_files.allowed_module(module) is allowed
