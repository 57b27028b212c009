"""MX formats: the single trusted implementation of OCP MX v1.0 and MX9/MX6/MX4 for the harness.

Public API (contract C)::

    from harness.mx import FORMATS, FormatSpec, quantize_dequantize, encode, decode, MXArray, MXFormatError

The same bits come out of the numpy reference (:mod:`harness.mx.reference`, kept for tests) and
the C++ kernel (module ``harness._mx``, header ``ext/include/jitq/mx/kernel.hpp``, shared with the
simulator's functional PIM model). Rules: DESIGN.md §5 and docs/mx-formats.md.
"""

from __future__ import annotations

from .api import decode, encode, quantize_dequantize
from .array import MXArray
from .formats import FORMATS, FormatSpec, MXFormatError, get_format

__all__ = [
    "FORMATS",
    "FormatSpec",
    "MXArray",
    "MXFormatError",
    "decode",
    "encode",
    "get_format",
    "quantize_dequantize",
]
