"""Stripped Keras model -> ``.tflite`` bytes for stock LiteRT with low-bit weights.

``convert_keras_model(model, *, scheme, batch_size=1, keep_float=(), bits=None) -> bytes`` first
rebuilds every ``LSTM`` (alone or inside ``Bidirectional``) from its cell,
``keras.layers.RNN(LSTMCell)`` with the same weights (:func:`as_cell_loops`), so that the TF
converter (fixed batch) writes it, like GRU and SimpleRNN, as a ``WHILE`` loop of
``FULLY_CONNECTED`` ops instead of the fused ``UNIDIRECTIONAL_SEQUENCE_LSTM``. Why (IMDB LSTM,
batch 1, 1 thread, measured here): the fused op keeps its state in variable tensors (a caller
that does not reset them between sequences gets wrong scores), does not go through XNNPACK and
rejects INT2/INT4 weights; the loop with INT2 per-channel weights runs in about 0.3× the time of
TensorFlow's fused float file, and the file has no variable tensors at all. Then pure
``bytes -> bytes`` passes:

1. :func:`gather_to_embedding_lookup` — the converter's ``GATHER(table, ids[1, T])`` becomes
   ``RESHAPE(ids -> [T])``, ``EMBEDDING_LOOKUP(ids, table)``, ``RESHAPE(-> [1, T, D])``, the op
   that takes INT2/INT4 tables (it needs 1-D ids and the inputs the other way round).
2. :func:`quantize_with_ai_edge_quantizer` — ai-edge-quantizer's *dequantized weight recovery*
   writes INT2 (BC, TC: codes {-1, 0, 1}, scale α; INT4 with ``bits=4``) or INT4 (QC: codes
   ±1, ±2, scale α/2): the embedding table (per tensor; the lookup dequantizes only the
   looked-up rows, exact); the main graph's Dense kernels (per tensor, explicit ``DEQUANTIZE``,
   float compute, exact); inside recurrent ``WHILE`` bodies the ``FULLY_CONNECTED`` kernels and
   ConvLSTM2D's gate ``CONV_2D`` filters per output channel (every channel's scale is α or α/2,
   so the weights are exact) in hybrid mode, where XNNPACK's ``qd8-f32-qc2w``/``qc4w``/``qc8w``
   kernels quantize the activations per call (outputs agree with Keras on ≥ 99.5 % of
   decisions, not bit for bit). A kernel XNNPACK refuses at that width is stored wider.
3. :func:`dequantize_conv_filters` — ai-edge-quantizer fails on per-tensor CONV_2D filters and
   has no CONV_3D, so the main graph's convolution filters (Conv1D/Conv2D, the Conv3D
   reconstruction) are stored here in INT2 (BC, TC) or INT4 (QC) behind an explicit
   ``DEQUANTIZE``: the convolution computes in float, exactly.

Only the constants that hold the model's quantized weights (the registry's, minus
``keep_float``) are touched, found by their values. Every weight read back from the file
(:func:`tensor_value`) equals the stripped Keras weight bit for bit. The files are stateless:
the same input gives the same output on consecutive ``invoke()`` calls without any reset.
"""

from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.tools import flatbuffer_utils

from lowbit.deploy.export import packing
from lowbit.pipeline.schemes import get_scheme
from lowbit.pipeline import quiet

T = schema.TensorType
OP = schema.BuiltinOperator
TYPE_NAMES = {v: k for k, v in vars(T).items() if not k.startswith("_")}  # 17 -> "INT4", ...
TYPE_OF_BITS = {8: T.INT8, 4: T.INT4, 2: T.INT2}
BITS_OF_TYPE = {v: k for k, v in TYPE_OF_BITS.items()}


