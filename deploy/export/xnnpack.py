"""Which ops of a ``.tflite`` file XNNPACK runs, as LiteRT itself decides it.

LiteRT applies its default XNNPACK delegate to every subgraph (the main graph and the bodies of
``WHILE`` loops); an op XNNPACK does not take runs on LiteRT's builtin kernel instead, silently
and often much slower (an INT2 ``FULLY_CONNECTED`` whose input channels are not a multiple of 4,
or an INT4 one with an odd count, measured here with ai-edge-litert 2.3). Python's interpreter
only shows the main graph's nodes, so :func:`placements` loads every subgraph ``k`` of the file
as the main graph of a copy (the subgraphs it calls renumbered after it, no signatures), lets
LiteRT delegate it, and reads back which of its ops each ``DELEGATE`` node replaced: a delegate
node's outputs are traced back through the ops that produced them down to its inputs. XNNPACK
decides per op from the op and its tensors alone, so the answer is the one the whole file gets.

:func:`placements` returns one :class:`Placement` per op; :func:`summary` folds them into the op
histogram, the ops left outside XNNPACK and the weight types (the benchmark and the evaluation
report print it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from lowbit.deploy.export.tflite_export import OP, TYPE_NAMES, opcode, read, write
from lowbit.pipeline import quiet

_OP_NAMES = {v: k for k, v in vars(OP).items() if not k.startswith("_")}
_SUBGRAPH_FIELDS = ("condSubgraphIndex", "bodySubgraphIndex", "thenSubgraphIndex", "elseSubgraphIndex")
WEIGHTED_OPS = (OP.FULLY_CONNECTED, OP.EMBEDDING_LOOKUP, OP.CONV_2D, OP.CONV_3D, OP.DEPTHWISE_CONV_2D)


@dataclass(frozen=True)
class Placement:
    """One op of the file and where LiteRT runs it."""

    subgraph: int
    index: int  # position in the subgraph's operator list
    op: str  # builtin name, e.g. "FULLY_CONNECTED"
    output: str  # name of its first output tensor (ai-edge-quantizer scopes ops by it)
    xnnpack: bool  # replaced by an XNNPACK delegate node
    weights: str | None = None  # stored type of a weighted op's constant, e.g. "INT2" or "FLOAT32"
    per_channel: bool = False  # the weights carry one scale per output channel
    weight_shape: tuple[int, ...] = ()
    behind_dequantize: bool = False  # the op reads the weights through a DEQUANTIZE (float compute)

    @property
    def hybrid(self) -> bool:
        """Low-bit weights read directly by the op (activations quantized per call)."""
        return self.weights not in (None, "FLOAT32") and not self.behind_dequantize


def _callees(op) -> list[str]:
    options = op.builtinOptions
    return [name for name in _SUBGRAPH_FIELDS if options is not None and hasattr(options, name)]


def subgraph_as_main(flat: bytes, k: int) -> bytes:
    """A copy of the file whose main graph is subgraph ``k``, followed by the subgraphs it calls."""
    model = read(flat)
    order = [k]
    for i in order:  # grows while it is walked: every subgraph reachable from k, once
        for op in model.subgraphs[i].operators:
            for name in _callees(op):
                if getattr(op.builtinOptions, name) not in order:
                    order.append(getattr(op.builtinOptions, name))
    renumber = {old: new for new, old in enumerate(order)}
    model.subgraphs = [model.subgraphs[i] for i in order]
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            for name in _callees(op):
                setattr(op.builtinOptions, name, renumber[getattr(op.builtinOptions, name)])
    model.signatureDefs = []
    return write(model)


def _delegated(interpreter, n_ops: int) -> set[int]:
    """Indices (< ``n_ops``) of the main graph's ops that delegate nodes replaced."""
    nodes = interpreter._interpreter  # the pybind wrapper: node names, inputs and outputs
    producer = {int(t): i for i in range(n_ops) for t in nodes.NodeOutputs(i)}
    taken = set()
    for node in range(n_ops, nodes.NumNodes()):  # delegate nodes come after the model's ops
        boundary = {int(t) for t in nodes.NodeInputs(node)}
        stack, seen = [int(t) for t in nodes.NodeOutputs(node)], set()
        while stack:
            t = stack.pop()
            if t in seen or t in boundary or t not in producer:
                continue
            seen.add(t)
            taken.add(producer[t])
            stack += [int(x) for x in nodes.NodeInputs(producer[t]) if x >= 0]
    return taken


