"""Edge cases for every rule of DESIGN.md §5, checked in the C++ kernel and the numpy reference."""

from __future__ import annotations

import numpy as np
import pytest

from harness.mx import FORMATS
from mx_helpers import IMPLS, OCP, OCP_FP, SMX, assert_same_bits, below, block

impls = pytest.mark.parametrize("impl", list(IMPLS.values()), ids=list(IMPLS))


def qdq(impl, x, fmt, axis=-1):  # type: ignore[no-untyped-def]
    return impl.quantize_dequantize(np.asarray(x, dtype=np.float32), fmt, axis)


def scale_byte(impl, x, fmt):  # type: ignore[no-untyped-def]
    return int(impl.encode(np.asarray(x, dtype=np.float32), fmt).scales[0])


# ---------------------------------------------------------------- OCP: shared exponent
@impls
@pytest.mark.parametrize("fmt", OCP)
@pytest.mark.parametrize("k", [-100, -3, 0, 1, 20, 100])
def test_shared_exponent_is_exact_floor_just_below_a_power_of_two(impl, fmt, k):
    emax = FORMATS[fmt].emax
    at = scale_byte(impl, block([2.0**k]), fmt)
    just_below = scale_byte(impl, block([below(2.0**k)]), fmt)
    three_ulps_below = scale_byte(impl, block([np.float32(2.0**k) * np.float32(1 - 3 * 2**-24)]), fmt)
    assert at == k - emax + 127
    assert just_below == three_ulps_below == k - 1 - emax + 127


@impls
@pytest.mark.parametrize("fmt", OCP)
def test_zero_and_subnormal_amax_count_as_2_pow_minus_127(impl, fmt):
    assert scale_byte(impl, block([0.0]), fmt) == 0  # -127 - emax clamps to -127
    sub = np.float32(2.0**-128)  # subnormal
    assert scale_byte(impl, block([sub, -sub / 2]), fmt) == 0
    # subnormal inputs are not flushed: 2^-128 = 0.5 * 2^-127 is exact in every OCP format
    assert_same_bits(qdq(impl, block([sub, -sub]), fmt)[:2], np.array([sub, -sub], np.float32))


@impls
@pytest.mark.parametrize("fmt", OCP)
def test_shared_exponent_clamps_to_plus_minus_127(impl, fmt):
    # lower clamp: 2^-120 would need -120 - emax < -127 for emax > 7
    e = scale_byte(impl, block([2.0**-120]), fmt)
    assert e == max(-120 - FORMATS[fmt].emax, -127) + 127
    # upper clamp: only MXINT8 (emax 0) reaches floor(log2(FLT_MAX)) - 0 = 127
    big = np.finfo(np.float32).max
    assert scale_byte(impl, block([big]), fmt) == 127 - FORMATS[fmt].emax + 127
    out = qdq(impl, block([big, -big]), fmt)
    assert np.all(np.isfinite(out[:2])) and out[0] == -out[1]
    assert out[0] == np.float32(FORMATS[fmt].max_normal * 2.0 ** (127 - FORMATS[fmt].emax))


# ---------------------------------------------------------------- OCP: rounding, saturation
TIES = {
    # fmt: [(input with shared exponent 0 ... amax set separately), expected]
    "MXFP8_E4M3": [(1.0625, 1.0), (1.1875, 1.25), (2.0**-10, 0.0), (3 * 2.0**-10, 2.0**-8), (1.0625 + 2**-20, 1.125)],
    "MXFP8_E5M2": [(1.125, 1.0), (1.375, 1.5), (2.0**-17, 0.0), (3 * 2.0**-17, 2.0**-15)],
    "MXFP6_E3M2": [(1.125, 1.0), (1.375, 1.5), (0.03125, 0.0), (0.09375, 0.125)],
    "MXFP6_E2M3": [(1.0625, 1.0), (1.1875, 1.25), (0.0625, 0.0), (0.1875, 0.25)],
    "MXFP4_E2M1": [(0.25, 0.0), (0.75, 1.0), (1.25, 1.0), (1.75, 2.0), (2.5, 2.0), (3.5, 4.0), (5.0, 4.0)],
    "MXINT8": [(1 / 128, 0.0), (3 / 128, 2 / 64), (5 / 128, 2 / 64), (1.0 + 1 / 128, 1.0)],
}


