"""Open a deployed artifact (``.tflite`` / ``.onnx``) and check it before any runtime sees it.

LiteRT can crash the whole process on a damaged flatbuffer, and a damaged or hostile ONNX file
can point at data outside itself, so every command that loads an artifact goes through
:func:`open_artifact`. Checks, in order; the first that fails raises :class:`ArtifactError`, a
one-line message naming the file and what is wrong:

1. the file exists, is a regular file, is not empty and not larger than :data:`MAX_BYTES`;
2. if ``manifest.json`` lies beside it (written by ``lowbit convert``): it parses, lists this
   file, and the file's size and sha256 equal the listed ones;
3. the format's structure, fully parsed in Python:

   * **TFLite**: the ``TFL3`` identifier; the flatbuffer unpacks completely; every buffer,
     tensor, opcode and subgraph index is in range; every constant holds exactly the bytes its
     type and shape need (INT4/INT2 packed, rounded up to whole bytes); quantization scales are
     finite and positive with one zero point each; no custom or Flex op (stock LiteRT runs none).
   * **ONNX**: the protobuf parses; ``onnx.checker`` passes; no tensor anywhere refers to
     external data (a file that reads other files is refused).

The format is decided by the file's content and must agree with its suffix.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lowbit.pipeline.errors import LowbitError

MAX_BYTES = 2 * 1024**3
MANIFEST = "manifest.json"
SUFFIXES = {".tflite": "tflite", ".onnx": "onnx"}
TFLITE_IDENTIFIER = b"TFL3"


class ArtifactError(LowbitError, ValueError):
    """An artifact cannot be used; the message names the file and says why, on one line."""


@dataclass(frozen=True)
class Artifact:
    path: Path
    format: str  # "tflite" | "onnx"
    content: bytes
    manifest: dict | None  # the whole manifest.json beside the file, if there is one

    @property
    def entry(self) -> dict | None:
        """This file's entry in the manifest."""
        return None if self.manifest is None else self.manifest["artifacts"][self.path.name]

    @property
    def task(self) -> str | None:
        return None if self.manifest is None else self.manifest.get("task")

    @functools.cached_property
    def task_record(self):
        """The :class:`~lowbit.models.Task` the manifest names (a user task from its recorded
        description), None without a manifest."""
        from lowbit.models import manifest_task

        try:
            return manifest_task(self.manifest, source=self.path.parent / "manifest.json")
        except ValueError as err:
            raise ArtifactError(str(err)) from None

    @property
    def scheme(self) -> str | None:
        return None if self.manifest is None else self.manifest.get("scheme")

    @functools.cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def open_artifact(path) -> Artifact:
    """Read and check ``path`` (module docstring); raises :class:`ArtifactError`."""
    path = Path(path)
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise ArtifactError(f"{path}: unknown artifact type {path.suffix or '(no suffix)'!r}; "
                            f"expected one of {', '.join(SUFFIXES)}")
    if not path.exists():
        raise ArtifactError(f"{path}: no such file")
    if not path.is_file():
        raise ArtifactError(f"{path}: not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise ArtifactError(f"{path}: the file is empty")
    if size > MAX_BYTES:
        raise ArtifactError(f"{path}: {size} bytes is larger than the {MAX_BYTES} bytes lowbit accepts")
    content = path.read_bytes()
    manifest = _checked_manifest(path, content)
    detected = detect_format(content)
    if detected is None:
        raise ArtifactError(f"{path}: neither a TFLite flatbuffer nor an ONNX model")
    if detected != fmt:
        raise ArtifactError(f"{path}: the content is {detected}, but the name says {fmt}")
    try:
        (check_tflite if fmt == "tflite" else check_onnx)(content)
    except ArtifactError as err:
        raise ArtifactError(f"{path}: {err}") from None
    return Artifact(path, fmt, content, manifest)


def detect_format(content: bytes) -> str | None:
    """``"tflite"`` for the TFL3 identifier, ``"onnx"`` for a protobuf starting like a
    ModelProto (field 1 ``ir_version`` varint), else None."""
    if len(content) >= 8 and content[4:8] == TFLITE_IDENTIFIER:
        return "tflite"
    if len(content) >= 2 and content[0] == 0x08:
        return "onnx"
    return None


def _checked_manifest(path: Path, content: bytes) -> dict | None:
    manifest_path = path.parent / MANIFEST
    if not manifest_path.is_file():
        return None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        entry = manifest["artifacts"][path.name]
        expected_sha, expected_size = entry["sha256"], int(entry["size_bytes"])
    except (ValueError, KeyError, TypeError, OverflowError, UnicodeDecodeError) as err:
        raise ArtifactError(f"{path}: {manifest_path} does not describe this file "
                            f"({type(err).__name__}: {err})") from None
    if len(content) != expected_size:
        raise ArtifactError(f"{path}: {len(content)} bytes, but {MANIFEST} says {expected_size} "
                            "(truncated or replaced?)")
    actual = hashlib.sha256(content).hexdigest()
    if actual != expected_sha:
        raise ArtifactError(f"{path}: sha256 {actual[:16]}… does not match {MANIFEST}'s "
                            f"{str(expected_sha)[:16]}… (damaged or replaced)")
    return manifest


# --------------------------------------------------------------------------- TFLite

# Bits per element of each TensorType that can hold constant data (STRING, RESOURCE and
# VARIANT carry no fixed-size elements and are refused as constants).
_TFLITE_BITS = {
    "FLOAT32": 32, "FLOAT16": 16, "INT32": 32, "UINT8": 8, "INT64": 64, "BOOL": 8, "INT16": 16,
    "COMPLEX64": 64, "INT8": 8, "FLOAT64": 64, "COMPLEX128": 128, "UINT64": 64, "UINT32": 32,
    "UINT16": 16, "INT4": 4, "BFLOAT16": 16, "INT2": 2, "UINT4": 4,
}


def check_tflite(flat: bytes) -> None:
    """Structural check of a TFLite flatbuffer (module docstring); raises ArtifactError."""
    from ai_edge_litert import schema_py_generated as schema

    if len(flat) < 8 or flat[4:8] != TFLITE_IDENTIFIER:
        raise ArtifactError("not a TFLite flatbuffer (no TFL3 identifier)")
    try:
        model = schema.ModelT.InitFromPackedBuf(bytearray(flat), 0)
    except Exception as err:  # the generated reader raises whatever a bad offset provokes
        raise ArtifactError(f"damaged flatbuffer ({type(err).__name__}: {str(err)[:80]})") from None
    type_names = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    builtin_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    buffers = model.buffers or []
    codes = model.operatorCodes or []
    subgraphs = model.subgraphs or []
    if not subgraphs:
        raise ArtifactError("the model has no subgraph")
    if not _as_list(subgraphs[0].inputs) or not _as_list(subgraphs[0].outputs):
        raise ArtifactError("the main subgraph has no input or no output")
    for k, code in enumerate(codes):
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        if builtin not in builtin_names:
            raise ArtifactError(f"operator code {k} has unknown builtin {builtin}")
        if builtin == schema.BuiltinOperator.CUSTOM:
            name = (code.customCode or b"?").decode("utf-8", "replace")
            raise ArtifactError(f"custom op {name!r}: stock LiteRT has no kernel for it")
    for g, subgraph in enumerate(subgraphs):
        tensors = subgraph.tensors or []
        for t, tensor in enumerate(tensors):
            _check_tflite_tensor(tensor, f"subgraph {g} tensor {t}", buffers, flat, type_names)
        n = len(tensors)
        for what, indices in (("input", subgraph.inputs), ("output", subgraph.outputs)):
            for i in _as_list(indices):
                if not 0 <= i < n:
                    raise ArtifactError(f"subgraph {g} {what} {i} is not one of its {n} tensors")
        # a value is available once it is a constant, a subgraph input, a variable or an output
        # of an earlier op: LiteRT reads anything else uninitialised ("lacks data")
        available = set(_as_list(subgraph.inputs)) | {
            t for t, tensor in enumerate(tensors)
            if tensor.isVariable or _buffer_size(buffers[tensor.buffer] if buffers else None, flat, "")}
        for o, op in enumerate(subgraph.operators or []):
            where = f"subgraph {g} op {o}"
            if not 0 <= op.opcodeIndex < len(codes):
                raise ArtifactError(f"{where} uses opcode {op.opcodeIndex} of {len(codes)}")
            for i in _as_list(op.inputs) + _as_list(op.intermediates):
                if not -1 <= i < n:
                    raise ArtifactError(f"{where} reads tensor {i} of {n}")
            for i in _as_list(op.inputs):
                if i >= 0 and i not in available:
                    raise ArtifactError(f"{where} reads tensor {i} before anything writes it")
            for i in _as_list(op.outputs):
                if not 0 <= i < n:
                    raise ArtifactError(f"{where} writes tensor {i} of {n}")
                available.add(i)
            for name, value in (vars(op.builtinOptions) if op.builtinOptions is not None else {}).items():
                if name.endswith("SubgraphIndex") and not 0 <= value < len(subgraphs):
                    raise ArtifactError(f"{where} calls subgraph {value} of {len(subgraphs)}")
            _check_fused_lstm(op, codes, tensors, where)
        for i in _as_list(subgraph.outputs):
            if i not in available:
                raise ArtifactError(f"subgraph {g} output {i} is never written")


_FUSED_LSTMS = ("LSTM", "UNIDIRECTIONAL_SEQUENCE_LSTM", "BIDIRECTIONAL_SEQUENCE_LSTM")


def _check_fused_lstm(op, codes, tensors, where: str) -> None:
    """Refuse a fused LSTM op whose quantized gate weights carry per-channel scales: LiteRT 2.3's
    hybrid LSTM kernel then computes as if every weight were zero, without an error (measured:
    tests/test_artifacts.py). lowbit writes no fused LSTM; this guards files from elsewhere."""
    from ai_edge_litert import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    code = codes[op.opcodeIndex]
    if names.get(max(code.builtinCode, code.deprecatedBuiltinCode)) not in _FUSED_LSTMS:
        return
    for i in _as_list(op.inputs):
        q = tensors[i].quantization if i >= 0 else None
        if q is not None and q.scale is not None and len(q.scale) > 1:
            raise ArtifactError(f"{where}: fused LSTM with per-channel weight scales (tensor "
                                f"{(tensors[i].name or b'').decode('utf-8', 'replace')!r}); LiteRT's hybrid "
                                "LSTM kernel silently computes it with zero weights")


def _as_list(values) -> list[int]:
    return [] if values is None else [int(v) for v in values]


def _check_tflite_tensor(tensor, where: str, buffers, flat: bytes, type_names: dict) -> None:
    try:
        (tensor.name or b"").decode("utf-8")
    except UnicodeDecodeError:
        raise ArtifactError(f"{where} has a name that is not UTF-8") from None
    shape = _as_list(tensor.shape)
    if any(d < -1 for d in shape):
        raise ArtifactError(f"{where} has shape {shape}")
    if not 0 <= tensor.buffer < max(len(buffers), 1):
        raise ArtifactError(f"{where} uses buffer {tensor.buffer} of {len(buffers)}")
    type_name = type_names.get(tensor.type)
    if type_name is None:
        raise ArtifactError(f"{where} has unknown type {tensor.type}")
    buffer = buffers[tensor.buffer] if buffers else None
    stored = _buffer_size(buffer, flat, where)
    if stored:
        bits = _TFLITE_BITS.get(type_name)
        if bits is None or any(d < 0 for d in shape):
            raise ArtifactError(f"{where}: constant of type {type_name} and shape {shape}")
        needed = -(-math.prod(shape) * bits // 8)
        if stored != needed:
            raise ArtifactError(f"{where}: {type_name} {shape} needs {needed} bytes, the buffer has {stored}")
    q = tensor.quantization
    if q is not None and q.scale is not None and len(q.scale):
        scales = np.asarray(q.scale, np.float64)
        if not np.all(np.isfinite(scales)) or np.any(scales <= 0):
            raise ArtifactError(f"{where} has quantization scale(s) that are not finite and positive")
        zero_points = _as_list(q.zeroPoint)
        if len(zero_points) != len(scales):
            raise ArtifactError(f"{where}: {len(scales)} scales but {len(zero_points)} zero points")
        if not 0 <= q.quantizedDimension < max(len(shape), 1) or (
                len(scales) > 1 and shape[q.quantizedDimension] != len(scales)):
            raise ArtifactError(f"{where}: {len(scales)} scales do not fit axis {q.quantizedDimension} of {shape}")


def _buffer_size(buffer, flat: bytes, where: str) -> int:
    """Bytes of constant data a buffer holds (inline, or at an offset in the file)."""
    if buffer is None:
        return 0
    if buffer.offset and buffer.offset > 1:
        if buffer.offset + buffer.size > len(flat):
            raise ArtifactError(f"{where}: its data at offset {buffer.offset} runs past the end of the file")
        return int(buffer.size)
    return 0 if buffer.data is None else len(buffer.data)


# --------------------------------------------------------------------------- ONNX


def check_onnx(blob: bytes) -> None:
    """Structural check of an ONNX model (module docstring); raises ArtifactError."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        proto = onnx.load_from_string(blob)
    except (DecodeError, ValueError, RuntimeError) as err:
        raise ArtifactError(f"damaged ONNX protobuf ({type(err).__name__}: {str(err)[:80]})") from None
    if not proto.graph.node:
        raise ArtifactError("the ONNX graph is empty")
    for tensor in _all_tensors(proto.graph):
        if tensor.data_location == onnx.TensorProto.EXTERNAL or tensor.external_data:
            raise ArtifactError(f"tensor {tensor.name!r} refers to external data; lowbit only opens "
                                "self-contained models")
    try:
        onnx.checker.check_model(proto)
    except (onnx.checker.ValidationError, ValueError, RuntimeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ArtifactError(f"not a valid ONNX model ({first[:120]})") from None


def _all_tensors(graph):
    """Every TensorProto of a graph: initializers and attributes, subgraphs included."""
    yield from graph.initializer
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            if attribute.HasField("g"):
                yield from _all_tensors(attribute.g)
            for sub in attribute.graphs:
                yield from _all_tensors(sub)


# --------------------------------------------------------------------------- token inputs


def token_rows(artifact: Artifact) -> int | None:
    """How many rows the embedding table that the model's (first) input indexes has: every token
    id fed to the model must lie in ``[0, rows)``. None when the input feeds no lookup table (not
    a text model). Read from the file itself, so it holds without a manifest: ONNX Runtime would
    otherwise accept an id past the table (and wrap a negative one) and score silently."""
    if artifact.sha256 not in _TOKEN_ROWS:  # parsed once per file: runners of it are made often
        read = _tflite_token_rows if artifact.format == "tflite" else _onnx_token_rows
        _TOKEN_ROWS[artifact.sha256] = read(artifact.content)
    return _TOKEN_ROWS[artifact.sha256]


_TOKEN_ROWS: dict[str, int | None] = {}


def _tflite_token_rows(flat: bytes) -> int | None:
    from ai_edge_litert import schema_py_generated as schema

    op = schema.BuiltinOperator
    model = schema.ModelT.InitFromPackedBuf(bytearray(flat), 0)
    graph = model.subgraphs[0]
    value = graph.inputs[0]
    for _ in range(4):  # through CAST / RESHAPE to the lookup
        consumers = [o for o in graph.operators or [] if value in list(o.inputs)]
        if not consumers:
            return None
        o = consumers[0]
        code = model.operatorCodes[o.opcodeIndex]
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        if builtin == op.GATHER and list(o.inputs)[1] == value:
            return int(graph.tensors[o.inputs[0]].shape[0])
        if builtin == op.EMBEDDING_LOOKUP and list(o.inputs)[0] == value:
            return int(graph.tensors[o.inputs[1]].shape[0])
        if builtin not in (op.CAST, op.RESHAPE):
            return None
        value = o.outputs[0]
    return None


def _onnx_token_rows(blob: bytes) -> int | None:
    import onnx

    proto = onnx.load_from_string(blob)
    graph = proto.graph
    shapes = {t.name: tuple(t.dims) for t in graph.initializer}
    value = graph.input[0].name
    for _ in range(4):  # through Cast / Reshape / Identity to the lookup
        consumers = [n for n in graph.node if value in n.input]
        if not consumers:
            return None
        node = consumers[0]
        if node.op_type in ("Gather", "GatherBlockQuantized") and list(node.input)[1] == value:
            data = node.input[0]
            if data not in shapes:  # built at load from packed data: ask ONNX's shape inference
                inferred = onnx.shape_inference.infer_shapes(proto)
                for info in inferred.graph.value_info:
                    if info.name == data:
                        dims = info.type.tensor_type.shape.dim
                        return int(dims[0].dim_value) if dims and dims[0].dim_value else None
                return None
            return int(shapes[data][0])
        if node.op_type not in ("Cast", "Reshape", "Identity"):
            return None
        value = node.output[0]
    return None


def read_vocabulary(path, recorded: dict | None = None):
    """``vocab.txt`` at ``path``, parsed (the reserved first lines, then distinct non-empty tokens)
    and, when ``recorded`` (a manifest's ``vocabulary`` entry) is given, matching its sha256 and
    size; anything else is refused with one line naming the file."""
    from lowbit.pipeline.data.text import Vocabulary

    path = Path(path)
    content = path.read_bytes()
    if recorded is not None:
        try:
            sha, size = str(recorded["sha256"]), int(recorded["size_bytes"])
        except (KeyError, TypeError, ValueError) as err:
            raise ArtifactError(f"{path}: {MANIFEST}'s vocabulary entry is malformed ({err})") from None
        if len(content) != size or hashlib.sha256(content).hexdigest() != sha:
            raise ArtifactError(f"{path}: does not match the vocabulary {MANIFEST} recorded "
                                f"({len(content)} bytes vs {size}; truncated, edited or replaced?)")
    try:
        return Vocabulary.from_text(content.decode("utf-8"), source=path)
    except (ValueError, UnicodeDecodeError) as err:
        raise ArtifactError(f"{path}: {err}" if str(path) not in str(err) else str(err)) from None


def recorded_vocabulary(directory) -> dict | None:
    """The ``vocabulary`` entry of the ``manifest.json`` in ``directory``, if there is one."""
    manifest_path = Path(directory) / MANIFEST
    if not manifest_path.is_file():
        return None
    try:
        entry = json.loads(manifest_path.read_text(encoding="utf-8")).get("vocabulary")
    except (ValueError, AttributeError, UnicodeDecodeError) as err:
        raise ArtifactError(f"{manifest_path}: not a lowbit manifest ({type(err).__name__})") from None
    if entry is not None and not isinstance(entry, dict):
        raise ArtifactError(f"{manifest_path}: its vocabulary entry is not an object")
    return entry


def load_vocabulary(artifact: Artifact, vocab_path=None):
    """The vocabulary that feeds ``artifact`` (default: ``vocab.txt`` beside it), trusted only
    after three checks, each refused with one line naming the file: it matches the sha256 and
    size that ``manifest.json`` recorded for it (when the manifest records one); it parses; and
    it has no more entries than the model's embedding table has rows, so every id it yields is
    one the model was trained on."""
    path = Path(vocab_path) if vocab_path is not None else artifact.path.parent / "vocab.txt"
    if not path.is_file():
        raise ArtifactError(f"{artifact.path}: no vocabulary at {path} (lowbit convert writes artifacts into "
                            "the run directory, which holds vocab.txt)")
    vocab = read_vocabulary(path, (artifact.manifest or {}).get("vocabulary"))
    rows = token_rows(artifact)
    if rows is None:
        raise ArtifactError(f"{artifact.path}: its input feeds no embedding table; not a text model")
    if len(vocab) > rows:
        raise ArtifactError(f"{path}: {len(vocab):,} entries, but the model's embedding has {rows:,} rows; "
                            "this vocabulary belongs to another model")
    return vocab
