"""Stripped Keras model -> ONNX bytes with every quantized weight stored at its true width.

``convert_keras_model(model, *, scheme, batch_size=None) -> bytes``: tf2onnx (opset 18; LSTM and
GRU stay the native ONNX ops), :func:`simplify` (drops tf2onnx leftovers), then
:func:`pack_weights`, a pure ``bytes -> bytes`` pass. What a quantized weight becomes:

* **Embedding** (``Gather`` on a quantized table) -> ``com.microsoft.GatherBlockQuantized``: the
  table stays 2-bit packed in RAM (uint8 ``[V, D/4]``, low bits first, ``bits=2``,
  ``quantize_axis=1``, default zero point 2, so ``out = (q - 2) × α``; scales ``[V, 1]`` all α).
  TC stores ``q = code + 2``; QC (not an affine grid) stores ``q = level`` of {-1, -½, ½, 1} and
  maps ``(q-2)α ∈ {-2,-1,0,1}α`` with ``+α/2`` then ``clip(±α)``; BC stores 1 bit per weight in the
  file and a constant subgraph widens it to the 2-bit table at session creation.
* **LSTM** kernels -> ``com.microsoft.DynamicQuantizeLSTM`` with int8 ``W [1, in, 4H]`` and
  ``R [1, H, 4H]`` (the ONNX LSTM's, transposed), q ∈ {0, ±64} (BC/TC) or {±32, ±64} (QC) with
  scale α/64: ``q × scale == code × α`` exactly. The int8 tensors are produced from the packed
  1/2-bit initializers by a constant unpack subgraph that ORT folds at session creation.
* **Everything else** (GRU kernels, Dense/Conv kernels, SimpleRNN kernels feeding a ``Loop``)
  -> a packed uint8 initializer and the constant unpack subgraph
  ``BitShift -> BitwiseAnd -> Gather(codebook × α) -> Reshape``, folded by ORT at session
  creation into the exact float tensor. A **bidirectional** LSTM/GRU holds both directions in one
  ``[2, ...]`` initializer (index 0 forward): each direction is packed with its own α and the two
  unpacked halves are concatenated (the LSTM then computes in float, exactly).

Packed initializers follow :mod:`lowbit.deploy.export.packing` (C order, LSB first, zero padding) and are named
``lowbit/<original initializer>/packed<bits>_<n>``; the model's metadata entry
``lowbit.quantized_tensors`` lists every packed tensor (:func:`stored_tensors`). Why this mix (measured on the IMDB
LSTM, see README): DequantizeLinear(int2) is fused by ORT 1.32 into MatMulNBits, which computes
wrong results for N % 4 != 0 (the Dense(1) head); DequantizeLinear feeding Gather/LSTM re-runs on
every call; GatherBlockQuantized keeps the embedding packed in RAM for ~20 µs per lookup.
"""

from __future__ import annotations

import json
import re

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from lowbit.deploy.export import packing
from lowbit.deploy.export.weights import quantized_tensors

OPSET = 18
TENSORS_METADATA_KEY = "lowbit.quantized_tensors"  # JSON list of the packed tensors, see _Builder.record
MS_DOMAIN = "com.microsoft"
DQ_LSTM_LEVEL = 64  # |q| of code ±1 in DynamicQuantizeLSTM's int8 weights (scale α/64)


def convert_keras_model(model, *, scheme: str, batch_size: int | None = None, keep_float=()) -> bytes:
    """ONNX bytes of a stripped ``scheme`` model; ``batch_size=None`` keeps the batch dynamic;
    the weights of the layers named in ``keep_float`` stay float32."""
    from lowbit.pipeline.keras2 import tf
    import tf2onnx

    specs = [tf.TensorSpec((batch_size,) + tuple(t.shape[1:]), t.dtype, name=_input_name(model, i))
             for i, t in enumerate(model.inputs)]
    proto, _ = tf2onnx.convert.from_keras(model, input_signature=specs, opset=OPSET)
    simplify(proto)
    float_bytes = proto.SerializeToString()
    if scheme != "fp":
        tensors = quantized_tensors(model, scheme, keep_float=keep_float)
        float_bytes = pack_weights(float_bytes, scheme=scheme, reference=[t.values for t in tensors])
    return canonical_names(float_bytes)


