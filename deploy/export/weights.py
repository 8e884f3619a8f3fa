"""Recover the codes and the per-tensor scale α of every quantized weight of a stripped model.

A stripped model (:func:`lowbit.strip`) stores each quantized weight as ``codes × α`` in float32.
:func:`quantized_tensors` finds those weights (the same layer/attribute table the QAT configs use)
and splits each back into codes and α *exactly*: it raises ``ValueError`` when ``codes × α`` does
not reproduce the stored tensor bit for bit (a float model, the wrong scheme, edited weights).

α is the largest magnitude in the tensor: every non-zero BC/TC weight has magnitude α, and QC's
±α/2 is exact in float32 (halving only changes the exponent). An all-zero TC tensor gets α = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lowbit.pipeline.keras2 import keras
from lowbit.pipeline.quantize_configs import resolve, weight_paths
from lowbit.pipeline.schemes import CODE_VALUES


@dataclass(frozen=True)
class QuantizedTensor:
    name: str  # "<layer>/<attribute>", e.g. "lstm/recurrent_kernel", "bidirectional/backward_layer.kernel"
    layer: str
    attribute: str
    scheme: str
    codes: np.ndarray  # float32, values in CODE_VALUES[scheme]
    alpha: np.float32

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.codes.shape)

    @property
    def values(self) -> np.ndarray:
        """``codes × α`` in float32: the weight as the stripped model holds it."""
        return (self.codes * self.alpha).astype(np.float32)


def _display(path: str) -> str:
    """``"cell.kernel"`` -> ``"kernel"``, ``"forward_layer.cell.kernel"`` -> ``"forward_layer.kernel"``:
    the path without the objects every such layer has (an RNN's cell, a wrapper's layer)."""
    return ".".join(part for part in path.split(".") if part not in ("cell", "layer"))


def quantized_tensors(model: keras.Model, scheme: str, *, keep_float=()) -> list[QuantizedTensor]:
    """Every quantized weight of ``model`` (a stripped ``scheme`` model) as codes and α: the
    weights :func:`~lowbit.pipeline.quantize_configs.weight_paths` names, in layer order, except
    those of the layers named in ``keep_float``."""
    if scheme not in CODE_VALUES:
        raise ValueError(f"scheme {scheme!r} has no codes; valid choices: {', '.join(CODE_VALUES)}")
    found = []
    for layer in model.layers:
        paths = weight_paths(layer)
        if paths is None or layer.name in keep_float:
            continue
        for path in paths:
            attribute = _display(path)
            weight = np.asarray(resolve(layer, path).numpy(), np.float32)
            found.append(split(weight, scheme, name=f"{layer.name}/{attribute}", layer=layer.name,
                               attribute=attribute))
    return found


def split(weight: np.ndarray, scheme: str, *, name: str, layer: str = "", attribute: str = "") -> QuantizedTensor:
    """``weight`` as ``codes × α``, exactly, or ``ValueError`` naming the tensor."""
    weight = np.asarray(weight, np.float32)
    alpha = np.float32(np.max(np.abs(weight))) if weight.size else np.float32(0)
    codes = (weight / alpha).astype(np.float32) if alpha > 0 else np.zeros_like(weight)
    allowed = np.asarray(CODE_VALUES[scheme], np.float32)
    off_grid = ~np.isin(codes, allowed)
    if off_grid.any() or not np.array_equal((codes * alpha).astype(np.float32), weight):
        example = weight[off_grid][:3].tolist() if off_grid.any() else "rounding"
        raise ValueError(
            f"{name} is not a {scheme} tensor (codes {allowed.tolist()} × one α): e.g. {example}; "
            "was the model trained with this scheme and stripped with lowbit.strip?"
        )
    return QuantizedTensor(name, layer, attribute, scheme, codes, alpha)
