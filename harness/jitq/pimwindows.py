"""Per-layer DRAM + PIM simulation for ``jitq-pim``.

For a window (a layer's ops in one phase) paired with the PIM job that runs during it (quantizing the
next weight-carrying window's weights in that window's direction), the GPU's memory traffic of the
window (the trace's addresses, ``tx_bytes`` per request, at the arrival rate the roofline implies: the
window's requests spread evenly over its roofline time) runs in the DRAM simulator together with the
PIM quantize kernels. Result: host slowdown (completion with PIM / completion without) and the PIM
job's completion time.

Channel subset: the GPU interleaves consecutive ``tx_bytes`` lines over all channels of all stacks
(``C_tot`` = stacks x channels per stack, channel bits lowest as in RoBaRaCoCh), so every channel sees
the same kind of stream. We simulate ``n_sub`` channels: the lines that fall on channels 0..n_sub-1,
compacted into an ``n_sub``-channel system, and the PIM kernels cut to those channels' share of each
weight (rows, or columns for the backward direction, scaled by n_sub / C_tot). PIM completion time is
then the same as the full system's (every channel works on its share in parallel). ``tests/
test_jitq_pim.py`` checks the shortcut against an all-channel run of a small model.
Large windows are simulated on a leading time slice of ``max_requests`` requests. The PIM job is never
sliced: it runs from the window's start, as the pipeline starts it, and the host's extra delay at the end
of the slice (completion with PIM minus without) is added to the window's roofline time; if the job
outlasts the slice, the delay is extrapolated linearly over the part of the window the job covers.

The cycle-level simulator (``harness.memsim.simulate``, ``harness.memsim.pim.simulate_with_pim``,
compiled module ``harness._dram``) is a hard requirement: there is no analytic stand-in, so a record
always says ``dram_model = memsim``. If the compiled module is missing, :func:`load_dram` raises
:class:`SimulatorMissingError` with the build command.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.jitq.errors import JitqError
from harness.memsim import load_config, simulate
from harness.memsim.pim import Geometry, QuantizeKernel, kernel_footprint, simulate_with_pim

# Channels of one stack (the DRAM presets simulate a few channels; a GPU has stacks x these):
# JEDEC JESD238 (HBM3: 16 channels per stack), JESD235D (HBM2E: 8 channels per stack).
CHANNELS_PER_STACK: dict[str, int] = {"HBM3": 16, "HBM3E": 16, "HBM2E": 8, "HBM2": 8}

BUILD_HINT = "build it with `pip install -e .` in the repository root (docs/reproduction.md)"


class SimulatorMissingError(ImportError):
    """The compiled DRAM simulator ``harness._dram`` cannot be imported; results would be meaningless."""


def require_simulator() -> None:
    """Raise :class:`SimulatorMissingError` (with the build command) unless ``harness._dram`` imports."""
    try:
        import harness._dram  # type: ignore[import-not-found]  # noqa: F401
    except ImportError as exc:
        raise SimulatorMissingError(f"the DRAM/PIM simulator harness._dram is not importable ({exc}); "
                                    f"{BUILD_HINT}") from exc


@dataclass
class DramView:
    """What the experiment needs of a DRAM preset; windows reload it with channel overrides."""

    name: str  # preset name or YAML path, as given to harness.memsim.load_config
    standard: str
    channels: int  # channels per stack of the GPU's memory (CHANNELS_PER_STACK)
    tx_bytes: int  # bytes per request
    raw: dict[str, Any]  # the loaded config (with overrides), hashed into the record
    overrides: list[str] = field(default_factory=list)


def load_dram(name_or_path: str, overrides: list[str] | None = None) -> DramView:
    """Load a DRAM preset through ``harness.memsim.load_config`` (contract A); needs ``harness._dram``."""
    require_simulator()
    ov = list(overrides or [])
    try:
        cfg = load_config(name_or_path, overrides=ov)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        raise JitqError(f"DRAM preset {name_or_path!r}: {exc}") from None
    standard = str(cfg.standard)
    if standard not in CHANNELS_PER_STACK:
        raise JitqError(f"DRAM preset {name_or_path!r}: standard {standard} is not a GPU memory stack "
                        f"(channels per stack known for {', '.join(CHANNELS_PER_STACK)})")
    return DramView(str(name_or_path), standard, CHANNELS_PER_STACK[standard], int(cfg.org["tx_bytes"]),
                    dict(cfg.raw), ov)


# ------------------------------------------------------------------------------------------ PIM jobs
@dataclass(frozen=True)
class WeightJob:
    """One weight matrix to quantize in one direction."""

    rows: int
    cols: int
    src_dtype: str
    fmt: str
    direction: str


def job_key(job: list[WeightJob]) -> tuple[Any, ...]:
    return tuple((j.rows, j.cols, j.src_dtype, j.fmt, j.direction) for j in job)


# ------------------------------------------------------------------------------------ host traffic
def host_requests(lines_start: np.ndarray, lines_count: np.ndarray, writes: np.ndarray, c_tot: int, n_sub: int,
                  max_requests: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Requests of the channel subset, compacted into an n_sub-channel address space, in trace order.

    Returns (line indices, is_write, fraction of the window's subset requests kept by the time slice).
    """
    # number of lines of [s, s+n) whose (line mod c_tot) < n_sub
    def in_subset_upto(x: np.ndarray) -> np.ndarray:
        q, r = np.divmod(x, c_tot)
        return q * n_sub + np.minimum(r, n_sub)

    cnt = in_subset_upto(lines_start + lines_count) - in_subset_upto(lines_start)
    total = int(cnt.sum())
    if total == 0:
        return np.zeros(0, np.uint64), np.zeros(0, bool), 1.0
    keep_total = min(total, max_requests)
    frac = keep_total / total
    csum = np.cumsum(cnt)
    last = int(np.searchsorted(csum, keep_total))  # accesses 0..last (partly) kept
    cnt = cnt[: last + 1].copy()
    cnt[-1] -= int(csum[last] - keep_total)
    first_compact = in_subset_upto(lines_start[: last + 1])
    # compacted subset line index k for each request: consecutive from first_compact
    rep = np.repeat(first_compact - np.concatenate(([0], np.cumsum(cnt)[:-1])), cnt)
    lines = rep + np.arange(int(cnt.sum()))
    w = np.repeat(writes[: last + 1], cnt)
    return lines.astype(np.uint64), w.astype(bool), frac


