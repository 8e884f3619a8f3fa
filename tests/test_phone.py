"""lowbit.deploy.phone: which width the phone gets (the choice rule, the candidates per scheme),
the one-run check in the APK's runtime, and the report of the measurement. The measurement of a
real run and its phone file are exercised by tests/test_android.py and tests/test_apk.py."""

import json

import pytest

from lowbit.deploy import phone


def row(p50: float, size: int) -> dict:
    return {"phone_p50_ms": p50, "size_bytes": size}


@pytest.mark.parametrize("measured, chosen", [
    ({2: row(5.7, 696), 4: row(0.97, 1369)}, 4),      # TFLite 2.21 today: INT2 off XNNPACK
    ({2: row(0.50, 696), 4: row(0.60, 1369)}, 2),     # a runtime whose INT2 kernels are fast
    ({2: row(1.02, 696), 4: row(1.00, 1369)}, 2),     # within 5 %: the smaller file
    ({2: row(1.06, 696), 4: row(1.00, 1369)}, 4),     # just outside 5 %: the faster one
    ({4: row(0.9, 1369)}, 4),                         # QC: INT4 only
], ids=["int2-slow", "int2-fast", "tie-smaller", "just-slower", "one-candidate"])
def test_choose_takes_the_fastest_and_among_near_ties_the_smallest(measured, chosen):
    assert phone.choose(measured) == chosen


def test_choose_needs_something_measured():
    with pytest.raises(ValueError, match="nothing measured"):
        phone.choose({})


@pytest.mark.parametrize("scheme, widths", [("bc", (2, 4)), ("tc", (2, 4)), ("qc", (4,)), ("fp", ())])
def test_candidate_widths_are_the_low_bit_widths_the_codes_fit(scheme, widths):
    assert phone.candidate_widths(scheme) == widths


def test_a_float_run_is_bundled_as_it_is(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"task": "imdb-lstm", "scheme": "fp"}))
    assert phone.prepare(tmp_path) == tmp_path / "model.tflite"
    assert not (tmp_path / phone.PHONE_DIR).exists()


def test_check_runs_passes_a_file_the_runtime_runs_and_names_one_it_cannot():
    from lowbit.deploy.export import tflite_export
    from lowbit.pipeline.keras2 import keras

    model = keras.Sequential([keras.layers.Embedding(10, 4, input_length=6), keras.layers.GRU(3),
                              keras.layers.Dense(1, activation="sigmoid")])
    flat = tflite_export.convert_keras_model(model, scheme="fp")
    phone.check_runs(flat, where="gru.tflite")  # zeros in: a valid id for every text model
    with pytest.raises(phone.PhoneRuntimeError) as err:
        phone.check_runs(flat[:len(flat) // 2], where="half.tflite")
    assert str(err.value).startswith("half.tflite: the APK's runtime, TensorFlow Lite 2.21, cannot run it (")
    assert "\n" not in str(err.value)


def test_the_report_marks_the_choice_once_and_the_reference_rows():
    record = {"run": "imdb-lstm-tc", "scheme": "tc", "batch": 1, "threads": 1, "runs": 200,
              "runtime": phone.RUNTIME, "reference": phone.REFERENCE, "chosen": "int4", "chosen_bits": 4,
              "widths": {"int2": {**row(5.7, 696_152), "reference_p50_ms": 0.70, "eligible": True},
                         "int4": {**row(0.97, 1_368_984), "reference_p50_ms": 0.98, "eligible": True},
                         "int8": {**row(0.73, 2_714_584), "reference_p50_ms": 0.76, "eligible": False}}}
    text = phone.width_markdown(record)
    assert text.count("(chosen)") == 1 and "| INT4 (chosen) | 1.369 | 0.970 | 0.980 |" in text
    assert "| INT8 (reference only) | 2.715 |" in text and "The phone gets INT4" in text