# tf2onnx's make_name counters, TF's op numbering, the numbers of TF's frozen loop functions
_COUNTER = re.compile(r"__\d+|/\d+(?=/|:|$)|(?<=_frozen)_\d+")


def _graphs(graph):
    """``graph`` and every subgraph below it, parents first; a parent is yielded before its
    children are read, so it may re-order its nodes in between."""
    yield graph
    for node in graph.node:
        for attribute in node.attribute:
            subs = ([attribute.g] if attribute.HasField("g") else []) + list(attribute.graphs)
            for sub in subs:
                yield from _graphs(sub)


def _sort_nodes_by_structure(graph, contents: dict) -> None:
    """Re-order ``graph``'s nodes topologically, ties broken by a hash of each node's upstream
    structure (op, attributes, inputs' producers or constants' content), not by names: tf2onnx's
    order of independent nodes follows its numbered names."""
    import hashlib
    import heapq

    produced_by = {out: i for i, node in enumerate(graph.node) for out in node.output if out}
    inputs = {v.name: f"input{k}" for k, v in enumerate(graph.input)}
    keys: list[str] = []

    def attribute_key(a) -> bytes:
        if a.HasField("g") or len(a.graphs):
            subs = [a.g] if a.HasField("g") else list(a.graphs)
            return (a.name + repr([sorted(n.op_type for n in s.node) for s in subs])).encode()
        return a.SerializeToString()

    for node in graph.node:  # already a topological order: producers come first
        parts = [node.domain, node.op_type] + [attribute_key(a).hex() for a in node.attribute]
        for name in node.input:
            if name in produced_by:
                parts.append(keys[produced_by[name]] + ":" + str(list(graph.node[produced_by[name]].output).index(name)))
            else:
                parts.append(contents.get(name) or inputs.get(name) or "outer:" + _COUNTER.sub("", name))
        keys.append(hashlib.sha256("|".join(parts).encode()).hexdigest())
    waiting = [len({produced_by[name] for name in node.input if name in produced_by}) for node in graph.node]
    consumers: dict[int, list[int]] = {}
    for i, node in enumerate(graph.node):
        for producer in {produced_by[name] for name in node.input if name in produced_by}:
            consumers.setdefault(producer, []).append(i)
    ready = [(keys[i], i) for i, n in enumerate(waiting) if n == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, i = heapq.heappop(ready)
        order.append(i)
        for j in consumers.get(i, []):
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready, (keys[j], j))
    if len(order) != len(graph.node):
        raise ValueError("the ONNX graph has a cycle")
    nodes = [graph.node[i] for i in order]
    del graph.node[:]
    graph.node.extend(nodes)