def convert_keras_model(model, *, scheme: str, batch_size: int = 1, keep_float=(),
                        bits: int | None = None) -> bytes:
    """``.tflite`` bytes of a stripped ``scheme`` model (``fp``: plain float32). The passes
    touch only the constants that hold the model's quantized weights
    (:func:`~lowbit.deploy.export.weights.quantized_tensors`, without the layers named in
    ``keep_float``), found by their values: the converter transposes and splits them but never
    changes a value. ``bits``: the stored width of the quantized weights, the scheme's own
    (:func:`weight_bits`) by default; 4 stores BC/TC weights in INT4 (faster on some CPUs)."""
    from lowbit.deploy.export.weights import quantized_tensors

    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    bits = weight_bits(scheme, bits)
    weights = Weights([t.values for t in quantized_tensors(model, scheme, keep_float=keep_float)]) \
        if scheme != "fp" else None
    flat = _tf_convert(as_cell_loops(model), batch_size)
    if scheme == "fp":
        return flat
    flat = gather_to_embedding_lookup(flat)
    flat = quantize_with_ai_edge_quantizer(flat, scheme=scheme, weights=weights, bits=bits)
    return dequantize_conv_filters(flat, scheme=scheme, weights=weights, bits=bits)


def tensorflow_float_file(model, *, batch_size: int = 1) -> bytes | None:
    """What TensorFlow's converter alone writes for the float ``model`` (fixed batch): an LSTM
    becomes its fused ``UNIDIRECTIONAL_SEQUENCE_LSTM``. None when that is the file lowbit writes
    for ``fp`` anyway (no LSTM): the reference the evaluation report measures LiteRT against."""
    return None if as_cell_loops(model) is model else _tf_convert(model, batch_size)


def _tf_convert(model, batch_size: int) -> bytes:
    """TensorFlow's converter on ``model`` traced at a fixed batch size."""
    from lowbit.pipeline.keras2 import tf

    specs = [tf.TensorSpec((batch_size,) + tuple(t.shape[1:]), t.dtype) for t in model.inputs]
    function = tf.function(lambda *x: model(list(x) if len(x) > 1 else x[0], training=False))
    concrete = function.get_concrete_function(*specs)
    return bytes(tf.lite.TFLiteConverter.from_concrete_functions([concrete], model).convert())


WIDTHS = (2, 4, 8)  # the stored widths ai-edge-quantizer writes and XNNPACK has kernels for


def weight_bits(scheme: str, bits: int | None = None) -> int | None:
    """The stored width of ``scheme``'s weights in ``.tflite``: ``bits`` if given (at least the
    scheme's own: QC's codes ±2 × α/2 need INT4), else the scheme's (BC, TC: 2; QC: 4; fp: None).
    INT8 is for runtimes without INT2/INT4 kernels (e.g. TFLite 2.16.1): the same exact weights,
    four times the size of INT2. (The Android app's width is measured: :mod:`lowbit.deploy.phone`.)"""
    own = get_scheme(scheme).tflite_bits
    if bits is None or own is None:
        return own
    if bits not in WIDTHS or bits < own:
        raise ValueError(f"{scheme} weights cannot be stored in INT{bits} in .tflite; "
                         f"choose {' or '.join(f'int{b}' for b in WIDTHS if b >= own)}")
    return bits


_CELL_KEYS = ("units", "activation", "recurrent_activation", "use_bias", "kernel_initializer",
              "recurrent_initializer", "bias_initializer", "unit_forget_bias", "kernel_regularizer",
              "recurrent_regularizer", "bias_regularizer", "kernel_constraint", "recurrent_constraint",
              "bias_constraint")


def _lstm_as_cell_loop(layer):
    """``LSTM`` -> ``RNN(LSTMCell)`` with the same configuration (dropout is inert at inference)."""
    from lowbit.pipeline.keras2 import keras

    config = layer.get_config()
    if config.get("stateful") or config.get("unroll") or config.get("time_major"):
        raise ValueError(f"layer {layer.name!r}: stateful, unrolled or time-major LSTMs are not supported")
    cell = keras.layers.LSTMCell(**{k: config[k] for k in _CELL_KEYS if k in config})
    return keras.layers.RNN(cell, return_sequences=config["return_sequences"], return_state=config["return_state"],
                            go_backwards=config["go_backwards"], name=layer.name)


