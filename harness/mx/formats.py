"""The MX format registry: one :class:`FormatSpec` per supported format name.

Kept apart from the kernels so that the layout arithmetic (bytes per block, effective bits) is
written once and shared by the numpy reference, the C++ kernel wrapper and the PIM model.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FORMATS", "FormatSpec", "MXFormatError", "get_format"]


class MXFormatError(ValueError):
    """Bad input to the MX API: unknown format, non-float data, bad axis, wrong buffer size."""


@dataclass(frozen=True)
class FormatSpec:
    """Static description of one MX format.

    The first eight fields are the interface contract; the rest describe the element encoding.

    ``kind`` is ``"fp"`` (OCP MX minifloat elements), ``"int"`` (MXINT8) or ``"smx"`` (MX9/MX6/MX4
    with shared microexponents). ``scale_bits`` counts all per-block scale bits (8 for the OCP E8M0
    scale; 16 for MX9/6/4: an 8-bit shared exponent plus 8 one-bit pair microexponents).
    ``max_normal`` is the largest element magnitude before scaling (for ``"smx"``: the largest
    ``|value| / 2**E``, i.e. ``(2**m - 1) * 2**(1 - m)``). ``bits_per_element`` is effective:
    element bits plus the block's scale bits shared over its elements.
    """

    name: str
    kind: str
    elem_bits: int
    block_size: int
    scale_bits: int
    max_normal: float
    bytes_per_block: int
    bits_per_element: float
    # --- element encoding details (additions to the contract) ---
    ebits: int = 0  # exponent bits of an "fp" element (0 otherwise)
    mbits: int = 0  # mantissa bits ("fp"), fraction bits (MXINT8: 6), magnitude bits ("smx": m)
    emax: int = 0  # exponent of the largest normal element ("fp"); 0 for MXINT8 and "smx"

    @property
    def scale_bytes(self) -> int:
        """Scale bytes per block (1 for E8M0, 2 for MX9/MX6/MX4)."""
        return self.scale_bits // 8

    @property
    def element_bytes(self) -> int:
        """Packed element bytes per block (always a whole number for these formats)."""
        return self.elem_bits * self.block_size // 8

    @property
    def bias(self) -> int:
        """Exponent bias of an "fp" element (0 for the other kinds)."""
        return (1 << (self.ebits - 1)) - 1 if self.kind == "fp" else 0


def _fp(name: str, ebits: int, mbits: int, emax: int, max_normal: float) -> FormatSpec:
    elem_bits = 1 + ebits + mbits
    return FormatSpec(
        name=name, kind="fp", elem_bits=elem_bits, block_size=32, scale_bits=8,
        max_normal=max_normal, bytes_per_block=1 + elem_bits * 32 // 8,
        bits_per_element=elem_bits + 8 / 32, ebits=ebits, mbits=mbits, emax=emax,
    )


def _smx(name: str, m: int) -> FormatSpec:
    elem_bits = 1 + m
    return FormatSpec(
        name=name, kind="smx", elem_bits=elem_bits, block_size=16, scale_bits=16,
        max_normal=((1 << m) - 1) * 2.0 ** (1 - m), bytes_per_block=2 + elem_bits * 16 // 8,
        bits_per_element=elem_bits + 16 / 16, mbits=m,
    )


FORMATS: dict[str, FormatSpec] = {
    s.name: s
    for s in (
        _fp("MXFP8_E4M3", 4, 3, 8, 448.0),
        _fp("MXFP8_E5M2", 5, 2, 15, 57344.0),
        _fp("MXFP6_E3M2", 3, 2, 4, 28.0),
        _fp("MXFP6_E2M3", 2, 3, 2, 7.5),
        _fp("MXFP4_E2M1", 2, 1, 2, 6.0),
        FormatSpec(
            name="MXINT8", kind="int", elem_bits=8, block_size=32, scale_bits=8,
            max_normal=127 / 64, bytes_per_block=33, bits_per_element=8.25, mbits=6, emax=0,
        ),
        _smx("MX9", 7),
        _smx("MX6", 4),
        _smx("MX4", 2),
    )
}


def get_format(fmt: str | FormatSpec) -> FormatSpec:
    """Look a format up by name (or pass a spec through); unknown names list the known ones."""
    if isinstance(fmt, FormatSpec):
        if FORMATS.get(fmt.name) != fmt:
            raise MXFormatError(f"FormatSpec {fmt.name!r} is not one of the registered formats")
        return fmt
    if not isinstance(fmt, str) or fmt not in FORMATS:
        raise MXFormatError(
            f"unknown MX format {fmt!r}; known formats: {', '.join(FORMATS)}"
        )
    return FORMATS[fmt]
