"""Run a checked artifact in its stock runtime: LiteRT (``ai_edge_litert``) or ONNX Runtime (CPU).

:func:`load` turns an :class:`~lowbit.deploy.runtime.artifacts.Artifact` into a :class:`Runner` with one
contract for both formats:

* ``runner.run(x)`` takes exactly one batch (``x.shape == runner.input_shape`` where that is
  fixed; a dynamic batch accepts any), returns the first output as a new numpy array.
  LiteRT: the interpreter's variable tensors are reset first — the fused LSTM keeps its state
  there, so without the reset every sequence would start from the previous one's state.
* ``runner.predict(x)`` takes any number of rows: it feeds them in batches of the artifact's
  fixed batch size (the last one padded with copies of the last row, the padding dropped from
  the result) or, for a dynamic batch, in chunks of ``chunk`` rows — one by default, because
  ONNX Runtime's ``DynamicQuantizeLSTM`` quantizes activations with one scale per batch, so a
  row's output would depend on the rows batched with it (measured: 1.2e-5 apart). Values the
  input cannot hold as they are (NaN, Inf, fractions or out-of-range integers into an integer
  input) are refused first (:func:`check_values`), the same for both formats.
* ``threads``: intra-op threads of the runtime (LiteRT ``num_threads``, ORT
  ``intra_op_num_threads``); ORT runs sequentially with one inter-op thread.

Neither TensorFlow nor Keras is imported here: ``lowbit predict`` and the memory probe load
only the runtime they need.
"""

from __future__ import annotations

import os

import numpy as np

from lowbit.deploy.runtime.artifacts import Artifact, ArtifactError, token_rows
from lowbit.pipeline import quiet