def as_cell_loops(model):
    """A copy of ``model`` whose LSTMs (also inside Bidirectional) are ``RNN(LSTMCell)`` loops,
    same weights in the same order; ``model`` itself when it has no LSTM."""
    from lowbit.pipeline.keras2 import keras

    L = keras.layers

    def holds_lstm(layer) -> bool:
        return type(layer) is L.LSTM or (type(layer) is L.Bidirectional and type(layer.forward_layer) is L.LSTM)

    def rebuild(layer):
        if not holds_lstm(layer):
            return layer.__class__.from_config(layer.get_config())
        if type(layer) is L.LSTM:
            return _lstm_as_cell_loop(layer)
        return L.Bidirectional(_lstm_as_cell_loop(layer.forward_layer), merge_mode=layer.merge_mode,
                               backward_layer=_lstm_as_cell_loop(layer.backward_layer), name=layer.name)

    if not any(holds_lstm(layer) for layer in model.layers):
        return model
    rebuilt = keras.models.clone_model(model, clone_function=rebuild)
    rebuilt.set_weights(model.get_weights())
    return rebuilt


def _codes_of(values: np.ndarray) -> np.ndarray:
    """``values`` over their largest magnitude (all zeros stay zeros)."""
    largest = np.max(np.abs(values)) if values.size else 0
    return values / largest if largest > 0 else values


class Weights:
    """The quantized weights of a model, to recognise them in a converted graph by their values."""

    def __init__(self, tensors):
        self._sorted: dict[int, list[np.ndarray]] = {}
        self._counts: list[dict[float, int]] = []  # value -> count, per tensor (a few values each)
        for values in tensors:
            flat = np.asarray(values, np.float32).ravel()
            self._sorted.setdefault(values.size, []).append(np.sort(_codes_of(flat)))
            unique, counts = np.unique(flat, return_counts=True)
            self._counts.append(dict(zip(unique.tolist(), counts.tolist())))

    def holds(self, *parts: np.ndarray | None) -> bool:
        """Whether ``parts`` together hold the codes of one quantized weight, in some order and
        times any one scale: the converter transposes and splits kernels, and folds constant
        factors into them (a Bidirectional's ``merge_mode="ave"`` halves the next Dense kernel).
        A float weight is no codes × one scale and never matches."""
        if any(p is None for p in parts):
            return False
        values = np.concatenate([np.asarray(p, np.float32).ravel() for p in parts])
        return any(np.array_equal(np.sort(_codes_of(values)), s) for s in self._sorted.get(values.size, []))

    def holds_part(self, values: np.ndarray | None) -> bool:
        """Whether ``values`` are a part of one quantized weight (every value one of its codes × α,
        no value more often than there): a ConvLSTM2D's gate convolution holds a quarter of its
        kernel."""
        if values is None:
            return False
        unique, counts = np.unique(np.asarray(values, np.float32).ravel(), return_counts=True)
        return any(all(known.get(v, 0) >= c for v, c in zip(unique.tolist(), counts.tolist()))
                   for known in self._counts)


# --------------------------------------------------------------------------- flatbuffer access


def read(flat: bytes):
    """The flatbuffer as the mutable object API (``ModelT``)."""
    return flatbuffer_utils.read_model_from_bytearray(bytearray(flat))


def write(model) -> bytes:
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def opcode(model, op) -> int:
    code = model.operatorCodes[op.opcodeIndex]
    return max(code.builtinCode, code.deprecatedBuiltinCode)


def _opcode_index(model, builtin: int) -> int:
    for i, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
            return i
    code = schema.OperatorCodeT()
    code.builtinCode, code.deprecatedBuiltinCode, code.version = builtin, min(builtin, 127), 1
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def _add_tensor(model, subgraph, name: str, shape, tensor_type, data: np.ndarray | None = None) -> int:
    tensor, buffer = schema.TensorT(), schema.BufferT()
    tensor.name, tensor.shape, tensor.type = name.encode(), list(shape), tensor_type
    if data is not None:
        buffer.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
    model.buffers.append(buffer)
    tensor.buffer = len(model.buffers) - 1
    subgraph.tensors.append(tensor)
    return len(subgraph.tensors) - 1


def _reshape_op(model, subgraph, source: int, target: int, shape) -> object:
    shape_tensor = _add_tensor(model, subgraph, subgraph.tensors[target].name.decode() + "/shape",
                               [len(shape)], T.INT32, np.array(shape, np.int32))
    op = schema.OperatorT()
    op.opcodeIndex = _opcode_index(model, OP.RESHAPE)
    op.inputs, op.outputs = [source, shape_tensor], [target]
    op.builtinOptionsType = schema.BuiltinOptions.ReshapeOptions
    op.builtinOptions = schema.ReshapeOptionsT()
    op.builtinOptions.newShape = list(shape)
    return op