def placements(flat: bytes) -> list[Placement]:
    """Every op of every subgraph with whether LiteRT's default XNNPACK delegate took it."""
    from ai_edge_litert.interpreter import Interpreter

    model = read(flat)
    found = []
    for k, subgraph in enumerate(model.subgraphs):
        with quiet.native_stderr():
            interpreter = Interpreter(model_content=subgraph_as_main(flat, k), num_threads=1)
            interpreter.allocate_tensors()
        taken = _delegated(interpreter, len(subgraph.operators))
        dequantized = {op.outputs[0]: op.inputs[0] for op in subgraph.operators
                       if opcode(model, op) == OP.DEQUANTIZE}
        for i, op in enumerate(subgraph.operators):
            code = opcode(model, op)
            record = dict(subgraph=k, index=i, op=_OP_NAMES.get(code, str(code)),
                          output=subgraph.tensors[op.outputs[0]].name.decode(), xnnpack=i in taken)
            if code in WEIGHTED_OPS:
                w = op.inputs[1]
                behind = w in dequantized
                tensor = subgraph.tensors[dequantized.get(w, w)]
                scales = tensor.quantization.scale if tensor.quantization is not None else None
                record.update(weights=TYPE_NAMES[tensor.type], weight_shape=tuple(int(d) for d in tensor.shape),
                              per_channel=scales is not None and len(scales) > 1, behind_dequantize=behind)
            found.append(Placement(**record))
    return found


def summary(found: list[Placement]) -> dict:
    """The op histogram (``{op: [count, taken by XNNPACK]}``), the ops XNNPACK left (``"op"`` or
    ``"op (weights)"``, with counts), and the weighted ops by stored type and form."""
    histogram: dict[str, list[int]] = {}
    for p in found:
        row = histogram.setdefault(p.op, [0, 0])
        row[0] += 1
        row[1] += p.xnnpack
    left = Counter(_label(p) for p in found if not p.xnnpack)
    weights = Counter(_label(p) + (" XNNPACK" if p.xnnpack else " builtin") for p in found if p.weights)
    return {"ops": len(found), "xnnpack": sum(p.xnnpack for p in found), "histogram": histogram,
            "not_xnnpack": dict(left), "weights": dict(weights),
            "slow_low_bit": [f"{_label(p)} {list(p.weight_shape)} (subgraph {p.subgraph} op {p.index})"
                             for p in slow_low_bit(found)]}


def slow_low_bit(found: list[Placement]) -> list[Placement]:
    """Matrix ops (fully connected, convolutions) reading low-bit weights that XNNPACK left to
    LiteRT's builtin kernels: the regressions to a slow kernel."""
    return [p for p in found if p.hybrid and not p.xnnpack and p.op != "EMBEDDING_LOOKUP"]


def _label(p: Placement) -> str:
    if not p.weights:
        return p.op
    if p.weights == "FLOAT32":
        return f"{p.op} (FLOAT32)"
    form = "per-channel" if p.per_channel else "per-tensor"
    how = ", via DEQUANTIZE" if p.behind_dequantize else ""
    return f"{p.op} ({p.weights} {form}{how})"


def lines(found: list[Placement]) -> list[str]:
    """One line per op, ``subgraph:index OP [weights] -> XNNPACK | builtin``, then the totals."""
    out = []
    for p in found:
        weights = f" [{_label(p)[len(p.op) + 2:-1]} {list(p.weight_shape)}]" if p.weights else ""
        out.append(f"  {p.subgraph}:{p.index:<3} {p.op}{weights} -> {'XNNPACK' if p.xnnpack else 'builtin'}")
    s = summary(found)
    out.append(f"  {s['xnnpack']} of {s['ops']} ops in XNNPACK"
               + (f"; low-bit matrix ops on a builtin kernel: {'; '.join(s['slow_low_bit'])}" if s["slow_low_bit"] else ""))
    return out
