"""Pinned differences to peer implementations (DESIGN.md §5, docs/mx-formats.md).

Each test writes the peer's rule in a few lines (the documented alternative; peers are not
installed), shows an input where it gives other bits than ours, and pins what we produce.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import harness.mx as mx
from harness.mx import FORMATS
from mx_helpers import assert_same_bits, below, block

E4M3 = FORMATS["MXFP8_E4M3"]


def ours_scale_exp(x: np.ndarray, fmt: str = "MXFP8_E4M3") -> int:
    return int(mx.encode(x, fmt).scales[0]) - 127


def test_microxcaling_pytorch_float32_log2_picks_a_scale_twice_too_large() -> None:
    # microxcaling's PyTorch path: shared_exp = floor(log2(amax)) with a float32 log2, which
    # rounds up to k for amax a few ulps below 2^k (large |k|).
    ks = [k for k in range(1, 120) if np.floor(np.log2(below(2.0**k))) == k]
    assert ks, "float32 log2 rounds up below some power of two on every libm we know"
    k = ks[0]
    x = block([below(2.0**k)])
    peer = int(np.floor(np.log2(x.max()))) - E4M3.emax
    assert peer == k - E4M3.emax
    assert ours_scale_exp(x) == k - 1 - E4M3.emax  # exact floor from the exponent bits
    # consequence: ours saturates amax to 448 * 2^(k-9); the peer keeps 2^k (one binade up)
    assert mx.quantize_dequantize(x, "MXFP8_E4M3")[0] == np.float32(448 * 2.0 ** (k - 9))


def test_microxcaling_pytorch_loses_the_sign_of_zero() -> None:
    # its element quantizer rebuilds values as sign(x) * |q|, and sign(-0.0) is 0: -0 -> +0
    x = block([1.0, -0.0])
    peer = np.sign(x) * np.abs(mx.quantize_dequantize(x, "MXFP8_E4M3"))
    ours = mx.quantize_dequantize(x, "MXFP8_E4M3")
    assert np.signbit(ours[1]) and not np.signbit(peer[1])


def test_torchao_floor_halves_values_when_the_scale_code_is_0() -> None:
    # torchao FLOOR divides by max(2^shared, FP32 min normal 2^-126) but stores the E8M0 code of
    # 2^-127, so a block with scale code 0 decodes to half its value.
    x = block([2.0**-128, -(2.0**-129)])
    m = mx.encode(x, "MXFP8_E4M3")
    assert m.scales[0] == 0
    ours = mx.decode(m)
    assert_same_bits(ours[:2], x[:2])  # exact in E4M3 * 2^-127
    divide_by = max(2.0**-127, 2.0**-126)
    elems = (x.astype(np.float64) / divide_by).astype(ml_dtypes.float8_e4m3fn).astype(np.float64)
    peer = (elems * 2.0**-127).astype(np.float32)
    assert_same_bits(peer[:2], x[:2] / 2)


def test_torchao_floor_does_not_make_an_inf_block_nan() -> None:
    # torchao FLOOR takes the exponent bits of amax = Inf (255) as a finite scale: 2^(128 - emax),
    # code 255 - emax, and the finite elements of the block decode to zeros, not NaN.
    x = block([np.inf, 1.0, -3.0])
    peer_code = int((x.view(np.uint32) & 0x7FFFFFFF).max() >> 23) - E4M3.emax
    assert peer_code == 255 - 8 != 0xFF
    peer_finite = (x[1:3] / 2.0 ** (peer_code - 127)).astype(ml_dtypes.float8_e4m3fn).astype(np.float32)
    assert_same_bits(peer_finite, np.array([0.0, -0.0], np.float32))
    m = mx.encode(x, "MXFP8_E4M3")
    assert m.scales[0] == 0xFF and np.isnan(mx.decode(m)).all()


def test_torchao_rceil_rounds_the_scale_up_to_avoid_saturation() -> None:
    # RCEIL: scale = 2^ceil(log2(amax / max_normal)); ours: floor(log2(amax)) - emax, saturating
    x = block([500.0, 7.0])
    peer_exp = int(np.ceil(np.log2(500.0 / E4M3.max_normal)))
    assert peer_exp == 1 and ours_scale_exp(x) == 0
    peer = (x[:2] / 2.0**peer_exp).astype(ml_dtypes.float8_e4m3fn).astype(np.float32) * 2.0**peer_exp
    ours = mx.quantize_dequantize(x, "MXFP8_E4M3")[:2]
    assert peer.tolist() == [512.0, 7.0] and ours.tolist() == [448.0, 7.0]


def test_torchao_even_rounds_amax_to_element_precision_before_the_floor() -> None:
    # EVEN: amax += 2^(23 - mbits - 1) in its bit pattern, mantissa masked, then floor
    amax = np.float32(1.9375)  # rounds up to 2.0 at E2M1's one mantissa bit
    x = block([amax])
    bits = (int(x.view(np.uint32).max()) + (1 << (23 - 1 - 1))) & (0x1FF << 23)
    peer_exp = int(bits >> 23) - 127 - FORMATS["MXFP4_E2M1"].emax
    assert peer_exp == 1 - 2
    assert ours_scale_exp(x, "MXFP4_E2M1") == 0 - 2


def test_torchao_ceil_adds_one_when_amax_is_not_a_power_of_two() -> None:
    x = block([3.0])
    u = int(x.view(np.uint32).max())
    peer_exp = (u >> 23) - 127 + (1 if u & 0x7FFFFF else 0) - E4M3.emax
    assert peer_exp == 2 - 8
    assert ours_scale_exp(x) == 1 - 8


@pytest.mark.parametrize(
    "fmt, dtype, value",
    [("MXFP8_E4M3", ml_dtypes.float8_e4m3fn, 500.0), ("MXFP8_E5M2", ml_dtypes.float8_e5m2, 65000.0)],
)
def test_ml_dtypes_cast_overflows_to_nan_or_inf_we_saturate(fmt, dtype, value) -> None:  # type: ignore[no-untyped-def]
    # value lies in [2^emax, 2^(emax+1)): shared exponent 0, element = value, above max normal
    x = block([value])
    assert ours_scale_exp(x, fmt) == 0
    cast = x[:1].astype(dtype).astype(np.float32)[0]
    assert not np.isfinite(cast)  # E4M3: NaN, E5M2: Inf
    assert mx.quantize_dequantize(x, fmt)[0] == FORMATS[fmt].max_normal


def test_round_half_away_from_zero_differs_at_exact_ties() -> None:
    # Quark's rounding_mode=0 (and microxcaling's "nearest") round half away from zero;
    # we round half to even (Quark's rounding_mode=2, which its MX9 presets use).
    x = block([1.0, 1.0 + 2.0**-7, 1.0 + 3 * 2.0**-7], 16)  # MX9, E = 0: step 2^-6 -> ties
    q = x / 2.0**-6
    away = np.sign(q) * np.floor(np.abs(q) + 0.5) * 2.0**-6
    ours = mx.quantize_dequantize(x, "MX9")
    assert away[1] == 1.0 + 2.0**-6 and ours[1] == 1.0
    assert away[2] == ours[2] == 1.0 + 2 * 2.0**-6