def constant(model, subgraph, index: int) -> np.ndarray | None:
    """The float32 data of a constant tensor, or None if it has no data or another type."""
    tensor = subgraph.tensors[index]
    data = model.buffers[tensor.buffer].data
    if data is None or tensor.type != T.FLOAT32:
        return None
    return np.frombuffer(bytes(data), np.float32).reshape(tensor.shape)


# --------------------------------------------------------------------------- passes


def gather_to_embedding_lookup(flat: bytes) -> bytes:
    """Every ``GATHER`` from a constant table -> ``EMBEDDING_LOOKUP`` between two ``RESHAPE``s."""
    model = read(flat)
    lookup = _opcode_index(model, OP.EMBEDDING_LOOKUP)
    for subgraph in model.subgraphs:
        ops = []
        for op in subgraph.operators:
            if opcode(model, op) != OP.GATHER or constant(model, subgraph, op.inputs[0]) is None:
                ops.append(op)  # GATHERs of activations (e.g. in GRU loop bodies) stay
                continue
            ids, out = op.inputs[1], op.outputs[0]
            ids_shape, out_shape = list(subgraph.tensors[ids].shape), list(subgraph.tensors[out].shape)
            n = int(np.prod(ids_shape))
            flat_ids = _add_tensor(model, subgraph, subgraph.tensors[ids].name.decode() + "/flat", [n],
                                   subgraph.tensors[ids].type)
            flat_out = _add_tensor(model, subgraph, subgraph.tensors[out].name.decode() + "/flat",
                                   [n] + out_shape[len(ids_shape):], T.FLOAT32)
            op.opcodeIndex, op.inputs, op.outputs = lookup, [flat_ids, op.inputs[0]], [flat_out]
            op.builtinOptionsType, op.builtinOptions = 0, None
            ops += [_reshape_op(model, subgraph, ids, flat_ids, [n]), op,
                    _reshape_op(model, subgraph, flat_out, out, out_shape)]
        subgraph.operators = ops
    return write(model)


def _recipe_entry(operation: str, bits: int, *, hybrid: bool, regex: str = ".*",
                  per_channel: bool = False) -> dict:
    return {
        "regex": regex, "operation": operation, "algorithm_key": "dequantized_weight_recovery",
        "op_config": {
            "weight_tensor_config": {"num_bits": bits, "symmetric": True, "dtype": "INT",
                                     "granularity": "CHANNELWISE" if per_channel else "TENSORWISE"},
            "compute_precision": "INTEGER" if hybrid else "FLOAT",
            "explicit_dequantize": not hybrid,
            # 2-bit weight-only is outside ai-edge-quantizer's default policy; exactness is
            # checked on the result instead (read_weights vs the Keras weights, in the tests).
            "skip_checks": True,
        },
    }