def canonical_names(onnx_bytes: bytes) -> bytes:
    """The same model with names that depend only on the graph, so converting the same model
    gives the same bytes in any process. tf2onnx numbers names with a process-wide counter
    (``GRU__25``, then ``GRU__77`` in the next conversion), TensorFlow numbers traced ops, and
    which of two equal nodes or constants tf2onnx keeps depends on those names. So: nodes are put
    in a topological order whose ties are broken by structure (:func:`_sort_nodes_by_structure`);
    every initializer is named by its content (``const_<sha256 prefix>``; lowbit's packed ones
    keep ``lowbit/<tensor>/packed<bits>_<k>`` without the numbers) and sorted by name; every node is named ``<op>_<position>`` and its outputs
    ``<node>:<k>`` (subgraphs included). The graph's inputs and outputs keep their names;
    lowbit's ``lowbit.quantized_tensors`` metadata follows the renaming."""
    import hashlib

    proto = onnx.load_from_string(onnx_bytes)
    graph = proto.graph
    keep = {v.name for v in list(graph.input) + list(graph.output)}
    mapping: dict[str, str] = {name: name for name in keep}
    taken = set(keep)

    def claim(stem: str) -> str:
        new, k = stem, 0
        while new in taken:
            k += 1
            new = f"{stem}__{k}"
        taken.add(new)
        return new

    graphs = list(_graphs(graph))
    contents = {}
    for g in graphs:
        for init in g.initializer:
            digest = hashlib.sha256(init.data_type.to_bytes(4, "little") + repr(list(init.dims)).encode()
                                    + numpy_helper.to_array(init).tobytes()).hexdigest()[:12]
            # lowbit's packed tensors keep their readable names (the tensor they hold), numbers dropped
            contents[init.name] = _COUNTER.sub("", init.name) if init.name.startswith("lowbit/") else f"const_{digest}"

    for g in _graphs(graph):  # parents first: re-ordering a graph's nodes replaces their subgraphs
        _sort_nodes_by_structure(g, contents)
    graphs = list(_graphs(graph))
    for g in graphs:  # initializers first claimed in node order, which does not depend on names
        for node in g.node:
            for name in node.input:
                if name in contents and name not in mapping:
                    mapping[name] = claim(contents[name])
        for init in g.initializer:
            if init.name not in mapping:
                mapping[init.name] = claim(contents[init.name])

    # Values are named after their producer, in the canonical node order: tf2onnx merges equal
    # nodes and keeps whichever name sorts first, so even a name's stem is not stable.
    position = 0
    for g in graphs:
        for node in g.node:
            position += 1
            node.name = claim(f"{node.op_type}_{position}")
            for k, out in enumerate(node.output):
                if out and out not in mapping:
                    mapping[out] = claim(f"{node.name}:{k}")

    def value(name: str) -> str:
        if name and name not in mapping:  # a graph or subgraph input, or value_info of nothing
            mapping[name] = claim(_COUNTER.sub("", name) or "t")
        return mapping.get(name, name)

    dims: dict[str, str] = {}
    for g in graphs:
        g.name = _COUNTER.sub("", g.name)
        for node in g.node:
            node.input[:] = [value(n) for n in node.input]
            node.output[:] = [value(n) for n in node.output]
            if not node.domain:
                node.ClearField("domain")  # "" set or left unset: the same model, other bytes
    for g in graphs:
        for item in list(g.initializer) + list(g.value_info) + list(g.input) + list(g.output):
            item.name = value(item.name)
        for info in list(g.input) + list(g.output) + list(g.value_info):  # tf2onnx's unk__N dimensions
            for dim in info.type.tensor_type.shape.dim:
                if dim.dim_param.startswith("unk__"):
                    dim.dim_param = dims.setdefault(dim.dim_param, f"unk_{len(dims) + 1}")
        ordered = sorted(g.initializer, key=lambda init: init.name)
        del g.initializer[:]
        g.initializer.extend(ordered)
    for entry in proto.metadata_props:
        if entry.key == TENSORS_METADATA_KEY:
            records = json.loads(entry.value)
            names: set[str] = set()
            for record in records:
                if isinstance(record.get("name"), str):  # the packed tensor's name without numbers, unique
                    stem, k = _COUNTER.sub("", record["name"]), 0
                    record["name"] = stem
                    while record["name"] in names:
                        k += 1
                        record["name"] = f"{stem}__{k}"
                    names.add(record["name"])
                if isinstance(record.get("read_from"), str):  # the value the graph reads it from
                    record["read_from"] = mapping.get(record["read_from"], record["read_from"])
            entry.value = json.dumps(records)
    return proto.SerializeToString()


def _input_name(model, i: int) -> str:
    return model.inputs[i].name.split(":")[0]


