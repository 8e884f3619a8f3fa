"""Pack low-bit weight codes into bytes, and back. Pure numpy.

Format (the contract every exporter and reader in lowbit follows):

* A *level* is an unsigned integer in ``[0, 2**bits)``, ``bits`` in {1, 2, 4}.
* Levels are taken in C order of the flattened array (last axis fastest).
* ``8 // bits`` levels share one byte, **least significant bits first**: level ``i`` sits in byte
  ``i // (8 // bits)`` at bit offset ``bits * (i % (8 // bits))``. This is the order of ONNX's
  packed INT4/INT2 tensors and of TFLite's INT4/INT2 buffers.
* The last byte is padded with zero bits; the packed length is ``ceil(size * bits / 8)``.
  Shape is not stored: the reader passes it to :func:`unpack`.

A *codebook* maps levels to the values they stand for (before the per-tensor scale α): each
:class:`~lowbit.pipeline.schemes.Scheme` carries the one lowbit writes (``packed_bits``, ``levels``).
``bc`` needs 1 bit; ``tc`` uses 2-bit two's complement (0 -> 0, 1 -> 1, 3 -> -1; level 2 is
unused), so an INT2 reader sees the same numbers; ``qc``'s {-1, -0.5, 0.5, 1} is not an evenly
spaced grid, so its 2-bit levels are indices into the codebook (an affine INT2 cannot hold it;
INT4 can, as ±1, ±2 with scale α/2).
"""

from __future__ import annotations

import numpy as np

from lowbit.pipeline.schemes import QUANTIZED, get_scheme

WIDTHS = (1, 2, 4)


def packed_size(size: int, bits: int) -> int:
    """Bytes taken by ``size`` levels of ``bits`` bits."""
    _check_bits(bits)
    return -(-size * bits // 8)


def pack(levels: np.ndarray, bits: int) -> np.ndarray:
    """``uint8`` array of ``packed_size(levels.size, bits)`` bytes (see the module contract)."""
    _check_bits(bits)
    levels = np.asarray(levels)
    if levels.dtype.kind not in "iub":
        raise TypeError(f"levels must be integers, got {levels.dtype}")
    flat = levels.reshape(-1).astype(np.int64)
    if flat.size and (flat.min() < 0 or flat.max() >= 1 << bits):
        raise ValueError(f"levels must lie in [0, {1 << bits}) for {bits}-bit packing, "
                         f"got [{flat.min()}, {flat.max()}]")
    per_byte = 8 // bits
    padded = np.zeros(packed_size(flat.size, bits) * per_byte, np.uint8)
    padded[:flat.size] = flat
    groups = padded.reshape(-1, per_byte)
    shifts = (np.arange(per_byte, dtype=np.uint8) * bits)
    return np.bitwise_or.reduce(groups << shifts, axis=1).astype(np.uint8)


def unpack(packed: np.ndarray, bits: int, shape: tuple[int, ...]) -> np.ndarray:
    """The ``uint8`` levels of ``shape`` stored in ``packed``; inverse of :func:`pack`."""
    _check_bits(bits)
    packed = np.asarray(packed)
    if packed.dtype != np.uint8 or packed.ndim != 1:
        raise TypeError(f"packed data must be a 1-D uint8 array, got {packed.dtype} {packed.shape}")
    size = int(np.prod(shape, dtype=np.int64))
    if packed.size != packed_size(size, bits):
        raise ValueError(f"{packed.size} bytes cannot hold {size} {bits}-bit levels; "
                         f"expected {packed_size(size, bits)}")
    per_byte = 8 // bits
    shifts = (np.arange(per_byte, dtype=np.uint8) * bits)
    levels = (packed[:, None] >> shifts) & np.uint8((1 << bits) - 1)
    return levels.reshape(-1)[:size].reshape(shape)


def to_levels(codes: np.ndarray, scheme: str) -> np.ndarray:
    """Levels (uint8) of a scheme's codes, e.g. TC's {-1, 0, 1} -> {3, 0, 1}.

    Raises ``ValueError`` if any code is not in the scheme's codebook."""
    bits, book = codebook(scheme)
    codes = np.asarray(codes, np.float32)
    levels = np.full(codes.shape, 255, np.uint8)
    for level, value in enumerate(book):
        if not np.isnan(value):
            levels[codes == np.float32(value)] = level
    if np.any(levels == 255):
        bad = np.unique(codes[levels == 255])[:5]
        raise ValueError(f"values {bad.tolist()} are not {scheme} codes {[v for v in book if v == v]}")
    return levels


def from_levels(levels: np.ndarray, scheme: str) -> np.ndarray:
    """The ``float32`` codes that ``levels`` stand for under ``scheme``'s codebook."""
    bits, book = codebook(scheme)
    levels = np.asarray(levels)
    if levels.size and levels.max() >= 1 << bits:
        raise ValueError(f"level {levels.max()} does not exist in {bits}-bit {scheme}")
    values = np.asarray(book, np.float32)[levels]
    if np.isnan(values).any():
        raise ValueError(f"unused level in {scheme} data")
    return values


def bits_of(scheme: str) -> int:
    return codebook(scheme)[0]


def codebook(scheme: str) -> tuple[int, tuple[float, ...]]:
    """(bits, value of each level ``0 .. 2**bits - 1``; NaN for an unused level) of a scheme."""
    record = get_scheme(scheme)
    if not record.quantized:
        raise ValueError(f"scheme {scheme!r} has no packed codes; valid choices: {', '.join(QUANTIZED)}")
    return record.packed_bits, record.levels


def _check_bits(bits: int) -> None:
    if bits not in WIDTHS:
        raise ValueError(f"bits must be one of {WIDTHS}, got {bits}")
