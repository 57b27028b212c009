"""Input checks and the block layout shared by every MX backend.

Block order (contract C): ``np.moveaxis(x, axis, -1)``, the last axis zero-padded to a multiple of
the block size, blocks in C order. Element codes are packed at the element bit width, little-endian
within a byte (element i of a block occupies bits ``[i*w, (i+1)*w)`` of the block's bit string,
bit k of that string being bit ``k % 8`` of byte ``k // 8``).
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from .formats import FormatSpec, MXFormatError

__all__ = [
    "as_float32",
    "normalize_axis",
    "n_blocks_for",
    "to_blocks",
    "from_blocks",
    "pack_codes",
    "unpack_codes",
]

_EXTRA_FLOAT_NAMES = {"bfloat16"}


def as_float32(x: Any) -> np.ndarray:
    """Return ``x`` as a float32 ndarray; refuse anything that is not a real floating type.

    float16/bfloat16 widen exactly; float64 rounds to nearest float32 first (documented: MX blocks
    are defined on float32 inputs).
    """
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - exotic objects
        raise MXFormatError(f"cannot convert input of type {type(x).__name__} to an array") from exc
    if arr.dtype.kind != "f" and arr.dtype.name not in _EXTRA_FLOAT_NAMES:
        raise MXFormatError(
            f"MX quantization needs a real floating-point array, got dtype {arr.dtype} "
            f"(convert integers explicitly, e.g. x.astype(np.float32))"
        )
    return arr if arr.dtype == np.float32 else arr.astype(np.float32)


def normalize_axis(axis: Any, ndim: int) -> int:
    """Return ``axis`` as a non-negative int, or raise MXFormatError when it is out of range."""
    if ndim == 0:
        raise MXFormatError("MX quantization needs an array with at least one dimension (got 0-d)")
    if isinstance(axis, bool):
        raise MXFormatError(f"axis must be an integer, got {axis!r}")
    try:
        a = operator.index(axis)
    except TypeError:
        raise MXFormatError(f"axis must be an integer, got {axis!r}") from None
    if not -ndim <= a < ndim:
        raise MXFormatError(f"axis {a} is out of range for an array with {ndim} dimension(s)")
    return a % ndim


def n_blocks_for(shape: tuple[int, ...], axis: int, block_size: int) -> int:
    """Number of blocks for an array of ``shape`` blocked along ``axis`` (partial block padded)."""
    length = shape[axis]
    others = int(np.prod([d for i, d in enumerate(shape) if i != axis], dtype=np.int64))
    return others * (-(-length // block_size))


def to_blocks(x: np.ndarray, spec: FormatSpec, axis: int) -> np.ndarray:
    """Gather float32 ``x`` into a C-contiguous ``(n_blocks, block_size)`` array, zero-padded."""
    bs = spec.block_size
    moved = np.moveaxis(x, axis, -1)
    length = moved.shape[-1]
    padded_len = -(-length // bs) * bs
    out = np.zeros(moved.shape[:-1] + (padded_len,), dtype=np.float32)
    out[..., :length] = moved
    return out.reshape(-1, bs)


def from_blocks(
    blocks: np.ndarray, shape: tuple[int, ...], axis: int, block_size: int
) -> np.ndarray:
    """Inverse of :func:`to_blocks`: drop the padding and move the block axis back."""
    moved_shape = tuple(d for i, d in enumerate(shape) if i != axis)
    length = shape[axis]
    padded_len = -(-length // block_size) * block_size
    moved = blocks.reshape(moved_shape + (padded_len,))[..., :length]
    return np.ascontiguousarray(np.moveaxis(moved, -1, axis))


def pack_codes(codes: np.ndarray, width: int) -> np.ndarray:
    """Pack ``(n_blocks, block_size)`` uint8 codes at ``width`` bits each, little-endian bit order."""
    bits = np.unpackbits(codes[..., None], axis=-1, count=width, bitorder="little")
    bits = bits.reshape(codes.shape[0], codes.shape[1] * width)
    return np.packbits(bits, axis=-1, bitorder="little").reshape(-1)


def unpack_codes(elements: np.ndarray, width: int, n_blocks: int, block_size: int) -> np.ndarray:
    """Inverse of :func:`pack_codes`: ``(n_blocks, block_size)`` uint8 codes."""
    bits = np.unpackbits(
        elements.reshape(n_blocks, block_size * width // 8), axis=-1, bitorder="little"
    )
    bits = bits.reshape(n_blocks, block_size, width)
    weights = (1 << np.arange(width, dtype=np.uint16)).astype(np.uint16)
    return (bits.astype(np.uint16) * weights).sum(axis=-1).astype(np.uint8)