def pack_weights(onnx_bytes: bytes, *, scheme: str, reference: list[np.ndarray]) -> bytes:
    """Replace every initializer holding a quantized tensor by its packed form (module docstring).

    An initializer is quantized when its values, as a multiset, equal one of ``reference``
    (the stripped model's quantized weights; tf2onnx transposes and reorders gates but never
    changes values). Every reference tensor must be found, else ``ValueError``.
    """
    proto = onnx.load_from_string(onnx_bytes)
    graph = proto.graph
    wanted = {}
    for values in reference:
        wanted.setdefault(values.size, []).append(np.sort(values.ravel()))
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}

    def is_reference(arr) -> bool:
        return arr.dtype == np.float32 and any(np.array_equal(np.sort(arr.ravel()), s)
                                               for s in wanted.get(arr.size, []))

    quantized = {name for name, arr in inits.items() if is_reference(arr)}
    # A bidirectional LSTM/GRU stacks both directions' weights in one [2, ...] initializer.
    stacked = {name for name, arr in inits.items() if name not in quantized and arr.ndim >= 2
               and arr.shape[0] == 2 and all(is_reference(arr[d]) for d in range(2))}
    sorted_inits = [np.sort(inits[name].ravel()) for name in quantized]
    sorted_inits += [np.sort(inits[name][d].ravel()) for name in stacked for d in range(2)]
    missing = [v.shape for v in reference
               if not any(s.size == v.size and np.array_equal(s, np.sort(v.ravel())) for s in sorted_inits)]
    if missing:
        raise ValueError(f"quantized tensors of shapes {missing} are not initializers of the ONNX main "
                         "graph (e.g. inside a Loop body); lowbit cannot pack this model for ONNX yet")
    builder = _Builder(graph, scheme)
    for node in list(graph.node):
        if node.op_type == "Gather" and node.input[0] in quantized:
            quantized.discard(node.input[0])
            _gather_block_quantized(builder, node, inits[node.input[0]], scheme)
        elif node.op_type == "LSTM" and node.input[1] in quantized and node.input[2] in quantized:
            quantized -= {node.input[1], node.input[2]}
            _dynamic_quantize_lstm(builder, node, inits, scheme)
    for name in sorted(quantized):  # GRU, Dense, Conv, ...: unpacked at session creation
        tensor = inits[name]
        split = _split(tensor, scheme, name)
        builder.drop_initializer(name)
        builder.unpack(name, split, scheme, np.float32, scale=split.alpha, out_name=name)
    for name in sorted(stacked):  # each direction its own α, unpacked, then stacked again
        builder.drop_initializer(name)
        parts = []
        for d in range(2):
            part = f"{name}/direction{d}"
            split = _split(inits[name][d:d + 1], scheme, part)
            builder.unpack(part, split, scheme, np.float32, scale=split.alpha, out_name=part)
            parts.append(part)
        graph.node.append(helper.make_node("Concat", parts, [name], axis=0, name=f"lowbit/{name}/directions"))
    if not any(o.domain == MS_DOMAIN for o in proto.opset_import):
        proto.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    proto.metadata_props.append(onnx.StringStringEntryProto(
        key=TENSORS_METADATA_KEY, value=json.dumps(builder.stored)))
    _topological_sort(graph)
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def _split(values: np.ndarray, scheme: str, name: str):
    from lowbit.deploy.export.weights import split

    return split(values, scheme, name=name)


