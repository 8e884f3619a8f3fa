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