def quantize_with_ai_edge_quantizer(flat: bytes, *, scheme: str, weights: Weights, bits: int | None = None) -> bytes:
    """Quantized embedding tables, main-graph Dense kernels and loop-body FC kernels to INT2/INT4
    (module docstring). Constants that are not among ``weights`` stay float.

    A loop-body kernel XNNPACK does not take at this width (measured by loading the result,
    :func:`lowbit.deploy.export.xnnpack.placements`: an INT2 ``FULLY_CONNECTED`` needs input
    channels in multiples of 4, an INT4 one an even count; no low-bit ``CONV_2D`` below INT8) is
    stored one width wider (INT4, then INT8), still exact (ai-edge-quantizer recovers the scale α
    per channel, codes ±1), rather than left to LiteRT's builtin kernels: measured on a ConvLSTM2D
    with ternary gates, its hybrid INT2 ``CONV_2D`` kernel was wrong (outputs 0.54 off) and its
    INT4 one 2.2× slower than XNNPACK's INT8."""
    from ai_edge_quantizer import quantizer

    from lowbit.deploy.export import xnnpack

    bits = bits or get_scheme(scheme).tflite_bits
    model = read(flat)
    ops = []  # (operation, hybrid, output name)
    for index, subgraph in enumerate(model.subgraphs):
        for op in subgraph.operators:
            code = opcode(model, op)
            if code == OP.EMBEDDING_LOOKUP and weights.holds(constant(model, subgraph, op.inputs[1])):
                operation, hybrid = "EMBEDDING_LOOKUP", True
            elif code == OP.FULLY_CONNECTED and weights.holds(constant(model, subgraph, op.inputs[1])):
                # main graph: behind DEQUANTIZE, exact; WHILE bodies (recurrent cells): hybrid, per channel
                operation, hybrid = "FULLY_CONNECTED", index != 0
            elif code == OP.CONV_2D and index != 0 and _is_weight_part(weights, constant(model, subgraph, op.inputs[1])):
                operation, hybrid = "CONV_2D", True  # ConvLSTM2D's gate convolutions
            else:
                continue
            ops.append((operation, hybrid, subgraph.tensors[op.outputs[0]].name.decode()))
    if not ops:
        return flat
    widths: dict[str, int] = {}  # output name -> width, for the kernels XNNPACK refused narrower
    while True:
        recipe = [_recipe_entry(operation, widths.get(name, bits), hybrid=hybrid, regex=_exact(name),
                                per_channel=hybrid and operation != "EMBEDDING_LOOKUP")  # table: one α
                  for operation, hybrid, name in ops]
        # no bar: a millisecond's step of `lowbit convert`, which names each file it writes
        with quiet.without_progress_bar("Applying Transformations to tensors:"):
            result = bytes(quantizer.Quantizer(bytearray(flat), recipe)
                           .quantize(enable_progress_bar=False, enable_progress_report=False).quantized_model)
        refused = [p.output for p in xnnpack.slow_low_bit(xnnpack.placements(result))
                   if widths.get(p.output, bits) < WIDTHS[-1]]
        if not refused:
            return result
        for name in refused:
            widths[name] = WIDTHS[WIDTHS.index(widths.get(name, bits)) + 1]


def _is_weight_part(weights: Weights, kernel: np.ndarray | None) -> bool:
    """A constant convolution filter holding part of a quantized weight; the all-zero kernel Keras'
    ConvLSTM2D convolves with to shape its initial state is not one."""
    return kernel is not None and bool(np.any(kernel)) and weights.holds_part(kernel)


def _exact(name: str) -> str:
    """ai-edge-quantizer's scope of an op: its output tensor names, each followed by ';'."""
    import re

    return "^" + re.escape(name) + ";$"


def dequantize_conv_filters(flat: bytes, *, scheme: str, weights: Weights, bits: int | None = None) -> bytes:
    """Every constant CONV_2D / CONV_3D filter -> INT2/INT4 codes × one scale + ``DEQUANTIZE``.

    All-zero constants (the zero kernel Keras' ConvLSTM2D convolves with to shape its initial
    state) are not weights and stay float. A filter that is not the scheme's codes × one scale
    raises ``ValueError``.
    """
    model = read(flat)
    dequantize = None
    bits = bits or get_scheme(scheme).tflite_bits
    for subgraph in model.subgraphs:
        ops = []
        for op in subgraph.operators:
            if opcode(model, op) in (OP.CONV_2D, OP.CONV_3D):
                kernel = constant(model, subgraph, op.inputs[1])
                if _is_weight_part(weights, kernel):
                    dequantize = dequantize if dequantize is not None else _opcode_index(model, OP.DEQUANTIZE)
                    replaced = op.inputs[1]
                    ops.append(_low_bit_dequantize_op(model, subgraph, op, kernel, scheme, bits, dequantize))
                    buffer = subgraph.tensors[replaced].buffer
                    shared = sum(t.buffer == buffer for sg in model.subgraphs for t in sg.tensors) > 1
                    if not shared and not any(replaced in other.inputs for other in subgraph.operators):
                        model.buffers[buffer].data = None  # the float copy goes
            ops.append(op)
        subgraph.operators = ops
    return write(model)


