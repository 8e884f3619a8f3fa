"""A user's own model and data as a :class:`~lowbit.models.tasks.Task`.

A user run is described by a :class:`UserSpec`, resolved once from the options (``--model``,
``--data``, ``--loss``, ``--metric``, ``--vocab-size``, ``--max-tokens``), the model file and the
data, and stored with the run (``task.json``) and its artifacts' manifest, so that converting,
evaluating, predicting and deploying never need the options again.

What the spec decides, from the loss:

=================================  ================  =====================================
loss                               targets           decision (agreement) and test measure
=================================  ================  =====================================
``binary_crossentropy``            {0, 1}            output > 0.5 (> 0 from logits); accuracy
``categorical_crossentropy``       one-hot           argmax of the last axis; accuracy
``sparse_categorical_crossentropy``  class ids       argmax of the last axis; accuracy
``mse`` / ``mae``                  any real          none (a regression); the metric
=================================  ================  =====================================

A sequence tagger (``TimeDistributed`` output) decides per step, and the agreement of two models
counts every step's decision. The user's model must have one input and one output; its weights are the
float baseline. Without a model (a text folder), lowbit's default text classifier is built:
``Embedding(V, 64) -> LSTM(64) -> Dense(1, sigmoid)`` for two labels, ``Dense(K, softmax)`` for K.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

USER_TASK = "user"  # config.json's task of every user run
SPEC_FILE = "task.json"

# loss (as Keras names it in a compile config) -> (its kind, the names that mean it)
_LOSSES = {
    "binary_crossentropy": ("binary", ("binary_crossentropy", "BinaryCrossentropy")),
    "categorical_crossentropy": ("categorical", ("categorical_crossentropy", "CategoricalCrossentropy")),
    "sparse_categorical_crossentropy": ("sparse", ("sparse_categorical_crossentropy",
                                                   "SparseCategoricalCrossentropy")),
    "mse": ("regression", ("mse", "mean_squared_error", "MeanSquaredError")),
    "mae": ("regression", ("mae", "mean_absolute_error", "MeanAbsoluteError")),
}
LOSSES = tuple(_LOSSES)
METRICS = ("accuracy", "mse", "mae")
_METRIC_ALIASES = {"accuracy": "accuracy", "acc": "accuracy", "binary_accuracy": "accuracy",
                   "categorical_accuracy": "accuracy", "sparse_categorical_accuracy": "accuracy",
                   "mse": "mse", "mean_squared_error": "mse", "mae": "mae", "mean_absolute_error": "mae"}
DEFAULT_EMBEDDING, DEFAULT_UNITS = 64, 64


@dataclass(frozen=True)
class UserSpec:
    """Everything lowbit knows of a user task; JSON in ``task.json`` and in the manifest."""

    data: str  # the .npz file or the text folder
    inputs: str  # "text" | "tensors"
    loss: str  # a key of _LOSSES
    metric: str  # one of METRICS
    from_logits: bool = False
    model: str | None = None  # the user's model file; None: lowbit's default text classifier
    model_sha256: str | None = None
    labels: list[str] | None = None  # text: the label names by class id
    vocab_size: int | None = None  # text
    max_tokens: int | None = None  # text
    max_text_mb: float | None = None  # text: the largest file read (None: the default limit)
    output_units: int | None = None  # the last axis of the model's output
    keep_float: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return _LOSSES[self.loss][0]

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, obj, *, source="task description") -> "UserSpec":
        if not isinstance(obj, dict):
            raise ValueError(f"{source}: not a lowbit user task (a JSON object)")
        try:
            spec = cls(**obj)
        except TypeError as err:
            raise ValueError(f"{source}: not a lowbit user task ({err})") from None
        if spec.loss not in _LOSSES or spec.metric not in METRICS or spec.inputs not in ("text", "tensors"):
            raise ValueError(f"{source}: loss {spec.loss!r}, metric {spec.metric!r} or inputs {spec.inputs!r} "
                             "is not one lowbit writes")
        return spec


# --------------------------------------------------------------------------- resolving the options


def loss_name(value) -> tuple[str, bool]:
    """(lowbit's loss name, from_logits) of a loss given as a string or a Keras config dict."""
    from_logits = False
    if isinstance(value, dict):  # {"class_name": "BinaryCrossentropy", "config": {...}}
        from_logits = bool((value.get("config") or {}).get("from_logits", False))
        value = value.get("class_name")
    for name, (_, aliases) in _LOSSES.items():
        if value in aliases:
            return name, from_logits
    raise ValueError(f"loss {value!r} is not one lowbit can evaluate; valid choices: {', '.join(LOSSES)}")


def metric_name(value) -> str:
    if isinstance(value, dict):  # a class, or MeanMetricWrapper around a named function
        config = value.get("config") or {}
        value = next((v for v in (config.get("fn"), config.get("name"), value.get("class_name"))
                      if isinstance(v, str) and v.lower() in _METRIC_ALIASES), value.get("class_name"))
    name = _METRIC_ALIASES.get(value) or _METRIC_ALIASES.get(str(value).lower())
    if name is None:
        raise ValueError(f"metric {value!r} is not one lowbit reports; valid choices: {', '.join(METRICS)}")
    return name


def _compiled(model_path: Path) -> tuple[object, object]:
    """(loss, first metric) from a model file's saved compile configuration, each None if absent."""
    from lowbit.pipeline import model_files

    compiled = model_files.stored_config(model_path)["compile"] or {}
    loss = compiled.get("loss")
    metrics = compiled.get("metrics") or []
    while isinstance(metrics, list) and metrics and isinstance(metrics[0], list):
        metrics = metrics[0]  # tf-keras nests metrics per output
    metric = metrics[0] if isinstance(metrics, list) and metrics else None
    if isinstance(loss, dict) and "class_name" not in loss and len(loss) == 1:
        loss = next(iter(loss.values()))  # per-output dict of a single-output model
    return loss, metric


def saved_learning_rate(model_path) -> float | None:
    """The learning rate of the optimizer saved with a model file, None when there is none."""
    from lowbit.pipeline import model_files

    compiled = model_files.stored_config(model_path)["compile"] or {}
    optimizer = compiled.get("optimizer_config") or compiled.get("optimizer") or {}
    rate = (optimizer.get("config") or {}).get("learning_rate") if isinstance(optimizer, dict) else None
    return float(rate) if isinstance(rate, (int, float)) and rate > 0 else None


def load_model(path):
    """The user's float model from ``path`` (``.h5`` or ``.keras``), checked to be one the chain
    takes: loadable without running code, one input, one output."""
    from lowbit.pipeline import model_files

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"model file {path} does not exist")
    if path.suffix not in (".h5", ".keras"):
        raise ValueError(f"model file {path}: expected a tf-keras .h5 or .keras file")
    try:
        model = model_files.load(path)
    except (OSError, TypeError, KeyError) as err:
        raise ValueError(f"{path}: the model does not load ({type(err).__name__}: {err})") from None
    from lowbit.pipeline.qat import check_one_input_one_output

    try:
        check_one_input_one_output(model)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    return model


