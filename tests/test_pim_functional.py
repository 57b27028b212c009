"""Functional PIM mode: the MX bytes a quantize kernel writes equal harness.mx.encode, bit for bit.

Also: the image is sparse, and bad requests leave it untouched.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from harness.memsim import load_config
from harness.memsim.pim import Geometry, MemoryImage, PimError, QuantizeKernel, kernel_footprint
from harness.mx import FORMATS, encode

_dram = pytest.importorskip("harness._dram", reason="harness._dram not built")
if not hasattr(_dram, "PimMemoryImage"):  # pragma: no cover - depends on the build
    pytest.skip("harness._dram built without the PIM sources", allow_module_level=True)


@pytest.fixture(scope="module")
def cfg():
    return load_config("hbm3")


def _stride(cfg) -> int:
    g = Geometry.from_cfg(cfg)
    return g.row_bytes * g.banks_per_pc * g.pcs


def _weight(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Normal values over a wide exponent range, with zeros, a tiny and a huge value mixed in."""
    w = rng.standard_normal(shape) * np.exp2(rng.integers(-20, 20, shape))
    w = w.astype(np.float32)
    w.flat[::17] = 0.0
    w.flat[5] = 3.0e38
    w.flat[7] = 1.0e-40
    return w


@pytest.mark.parametrize("src_dtype", ["fp32", "bf16"])
@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_bytes_equal_encode(cfg, fmt: str, direction: str, src_dtype: str) -> None:
    rng = np.random.default_rng(abs(hash((fmt, direction, src_dtype))) % 2**32)
    rows, cols = 37, 70  # neither a multiple of 16 nor 32: padded last blocks in both directions
    w = _weight(rng, (rows, cols))
    stride = _stride(cfg)
    img = MemoryImage(cfg)
    src, dst = 2 * stride, 40 * stride
    img.write_array(src, w, src_dtype)
    k = QuantizeKernel(src, dst, rows, cols, src_dtype, fmt, direction, "row-major")
    n = img.run_quantize(k)
    ref_in = w.astype(ml_dtypes.bfloat16).astype(np.float32) if src_dtype == "bf16" else w
    m = encode(ref_in, fmt, axis=1 if direction == "forward" else 0)
    expect = np.concatenate([m.scales, m.elements]).tobytes()
    assert n == len(expect) == k.out_bytes
    assert img.read_bytes(dst, n) == expect


def test_layout_does_not_change_bytes(cfg) -> None:
    """The layout says where the allocator puts bytes in banks; addresses and bytes are the same."""
    rng = np.random.default_rng(3)
    w = _weight(rng, (64, 96))
    stride = _stride(cfg)
    out = []
    for layout in ("row-major", "tiled"):
        img = MemoryImage(cfg)
        img.write_array(0, w, "bf16")
        k = QuantizeKernel(0, 16 * stride, 64, 96, "bf16", "MX6", "backward", layout)
        out.append(img.read_bytes(k.dst, img.run_quantize(k)))
    assert out[0] == out[1]


def test_sparse_image(cfg) -> None:
    img = MemoryImage(cfg)
    top = img.capacity - 8
    img.write_bytes(top, b"abcdefgh")
    img.write_bytes(0, np.arange(4, dtype=np.uint8))
    assert img.pages == 2
    assert img.read_bytes(top, 8) == b"abcdefgh"
    assert img.read_bytes(4096, 16) == bytes(16)  # never written: zeros, and no page allocated
    assert img.pages == 2


def _assert_unchanged(img: MemoryImage, dst: int, pages: int) -> None:
    assert img.pages == pages
    assert img.read_bytes(dst, 64) == bytes(64)


def test_bad_requests_leave_image_unchanged(cfg) -> None:
    stride = _stride(cfg)
    img = MemoryImage(cfg)
    img.write_array(0, np.ones((32, 32), np.float32), "fp32")
    pages = img.pages
    dst = 8 * stride
    with pytest.raises(PimError, match="aligned"):
        img.run_quantize(QuantizeKernel(64, dst, 32, 32, "fp32", "MX9", "forward"))
    with pytest.raises(PimError, match="overlap"):
        img.run_quantize(QuantizeKernel(0, 0, 32, 32, "fp32", "MX9", "forward"))
    with pytest.raises(PimError, match="capacity"):
        img.run_quantize(QuantizeKernel(0, img.capacity - stride, 32, 4096, "fp32", "MX9", "forward"))
    with pytest.raises(PimError, match="capacity"):
        img.write_bytes(img.capacity - 2, b"abcd")
    with pytest.raises(PimError, match="layout"):
        QuantizeKernel(0, dst, 32, 32, "fp32", "MX9", "forward", "column-major")
    with pytest.raises(PimError, match="format"):
        QuantizeKernel(0, dst, 32, 32, "fp32", "MXFP3", "forward")
    with pytest.raises(PimError, match="src_dtype"):
        QuantizeKernel(0, dst, 32, 32, "fp16", "MX9", "forward")
    with pytest.raises(PimError, match="direction"):
        QuantizeKernel(0, dst, 32, 32, "fp32", "MX9", "sideways")
    with pytest.raises(PimError, match="policy"):
        img.run_quantize(QuantizeKernel(0, dst, 32, 32, "fp32", "MX9", "forward"), policy="greedy")
    _assert_unchanged(img, dst, pages)


def test_footprint_covers_flat_ranges(cfg) -> None:
    k = QuantizeKernel(0, 64 * _stride(cfg), 1000, 3000, "bf16", "MXFP8_E4M3", "backward", "tiled")
    fp = kernel_footprint(cfg, k)
    assert fp.src_hi - fp.src_lo >= k.src_bytes
    assert fp.dst_hi - fp.dst_lo >= k.out_bytes