class _Builder:
    """Appends nodes and initializers to one graph under unique ``lowbit/`` names."""

    def __init__(self, graph, scheme: str):
        self.graph, self.scheme, self.count = graph, scheme, 0
        self.stored: list[dict] = []  # one entry per packed tensor, for the manifest

    def record(self, name: str, shape, bits: int, stored_bytes: int, scale: float, layout: str,
               read_from: str, *, code_bytes: int | None = None) -> None:
        """``read_from``: the graph value that holds the unpacked tensor (see :func:`read_weights`);
        ``stored_bytes`` counts everything stored for the tensor (codes and scales),
        ``code_bytes`` the codes alone (default: all of it)."""
        self.stored.append({"name": name, "shape": [int(d) for d in shape], "scheme": self.scheme,
                            "bits": bits, "bytes": int(stored_bytes),
                            "code_bytes": int(stored_bytes if code_bytes is None else code_bytes),
                            "scale": float(scale), "layout": layout, "read_from": read_from})

    def name(self, base: str) -> str:
        self.count += 1
        return f"lowbit/{base}_{self.count}"

    def const(self, base: str, array) -> str:
        name = self.name(base)
        self.graph.initializer.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op: str, inputs, base: str, domain: str = "", **attributes) -> str:
        out = self.name(base)
        self.graph.node.append(helper.make_node(op, inputs, [out], name=out, domain=domain, **attributes))
        return out

    def drop_initializer(self, name: str) -> None:
        index = next(k for k, init in enumerate(self.graph.initializer) if init.name == name)
        del self.graph.initializer[index]

    def unpack(self, base: str, split, scheme: str, dtype, *, scale, out_name: str) -> None:
        """Packed initializer + constant subgraph producing ``codebook[level] × scale``."""
        bits, book = packing.codebook(scheme)
        codes_shape = split.codes.shape
        levels = packing.to_levels(split.codes, scheme)
        per_byte = 8 // bits
        packed_levels = packing.pack(levels, bits)
        packed = self.const(f"{base}/packed{bits}", packed_levels.reshape(-1, 1))
        self.record(base, codes_shape, bits, packed_levels.size, float(split.alpha),
                    "unpacked to int8 at load" if dtype == np.int8 else "unpacked to float at load", out_name)
        x = self.node("BitShift", [packed, self.const("shifts", np.arange(per_byte, dtype=np.uint8) * bits)],
                      "shift", direction="RIGHT")
        x = self.node("BitwiseAnd", [x, self.const("mask", np.array((1 << bits) - 1, np.uint8))], "mask")
        x = self.node("Cast", [x], "index", to=TensorProto.INT32)
        codebook = (np.nan_to_num(np.asarray(book, np.float64)) * float(scale)).astype(dtype)
        x = self.node("Gather", [self.const("codebook", codebook), x], "lookup", axis=0)
        x = self.node("Reshape", [x, self.const("flat", np.array([-1], np.int64))], "flat")
        size = int(np.prod(codes_shape))
        if size % per_byte:
            x = self.node("Slice", [x, self.const("start", np.array([0], np.int64)),
                                    self.const("end", np.array([size], np.int64))], "unpad")
        self.graph.node.append(helper.make_node(
            "Reshape", [x, self.const("shape", np.array(codes_shape, np.int64))], [out_name],
            name=f"lowbit/{out_name}/reshape"))


