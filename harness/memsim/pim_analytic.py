"""Analytic (closed-form) cost of a PIM quantize kernel, after AMD GeniePIM's model.

GeniePIM: time = rows x (tRP + tRCD) + words per bank x tCCD_L x banks per unit (+ scale and write
terms). Here the same terms are counted for the register-file-bounded program of ``pim_program``
(in closed form, so the experiment can cost thousands of layers quickly):

    T = Vr (nRP + nRCDRD) + Nrd ci + Ng (nCL + nBL) + Nq cq           (source rows, reads, quantize)
      + Vw (nRP + nRCDWR) + Nwr ci + Nf (nCWL + nBL + nWR)            (write-backs of MX bytes)
      + Vr max(0, nRC - (nRP + nRCDRD + k ci))                        (short row visits bound by tRC)

all divided by (1 - nRFC / nREFI) for refresh, with ci = pim.command_interval, cq = pim.compute_cycles_per_block, Vr/Vw row visits for reading and
writing, Ng register-file groups, Nf output-buffer flushes, k reads per visit. It ignores refresh,
tFAW and any overlap between row switches and compute: the cycle-level simulator checks it
(tests/test_pim_timing.py, docs/validation.md).
"""

from __future__ import annotations

import math
from typing import Any

from .pim_config import Geometry, PimConfig, QuantizeKernel
from .pim_program import PLACEMENT_ROWS, slice_shape, tile_cols

__all__ = ["kernel_counts", "analytic_cycles", "analytic_kernel_time_ns"]


