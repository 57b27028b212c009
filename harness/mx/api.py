"""Public MX entry points (numpy in, numpy out), run by the C++ kernel ``harness._mx``.

The kernel is bit-identical to :mod:`harness.mx.reference` (tests check it on random data of every
magnitude). There is deliberately no silent fallback to the slow reference: a missing build is an
error that says how to build.
"""

from __future__ import annotations

from functools import cache
from types import ModuleType
from typing import Any

import numpy as np

from .array import MXArray
from .formats import FormatSpec, MXFormatError, get_format
from .layout import as_float32, normalize_axis

__all__ = ["encode", "decode", "quantize_dequantize", "kernel"]

_BUILD_HINT = (
    "the MX C++ kernel harness._mx is not built; build it with `pip install -e .` or "
    "`cmake -S ext -B build/dev -G Ninja -DJITQ_INPLACE=ON -DCMAKE_BUILD_TYPE=Release "
    "-Dpybind11_DIR=$(python -m pybind11 --cmakedir) && cmake --build build/dev --target _mx`"
)


@cache
def kernel() -> ModuleType:
    """The compiled module ``harness._mx`` (ImportError with build instructions if missing)."""
    try:
        from .. import _mx
    except ImportError as exc:
        raise ImportError(_BUILD_HINT) from exc
    return _mx


def _split(shape: tuple[int, ...], axis: int) -> tuple[int, int, int]:
    """(pre, len, post): the array viewed as 3-D with the block axis in the middle."""
    pre = int(np.prod(shape[:axis], dtype=np.int64))
    post = int(np.prod(shape[axis + 1 :], dtype=np.int64))
    return pre, int(shape[axis]), post


def _prepare(x: Any, fmt: str | FormatSpec, axis: Any) -> tuple[FormatSpec, np.ndarray, int]:
    spec = get_format(fmt)
    arr = as_float32(x)
    ax = normalize_axis(axis, arr.ndim)  # before ascontiguousarray, which makes 0-d arrays 1-d
    return spec, np.ascontiguousarray(arr), ax


def encode(x: Any, fmt: str | FormatSpec, axis: int = -1) -> MXArray:
    """Encode float array ``x`` in MX format ``fmt`` with blocks along ``axis``.

    Returns an :class:`MXArray` holding the packed bytes (contract C layout). Non-float32 float
    inputs are converted to float32 first; integer, bool, complex and object arrays are refused.
    """
    spec, arr, ax = _prepare(x, fmt, axis)
    scales, elements = kernel().encode(spec.name, arr.reshape(-1), *_split(arr.shape, ax))
    return MXArray(spec.name, tuple(arr.shape), ax, scales, elements)


def decode(m: MXArray) -> np.ndarray:
    """Decode an :class:`MXArray` back to a float32 array of its original shape."""
    if not isinstance(m, MXArray):
        raise MXFormatError(f"decode needs an MXArray, got {type(m).__name__}")
    spec, _ = m.validate()
    shape = tuple(int(d) for d in m.shape)
    out = kernel().decode(
        spec.name,
        np.ascontiguousarray(m.scales),
        np.ascontiguousarray(m.elements),
        *_split(shape, int(m.axis)),
    )
    return out.reshape(shape)


def quantize_dequantize(x: Any, fmt: str | FormatSpec, axis: int = -1) -> np.ndarray:
    """Fake-quantize: a float32 array of ``x``'s shape holding ``decode(encode(x, fmt, axis))``."""
    spec, arr, ax = _prepare(x, fmt, axis)
    out = kernel().quantize_dequantize(spec.name, arr.reshape(-1), *_split(arr.shape, ax))
    return out.reshape(arr.shape)