def default_text_model(*, vocab_size: int, max_tokens: int, n_labels: int):
    """lowbit's text classifier for a corpus without a model (module docstring)."""
    from lowbit.pipeline.keras2 import keras

    tokens = keras.Input((max_tokens,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(vocab_size, DEFAULT_EMBEDDING, name="embedding")(tokens)
    x = keras.layers.LSTM(DEFAULT_UNITS, dropout=0.2, name="lstm")(x)
    if n_labels == 2:
        out = keras.layers.Dense(1, activation="sigmoid", name="label")(x)
    else:
        out = keras.layers.Dense(n_labels, activation="softmax", name="label")(x)
    return keras.Model(tokens, out, name="text_classifier")


def resolve(*, data, model=None, loss=None, metric=None, vocab_size: int = 20_000, max_tokens: int = 80,
            keep_float=(), max_text_mb: float | None = None) -> UserSpec:
    """The :class:`UserSpec` of these options, the model file and the data; ``ValueError`` (one
    line) when they do not fit together."""
    from lowbit.pipeline.data import user as user_data

    data_path = Path(data)
    if not data_path.exists():
        raise ValueError(f"data {data_path} does not exist")
    text = user_data.is_text_folder(data_path)
    if not text and data_path.suffix != ".npz":
        raise ValueError(f"data {data_path}: expected an .npz file or a text folder (DATA/{{train,test}}/<label>/*.txt)")
    labels = user_data.text_labels(data_path) if text else None
    for split in user_data.TEXT_SPLITS if text else ():  # links and sizes, before any work (stat only)
        user_data.text_files(data_path, split, labels, max_text_mb=max_text_mb)
    if model is None:
        if not text:
            raise ValueError("--data with an .npz needs --model: lowbit has a default model for text folders only")
        stored_loss, stored_metric = ("binary_crossentropy" if len(labels) == 2
                                      else "sparse_categorical_crossentropy"), "accuracy"
        output_units, sha = (1 if len(labels) == 2 else len(labels)), None
    else:
        model_path = Path(model)
        keras_model = load_model(model_path)
        stored_loss, stored_metric = _compiled(model_path)
        output_units = keras_model.outputs[0].shape[-1]
        sha = hashlib.sha256(model_path.read_bytes()).hexdigest()
        if text:
            _check_text_model(model_path, keras_model, vocab_size, max_tokens)
    chosen_loss = loss if loss is not None else stored_loss
    if chosen_loss is None:
        raise ValueError(f"{model}: no loss saved with the model; pass --loss ({', '.join(LOSSES)})")
    name, from_logits = loss_name(chosen_loss)
    loss_kind = _LOSSES[name][0]
    chosen_metric = metric if metric is not None else stored_metric
    if chosen_metric is None:
        chosen_metric = "accuracy" if loss_kind != "regression" else name
    metric_ = metric_name(chosen_metric)
    if (metric_ == "accuracy") == (loss_kind == "regression"):
        raise ValueError(f"metric {metric_} does not go with loss {name}; "
                         f"{'accuracy' if loss_kind != 'regression' else 'mse or mae'} does")
    if text and loss_kind == "regression":
        raise ValueError(f"a text folder holds labels; loss {name} is a regression")
    if labels is not None and loss_kind == "binary" and len(labels) != 2:
        raise ValueError(f"{data_path} has {len(labels)} labels but loss {name} separates two; "
                         "use sparse_categorical_crossentropy with a softmax output")
    if labels is not None and loss_kind != "binary" and output_units != len(labels):
        raise ValueError(f"{data_path} has {len(labels)} labels but the model's output has {output_units} units")
    return UserSpec(data=str(data_path.resolve()), inputs="text" if text else "tensors", loss=name,
                    metric=metric_, from_logits=from_logits,
                    model=None if model is None else str(Path(model).resolve()), model_sha256=sha,
                    labels=labels, vocab_size=vocab_size if text else None,
                    max_tokens=max_tokens if text else None, output_units=int(output_units or 1),
                    keep_float=list(keep_float), max_text_mb=max_text_mb if text else None)


def _check_text_model(path: Path, model, vocab_size: int, max_tokens: int) -> None:
    from lowbit.pipeline.keras2 import keras

    shape, dtype = tuple(model.inputs[0].shape), model.inputs[0].dtype
    if len(shape) != 2 or not dtype.is_integer:
        raise ValueError(f"{path}: input {shape[1:]} of {dtype.name}, but text becomes int32 token sequences "
                         f"(shape ({max_tokens},))")
    if shape[1] not in (None, max_tokens):
        raise ValueError(f"{path}: input length {shape[1]}, but --max-tokens is {max_tokens}")
    embeddings = [layer for layer in model.layers if isinstance(layer, keras.layers.Embedding)]
    if embeddings and embeddings[0].input_dim < vocab_size:
        raise ValueError(f"{path}: the embedding has {embeddings[0].input_dim:,} rows, but --vocab-size is "
                         f"{vocab_size:,}; pass --vocab-size {embeddings[0].input_dim}")


# --------------------------------------------------------------------------- the data against the model


def check_data(spec: UserSpec, model, splits) -> None:
    """``ValueError`` naming both shapes when the data does not fit the model's input or output,
    or labels outside the output's range. Reads each split's summary (``splits.summary``), so
    in-memory and streamed data are checked alike."""
    in_shape = tuple(model.inputs[0].shape)[1:]
    out_shape = tuple(model.outputs[0].shape)[1:]
    in_dtype = model.inputs[0].dtype
    for split in ("train", "val", "test"):
        data = splits.summary(split)
        x, y = (source_name(spec, split, part) for part in ("x", "y"))
        if data.count == 0:
            raise ValueError(f"the {split} split is empty")
        if not _fits(data.x_shape, in_shape):
            raise ValueError(f"{x} has examples of shape {data.x_shape}, but the model's input is {in_shape}")
        if in_dtype.is_integer and not data.x_integral:
            raise ValueError(f"{x} holds fractions, but the model's input is {in_dtype.name}")
        _check_targets(spec, y, data, out_shape)
        if in_dtype.is_integer:
            _check_token_range(model, x, data)


def source_name(spec: UserSpec, split: str, part: str) -> str:
    """What the user calls the ``part`` ("x" or "y") of ``split`` in their data: ``x_val`` only when
    their file has one; the validation split held out of the training one is named as such, and a
    text folder's parts by its folders."""
    if spec.inputs == "text":
        what = "texts" if part == "x" else "labels"
        return {"train": f"the {what} of train/", "val": f"the {what} of train/ held out for validation",
                "test": f"the {what} of test/"}[split]
    if split == "val" and not _has_own_validation(spec.data):
        return f"{part}_train (the part held out for validation)"
    return f"{part}_{split}"


def _has_own_validation(path) -> bool:
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return "x_val.npy" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def _fits(shape, expected) -> bool:
    return len(shape) == len(expected) and all(e is None or s == e for s, e in zip(shape, expected))


def _check_targets(spec: UserSpec, y: str, data, out_shape) -> None:
    loss_kind, units = spec.kind, out_shape[-1] if out_shape else 1
    expected = out_shape[:-1] if loss_kind == "sparse" else out_shape
    shape = data.y_shape
    if loss_kind == "sparse" and shape[-1:] == (1,) and len(shape) == len(out_shape):
        shape = shape[:-1]
    if not (_fits(shape, expected) or (loss_kind in ("binary", "regression") and _fits(shape + (1,), expected))):
        raise ValueError(f"{y} has targets of shape {data.y_shape}, but the model's output {out_shape} "
                         f"with loss {spec.loss} needs {expected}")
    if loss_kind == "binary" and not data.y_binary:
        raise ValueError(f"{y} holds values other than 0 and 1, but loss binary_crossentropy needs 0/1 labels")
    if loss_kind == "sparse" and (not data.y_integral or data.y_min < 0 or data.y_max >= units):
        raise ValueError(f"{y} holds labels from {_number(data.y_min)} to {_number(data.y_max)}, outside "
                         f"the output's range 0..{units - 1}")
    if loss_kind == "categorical" and not data.y_rows_sum_to_one:
        raise ValueError(f"{y} rows do not sum to 1, but loss categorical_crossentropy needs one-hot targets")


def _check_token_range(model, x: str, data) -> None:
    from lowbit.pipeline.keras2 import keras

    embeddings = [layer for layer in model.layers if isinstance(layer, keras.layers.Embedding)]
    if embeddings and (data.x_min < 0 or data.x_max >= embeddings[0].input_dim):
        raise ValueError(f"{x} holds ids from {_number(data.x_min)} to {_number(data.x_max)}, outside the "
                         f"embedding's 0..{embeddings[0].input_dim - 1}")


def _number(value: float) -> str:
    """A summary's float as the data wrote it: 7 for 7.0, 0.5 for 0.5."""
    return str(int(value)) if float(value).is_integer() else repr(value)


# --------------------------------------------------------------------------- the task


def decisions(spec: UserSpec, outputs: np.ndarray) -> np.ndarray:
    outputs = np.asarray(outputs)
    if spec.kind == "binary":
        return outputs.reshape(outputs.shape[0], -1) > (0.0 if spec.from_logits else 0.5)
    return np.argmax(outputs, axis=-1).reshape(outputs.shape[0], -1)


def truth_labels(spec: UserSpec, truth: np.ndarray) -> np.ndarray:
    truth = np.asarray(truth)
    if spec.kind == "binary":
        return truth.reshape(truth.shape[0], -1) > 0.5
    if spec.kind == "categorical":
        return np.argmax(truth, axis=-1).reshape(truth.shape[0], -1)
    return truth.reshape(truth.shape[0], -1).astype(np.int64)


def score(spec: UserSpec, truth: np.ndarray, outputs: np.ndarray) -> float:
    """The test measure: accuracy over every decision (per step for a tagger), or mse / mae."""
    if spec.kind == "regression":
        error = np.asarray(outputs, np.float64).reshape(len(outputs), -1) - np.asarray(truth, np.float64).reshape(len(truth), -1)
        return float(np.mean(np.square(error)) if spec.metric == "mse" else np.mean(np.abs(error)))
    return float(np.mean(decisions(spec, outputs) == truth_labels(spec, truth)))


def splits_of(spec: UserSpec, *, limit=None, seed: int = 0):
    from lowbit.pipeline.data import user as user_data

    if spec.inputs == "text":
        return user_data.text_folder_splits(spec.data, seed=seed, limit=limit, vocab_size=spec.vocab_size,
                                            max_tokens=spec.max_tokens, max_text_mb=spec.max_text_mb)
    return user_data.npz_splits(spec.data, seed=seed, limit=limit)


def streams_of(spec: UserSpec, *, limit=None, seed: int = 0):
    """The same splits as :func:`splits_of`, streamed from record files (``--input stream``)."""
    from lowbit.pipeline.data import user as user_data

    if spec.inputs == "text":
        return user_data.text_folder_streams(spec.data, seed=seed, limit=limit, vocab_size=spec.vocab_size,
                                             max_tokens=spec.max_tokens, max_text_mb=spec.max_text_mb)
    return user_data.npz_streams(spec.data, seed=seed, limit=limit)


def build_model(spec: UserSpec):
    """The float model a user run starts from: the user's model with its weights, or lowbit's
    default text classifier freshly initialised. The user's file must still be the one resolved."""
    if spec.model is None:
        return default_text_model(vocab_size=spec.vocab_size, max_tokens=spec.max_tokens,
                                  n_labels=len(spec.labels))
    path = Path(spec.model)
    if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != spec.model_sha256:
        raise ValueError(f"{path} is missing or changed since this run was set up (sha256 differs)")
    return load_model(path)


def task(spec: UserSpec):
    """The :class:`~lowbit.models.tasks.Task` of a user spec."""
    from lowbit.models.tasks import InputKind, Task

    classification = spec.kind != "regression"
    return Task(
        name=USER_TASK, arch="user",
        build=lambda: build_model(spec),
        load_data=lambda data_dir=None, *, limit=None, seed=0: splits_of(spec, limit=limit, seed=seed),
        stream_data=lambda data_dir=None, *, limit=None, seed=0: streams_of(spec, limit=limit, seed=seed),
        loss=_keras_loss(spec), metric=spec.metric, higher_is_better=spec.metric == "accuracy",
        inputs=InputKind.TEXT if spec.inputs == "text" else InputKind.TENSORS,
        test_metric=spec.metric if not classification else "accuracy",
        score=lambda truth, outputs: score(spec, truth, outputs),
        # every decision counts on its own in the agreement of two models (a tagger: every step)
        decide=(lambda outputs: decisions(spec, outputs).reshape(-1)) if classification else None,
        labels=tuple(spec.labels) if spec.labels else None,
        max_tokens=spec.max_tokens,
        load_test_texts=(lambda data_dir=None: _test_texts(spec)) if spec.inputs == "text" else None,
        user=spec,
    )


def _keras_loss(spec: UserSpec):
    if not spec.from_logits:
        return spec.loss
    from lowbit.pipeline.keras2 import keras

    losses = {"binary_crossentropy": keras.losses.BinaryCrossentropy,
              "categorical_crossentropy": keras.losses.CategoricalCrossentropy,
              "sparse_categorical_crossentropy": keras.losses.SparseCategoricalCrossentropy}
    return losses[spec.loss](from_logits=True)


def _test_texts(spec: UserSpec):
    from lowbit.pipeline.data import user as user_data

    test = user_data.read_texts(spec.data, "test", spec.labels, max_text_mb=spec.max_text_mb)
    return test.texts, user_data.label_targets(test.label_ids, len(spec.labels))


def read_spec(run_dir) -> UserSpec:
    path = Path(run_dir) / SPEC_FILE
    if not path.is_file():
        raise ValueError(f"{run_dir} is a user run without {SPEC_FILE}; train it again")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not JSON ({err})") from None
    return UserSpec.from_json(obj, source=path)