def kernel_counts(geom: Geometry, pim: PimConfig, k: QuantizeKernel, policy: str, pcs: int) -> dict[str, float]:
    """Closed-form command counts of the per-unit program (approximate where rows straddle)."""
    s = slice_shape(geom, pim, k, policy, pcs)
    e, tx, bs = k.esize, geom.tx_bytes, k.spec.block_size
    m = pim.banks_per_unit
    urb = geom.row_bytes * m
    lanes = tx // e
    r, c = s.rows, s.cols
    if k.direction == "forward":
        n_blocks = r * math.ceil(c / bs)
    else:
        n_blocks = c * math.ceil(r / bs)
    if k.layout == "row-major":
        n_rd = math.ceil(r * c * e / tx)
    else:
        tc = tile_cols(geom, e)
        n_rd = r * math.ceil(c / tc) * math.ceil(tc * e / tx)

    if k.direction == "forward":
        g = pim.register_file_bytes // (bs * e)
        n_groups = math.ceil(n_blocks / g)
        if k.layout == "row-major":
            visits = max(math.ceil(n_groups * g * bs * e / urb), math.ceil(r * c * e / urb))
        else:
            tc = tile_cols(geom, e)
            tiles_per_block = math.ceil(min(bs, c) / tc)
            rows_per_group = max(1, math.ceil(tiles_per_block / m)) * max(1, math.ceil(g / PLACEMENT_ROWS))
            visits = n_groups * rows_per_group if (rows_per_group > 1 or g < PLACEMENT_ROWS) else n_groups
            if rows_per_group == 1 and g < min(r, PLACEMENT_ROWS):
                visits = math.ceil(n_groups / math.ceil(min(r, PLACEMENT_ROWS) / g))
    else:
        gc = pim.register_file_bytes // (bs * tx)
        width = gc * lanes
        n_groups = math.ceil(r / bs) * math.ceil(c / width)
        if k.layout == "row-major":
            row_bytes_w = c * e
            rows_per_group = bs if row_bytes_w >= urb else math.ceil(min(bs, r) * row_bytes_w / urb)
            visits = n_groups * max(1, rows_per_group) if r * c * e > urb else 1
        else:
            tc = tile_cols(geom, e)
            visits = n_groups * max(1, math.ceil(math.ceil(min(width, c) / tc) / m))
            if bs < PLACEMENT_ROWS and math.ceil(c / width) == 1:
                visits = math.ceil(r / PLACEMENT_ROWS) * max(1, math.ceil(math.ceil(c / tc) / m))
    sc_bytes = n_blocks * k.spec.scale_bytes
    el_bytes = n_blocks * k.spec.element_bytes
    out = sc_bytes + el_bytes
    n_wr = math.ceil(sc_bytes / tx) + math.ceil(el_bytes / tx)
    # Flushes happen at group ends once the buffer holds output_buffer_bytes: every group when a
    # group's output alone fills it.
    n_flush = min(n_groups, max(1, out // pim.output_buffer_bytes))
    per_flush = out / n_flush
    frac_scale = min(1.0, (per_flush * sc_bytes / out) / tx)
    # A flush visits the element rows (and the scale rows once a scale column is full); row
    # crossings inside a flush add visits only when a stream outgrows one row per flush.
    write_visits = (n_flush * (1.0 + frac_scale) + max(0.0, el_bytes / urb - n_flush)
                    + max(0.0, sc_bytes / urb - n_flush))
    # After a flush the next group returns to its source row: an extra visit only when that group
    # would have stayed in the open row (several groups per source row).
    return_visits = max(0.0, (n_flush - 1) * (1.0 - min(1.0, visits / n_groups)))
    return {
        "n_blocks": n_blocks, "n_groups": n_groups, "n_rd": n_rd, "read_visits": visits,
        "n_q": n_blocks, "n_wr": n_wr, "n_flush": n_flush, "write_visits": write_visits,
        "return_visits": return_visits,
        "slice_rows": r, "slice_cols": c, "units_used": s.units_used, "units_total": s.units_total,
    }


def analytic_cycles(geom: Geometry, pim: PimConfig, k: QuantizeKernel, policy: str, pcs: int) -> float:
    """Kernel time in memory clocks (all units and pseudo-channels run in parallel)."""
    n = kernel_counts(geom, pim, k, policy, pcs)
    t = geom.t
    ci, cq = pim.command_interval, pim.compute_cycles_per_block
    vr = n["read_visits"] + n["return_visits"]
    k_per_visit = n["n_rd"] / max(1.0, n["read_visits"])
    short = max(0.0, t("nRC") - (t("nRP") + t("nRCDRD") + k_per_visit * ci))
    cycles = (
        vr * (t("nRP") + t("nRCDRD")) + n["n_rd"] * ci + n["n_groups"] * (t("nCL") + t("nBL"))
        + n["n_q"] * cq
        + n["write_visits"] * (t("nRP") + t("nRCDWR")) + n["n_wr"] * ci
        + n["n_flush"] * (t("nCWL") + t("nBL") + t("nWR"))
        + n["read_visits"] * short
    )
    # Refresh takes the banks away for nRFC every nREFI (all-bank) or, with per-bank refresh, one
    # bank at a time, which stalls all-bank PIM commands for nRFCpb every nREFIpb; afterwards the
    # PIM row must be re-opened (nRP + nRCDRD).
    reopen = t("nRP") + t("nRCDRD")
    if geom.refresh == "all-bank":
        busy = (t("nRFC", 0) + reopen) / max(1, t("nREFI", 0) or 1)
    elif geom.refresh == "per-bank":
        busy = (t("nRFCpb", 0) + reopen) / max(1, t("nREFIpb", 0) or 1)
    else:
        busy = 0.0
    if busy >= 1.0:
        return float("inf")
    return float(cycles) / (1.0 - busy)


def analytic_kernel_time_ns(cfg: Any, kernel: QuantizeKernel, policy: str | None = None,
                            pim_overrides: dict[str, Any] | None = None) -> float:
    """Whole-device time of ``kernel`` in ns: every PIM unit of every pseudo-channel in parallel."""
    geom = Geometry.from_cfg(cfg)
    pim = PimConfig.from_cfg(cfg, pim_overrides)
    pol = policy or pim.policy
    return analytic_cycles(geom, pim, kernel, pol, geom.pcs) * geom.tck_ps / 1000.0
