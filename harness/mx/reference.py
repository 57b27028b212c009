"""Clear numpy reference of every MX format: the definition the C++ kernel is tested against.

Written for reading, not speed. The rules (DESIGN.md §5, docs/mx-formats.md):

OCP MX (MXFP8/6/4, MXINT8; block 32, E8M0 scale):
  * shared exponent ``X = floor(log2(amax)) - emax`` taken from the FP32 exponent bits of ``amax``
    (no float log2, which rounds up just below a power of two); zero or subnormal ``amax`` counts as
    ``2**-127``; ``X`` is clamped to ``[-127, 127]``; scale byte ``X + 127``;
  * element ``= x / 2**X`` (exact in float64) rounded to nearest, ties to even, saturated to
    ``±max_normal``; the sign of zero is kept (MXINT8, two's complement, has no -0: it gives +0);
  * a block holding NaN or ±Inf: scale byte 0xFF and element codes 0; it decodes to NaN everywhere.

MX9/MX6/MX4 (block 16, shared microexponents, Rouhani et al. 2023, as AMD Quark computes them):
  * FP32 subnormals are flushed to (signed) zero; ``e_i`` is the biased FP32 exponent field
    (0 for zeros); shared ``E = max e_i`` stored as the biased byte (0xFF: Inf/NaN in the block);
  * pair j: ``mu_j = 1`` when both members have ``e < E``; step ``2**(E - 127 - mu_j - m + 1)``;
  * code = clamp(round-half-even(|x| / step), 2**m - 1) with the sign as bit m (sign-magnitude);
  * scale bytes per block: ``E`` then the microexponent byte (bit j = mu_j); a NaN/Inf block has
    scale bytes ``0xFF, 0x00`` and element codes 0 and decodes to NaN everywhere.
"""

from __future__ import annotations

from typing import Any

import ml_dtypes
import numpy as np

from .array import MXArray
from .formats import FormatSpec, MXFormatError, get_format
from .layout import (
    as_float32,
    from_blocks,
    normalize_axis,
    pack_codes,
    to_blocks,
    unpack_codes,
)

__all__ = [
    "encode_blocks",
    "decode_blocks",
    "quantize_dequantize_blocks",
    "encode",
    "decode",
    "quantize_dequantize",
]

_ML_DTYPES = {
    "MXFP8_E4M3": ml_dtypes.float8_e4m3fn,
    "MXFP8_E5M2": ml_dtypes.float8_e5m2,
    "MXFP6_E3M2": ml_dtypes.float6_e3m2fn,
    "MXFP6_E2M3": ml_dtypes.float6_e2m3fn,
    "MXFP4_E2M1": ml_dtypes.float4_e2m1fn,
}

_NAN_SCALE = 0xFF