@impls
@pytest.mark.parametrize("fmt", OCP)
def test_round_to_nearest_ties_to_even(impl, fmt):
    emax = FORMATS[fmt].emax
    anchor = 2.0**emax  # amax in [2^emax, 2^(emax+1)) gives shared exponent 0
    cases = TIES[fmt]
    x = block([anchor] + [v for v, _ in cases] + [-v for v, _ in cases])
    out = qdq(impl, x, fmt)
    n = len(cases)
    expected = np.array([e for _, e in cases], dtype=np.float32)
    assert impl.encode(x, fmt).scales[0] == 127
    assert_same_bits(out[1 : 1 + n], expected)
    neg = -expected
    if fmt == "MXINT8":
        neg[neg == 0] = 0.0  # two's complement has no -0
    assert_same_bits(out[1 + n : 1 + 2 * n], neg)


@impls
@pytest.mark.parametrize("fmt", OCP)
def test_saturates_to_max_normal_never_nan_or_inf(impl, fmt):
    spec = FORMATS[fmt]
    top = np.float32(below(2.0 ** (spec.emax + 1)))  # shared exponent 0, rounds above max normal
    out = qdq(impl, block([top, -top, spec.max_normal, (spec.max_normal + top) / 2]), fmt)
    assert_same_bits(out[:4], np.array([spec.max_normal, -spec.max_normal] + [spec.max_normal] * 2, np.float32))


# ---------------------------------------------------------------- OCP: zeros, NaN, Inf
@impls
@pytest.mark.parametrize("fmt", OCP_FP + SMX)
def test_sign_of_zero_is_kept(impl, fmt):
    bs = FORMATS[fmt].block_size
    x = block([1.0, -0.0, 0.0, -1e-30], bs)
    out = qdq(impl, x, fmt)
    assert_same_bits(out[1:4], np.array([-0.0, 0.0, -0.0], np.float32))
    zeros = block([-0.0, 0.0, -0.0], bs)  # all-zero block
    assert_same_bits(qdq(impl, zeros, fmt), zeros)


@impls
def test_mxint8_negative_zero_becomes_plus_zero(impl):
    out = qdq(impl, block([1.0, -0.0, -1e-30]), "MXINT8")
    assert_same_bits(out[1:3], np.zeros(2, np.float32))


@impls
@pytest.mark.parametrize("fmt", OCP + SMX)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_makes_the_whole_block_nan(impl, fmt, bad):
    spec = FORMATS[fmt]
    bs = spec.block_size
    x = np.concatenate([block([1.0, 2.0, bad], bs), block([1.0, -0.5], bs)])
    m = impl.encode(x, fmt)
    assert m.scales[0] == 0xFF
    if spec.kind == "smx":
        assert m.scales[1] == 0
    assert not m.elements[: spec.element_bytes].any()
    out = impl.decode(m)
    assert np.isnan(out[:bs]).all()
    assert_same_bits(out[bs : bs + 2], np.array([1.0, -0.5], np.float32))


@impls
@pytest.mark.parametrize("fmt", OCP + SMX)
def test_all_zero_block_decodes_to_zeros(impl, fmt):
    bs = FORMATS[fmt].block_size
    m = impl.encode(np.zeros((3, bs), np.float32), fmt)
    assert not m.elements.any()
    assert_same_bits(impl.decode(m), np.zeros((3, bs), np.float32))


# ---------------------------------------------------------------- MX9 / MX6 / MX4
@impls
@pytest.mark.parametrize("fmt", SMX)
def test_smx_shared_exponent_from_exponent_bits(impl, fmt):
    for k in (-120, 0, 20, 127):
        assert impl.encode(block([2.0**k], 16), fmt).scales[0] == k + 127
        assert impl.encode(block([below(2.0**k)], 16), fmt).scales[0] == k - 1 + 127


