"""The FORMATS registry and clear errors on bad input (contract C)."""

from __future__ import annotations

import numpy as np
import pytest

import harness.mx as mx
from harness.mx import FORMATS, FormatSpec, MXArray, MXFormatError
from mx_helpers import IMPLS

impls = pytest.mark.parametrize("impl", list(IMPLS.values()), ids=list(IMPLS))

EXPECTED = {
    # name: kind, elem_bits, block, scale_bits, max_normal, bytes/block, bits/element
    "MXFP8_E4M3": ("fp", 8, 32, 8, 448.0, 33, 8.25),
    "MXFP8_E5M2": ("fp", 8, 32, 8, 57344.0, 33, 8.25),
    "MXFP6_E3M2": ("fp", 6, 32, 8, 28.0, 25, 6.25),
    "MXFP6_E2M3": ("fp", 6, 32, 8, 7.5, 25, 6.25),
    "MXFP4_E2M1": ("fp", 4, 32, 8, 6.0, 17, 4.25),
    "MXINT8": ("int", 8, 32, 8, 127 / 64, 33, 8.25),
    "MX9": ("smx", 8, 16, 16, 127 / 64, 18, 9.0),
    "MX6": ("smx", 5, 16, 16, 15 / 8, 12, 6.0),
    "MX4": ("smx", 3, 16, 16, 1.5, 8, 4.0),
}


def test_registry_matches_the_spec_table() -> None:
    assert list(FORMATS) == list(EXPECTED)
    for name, row in EXPECTED.items():
        s = FORMATS[name]
        assert isinstance(s, FormatSpec) and s.name == name
        got = (s.kind, s.elem_bits, s.block_size, s.scale_bits, s.max_normal, s.bytes_per_block, s.bits_per_element)
        assert got == row
        assert s.bytes_per_block == s.scale_bytes + s.element_bytes
        assert s.bits_per_element == 8 * s.bytes_per_block / s.block_size


def test_kernel_knows_the_same_formats() -> None:
    from harness import _mx

    assert list(_mx.FORMAT_NAMES) == list(FORMATS)


@pytest.mark.parametrize("name", list(FORMATS))
def test_nbytes_is_blocks_times_bytes_per_block(name: str) -> None:
    spec = FORMATS[name]
    m = mx.encode(np.ones((4, 3 * spec.block_size + 1), np.float32), name)
    assert m.nbytes == 4 * 4 * spec.bytes_per_block
    assert m.scales.dtype == np.uint8 and m.elements.dtype == np.uint8
    assert m.scales.ndim == m.elements.ndim == 1
    assert (m.fmt, m.shape, m.axis) == (name, (4, 3 * spec.block_size + 1), 1)
    np.testing.assert_array_equal(m.decode(), mx.decode(m))


@impls
@pytest.mark.parametrize("bad", ["MXFP8", "mxfp8_e4m3", "", None, 3])
def test_unknown_format_lists_known_names(impl, bad) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MXFormatError, match="MXFP8_E4M3, MXFP8_E5M2.*MX4") as info:
        impl.encode(np.ones(32, np.float32), bad)
    assert isinstance(info.value, ValueError)
    with pytest.raises(MXFormatError, match="known formats"):
        impl.quantize_dequantize(np.ones(32, np.float32), bad)


@impls
@pytest.mark.parametrize(
    "x",
    [np.ones(32, np.int32), np.ones(32, np.uint8), np.ones(32, bool), np.ones(32, np.complex64),
     np.array([1.0, "a"], dtype=object), [1, 2, 3], "text"],
    ids=["int32", "uint8", "bool", "complex", "object", "int-list", "str"],
)
def test_non_float_input_is_refused(impl, x) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MXFormatError, match="floating-point"):
        impl.encode(x, "MXFP8_E4M3")
    with pytest.raises(MXFormatError, match="floating-point"):
        impl.quantize_dequantize(x, "MX9")


@impls
@pytest.mark.parametrize("axis", [2, -3, 1.0, "0", True])
def test_axis_out_of_range_or_not_int(impl, axis) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MXFormatError, match="axis"):
        impl.encode(np.ones((2, 32), np.float32), "MX6", axis=axis)


@impls
def test_zero_dimensional_input(impl) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MXFormatError, match="0-d"):
        impl.quantize_dequantize(np.float32(1.0), "MX6")


@impls
def test_decode_with_wrong_buffer_sizes(impl) -> None:  # type: ignore[no-untyped-def]
    m = mx.encode(np.ones((3, 40), np.float32), "MXFP6_E2M3")
    cases = {
        "scales": MXArray(m.fmt, m.shape, m.axis, m.scales[:-1], m.elements),
        "elements": MXArray(m.fmt, m.shape, m.axis, m.scales, np.concatenate([m.elements, [0]]).astype(np.uint8)),
    }
    for what, bad in cases.items():
        with pytest.raises(MXFormatError, match=f"{what} has .* needs"):
            impl.decode(bad)
    with pytest.raises(MXFormatError, match="uint8"):
        impl.decode(MXArray(m.fmt, m.shape, m.axis, m.scales.astype(np.int16), m.elements))
    with pytest.raises(MXFormatError, match="needs 9 blocks"):
        impl.decode(MXArray(m.fmt, (3, 70), m.axis, m.scales, m.elements))
    with pytest.raises(MXFormatError, match="shape"):
        impl.decode(MXArray(m.fmt, (3, -40), m.axis, m.scales, m.elements))
    with pytest.raises(MXFormatError, match="axis"):
        impl.decode(MXArray(m.fmt, m.shape, 2, m.scales, m.elements))
    with pytest.raises(MXFormatError, match="unknown MX format"):
        impl.decode(MXArray("FP8", m.shape, m.axis, m.scales, m.elements))


@impls
def test_decode_refuses_non_mxarray(impl) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MXFormatError, match="MXArray"):
        impl.decode(np.zeros(33, np.uint8))


def test_float16_and_bfloat16_inputs_widen_exactly() -> None:
    import ml_dtypes

    x = np.linspace(-3, 3, 64, dtype=np.float32)
    for dt in (np.float16, ml_dtypes.bfloat16):
        y = x.astype(dt)
        np.testing.assert_array_equal(mx.quantize_dequantize(y, "MX9"), mx.quantize_dequantize(y.astype(np.float32), "MX9"))


def test_missing_kernel_build_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """No silent fallback to the slow reference: the error says how to build harness._mx."""
    import sys

    import harness
    from harness.mx import api

    api.kernel.cache_clear()
    monkeypatch.setitem(sys.modules, "harness._mx", None)  # makes `from .. import _mx` fail
    monkeypatch.delattr(harness, "_mx", raising=False)
    try:
        with pytest.raises(ImportError, match="not built.*cmake"):
            mx.quantize_dequantize(np.ones(32, np.float32), "MX9")
    finally:
        monkeypatch.undo()
        api.kernel.cache_clear()
    assert mx.quantize_dequantize(np.ones(32, np.float32), "MX9")[0] == 1.0