def _low_bit_dequantize_op(model, subgraph, op, weights: np.ndarray, scheme: str, bits: int, dequantize: int):
    """A ``DEQUANTIZE`` from a new packed INT2/INT4 tensor into ``op``'s filter input."""
    name = subgraph.tensors[op.inputs[1]].name.decode()
    q, step = _codes_and_step(weights, scheme, f"convolution filter {name!r}")
    levels = (q.astype(np.int16) & ((1 << bits) - 1)).astype(np.uint8)  # two's complement
    packed = _add_tensor(model, subgraph, f"{name}/int{bits}", weights.shape, TYPE_OF_BITS[bits],
                         packing.pack(levels, bits))
    tensor = subgraph.tensors[packed]
    tensor.quantization = schema.QuantizationParametersT()
    tensor.quantization.scale, tensor.quantization.zeroPoint = [float(step)], [0]
    tensor.quantization.quantizedDimension = 0
    restored = _add_tensor(model, subgraph, f"{name}/dequantized", weights.shape, T.FLOAT32)
    op.inputs[1] = restored
    dq = schema.OperatorT()
    dq.opcodeIndex, dq.inputs, dq.outputs = dequantize, [packed], [restored]
    return dq


def _codes_and_step(weights: np.ndarray, scheme: str, what: str) -> tuple[np.ndarray, np.float32]:
    """Integer codes q and a scale with ``q × scale == weights`` exactly, else ``ValueError``."""
    largest = np.float32(np.max(np.abs(weights)))
    step = np.float32(largest / np.float32(get_scheme(scheme).tflite_steps)) if largest > 0 else np.float32(1)
    q = np.round(weights / step).astype(np.int8)
    if not np.array_equal(q.astype(np.float32) * step, weights):
        raise ValueError(f"{what} is not {scheme} codes × one scale")
    return q, step


# --------------------------------------------------------------------------- reading back


def tensor_value(model, subgraph, index: int) -> tuple[np.ndarray, str, int]:
    """(float value, stored type name, stored bytes) of a constant tensor; a ``DEQUANTIZE``
    output is followed back to its quantized input. INT2/INT4 data is unpacked per
    :mod:`lowbit.deploy.export.packing` (signed two's complement levels)."""
    for op in subgraph.operators:
        if index in op.outputs and opcode(model, op) == OP.DEQUANTIZE:
            index = op.inputs[0]
    tensor = subgraph.tensors[index]
    data = model.buffers[tensor.buffer].data
    if data is None:
        raise ValueError(f"tensor {tensor.name.decode()!r} has no data")
    type_name = TYPE_NAMES[tensor.type]
    raw = np.asarray(data, np.uint8)
    shape = tuple(tensor.shape)
    if tensor.type == T.FLOAT32:
        return np.frombuffer(raw.tobytes(), np.float32).reshape(shape), type_name, raw.size
    bits = BITS_OF_TYPE[tensor.type]
    if bits == 8:
        q = raw.view(np.int8).astype(np.int32).reshape(shape)
    else:
        levels = packing.unpack(raw, bits, shape).astype(np.int32)
        q = np.where(levels >= 1 << (bits - 1), levels - (1 << bits), levels)
    scales = np.asarray(tensor.quantization.scale, np.float32)
    if scales.size > 1:  # per channel along quantizedDimension
        axis = tensor.quantization.quantizedDimension
        scales = scales.reshape([-1 if d == axis else 1 for d in range(len(shape))])
    return (q.astype(np.float32) * scales).astype(np.float32), type_name, raw.size


def stored_tensors(flat: bytes, *, scheme: str) -> list[dict]:
    """Every low-bit or int8 constant in the file: name, shape, bits, bytes, scale (manifest)."""
    model = read(flat)
    found = []
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            data = model.buffers[tensor.buffer].data
            if tensor.type in BITS_OF_TYPE and data is not None and len(data):
                found.append({"name": tensor.name.decode(), "shape": [int(d) for d in tensor.shape],
                              "scheme": scheme, "bits": BITS_OF_TYPE[tensor.type],
                              # + 4 bytes per scale: what a per-channel tensor stores besides its codes
                              "bytes": int(len(data)) + 4 * np.size(tensor.quantization.scale),
                              "code_bytes": int(len(data)),
                              "scale": float(np.max(tensor.quantization.scale)),
                              "scales": int(np.size(tensor.quantization.scale))})
    return found