def all_threads() -> int:
    """The thread count "all threads" means here: the CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class Runner:
    format: str
    input_shape: tuple  # None where a dimension is dynamic
    input_dtype: np.dtype
    output_shape: tuple
    token_rows: int | None = None  # integer inputs index a table of this many rows

    @property
    def batch_size(self) -> int | None:
        """The fixed batch size of the artifact, or None if its batch is dynamic."""
        return self.input_shape[0]

    def run(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def check_input(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=self.input_dtype)
        expected = self.input_shape
        if x.ndim != len(expected) or any(e is not None and e != d for e, d in zip(expected, x.shape)):
            shown = tuple("?" if e is None else e for e in expected)
            raise ValueError(f"input of shape {x.shape} does not fit the artifact's {shown}")
        if self.token_rows is not None and x.size and (x.min() < 0 or x.max() >= self.token_rows):
            raise ValueError(f"token ids must lie in [0, {self.token_rows}) for this model's embedding, got "
                             f"[{x.min()}, {x.max()}]")  # ONNX Runtime would wrap or reuse a row silently
        return x

    def predict(self, x: np.ndarray, *, chunk: int = 1, progress=None) -> np.ndarray:
        """Outputs for every row of ``x`` (see the module docstring); ``progress`` is an optional
        callable told how many rows were done after each batch."""
        x = np.asarray(x)
        if len(x) == 0:
            raise ValueError("no inputs to predict")
        check_values(x, self.input_dtype)
        step = self.batch_size or chunk
        outputs = []
        for start in range(0, len(x), step):
            rows = x[start:start + step]
            n = len(rows)
            if self.batch_size and n < step:
                rows = np.concatenate([rows, np.repeat(rows[-1:], step - n, axis=0)])
            outputs.append(self.run(rows)[:n])
            if progress is not None:
                progress(n)
        return np.concatenate(outputs)


class TFLiteRunner(Runner):
    format = "tflite"

    def __init__(self, artifact: Artifact, *, threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        self.path = artifact.path
        try:
            with quiet.native_stderr():  # "Created TensorFlow Lite XNNPACK delegate"; errors are raised
                self.interpreter = Interpreter(model_content=artifact.content, num_threads=threads)
                self.interpreter.allocate_tensors()
            inputs, outputs = self.interpreter.get_input_details(), self.interpreter.get_output_details()
        except (ValueError, RuntimeError) as err:
            raise ArtifactError(f"{artifact.path}: LiteRT refused it ({_first_line(err)})") from None
        if len(inputs) != 1 or not outputs:
            raise ArtifactError(f"{artifact.path}: expected one input and at least one output, "
                                f"got {len(inputs)} and {len(outputs)}")
        self._input, self._output = inputs[0]["index"], outputs[0]["index"]
        signature = inputs[0].get("shape_signature", inputs[0]["shape"])
        self.input_shape = tuple(None if int(d) < 0 else int(d) for d in signature)
        self._allocated = tuple(int(d) for d in inputs[0]["shape"])
        self.input_dtype = np.dtype(inputs[0]["dtype"])
        self.output_shape = tuple(int(d) for d in outputs[0]["shape"])
        self.threads = threads

    def run(self, x: np.ndarray) -> np.ndarray:
        x = self.check_input(x)
        try:
            if x.shape != self._allocated:  # a dynamic dimension, e.g. the number of frames
                self.interpreter.resize_tensor_input(self._input, x.shape)
                self.interpreter.allocate_tensors()
                self._allocated = x.shape
            self.interpreter.reset_all_variables()
            self.interpreter.set_tensor(self._input, x)
            self.interpreter.invoke()
        except (ValueError, RuntimeError) as err:
            raise ArtifactError(f"{self.path}: LiteRT failed to run it ({_first_line(err)})") from None
        return self.interpreter.get_tensor(self._output).copy()


class OnnxRunner(Runner):
    format = "onnx"

    def __init__(self, artifact: Artifact, *, threads: int = 1):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        self.path = artifact.path
        try:
            self.session = ort.InferenceSession(artifact.content, options, providers=["CPUExecutionProvider"])
        except Exception as err:  # ORT raises its own pybind exception types, all to be reported
            raise ArtifactError(f"{artifact.path}: ONNX Runtime refused it ({_first_line(err)})") from None
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or not outputs:
            raise ArtifactError(f"{artifact.path}: expected one input and at least one output, "
                                f"got {len(inputs)} and {len(outputs)}")
        self._input, self._output = inputs[0].name, outputs[0].name
        self.input_shape = tuple(d if isinstance(d, int) else None for d in inputs[0].shape)
        self.input_dtype = np.dtype(_ORT_TYPES[inputs[0].type])
        self.output_shape = tuple(d if isinstance(d, int) else None for d in outputs[0].shape)
        self.threads = threads

    def run(self, x: np.ndarray) -> np.ndarray:
        x = self.check_input(x)
        try:
            return self.session.run([self._output], {self._input: x})[0]
        except Exception as err:  # ORT's pybind exception types (Fail, InvalidArgument, ...)
            raise ArtifactError(f"{self.path}: ONNX Runtime failed to run it ({_first_line(err)})") from None


_ORT_TYPES = {"tensor(float)": np.float32, "tensor(int32)": np.int32, "tensor(int64)": np.int64,
              "tensor(double)": np.float64, "tensor(uint8)": np.uint8, "tensor(int8)": np.int8}


def check_values(x: np.ndarray, dtype) -> None:
    """``ValueError`` naming the count and the first row unless every value of ``x`` (rows along
    axis 0) is a number that the artifact's input type ``dtype`` holds as it is: finite, and for an
    integer input integral and within the type's range. ``predict`` checks before any row runs,
    because neither runtime refuses: LiteRT gave a confident score for a NaN row, ONNX Runtime NaN
    or another row's score, and a cast wraps or truncates what does not fit."""
    if x.dtype.kind not in "biuf":
        raise ValueError(f"holds {x.dtype} values; the artifact reads numbers ({np.dtype(dtype)})")
    rows = x.reshape(len(x), -1) if x.ndim else x.reshape(1, 1)

    def refuse(bad: np.ndarray, what: str) -> None:
        bad_rows = np.flatnonzero(bad.any(axis=1))
        if bad_rows.size:
            raise ValueError(f"{int(bad.sum())} {what} in {bad_rows.size} of {len(rows)} rows (first: row "
                             f"{int(bad_rows[0])}); the model's outputs for them would mean nothing: fix or drop "
                             "those rows")

    if x.dtype.kind == "f":
        refuse(~np.isfinite(rows), "values are NaN or Inf")
    if np.dtype(dtype).kind in "iu":
        if x.dtype.kind == "f":
            refuse(rows != np.round(rows), f"values have a fraction, but the input is {np.dtype(dtype)}")
        info = np.iinfo(dtype)
        refuse((rows < info.min) | (rows > info.max), f"values lie outside {np.dtype(dtype)}'s range")


def load(artifact: Artifact, *, threads: int = 1) -> Runner:
    """A runner for ``artifact`` with ``threads`` intra-op threads."""
    if threads < 1:
        raise ValueError(f"threads must be positive, got {threads}")
    if threads > all_threads():  # more only oversubscribes the CPUs (and 10^5 threads take the machine)
        raise ValueError(f"threads must be at most {all_threads()} (the CPUs this process may use), got {threads}")
    runner = (TFLiteRunner if artifact.format == "tflite" else OnnxRunner)(artifact, threads=threads)
    if runner.input_dtype.kind in "iu":
        runner.token_rows = token_rows(artifact)
    return runner


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:160]