@impls
@pytest.mark.parametrize("fmt", SMX)
def test_smx_microexponent_per_pair(impl, fmt):
    # pair 0: holds E -> mu 0; pair 1: both below -> mu 1; pair 2: one at E -> mu 0;
    # pair 3: zeros (below) -> mu 1; pairs 4..7 zeros -> mu 1
    x = block([1.5, 0.1, 0.6, 0.3, 0.2, -1.0, 0.0, 0.0], 16)
    m = impl.encode(x, fmt)
    assert m.scales[0] == 127
    assert m.scales[1] == 0b11111010


@impls
@pytest.mark.parametrize("fmt, m_bits", [("MX9", 7), ("MX6", 4), ("MX4", 2)])
def test_smx_step_rounding_and_clamp(impl, fmt, m_bits):
    # E = 0: step 2^(1-m) in pairs holding E, 2^(-m) in pairs below E
    step0, step1 = 2.0 ** (1 - m_bits), 2.0 ** (-m_bits)
    x = block(
        [
            1.0 + step0 / 2,  # tie: 2^(m-1) + 0.5 -> even (2^(m-1)) -> 1.0
            1.0 + 1.5 * step0,  # tie between 2^(m-1)+1 (odd) and +2 (even) -> + 2 steps
            0.5 + step1 / 2,  # pair below E: tie -> even -> 0.5
            0.5 + 1.5 * step1,  # -> 0.5 + 2 steps
            below(2.0),  # clamps to (2^m - 1) * step0
            -below(2.0),
        ],
        16,
    )
    out = qdq(impl, x, fmt)
    top0, top1 = (2**m_bits - 1) * step0, (2**m_bits - 1) * step1  # clamp (MX4 reaches it)
    expected = [1.0, min(1.0 + 2 * step0, top0), 0.5, min(0.5 + 2 * step1, top1), top0, -top0]
    assert_same_bits(out[:6], np.array(expected, np.float32))
    codes_max = (1 << m_bits) - 1
    assert abs(out[4]) == np.float32(codes_max * step0)


@impls
@pytest.mark.parametrize("fmt", SMX)
def test_smx_flushes_fp32_subnormals(impl, fmt):
    sub = np.float32(2.0**-127)  # subnormal
    x = block([2.0**-126, sub, -sub, 1.5 * sub], 16)
    out = qdq(impl, x, fmt)
    # without the flush, 2^-127 would be 2^(m-2) steps of 2^-(126+m-1)
    assert_same_bits(out[:4], np.array([2.0**-126, 0.0, -0.0, 0.0], np.float32))
    m = impl.encode(block([sub, -sub], 16), fmt)
    assert m.scales[0] == 0 and m.scales[1] == 0


@impls
@pytest.mark.parametrize("fmt", SMX)
def test_smx_extreme_exponents_decode_exactly(impl, fmt):
    big = np.finfo(np.float32).max
    out = qdq(impl, block([big, 2.0**100, 2.0**126], 16), fmt)
    assert np.isfinite(out).all() and out[0] > 2.0**127
    tiny = qdq(impl, block([2.0**-126, 2.0**-126 * 1.5], 16), fmt)
    assert tiny[0] == np.float32(2.0**-126)


# ---------------------------------------------------------------- layout
@impls
def test_byte_layout_little_endian_packing(impl):
    # MXFP4_E2M1, shared 0 (amax 6): codes 1 (0.5), 2 (1.0), 0xF (-6), 0x9 (-0.5)
    x = block([0.5, 1.0, -6.0, -0.5, 6.0])
    m = impl.encode(x, "MXFP4_E2M1")
    assert m.scales.tolist() == [127 - 2 + 2]  # floor(log2 6) - emax(2) = 0
    assert m.elements[:3].tolist() == [0x21, 0x9F, 0x07]
    assert m.nbytes == 17
    # MX4, E = 0 (amax 1.0): pair 0 (1.0, -0.5): mu 0, step 0.5 -> codes 2, 1|sign(4) = 5
    s = impl.encode(block([1.0, -0.5, 0.25], 16), "MX4")
    assert s.scales.tolist() == [127, 0b11111110]
    # 3-bit codes 2, 5, 1 (0.25 / 0.25, mu 1) -> bits 010 101 001 -> 0b01_101_010, 0b0
    assert s.elements.tolist()[:2] == [0b01101010, 0b0]
    # MXFP6_E2M3: 6-bit codes, 4 codes in 3 bytes
    f6 = impl.encode(block([7.5, -1.0, 0.125]), "MXFP6_E2M3")
    c = [0b011111, 0b101000, 0b000001, 0]
    packed = c[0] | c[1] << 6 | c[2] << 12 | c[3] << 18
    assert f6.elements[:3].tolist() == [packed & 0xFF, packed >> 8 & 0xFF, packed >> 16]


