"""Hostile input through the ``lowbit`` command, one table of cases (issue 30's, and those that
held before it, so that none comes back): each is refused with exit status 2 (1 for a diverged
training) and one line naming what is wrong, before anything of the user's is touched — never a
traceback, never a confident answer. Cases run in-process (``cli.main``) on tiny models and files.
"""

import zipfile

import numpy as np
import pytest

from lowbit import cli
from lowbit.pipeline.keras2 import keras

pytestmark = pytest.mark.slow  # the attack table: see the module docstring

L = keras.layers


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """A Sequential GRU (.h5), its .npz data, and its artifacts (no manifest)."""
    from lowbit.deploy.export import onnx_export, tflite_export

    out = tmp_path_factory.mktemp("kit")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([L.GRU(4, input_shape=(6, 3)), L.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    model.save(out / "m.h5")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 6, 3)).astype(np.float32)
    y = (x[:, :, 0].mean(axis=1) > 0).astype(np.float32)
    np.savez(out / "d.npz", x_train=x[:40], y_train=y[:40], x_test=x[40:], y_test=y[40:])
    for fmt, convert in (("tflite", tflite_export.convert_keras_model), ("onnx", onnx_export.convert_keras_model)):
        (out / f"m.{fmt}").write_bytes(convert(model, scheme="fp"))
    return out


def _npz(kit, tmp, **changes):
    arrays = dict(np.load(kit / "d.npz"))
    arrays.update(changes)
    np.savez(tmp / "bad.npz", **{k: v for k, v in arrays.items() if v is not None})
    return ["run", "--model", str(kit / "m.h5"), "--data", str(tmp / "bad.npz"), "--out", str(tmp / "o")]


def _nan_x(kit, tmp):
    x = np.load(kit / "d.npz")["x_train"].copy()
    x[3, 2, 1] = np.nan
    return _npz(kit, tmp, x_train=x)


def _declared_huge(kit, tmp):
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1, 6, 3), np.float32))
    header["shape"] = (10 ** 9, 6, 3)
    with zipfile.ZipFile(tmp / "bad.npz", "w") as archive, archive.open("x_train.npy", "w") as member:
        np.lib.format.write_array_header_1_0(member, header)
        member.write(b"\0" * 1000)
    return ["run", "--model", str(kit / "m.h5"), "--data", str(tmp / "bad.npz"), "--out", str(tmp / "o")]


def _keras_edit(kit, tmp, edit):
    from test_model_files import keras_archive  # a small .keras whose config.json edit() changes

    return ["run", "--model", str(keras_archive(tmp / "bad.keras", edit)), "--data", str(kit / "d.npz"),
            "--out", str(tmp / "o")]


def _lambda_h5(kit, tmp):
    inp = keras.Input((6, 3))
    keras.Model(inp, L.Dense(1)(L.GRU(2)(L.Lambda(lambda t: t * 2)(inp)))).save(tmp / "bad.h5")
    return ["run", "--model", str(tmp / "bad.h5"), "--data", str(kit / "d.npz"), "--out", str(tmp / "o")]


def _folder(tmp, extra=None):
    for split, label, text in (("train", "a", "alpha beta"), ("train", "b", "gamma delta"), ("test", "a", "alpha")):
        (tmp / "c" / split / label).mkdir(parents=True, exist_ok=True)
        for k in range(4):
            (tmp / "c" / split / label / f"{k}.txt").write_text(f"{text} {k}")
    if extra:
        extra(tmp / "c")
    return ["run", "--data", str(tmp / "c"), "--out", str(tmp / "o"), "--schemes", "tc"]


def _predict_npz(kit, tmp, fmt, x):
    np.savez(tmp / "x.npz", x_test=x)
    return ["predict", str(kit / f"m.{fmt}"), "--npz", str(tmp / "x.npz")]


def _nan_rows(kit, tmp, fmt):
    x = np.load(kit / "d.npz")["x_test"].copy()
    x[1, 0, 0] = np.nan
    return _predict_npz(kit, tmp, fmt, x)


def _users_report(kit, tmp):
    (tmp / "rep").mkdir()
    (tmp / "rep" / "report.md").write_text("my own notes")
    return ["evaluate", str(tmp / "nowhere"), "--out", str(tmp / "rep")]


def _users_notes_in_a_run(kit, tmp):
    (tmp / "o" / "user-fp").mkdir(parents=True)
    (tmp / "o" / "user-fp" / "config.json").write_text("{}")  # the user's, not lowbit's (no ledger)
    return ["run", "--model", str(kit / "m.h5"), "--data", str(kit / "d.npz"), "--out", str(tmp / "o")]


