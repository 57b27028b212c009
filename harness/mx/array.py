"""MXArray: an MX-encoded tensor as the packed bytes a memory would hold."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .formats import FormatSpec, MXFormatError, get_format
from .layout import n_blocks_for

__all__ = ["MXArray"]


@dataclass(frozen=True, eq=False)
class MXArray:
    """Packed MX encoding of a float32 array.

    ``scales``: uint8, ``n_blocks * spec.scale_bytes`` bytes (E8M0 code per block; for MX9/6/4 the
    shared-exponent byte then the pair-microexponent byte). ``elements``: uint8, the element codes
    packed at ``spec.elem_bits`` bits, little-endian within a byte, block after block. ``shape`` is
    the original array's shape and ``axis`` (non-negative) the axis the blocks run along.
    """

    fmt: str
    shape: tuple[int, ...]
    axis: int
    scales: np.ndarray
    elements: np.ndarray

    @property
    def spec(self) -> FormatSpec:
        """The :class:`FormatSpec` of ``fmt``."""
        return get_format(self.fmt)

    @property
    def n_blocks(self) -> int:
        """Number of blocks (the partial last block along ``axis`` counts as one)."""
        return n_blocks_for(tuple(self.shape), self.axis, self.spec.block_size)

    @property
    def nbytes(self) -> int:
        """Bytes of the encoding: scales plus packed elements (what a memory stores)."""
        return int(np.asarray(self.scales).nbytes + np.asarray(self.elements).nbytes)

    def validate(self) -> tuple[FormatSpec, int]:
        """Check the buffers against format, shape and axis; return ``(spec, n_blocks)``."""
        spec = self.spec
        shape = tuple(self.shape)
        if not all(isinstance(d, (int, np.integer)) and d >= 0 for d in shape) or not shape:
            raise MXFormatError(f"MXArray shape must be a non-empty tuple of sizes, got {shape!r}")
        if not isinstance(self.axis, (int, np.integer)) or not 0 <= self.axis < len(shape):
            raise MXFormatError(f"MXArray axis {self.axis!r} is out of range for shape {shape}")
        n = n_blocks_for(shape, int(self.axis), spec.block_size)
        for name, buf, per_block in (
            ("scales", self.scales, spec.scale_bytes),
            ("elements", self.elements, spec.element_bytes),
        ):
            if not isinstance(buf, np.ndarray) or buf.dtype != np.uint8 or buf.ndim != 1:
                raise MXFormatError(f"MXArray.{name} must be a 1-D uint8 numpy array")
            if buf.size != n * per_block:
                raise MXFormatError(
                    f"MXArray.{name} has {buf.size} bytes, but {spec.name} with shape {shape} "
                    f"blocked along axis {self.axis} needs {n} blocks x {per_block} = "
                    f"{n * per_block} bytes"
                )
        return spec, n

    def decode(self) -> np.ndarray:
        """Decode to a float32 array of ``shape`` (same as :func:`harness.mx.decode`)."""
        from . import decode

        return decode(self)
