"""Cycle-level runs of host traffic plus PIM quantize kernels (``simulate_with_pim``).

Python validates everything (policy, kernels, regions) and expands each kernel into its per-unit
program before the C++ engine (``harness._dram.pim_simulate``) sees anything, so bad input raises
:class:`~harness.memsim.pim_config.PimError` and no simulator state exists yet.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from typing import Any, Sequence

from .pim_config import POLICIES, Geometry, PimConfig, PimError, QuantizeKernel
from .pim_program import check_kernels, expand

__all__ = ["run", "restrict_channels", "engine_pim_params"]


def restrict_channels(cfg: Any, channels: int | None) -> Any:
    """A copy of DramConfig ``cfg`` simulating only ``channels`` channels (None: unchanged)."""
    if channels is None or channels == cfg.channels:
        return cfg
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1 or channels & (channels - 1):
        raise PimError(f"channels must be a positive power of two, got {channels!r}")
    raw = copy.deepcopy(cfg.raw)
    raw["MemorySystem"]["channels"] = channels
    scale = channels / cfg.channels
    org = dict(cfg.org, channels=channels, capacity_bytes=int(cfg.org["capacity_bytes"] * scale))
    return dataclasses.replace(cfg, raw=raw, org=org, peak_bandwidth_GBps=cfg.peak_bandwidth_GBps * scale)


def engine_pim_params(pim: PimConfig, policy: str) -> dict[str, Any]:
    """The dict ``harness._dram.pim_simulate`` / ``pim_timing_table`` take."""
    return {
        "command_interval": pim.command_interval,
        "compute_cycles_per_block": pim.compute_cycles_per_block,
        "act_counts_tfaw": pim.act_counts_tfaw,
        "policy": policy,
        "chunk_groups": pim.chunk_groups,
        "priority": pim.priority,
    }


def run(cfg: Any, addrs: Any, is_write: Any, arrival: Any, kernels: Sequence[QuantizeKernel],
        policy: str | None = None, command_log: str | os.PathLike[str] | None = None,
        channels: int | None = None, pim_overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    from harness import _dram

    from .run import _as_arrays, _stats, atomic_command_log

    cfg = restrict_channels(cfg, channels)
    pim = PimConfig.from_cfg(cfg, pim_overrides)
    pol = policy or pim.policy
    if pol not in POLICIES:
        raise PimError(f"unknown PIM policy {pol!r}; known: {', '.join(POLICIES)}")
    if isinstance(kernels, QuantizeKernel) or not isinstance(kernels, Sequence):
        raise PimError("kernels must be a list of QuantizeKernel")
    geom = Geometry.from_cfg(cfg)
    if pol == "bank-partition" and geom.partition_groups[0] < 2:
        raise PimError(f"bank-partition needs at least 2 SIDs / bank groups per pseudo-channel ({geom.standard})")
    check_kernels(geom, pim, kernels, pol, geom.pcs, int(cfg.org["capacity_bytes"]))
    a, w, arr = _as_arrays(cfg, addrs, is_write, arrival)
    programs = [expand(geom, pim, k, pol, geom.pcs) for k in kernels]
    progs = [(p.op, p.row, p.col, p.group_end) for p in programs]
    with atomic_command_log(command_log) as log_path:
        raw = _dram.pim_simulate(cfg.engine_config(), engine_pim_params(pim, pol), progs, a, w, arr, log_path)
    stats = _stats(cfg, raw)
    tick_ns = float(raw["tick_ps"]) / 1000.0
    starts = [int(t) for t in raw["pim_kernel_start_ticks"]]
    ends = [int(t) for t in raw["pim_kernel_end_ticks"]]
    # Kernels are all requested at tick 0 and run one after another: kernel k's time runs from the
    # end of kernel k-1 (0 for the first) to its last command, waiting for the host included.
    ready = [0] + ends[:-1]
    stats["pim_kernel_ns"] = [(e - r) * tick_ns if e >= 0 else 0.0 for r, e in zip(ready, ends)]
    stats["pim_kernel_start_ns"] = [s * tick_ns for s in starts]
    stats["pim_kernel_end_ns"] = [e * tick_ns for e in ends]
    stats["pim_done_ns"] = max(stats["pim_kernel_end_ns"], default=0.0)
    stats["pim_policy"] = pol
    stats["pim_source_bytes"] = sum(k.src_bytes for k in kernels)
    # Host-only figures: the run may end with a PIM-only tail, so host bandwidth is over host time.
    host_ns = int(raw["last_host_tick"]) * tick_ns if "last_host_tick" in raw else stats["time_ns"]
    stats["host_time_ns"] = host_ns
    return stats