def _options(*options):
    return lambda kit, tmp: ["run", "--model", str(kit / "m.h5"), "--data", str(kit / "d.npz"), "--out",
                             str(tmp / "o"), *options]


CASES = {  # name: (argv builder, exit status, what the one line says, a file that must stay as it was)
    # data files
    "npz: NaN in x_train": (_nan_x, 2, "NaN", None),
    "npz: object array (pickle)": (lambda k, t: _npz(k, t, y_train=np.array([{"a": 1}] * 40, dtype=object)), 2,
                                   "not an .npz archive of numeric arrays", None),
    "npz: label 2 with binary cross-entropy": (lambda k, t: _npz(k, t, y_train=np.full(40, 2, np.float32)), 2,
                                               "other than 0 and 1", None),
    "npz: missing y_test": (lambda k, t: _npz(k, t, y_test=None), 2, "no y_test", None),
    "npz: a billion rows declared, 1,000 bytes held": (_declared_huge, 2, "bad.npz", None),
    # model files
    "keras: a module named at the top level": (lambda k, t: _keras_edit(k, t, lambda c: c.update(module="this")), 2,
                                              "the module 'this'", None),
    "keras: a class from os on a layer": (lambda k, t: _keras_edit(
        k, t, lambda c: c["config"]["layers"][1].update(module="os", class_name="system")), 2, "refusing to load", None),
    "h5: a Lambda layer": (_lambda_h5, 2, "refusing to load Lambda", None),
    # text folders
    "text: a file linked from outside": (lambda k, t: _folder(t, lambda c: (c / "train" / "a" / "9.txt").symlink_to(
        k / "m.h5")), 2, "outside", None),
    "text: a file over 10 MB": (lambda k, t: _folder(t, lambda c: (c / "train" / "b" / "9.txt").write_bytes(
        b"word " * 2_100_000)), 2, "over the 10 MB limit", None),
    "text: a binary file": (lambda k, t: _folder(t, lambda c: (c / "train" / "b" / "9.txt").write_bytes(
        b"\x89PNG\x00\x00")), 2, "not UTF-8 text", None),
    "text: one label only": (lambda k, t: _folder(t, lambda c: __import__("shutil").rmtree(c / "train" / "b")), 2,
                             "1 label folder", None),
    # predict
    "predict .tflite: a NaN row": (lambda k, t: _nan_rows(k, t, "tflite"), 2, "NaN or Inf in 1 of 20 rows", None),
    "predict .onnx: a NaN row": (lambda k, t: _nan_rows(k, t, "onnx"), 2, "NaN or Inf in 1 of 20 rows", None),
    "predict: strings": (lambda k, t: _predict_npz(k, t, "onnx", np.array([["a"] * 3] * 6)), 2, "the artifact reads "
                         "numbers", None),
    # the user's files
    "evaluate --out over the user's report.md": (_users_report, 2, "report.md", "rep/report.md"),
    "run over a run folder holding the user's config.json": (_users_notes_in_a_run, 2, "config.json", "o/user-fp/config.json"),
    # options
    "--learning-rate nan": (_options("--learning-rate", "nan"), 2, "learning-rate", None),
    "--epochs -1": (_options("--epochs", "-1"), 2, "epochs", None),
    "--batch-size 0": (_options("--batch-size", "0"), 2, "batch-size", None),
    "--keep-float of a layer the model lacks": (_options("--keep-float", "nope"), 2, "no layer 'nope'", None),
    "--float-epochs 3 --learning-rate 1e30": (_options("--float-epochs", "3", "--learning-rate", "1e30",
                                                       "--schemes", "tc"), 1, "diverged", None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_input_is_refused_in_one_line(kit, tmp_path, capsys, monkeypatch, case):
    build, status, message, kept = CASES[case]
    monkeypatch.setenv("LOWBIT_CACHE", str(tmp_path / "cache"))
    argv = build(kit, tmp_path)
    before = (tmp_path / kept).read_bytes() if kept else None
    try:
        code = cli.main(argv)
    except SystemExit as exit_:  # argparse's refusal of an option's value: usage, then the one error line
        code = exit_.code
    assert code == status
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.startswith("lowbit ") and ": error: " in line]
    assert len(lines) == 1 and message in lines[0], err[-2000:]
    assert "Traceback" not in err and "Beautiful is better than ugly" not in out  # nothing imported from a file
    if kept:
        assert (tmp_path / kept).read_bytes() == before