def _gather_block_quantized(b: _Builder, node, table: np.ndarray, scheme: str) -> None:
    split = _split(table, scheme, node.input[0])
    vocab, dim = table.shape
    if dim % 8:
        raise ValueError(f"embedding width {dim} must be a multiple of 8 for packed lookup")
    alpha = split.alpha
    b.drop_initializer(node.input[0])
    if scheme == "bc":
        # File: 1 bit per weight, widened at load to the 2-bit table q = 2·bit + 1 ∈ {1, 3}.
        bits = (split.codes > 0).astype(np.uint8).reshape(vocab, dim // 8, 8)
        # byte layout chosen so that the widening is 4 constant ops: bits 0..3 of the 8 go to
        # odd bit positions 1,3,5,7, bits 4..7 to even positions 0,2,4,6.
        byte = np.zeros((vocab, dim // 8), np.uint8)
        for j in range(4):
            byte |= (bits[..., j] << (2 * j + 1)) | (bits[..., 4 + j] << (2 * j))
        packed = b.const(f"{node.input[0]}/packed1", byte)
        b.record(node.input[0], table.shape, 1, byte.size + 4 * vocab, alpha,  # + the [V, 1] scales
                 "widened to GatherBlockQuantized 2-bit at load", node.output[0], code_bytes=byte.size)
        odd, ones = b.const("odd", np.array(0xAA, np.uint8)), b.const("ones", np.array(0x55, np.uint8))
        low = b.node("BitwiseOr", [b.node("BitwiseAnd", [packed, odd], "odd"), ones], "low")
        shifted = b.node("BitShift", [packed, b.const("one", np.array(1, np.uint8))], "shl", direction="LEFT")
        high = b.node("BitwiseOr", [b.node("BitwiseAnd", [shifted, odd], "odd"), ones], "high")
        axis = b.const("axis", np.array([2], np.int64))
        both = b.node("Concat", [b.node("Unsqueeze", [low, axis], "u"), b.node("Unsqueeze", [high, axis], "u")],
                      "interleave", axis=2)
        data = b.node("Reshape", [both, b.const("shape", np.array([vocab, dim // 4], np.int64))], "table2")
    else:
        q = (split.codes + 2).astype(np.uint8) if scheme == "tc" else packing.to_levels(split.codes, "qc")
        packed_q = packing.pack(q, 2)
        data = b.const(f"{node.input[0]}/packed2", packed_q.reshape(vocab, dim // 4))
        b.record(node.input[0], table.shape, 2, packed_q.size + 4 * vocab, alpha,  # + the [V, 1] scales
                 "GatherBlockQuantized 2-bit in RAM", node.output[0], code_bytes=packed_q.size)
    block = max(16, 1 << (dim - 1).bit_length())
    scales = b.const("scales", np.full((vocab, 1), alpha, np.float32))
    out = b.node("GatherBlockQuantized", [data, node.input[1], scales], "embedding", domain=MS_DOMAIN,
                 bits=2, block_size=block, quantize_axis=1, gather_axis=0)
    if scheme == "qc":
        out = b.node("Add", [out, b.const("half", np.array(alpha / 2, np.float32))], "qc_shift")
        out = b.node("Clip", [out, b.const("low", np.array(-alpha, np.float32)),
                              b.const("high", np.array(alpha, np.float32))], "qc_clip")
    b.graph.node.append(helper.make_node("Identity", [out], [node.output[0]], name=node.output[0] + "/out"))
    b.graph.node.remove(node)


def _dynamic_quantize_lstm(b: _Builder, node, inits: dict, scheme: str) -> None:
    extra = []
    for k in (1, 2):
        name = node.input[k]
        split = _split(inits[name], scheme, name)
        b.drop_initializer(name)
        transposed = type(split)(split.name, "", "", scheme, split.codes.transpose(0, 2, 1).copy(), split.alpha)
        b.unpack(name, transposed, scheme, np.int8, scale=DQ_LSTM_LEVEL, out_name=name + "/int8")
        node.input[k] = name + "/int8"
        extra += [b.const("scale", np.array([split.alpha / np.float32(DQ_LSTM_LEVEL)], np.float32)),
                  b.const("zero_point", np.zeros(1, np.int8))]
    inputs = list(node.input) + [""] * (8 - len(node.input)) + extra
    fused = helper.make_node("DynamicQuantizeLSTM", inputs, list(node.output), name=node.name + "/int8",
                             domain=MS_DOMAIN)
    fused.attribute.extend(a for a in node.attribute if a.name != "layout")
    b.graph.node.remove(node)
    b.graph.node.append(fused)


def _topological_sort(graph) -> None:
    known = {i.name for i in graph.initializer} | {i.name for i in graph.input} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        rest = []
        for n in pending:
            if all(i in known for i in n.input):
                ordered.append(n)
                known.update(n.output)
            else:
                rest.append(n)
        if len(rest) == len(pending):
            raise ValueError(f"graph has a cycle or a missing input at {[n.name for n in rest][:3]}")
        pending = rest
    del graph.node[:]
    graph.node.extend(ordered)


def _inputs_including_subgraphs(node) -> set[str]:
    """The node's inputs plus every name its subgraphs (Loop/If bodies) read from outside."""
    names = set(node.input)
    for attribute in node.attribute:
        for sub in list(attribute.g.node if attribute.HasField("g") else []) + [
                n for g in attribute.graphs for n in g.node]:
            names |= _inputs_including_subgraphs(sub)
    return names


def simplify(proto) -> None:
    """Drop tf2onnx leftovers in place (outputs unchanged): ``Mul`` by an all-ones constant
    (the dropout mask), all-zero initial states of LSTM/GRU, and unreferenced nodes."""
    graph = proto.graph
    inits = {i.name: i for i in graph.initializer}
    producers = {o: n for n in graph.node for o in n.output}

    def constant(name):
        if name in inits:
            return numpy_helper.to_array(inits[name])
        n = producers.get(name)
        if n is not None and n.op_type == "ConstantOfShape":
            value = [a for a in n.attribute if a.name == "value"]
            return numpy_helper.to_array(value[0].t) if value else np.zeros(1, np.float32)
        if n is not None and n.op_type in ("Expand", "Unsqueeze", "Reshape", "Identity"):
            return constant(n.input[0])  # value-preserving for a splat
        return None

    def splat(name, value) -> bool:
        v = constant(name)
        return v is not None and v.size > 0 and bool(np.all(v == value))

    rename = {}
    for n in list(graph.node):
        if n.op_type == "Mul" and splat(n.input[1], 1.0) and n.input[0] not in inits:
            rename[n.output[0]] = n.input[0]
            graph.node.remove(n)
        elif n.op_type in ("LSTM", "GRU"):
            for k in (5, 6) if n.op_type == "LSTM" else (5,):
                if len(n.input) > k and n.input[k] and splat(n.input[k], 0.0):
                    n.input[k] = ""
    for n in graph.node:
        for i, x in enumerate(n.input):
            while x in rename:
                x = rename[x]
            n.input[i] = x
    for o in graph.output:
        if o.name in rename:  # never rename a graph output away
            raise ValueError(f"simplify: output {o.name} would be removed")
    needed = {o.name for o in graph.output}
    for n in reversed(list(graph.node)):
        if any(o in needed for o in n.output):
            needed.update(_inputs_including_subgraphs(n))
        else:
            graph.node.remove(n)
    for init in list(graph.initializer):
        if init.name not in needed:
            graph.initializer.remove(init)


def stored_tensors(onnx_bytes: bytes) -> list[dict]:
    """The packed tensors recorded by :func:`pack_weights` (empty for a float model)."""
    proto = onnx.load_from_string(onnx_bytes)
    for entry in proto.metadata_props:
        if entry.key == TENSORS_METADATA_KEY:
            return json.loads(entry.value)
    return []


def read_weights(onnx_bytes: bytes) -> dict[str, np.ndarray]:
    """Every packed tensor decoded by the file's own graph in onnxruntime: ``{name: float32}``.

    Unpack subgraphs are read at their outputs (int8 ones times α/64); an embedding behind
    GatherBlockQuantized is read by looking up every id, row ``i`` being id ``i``.
    """
    import onnxruntime as ort

    proto = onnx.load_from_string(onnx_bytes)
    entries = stored_tensors(onnx_bytes)
    graph_input = proto.graph.input[0]
    dims = [d.dim_value or 1 for d in graph_input.type.tensor_type.shape.dim]  # dynamic -> 1
    values = {}
    for e in entries:
        proto.graph.output.append(helper.make_empty_tensor_value_info(e["read_from"]))
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    lookups = [e for e in entries if e["layout"].startswith(("GatherBlockQuantized", "widened"))]
    if lookups:  # token ids 0 .. vocab-1, row after row
        steps, vocab = dims[1], lookups[0]["shape"][0]
        feed = (np.arange(-(-vocab // steps) * steps, dtype=np.int32) % vocab).reshape(-1, steps)
    else:  # the unpacked weights do not depend on the input
        feed = np.zeros(dims, helper.tensor_dtype_to_np_dtype(graph_input.type.tensor_type.elem_type))
    outputs = session.run([e["read_from"] for e in entries], {graph_input.name: feed})
    for e, out in zip(entries, outputs):
        if e in lookups:
            values[e["name"]] = out.reshape(-1, e["shape"][1])[:vocab].astype(np.float32)
        elif out.dtype == np.int8:
            values[e["name"]] = (out.astype(np.float32) * np.float32(e["scale"] / DQ_LSTM_LEVEL)).astype(np.float32)
        else:
            values[e["name"]] = out.astype(np.float32)
    return values