def _ocp_encode(spec: FormatSpec, blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    bits = blocks.view(np.uint32)
    amax_bits = (bits & 0x7FFFFFFF).max(axis=1)
    nan_block = amax_bits >= 0x7F800000
    # floor(log2(amax)) exactly: the unbiased exponent field; 0 (zero/subnormal) reads as -127.
    e_amax = (amax_bits >> 23).astype(np.int32) - 127
    shared = np.clip(e_amax - spec.emax, -127, 127)
    scales = (shared + 127).astype(np.uint8)
    scales[nan_block] = _NAN_SCALE

    with np.errstate(invalid="ignore", over="ignore"):  # Inf/NaN blocks: overwritten next line
        v = blocks.astype(np.float64) * np.ldexp(1.0, -shared)[:, None]  # exact
    v[nan_block] = 0.0
    if spec.kind == "fp":
        # ml_dtypes rounds to nearest-even but turns overflow into NaN (E4M3) or Inf (E5M2):
        # saturate first. np.clip keeps the sign of -0.0.
        v = np.clip(v, -spec.max_normal, spec.max_normal)
        codes = v.astype(_ML_DTYPES[spec.name]).view(np.uint8)
    else:  # MXINT8: value = code / 64, symmetric two's complement codes in [-127, 127]
        q = np.clip(np.rint(v * 64.0), -127, 127)
        codes = q.astype(np.int8).view(np.uint8)
    return scales, codes


def _ocp_decode(spec: FormatSpec, scales: np.ndarray, codes: np.ndarray) -> np.ndarray:
    if spec.kind == "fp":
        elem = codes.view(_ML_DTYPES[spec.name]).astype(np.float64)
    else:
        elem = codes.view(np.int8).astype(np.float64) / 64.0
    shared = scales.astype(np.int32) - 127
    out = elem * np.ldexp(1.0, shared)[:, None]  # exact; result fits float32 exactly
    out[scales == _NAN_SCALE] = np.nan
    with np.errstate(over="ignore"):  # only hand-made bytes (E5M2 max * 2^127) overflow: Inf
        return out.astype(np.float32)


def _smx_encode(spec: FormatSpec, blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = spec.mbits
    n = blocks.shape[0]
    bits = blocks.view(np.uint32)
    sign = (bits >> 31).astype(np.uint8)
    e = ((bits >> 23) & 0xFF).astype(np.int32)  # 0 for zeros and (flushed) subnormals
    with np.errstate(invalid="ignore"):
        mag = np.where((e == 0) | (e == 0xFF), 0.0, np.abs(blocks.astype(np.float64)))
    big_e = e.max(axis=1)
    nan_block = big_e == 0xFF
    pair_e = e.reshape(n, spec.block_size // 2, 2).max(axis=2)
    mu = (pair_e < big_e[:, None]).astype(np.int32)
    mu[nan_block] = 0
    step_exp = (big_e[:, None] - 127) - mu - m + 1  # per pair
    step_exp = np.repeat(step_exp, 2, axis=1)
    q = np.clip(np.rint(mag * np.ldexp(1.0, -step_exp)), 0, (1 << m) - 1).astype(np.uint8)
    codes = q | (sign << m)
    codes[nan_block] = 0
    mu_byte = (mu.astype(np.uint16) << np.arange(mu.shape[1], dtype=np.uint16)).sum(axis=1)
    scales = np.stack([big_e.astype(np.uint8), mu_byte.astype(np.uint8)], axis=1)
    return scales.reshape(-1), codes


def _smx_decode(spec: FormatSpec, scales: np.ndarray, codes: np.ndarray) -> np.ndarray:
    m = spec.mbits
    n = codes.shape[0]
    sc = scales.reshape(n, 2)
    big_e = sc[:, 0].astype(np.int32)
    mu = (sc[:, 1:2].astype(np.int32) >> np.arange(spec.block_size // 2)) & 1
    step_exp = np.repeat((big_e[:, None] - 127) - mu - m + 1, 2, axis=1)
    mag = (codes & ((1 << m) - 1)).astype(np.float64) * np.ldexp(1.0, step_exp)
    out = np.where((codes >> m) & 1 == 1, -mag, mag)
    out[big_e == 0xFF] = np.nan
    return out.astype(np.float32)


def encode_blocks(fmt: str | FormatSpec, blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Encode float32 ``(n_blocks, block_size)`` blocks into (scale bytes, packed element bytes)."""
    spec = get_format(fmt)
    blocks = np.ascontiguousarray(blocks, dtype=np.float32).reshape(-1, spec.block_size)
    if spec.kind == "smx":
        scales, codes = _smx_encode(spec, blocks)
    else:
        scales, codes = _ocp_encode(spec, blocks)
    return scales, pack_codes(codes, spec.elem_bits)


def decode_blocks(
    fmt: str | FormatSpec, scales: np.ndarray, elements: np.ndarray, n_blocks: int
) -> np.ndarray:
    """Decode packed bytes back to float32 ``(n_blocks, block_size)`` blocks."""
    spec = get_format(fmt)
    codes = unpack_codes(elements, spec.elem_bits, n_blocks, spec.block_size)
    if spec.kind == "smx":
        return _smx_decode(spec, scales, codes)
    return _ocp_decode(spec, scales, codes)


def quantize_dequantize_blocks(fmt: str | FormatSpec, blocks: np.ndarray) -> np.ndarray:
    """Fake-quantize float32 blocks: ``decode(encode(blocks))``."""
    spec = get_format(fmt)
    blocks = np.ascontiguousarray(blocks, dtype=np.float32).reshape(-1, spec.block_size)
    scales, elements = encode_blocks(spec, blocks)
    return decode_blocks(spec, scales, elements, blocks.shape[0])


def encode(x: Any, fmt: str | FormatSpec, axis: int = -1) -> MXArray:
    """Reference version of :func:`harness.mx.encode`."""
    spec = get_format(fmt)
    arr = as_float32(x)
    ax = normalize_axis(axis, arr.ndim)
    scales, elements = encode_blocks(spec, to_blocks(arr, spec, ax))
    return MXArray(spec.name, tuple(arr.shape), ax, scales, elements)


def decode(m: MXArray) -> np.ndarray:
    """Reference version of :func:`harness.mx.decode`."""
    if not isinstance(m, MXArray):
        raise MXFormatError(f"decode needs an MXArray, got {type(m).__name__}")
    spec, n_blocks = m.validate()
    blocks = decode_blocks(spec, m.scales, m.elements, n_blocks)
    return from_blocks(blocks, m.shape, m.axis, spec.block_size)


def quantize_dequantize(x: Any, fmt: str | FormatSpec, axis: int = -1) -> np.ndarray:
    """Reference version of :func:`harness.mx.quantize_dequantize`."""
    spec = get_format(fmt)
    arr = as_float32(x)
    ax = normalize_axis(axis, arr.ndim)
    blocks = quantize_dequantize_blocks(spec, to_blocks(arr, spec, ax))
    return from_blocks(blocks, tuple(arr.shape), ax, spec.block_size)