@dataclass
class WindowSim:
    host_slowdown: float
    pim_ns: float  # PIM job completion from window start (whole job, all channels in parallel)
    stats: dict[str, float]
    requests: int


HOST_MODEL = "memsim.pim.simulate_with_pim"
"""How host slowdown and PIM time are obtained (recorded as ``host_slowdown_model``/``pim_model``)."""


def simulate_window(dram: DramView, lines_start: np.ndarray, lines_count: np.ndarray, writes: np.ndarray,
                    window_s: float, job: list[WeightJob], stacks: int, n_sub: int,
                    max_requests: int) -> WindowSim:
    """Host traffic of one window with the PIM job for the next layer; see the module docstring."""
    c_tot = stacks * dram.channels
    # wrap: compacted addresses of a large model exceed the few simulated channels' capacity; dropping the
    # high (row) bits keeps the column/bank/channel pattern that decides row hits and bank parallelism
    # requests_per_clock = n_sub: the trace frontend offers one request per clock in all (Ramulator2
    # semantics); each simulated channel must get the per-channel rate the GPU offers it
    sub_ov = dram.overrides + [f"channels={n_sub}", "address_mapping=RoBaRaCoCh", "address_overflow=wrap",
                               f"requests_per_clock={n_sub}"]
    cfg = load_config(dram.name, overrides=sub_ov)
    # the slice does not depend on the PIM job, so a slower PIM can only add delay (see below)
    lines, w, frac = host_requests(lines_start, lines_count, writes, c_tot, n_sub, max_requests)
    n = len(lines)
    tick_ps = float(cfg.tick_ps)
    span_ticks = window_s * frac * 1e12 / tick_ps
    arrival = (np.arange(n, dtype=np.float64) * (span_ticks / max(n, 1))).astype(np.int64)
    addrs = lines * np.uint64(dram.tx_bytes)
    base = simulate(cfg, addrs, w, arrival=arrival)
    stats = {k: float(base[k]) for k in ("reads", "writes", "row_hits", "row_misses", "row_conflicts",
                                         "avg_read_latency_ns", "bandwidth_GBps", "time_ns") if k in base}
    if not job:
        return WindowSim(1.0, 0.0, stats, n)
    # the PIM job is not sliced: the simulated channels get their full share of every weight
    kernels = place_kernels(cfg, job, (c_tot, n_sub))
    both = simulate_with_pim(cfg, addrs, w, arrival, kernels)
    # host delay caused by PIM, in absolute time: the window lasts its roofline time plus this delay
    span_ns = window_s * frac * 1e9
    t0 = max(float(base["time_ns"]), span_ns)
    t1 = max(float(both["host_time_ns"]), span_ns)
    pim_ns = float(both["pim_done_ns"])
    delay_ns = max(0.0, t1 - t0)
    if pim_ns > span_ns > 0:
        # the job outlasts the slice: the backlog keeps growing while PIM runs; extrapolate linearly to
        # the part of the window the job covers (PIM time itself is then slightly low: no host traffic
        # after the slice)
        delay_ns *= min(pim_ns, window_s * 1e9) / span_ns
    slow = 1.0 + delay_ns * 1e-9 / window_s if window_s > 0 else 1.0
    return WindowSim(slow, pim_ns, stats, n)


