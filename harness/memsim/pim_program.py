"""Expansion of a quantize kernel into the per-unit PIM command program, and region checks.

Every unit of a pseudo-channel receives the same broadcast (all-bank) commands, so one program, the
one of the unit holding the largest slice (unit 0), describes the whole pseudo-channel; every
pseudo-channel runs its own copy in parallel. The program is a sequence of column-level steps

* ``RD row col``: PIM column read of source data into the register file,
* ``Q``: the quantize step of one block (amax, shared scale, element rounding),
* ``WR row col``: PIM column write of buffered MX bytes,

grouped into register-file *groups* (the blocks that are staged, quantized and emitted together).
Row activations are implied: a step whose row differs from the open row costs an all-bank
precharge and activate (the timing engine and the analytic model both count them that way).
See docs/pim.md for the placement rules this code implements.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .pim_config import Geometry, PimConfig, PimError, QuantizeKernel, SliceShape

__all__ = [
    "OP_RD",
    "OP_WR",
    "OP_Q",
    "PLACEMENT_ROWS",
    "Program",
    "Footprint",
    "slice_shape",
    "tile_cols",
    "footprint",
    "check_kernels",
    "expand",
]

OP_RD, OP_WR, OP_Q = 0, 1, 2
# Slices are bands of PLACEMENT_ROWS weight rows (a multiple of every MX block size) so that the
# weight's placement does not depend on the format or direction of the copies made from it.
PLACEMENT_ROWS = 32


@dataclass(frozen=True)
class Program:
    """Per-unit command program of one kernel (arrays of equal length; row/col = -1 for Q)."""

    op: np.ndarray       # int8: OP_RD | OP_WR | OP_Q
    row: np.ndarray      # int64 absolute DRAM row index (same in every bank of the unit set)
    col: np.ndarray      # int32 column within the unit row (unit row = banks_per_unit bank rows)
    group_end: np.ndarray  # int64 indices (exclusive) where a register-file group ends
    slice: SliceShape

    @property
    def n_rd(self) -> int:
        return int(np.count_nonzero(self.op == OP_RD))

    @property
    def n_wr(self) -> int:
        return int(np.count_nonzero(self.op == OP_WR))

    @property
    def n_q(self) -> int:
        return int(np.count_nonzero(self.op == OP_Q))

    @property
    def n_row_switches(self) -> int:
        """Row activations the program needs (first one included)."""
        r = self.row[self.op != OP_Q]
        return int(len(r) and 1 + np.count_nonzero(r[1:] != r[:-1]))


@dataclass(frozen=True)
class Footprint:
    """Address ranges a kernel reserves (every bank, consecutive row indices)."""

    src_lo: int
    src_hi: int
    dst_lo: int
    dst_hi: int
    src_rows: int
    dst_rows: int


def tile_cols(geom: Geometry, esize: int) -> int:
    """Weight columns per tile: a PLACEMENT_ROWS x Tc tile fills one DRAM row."""
    per = PLACEMENT_ROWS * esize
    if geom.row_bytes % per or (geom.row_bytes // per * esize) % geom.tx_bytes:
        raise PimError(
            f"tiled layout needs DRAM rows ({geom.row_bytes} B) to hold whole "
            f"{PLACEMENT_ROWS}-row tiles of column accesses"
        )
    return geom.row_bytes // per


def slice_shape(geom: Geometry, pim: PimConfig, k: QuantizeKernel, policy: str, pcs: int) -> SliceShape:
    """The largest per-unit slice: bands of whole 32-row blocks, split by columns if bands < units."""
    units = pim.units_per_pc(geom, policy) * pcs
    q = PLACEMENT_ROWS
    nrb = math.ceil(k.rows / q)
    ncb = math.ceil(k.cols / q)
    if nrb >= units:
        rb = math.ceil(nrb / units)
        used = math.ceil(nrb / rb)
        return SliceShape(min(rb * q, k.rows), k.cols, used, units)
    per_band = units // nrb
    cb = math.ceil(ncb / per_band)
    used = nrb * math.ceil(ncb / cb)
    return SliceShape(min(q, k.rows), min(cb * q, k.cols), used, units)


def _unit_bytes(geom: Geometry, pim: PimConfig, k: QuantizeKernel, s: SliceShape) -> tuple[int, int, int]:
    """(source bytes, scale bytes, element bytes) a unit stores for its slice."""
    e = k.esize
    if k.layout == "row-major":
        src = s.rows * s.cols * e
    else:
        tc = tile_cols(geom, e)
        src = math.ceil(s.rows / PLACEMENT_ROWS) * math.ceil(s.cols / tc) * geom.row_bytes
    bs = k.spec.block_size
    nblk = s.rows * math.ceil(s.cols / bs) if k.direction == "forward" else s.cols * math.ceil(s.rows / bs)
    return src, nblk * k.spec.scale_bytes, nblk * k.spec.element_bytes


def row_stride(geom: Geometry, pcs: int) -> int:
    """Bytes of one DRAM row index across every bank of the pseudo-channels in use."""
    return geom.row_bytes * geom.banks_per_pc * pcs


def footprint(geom: Geometry, pim: PimConfig, k: QuantizeKernel, policy: str, pcs: int) -> Footprint:
    s = slice_shape(geom, pim, k, policy, pcs)
    urb = geom.row_bytes * pim.banks_per_unit
    src_b, sc_b, el_b = _unit_bytes(geom, pim, k, s)
    src_rows = math.ceil(src_b / urb)
    dst_rows = math.ceil(sc_b / urb) + math.ceil(el_b / urb)
    stride = row_stride(geom, pcs)
    return Footprint(
        k.src, k.src + max(src_rows * stride, k.src_bytes),
        k.dst, k.dst + max(dst_rows * stride, k.out_bytes), src_rows, dst_rows,
    )


def check_kernels(geom: Geometry, pim: PimConfig, kernels: Sequence[QuantizeKernel], policy: str,
                  pcs: int, capacity: int) -> list[Footprint]:
    """Validate alignment, capacity and overlaps of a kernel list; return the footprints.

    Sources may overlap (the forward and backward copies of one weight read the same bytes);
    a destination may overlap nothing else.
    """
    stride = row_stride(geom, pcs)
    fps: list[Footprint] = []
    for i, k in enumerate(kernels):
        if not isinstance(k, QuantizeKernel):
            raise PimError(f"kernel {i} is a {type(k).__name__}, not a QuantizeKernel")
        for name, a in (("src", k.src), ("dst", k.dst)):
            if a % stride:
                raise PimError(
                    f"kernel {i}: {name}=0x{a:x} is not aligned to a PIM row stride of {stride} B "
                    f"(row bytes x banks per pseudo-channel x pseudo-channels)"
                )
        fp = footprint(geom, pim, k, policy, pcs)
        for name, hi in (("src", fp.src_hi), ("dst", fp.dst_hi)):
            if hi > capacity:
                raise PimError(f"kernel {i}: {name} region ends at 0x{hi:x}, beyond capacity 0x{capacity:x}")
        if fp.src_lo < fp.dst_hi and fp.dst_lo < fp.src_hi:
            raise PimError(f"kernel {i}: src and dst regions overlap")
        for j, other in enumerate(fps):
            if (fp.dst_lo < other.dst_hi and other.dst_lo < fp.dst_hi) or \
               (fp.dst_lo < other.src_hi and other.src_lo < fp.dst_hi) or \
               (other.dst_lo < fp.src_hi and fp.src_lo < other.dst_hi):
                raise PimError(f"kernels {j} and {i}: a destination region overlaps another region")
        fps.append(fp)
    return fps


class _Emitter:
    """Accumulates program steps and the MX output streams' write-back state."""

    def __init__(self, geom: Geometry, pim: PimConfig, urb: int, scale_row0: int, elem_row0: int) -> None:
        self.tx = geom.tx_bytes
        self.cols_u = urb // geom.tx_bytes
        self.flush_at = pim.output_buffer_bytes
        self.op: list[int] = []
        self.row: list[int] = []
        self.col: list[int] = []
        self.group_end: list[int] = []
        self.streams = [[scale_row0, 0, 0], [elem_row0, 0, 0]]  # row0, produced bytes, written cols

    def read(self, rows: np.ndarray, cols: np.ndarray) -> None:
        self.op.extend([OP_RD] * len(rows))
        self.row.extend(rows.tolist())
        self.col.extend(cols.tolist())

    def quantize(self, n_blocks: int, scale_bytes: int, elem_bytes: int) -> None:
        self.op.extend([OP_Q] * n_blocks)
        self.row.extend([-1] * n_blocks)
        self.col.extend([-1] * n_blocks)
        self.streams[0][1] += scale_bytes
        self.streams[1][1] += elem_bytes
        buffered = sum(p - w * self.tx for _, p, w in self.streams)
        if buffered >= self.flush_at:
            self.flush(final=False)
        self.group_end.append(len(self.op))

    def flush(self, final: bool) -> None:
        for st in self.streams:
            row0, produced, written = st
            upto = -(-produced // self.tx) if final else produced // self.tx
            for c in range(written, upto):
                self.op.append(OP_WR)
                self.row.append(row0 + c // self.cols_u)
                self.col.append(c % self.cols_u)
            st[2] = max(written, upto)
        if final and self.group_end:
            self.group_end[-1] = len(self.op)


def expand(geom: Geometry, pim: PimConfig, k: QuantizeKernel, policy: str, pcs: int) -> Program:
    """The command program of unit 0 (the largest slice) for kernel ``k``."""
    s = slice_shape(geom, pim, k, policy, pcs)
    stride = row_stride(geom, pcs)
    urb = geom.row_bytes * pim.banks_per_unit
    tx = geom.tx_bytes
    src_row0 = k.src // stride
    dst_row0 = k.dst // stride
    _, sc_b, _ = _unit_bytes(geom, pim, k, s)
    em = _Emitter(geom, pim, urb, dst_row0, dst_row0 + math.ceil(sc_b / urb))
    e = k.esize
    bs = k.spec.block_size
    sb, eb = k.spec.scale_bytes, k.spec.element_bytes
    R, C = s.rows, s.cols
    if k.layout == "tiled":
        tc = tile_cols(geom, e)
        ntc = math.ceil(C / tc)

        def offsets(i: np.ndarray, j: np.ndarray) -> np.ndarray:
            t = (i // PLACEMENT_ROWS) * ntc + j // tc
            return t * geom.row_bytes + ((i % PLACEMENT_ROWS) * tc + j % tc) * e
    else:
        def offsets(i: np.ndarray, j: np.ndarray) -> np.ndarray:
            return (i * C + j) * e

    def stage(i: np.ndarray, j: np.ndarray) -> None:
        cols = np.unique(offsets(i, j) // tx)  # sorted: row-major order of (unit row, column)
        em.read(src_row0 + cols // (urb // tx), cols % (urb // tx))

    if k.direction == "forward":
        g = pim.register_file_bytes // (bs * e)
        if g == 0:
            raise PimError(f"register file ({pim.register_file_bytes} B) is smaller than one block "
                           f"({bs * e} B of {k.src_dtype})")
        nbj = math.ceil(C / bs)
        if k.layout == "row-major":
            blocks = [(i, jb) for i in range(R) for jb in range(nbj)]
        else:
            blocks = [(i, jb) for ti in range(0, R, PLACEMENT_ROWS) for jb in range(nbj)
                      for i in range(ti, min(R, ti + PLACEMENT_ROWS))]
        lane = np.arange(bs)
        for g0 in range(0, len(blocks), g):
            grp = np.array(blocks[g0:g0 + g], dtype=np.int64)
            ii = np.repeat(grp[:, 0], bs)
            jj = (grp[:, 1:2] * bs + lane).reshape(-1)
            keep = jj < C
            stage(ii[keep], jj[keep])
            em.quantize(len(grp), len(grp) * sb, len(grp) * eb)
    else:
        lanes = tx // e
        gc = pim.register_file_bytes // (bs * tx)
        if gc == 0:
            raise PimError(f"register file ({pim.register_file_bytes} B) is smaller than one backward "
                           f"column group ({bs} column accesses = {bs * tx} B)")
        width = gc * lanes
        for i0 in range(0, R, bs):
            ii_rows = np.arange(i0, min(R, i0 + bs))
            for j0 in range(0, C, width):
                jcols = np.arange(j0, min(C, j0 + width))
                ii = np.repeat(ii_rows, len(jcols))
                jj = np.tile(jcols, len(ii_rows))
                stage(ii, jj)
                n = len(jcols)
                em.quantize(n, n * sb, n * eb)
    em.flush(final=True)
    return Program(
        np.asarray(em.op, dtype=np.int8), np.asarray(em.row, dtype=np.int64),
        np.asarray(em.col, dtype=np.int32), np.asarray(em.group_end, dtype=np.int64), s,
    )
