"""``simulate()``: one batch of requests through the C++ simulator, returning contract-A stats."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .config import ConfigError, DramConfig


def _as_arrays(
    cfg: DramConfig, addrs: Any, is_write: Any, arrival: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    a = np.ascontiguousarray(addrs)
    if a.ndim != 1:
        raise ValueError("addrs must be a 1-D array")
    if a.dtype.kind == "i" and a.size and int(a.min()) < 0:
        raise ValueError("addrs must be non-negative")
    if a.dtype.kind not in "ui":
        raise ValueError(f"addrs must be integers, got {a.dtype}")
    a = a.astype(np.uint64, copy=False)
    w = np.ascontiguousarray(is_write)
    if w.shape != a.shape:
        raise ValueError("is_write must have the same shape as addrs")
    w = w.astype(np.uint8, copy=False)
    arr = None
    if arrival is not None:
        arr = np.ascontiguousarray(arrival)
        if arr.shape != a.shape or arr.dtype.kind not in "ui":
            raise ValueError("arrival must be an integer array shaped like addrs (ticks)")
        arr = arr.astype(np.int64, copy=False)
        if arr.size > 1 and bool(np.any(np.diff(arr) < 0)):
            raise ValueError("arrival times must be non-decreasing")
    if cfg.get("address_overflow") == "error" and a.size:
        cap = cfg.org["capacity_bytes"]
        bad = np.flatnonzero(a >= np.uint64(cap))
        if bad.size:
            i = int(bad[0])
            raise ConfigError(
                f"request {i}: address {int(a[i]):#x} is beyond the capacity of {cfg.source} "
                f"({cap} bytes = {cap >> 20} MiB); set address_overflow=wrap to drop the high bits"
            )
    return a, w, arr


def simulate(
    cfg: DramConfig,
    addrs: Any,
    is_write: Any,
    arrival: Any = None,
    command_log: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Run requests (byte addresses; one column access each) and return the stats dict of contract A.

    ``arrival`` (ticks, non-decreasing) delays when each request may be offered; ``None`` offers one
    request per memory clock as Ramulator2's trace frontend does. The command log (CSV) is written to a
    temporary file and renamed into place only when the run succeeds.
    """
    from harness import _dram

    a, w, arr = _as_arrays(cfg, addrs, is_write, arrival)
    with atomic_command_log(command_log) as log_path:
        raw = _dram.simulate(cfg.engine_config(), a, w, arr, log_path)
    return _stats(cfg, raw)


@contextmanager
def atomic_command_log(command_log: str | os.PathLike[str] | None) -> Iterator[str]:
    """Yield the path the engine should write its command log to ("" for no log).

    The engine writes a temporary file beside ``command_log`` that is renamed into place only when
    the block succeeds, so a failed run never leaves a partial log that looks like a finished one.
    """
    if command_log is None:
        yield ""
        return
    target = Path(command_log)
    if not target.parent.is_dir():
        raise FileNotFoundError(f"command log directory does not exist: {target.parent}")
    fd, log_tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield log_tmp
        os.replace(log_tmp, command_log)
        log_tmp = ""
    finally:
        if log_tmp and os.path.exists(log_tmp):
            os.unlink(log_tmp)


def _stats(cfg: DramConfig, raw: dict[str, Any]) -> dict[str, Any]:
    tick_ps = float(raw["tick_ps"])
    cycles = int(raw["cycles"])
    time_ns = cycles * tick_ps / 1000.0
    reads, writes = int(raw["reads"]), int(raw["writes"])
    moved = (reads + writes) * int(raw["tx_bytes"])
    return {
        "cycles": cycles,
        "accept_cycles": int(raw["accept_cycles"]),
        "tick_ps": tick_ps,
        "reads": reads,
        "writes": writes,
        "row_hits": int(raw["row_hits"]),
        "row_misses": int(raw["row_misses"]),
        "row_conflicts": int(raw["row_conflicts"]),
        "avg_read_latency_ns": float(raw["avg_read_latency_ticks"]) * tick_ps / 1000.0,
        "p99_read_latency_ns": float(raw["p99_read_latency_ticks"]) * tick_ps / 1000.0,
        "bandwidth_GBps": moved / time_ns if time_ns > 0 else 0.0,
        "peak_bandwidth_GBps": cfg.peak_bandwidth_GBps,
        "commands": {str(k): int(v) for k, v in raw["commands"].items()},
        "time_ns": time_ns,
        # extras
        "accept_time_ns": int(raw["accept_cycles"]) * tick_ps / 1000.0,
        "avg_read_latency_ticks": float(raw["avg_read_latency_ticks"]),
        "read_forwarded": int(raw["read_forwarded"]),
        "write_coalesced": int(raw["write_coalesced"]),
        "ticks_simulated": int(raw["ticks_simulated"]),
        "standard": cfg.standard,
        "channels": cfg.channels,
    }
