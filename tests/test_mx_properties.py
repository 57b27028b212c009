"""Property tests: the C++ kernel, the numpy reference and encode->decode agree bit for bit.

Random data of every magnitude (hypothesis-drawn seeds feeding several generators, plus raw
hypothesis float32 arrays holding any bit pattern), every format, random block axis.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import harness.mx as mx
from harness.mx import FORMATS, MXArray, reference
from mx_helpers import assert_same_bits

FMTS = list(FORMATS)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SPECIALS = np.array(
    [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 2.0**-126, 2.0**-127, -(2.0**-149),
     np.finfo(np.float32).max, -np.finfo(np.float32).max, 2.0**127, 0.5, 448.0, 6.0],
    dtype=np.float32,
)


def generate(kind: str, seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """Float32 test data; ``kind`` picks how magnitudes are spread."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    if kind == "normal":
        x = rng.standard_normal(n) * 2.0 ** rng.integers(-20, 20)
    elif kind == "wide":  # any exponent, element by element
        x = rng.uniform(1, 2, n) * 2.0 ** rng.integers(-149, 128, n) * rng.choice([-1, 1], n)
    elif kind == "block-local":  # a base exponent with spread below it, as in real tensors
        x = rng.standard_normal(n) * 2.0 ** (rng.integers(-140, 126) + rng.integers(-30, 2, n))
    elif kind == "ties":  # small integers times a power of two: many exact ties
        x = rng.integers(-600, 600, n) * 2.0 ** rng.integers(-150, 110)
    else:  # "specials": mostly ordinary values with special ones sprinkled in
        x = rng.standard_normal(n) * 2.0 ** rng.integers(-130, 120)
        idx = rng.integers(0, n, max(1, n // 20))
        x[idx] = rng.choice(SPECIALS, idx.size)
    with np.errstate(over="ignore"):
        return x.astype(np.float32).reshape(shape)


shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=45)


def check_all_agree(x: np.ndarray, fmt: str, axis: int) -> None:
    m = mx.encode(x, fmt, axis)
    r = reference.encode(x, fmt, axis)
    assert (m.fmt, m.shape, m.axis) == (r.fmt, r.shape, r.axis)
    np.testing.assert_array_equal(m.scales, r.scales)
    np.testing.assert_array_equal(m.elements, r.elements)
    dec = mx.decode(m)
    assert_same_bits(dec, reference.decode(r))
    assert_same_bits(mx.quantize_dequantize(x, fmt, axis), dec)
    assert_same_bits(reference.quantize_dequantize(x, fmt, axis), dec)


@SETTINGS
@given(
    kind=st.sampled_from(["normal", "wide", "block-local", "ties", "specials"]),
    seed=st.integers(0, 2**32 - 1),
    shape=shapes,
    fmt=st.sampled_from(FMTS),
    axis_pick=st.integers(0, 2),
)
def test_kernel_reference_and_roundtrip_agree(kind, seed, shape, fmt, axis_pick) -> None:  # type: ignore[no-untyped-def]
    x = generate(kind, seed, shape)
    check_all_agree(x, fmt, axis_pick % x.ndim)


@SETTINGS
@given(
    x=hnp.arrays(np.float32, shapes, elements=st.floats(width=32)),
    fmt=st.sampled_from(FMTS),
)
def test_any_float32_bit_pattern(x, fmt) -> None:  # type: ignore[no-untyped-def]
    check_all_agree(x, fmt, -1)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n_blocks=st.integers(1, 40), fmt=st.sampled_from(FMTS))
def test_decode_of_arbitrary_bytes_agrees(seed, n_blocks, fmt) -> None:  # type: ignore[no-untyped-def]
    """Every code (E4M3/E5M2 NaN and Inf codes, MXINT8 -128, any scale byte) decodes the same."""
    spec = FORMATS[fmt]
    rng = np.random.default_rng(seed)
    scales = rng.integers(0, 256, n_blocks * spec.scale_bytes, dtype=np.uint8)
    elements = rng.integers(0, 256, n_blocks * spec.element_bytes, dtype=np.uint8)
    m = MXArray(fmt, (n_blocks * spec.block_size,), 0, scales, elements)
    assert_same_bits(mx.decode(m), reference.decode(m))


@SETTINGS
@given(
    kind=st.sampled_from(["normal", "wide", "block-local", "ties"]),
    seed=st.integers(0, 2**32 - 1),
    fmt=st.sampled_from(FMTS),
)
def test_quantization_is_idempotent(kind, seed, fmt) -> None:  # type: ignore[no-untyped-def]
    """Values already on the MX grid come back unchanged (saturation never leaves the binade)."""
    x = generate(kind, seed, (8, 64))
    q = mx.quantize_dequantize(x, fmt)
    assert_same_bits(mx.quantize_dequantize(q, fmt), q)


@pytest.mark.parametrize("fmt", FMTS)
def test_large_input_multithreaded_matches_reference(fmt: str) -> None:
    """Inputs big enough to be split across threads, on both axes."""
    x = generate("block-local", 7, (515, 1030))
    for axis in (0, 1):
        check_all_agree(x, fmt, axis)
    # a middle axis: the thread split falls inside one (pre) slab
    check_all_agree(generate("specials", 8, (3, 45, 2001)), fmt, 1)


@pytest.fixture(params=["baseline", "avx2"])
def isa(request):  # type: ignore[no-untyped-def]
    """Run a test with each instruction-set build of the kernel this CPU can run."""
    from harness import _mx

    before = _mx.isa()
    if not _mx.set_isa(request.param):
        pytest.skip(f"this CPU cannot run the {request.param} build")
    yield request.param
    _mx.set_isa(before)


@pytest.mark.parametrize("fmt", FMTS)
def test_every_isa_build_matches_reference(isa, fmt: str) -> None:
    for i, kind in enumerate(["normal", "wide", "block-local", "ties", "specials"]):
        x = generate(kind, 100 + i, (33, 70))
        for axis in (0, 1):
            check_all_agree(x, fmt, axis)