def place_kernels(cfg: Any, job: list[WeightJob], share: tuple[int, int]) -> list[QuantizeKernel]:
    """QuantizeKernels for the simulated channels' share of a job, packed from address 0 upwards.

    Each region starts on a PIM row stride (row bytes x banks per pseudo-channel x pseudo-channels) and
    the next one starts after the previous region's footprint (``harness.memsim.pim.kernel_footprint``
    under the config's PIM policy); host traffic shares the address space (its timing, not its data,
    matters here).
    """
    geom = Geometry.from_cfg(cfg)
    stride = geom.row_bytes * geom.banks_per_pc * geom.pcs

    def up(x: int) -> int:
        return (x + stride - 1) // stride * stride

    c_tot, n_sub = share
    addr = 0
    out = []
    for j in job:
        # every channel holds ceil(1/c_tot) of the weight (whole rows forward, whole columns backward, so
        # blocks stay intact); the simulated channels hold n_sub such shares
        rows, cols = (math.ceil(j.rows / c_tot) * n_sub, j.cols) if j.direction == "forward" else \
            (j.rows, math.ceil(j.cols / c_tot) * n_sub)
        k = QuantizeKernel(addr, 0, rows, cols, j.src_dtype, j.fmt, j.direction, "row-major")
        dst = up(kernel_footprint(cfg, k).src_hi)
        k = QuantizeKernel(addr, dst, rows, cols, j.src_dtype, j.fmt, j.direction, "row-major")
        addr = up(kernel_footprint(cfg, k).dst_hi)
        out.append(k)
    return out


def streaming_efficiency(dram: DramView, n_requests: int = 16384) -> float:
    """Sustained / peak bandwidth of a sequential read stream on one channel of the simulator."""
    cfg = load_config(dram.name, overrides=dram.overrides + ["channels=1"])
    addrs = np.arange(n_requests, dtype=np.uint64) * np.uint64(dram.tx_bytes)
    st = simulate(cfg, addrs, np.zeros(n_requests, bool))
    return float(min(1.0, st["bandwidth_GBps"] / st["peak_bandwidth_GBps"]))