@impls
@pytest.mark.parametrize("fmt", ["MXFP8_E4M3", "MX6"])
def test_partial_block_is_zero_padded_and_dropped(impl, fmt):
    spec = FORMATS[fmt]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, spec.block_size + 5)).astype(np.float32)
    m = impl.encode(x, fmt)
    assert m.scales.size == 3 * 2 * spec.scale_bytes and m.elements.size == 3 * 2 * spec.element_bytes
    padded = np.zeros((3, 2 * spec.block_size), np.float32)
    padded[:, : x.shape[1]] = x
    mp = impl.encode(padded, fmt)
    assert np.array_equal(m.scales, mp.scales) and np.array_equal(m.elements, mp.elements)
    out = impl.decode(m)
    assert out.shape == x.shape
    assert_same_bits(out, impl.decode(mp)[:, : x.shape[1]])


@impls
@pytest.mark.parametrize("fmt", ["MXFP6_E3M2", "MX9", "MXINT8"])
@pytest.mark.parametrize("axis", [0, 1, -1, -3])
def test_any_axis_equals_moving_the_axis_last(impl, fmt, axis):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((37, 5, 19)) * 10.0 ** rng.integers(-3, 3, (37, 5, 19))).astype(np.float32)
    m = impl.encode(x, fmt, axis=axis)
    moved = np.ascontiguousarray(np.moveaxis(x, axis, -1))
    ml = impl.encode(moved, fmt, axis=-1)
    assert np.array_equal(m.scales, ml.scales) and np.array_equal(m.elements, ml.elements)
    out = impl.decode(m)
    assert out.shape == x.shape
    assert_same_bits(out, np.moveaxis(impl.decode(ml), -1, axis))
    assert_same_bits(qdq(impl, x, fmt, axis), out)


@impls
def test_empty_and_non_contiguous_inputs(impl):
    e = impl.encode(np.zeros((0, 7), np.float32), "MX9")
    assert e.nbytes == 0 and impl.decode(e).shape == (0, 7)
    x = np.arange(64 * 3, dtype=np.float32).reshape(64, 3)[::2]  # strided view
    assert_same_bits(qdq(impl, x, "MXFP8_E5M2", 0), qdq(impl, np.ascontiguousarray(x), "MXFP8_E5M2", 0))
    # float64 / float16 inputs go through float32
    assert_same_bits(qdq(impl, x.astype(np.float64), "MX6"), qdq(impl, x, "MX6"))


@pytest.mark.parametrize("fmt", ["MXFP8_E4M3", "MXINT8", "MX9"])
def test_kernel_ignores_a_flush_to_zero_fp_environment(fmt):
    """torch.set_flush_denormal(True) sets DAZ/FTZ on the thread; the kernel must not see it."""
    torch = pytest.importorskip("torch")
    from harness.mx import reference

    import harness.mx as mx

    x = block([2.0**-128, -(2.0**-130), 2.0**-140], FORMATS[fmt].block_size)
    big = block([np.finfo(np.float32).max, 2.0**100], FORMATS[fmt].block_size)
    if not torch.set_flush_denormal(True):
        pytest.skip("this CPU cannot flush denormals")
    try:
        got = [mx.quantize_dequantize(v, fmt) for v in (x, big)]
    finally:
        torch.set_flush_denormal(False)
    for v, g in zip((x, big), got):
        assert_same_bits(g, reference.quantize_dequantize(v, fmt))
