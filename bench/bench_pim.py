"""PIM quantize benchmark on ONE HBM3 pseudo-channel (issue 4).

Prints
1. PIM quantize throughput (source GB/s, cycle-level and analytic) per format x direction x layout;
2. host bandwidth and p99 read latency at host loads of 25/50/75% of the pseudo-channel's peak, with
   no kernel and with a concurrent quantize kernel under each policy (plus the kernel's time).

Run: ``python bench/bench_pim.py [--rows 1024 --cols 1024] [--src-dtype bf16] [--quick]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from harness.memsim import load_config
from harness.memsim.pim import (
    DIRECTIONS,
    LAYOUTS,
    Geometry,
    QuantizeKernel,
    analytic_kernel_time_ns,
    simulate_with_pim,
)
from harness.mx import FORMATS

NO_HOST = (np.zeros(0, np.uint64), np.zeros(0, bool), None)


def one_pc_config():
    """HBM3 reduced to one channel with one pseudo-channel (32 banks in 2 SIDs)."""
    return load_config("hbm3", ["channels=1", "pseudochannels=1"])


def stride(cfg) -> int:
    g = Geometry.from_cfg(cfg)
    return g.row_bytes * g.banks_per_pc * g.pcs


def throughput_table(cfg, rows: int, cols: int, src_dtype: str, formats: list[str]) -> None:
    s = stride(cfg)
    print(f"\n## PIM quantize throughput, one HBM3 pseudo-channel, {rows}x{cols} {src_dtype} weight")
    print(f"{'format':12s} {'direction':9s} {'layout':9s} {'sim GB/s':>9s} {'analytic GB/s':>13s} {'sim us':>8s} {'gap':>6s}")
    for fmt in formats:
        for d in DIRECTIONS:
            for lay in LAYOUTS:
                k = QuantizeKernel(0, 1024 * s, rows, cols, src_dtype, fmt, d, lay)
                st = simulate_with_pim(cfg, *NO_HOST, [k])
                t_sim = st["pim_kernel_ns"][0]
                t_ana = analytic_kernel_time_ns(cfg, k)
                print(f"{fmt:12s} {d:9s} {lay:9s} {k.src_bytes / t_sim:9.1f} {k.src_bytes / t_ana:13.1f} "
                      f"{t_sim / 1e3:8.1f} {t_sim / t_ana - 1:+6.1%}")


def host_trace(cfg, n: int, load: float, seed: int, sid0_only: bool,
               burst: int = 16) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """GPU-like host traffic: bursts of `burst` consecutive 32-byte accesses (one DRAM row segment) at
    random row-aligned places, 30% of bursts writes, Poisson arrivals at `load` x the peak request rate."""
    rng = np.random.default_rng(seed)
    g = Geometry.from_cfg(cfg)
    cap = int(cfg.org["capacity_bytes"])
    n_burst = -(-n // burst)
    base = rng.integers(0, cap // (burst * g.tx_bytes), n_burst, dtype=np.int64) * (burst * g.tx_bytes)
    a = (base[:, None] + np.arange(burst, dtype=np.int64) * g.tx_bytes).reshape(-1)[:n]
    if sid0_only:  # RoBaRaCoCh: tx | channel | column | pseudochannel | SID | ...
        bit = (int(np.log2(g.tx_bytes)) + int(np.log2(cfg.channels)) + int(np.log2(g.cols_per_row))
               + int(np.log2(g.pseudochannels)))
        a &= ~np.int64(1 << bit)
    w = np.repeat(rng.random(n_burst) < 0.3, burst)[:n]
    peak_req_per_ns = cfg.peak_bandwidth_GBps / g.tx_bytes
    gap_ticks = 1.0 / (load * peak_req_per_ns) / (cfg.tick_ps / 1000.0)
    arrival = np.cumsum(rng.exponential(gap_ticks, n)).astype(np.int64)
    return a.astype(np.uint64), w, arrival


def host_table(cfg, rows: int, cols: int, src_dtype: str, fmt: str, host_us: float) -> None:
    s = stride(cfg)
    kernel = QuantizeKernel(0, 1024 * s, rows, cols, src_dtype, fmt, "forward", "row-major")
    alone = simulate_with_pim(cfg, *NO_HOST, [kernel])["pim_kernel_ns"][0]
    host_us = host_us if host_us > 0 else 2.0 * alone / 1e3
    print(f"\n## Host traffic vs a concurrent {fmt} forward quantize ({rows}x{cols} {src_dtype}; "
          f"alone {alone / 1e3:.1f} us), one HBM3 pseudo-channel, peak {cfg.peak_bandwidth_GBps:.1f} GB/s")
    print(f"host traffic: {host_us:.0f} us of arrivals from t=0 (the kernel starts at t=0 too); "
          "bank-partition: PIM owns SID 1, host traffic is confined to SID 0 (its baseline likewise)")
    print(f"{'load':>5s} {'policy':16s} {'host GB/s':>9s} {'p99 rd ns':>9s} {'avg rd ns':>9s} {'PIM us':>8s} {'PIM slowdown':>12s}")
    cases = [("none", "blocking", False), ("blocking", "blocking", False),
             ("interleave-low", "interleave", False), ("interleave-high", "interleave", False),
             ("none (SID 0)", "bank-partition", True), ("bank-partition", "bank-partition", True)]
    for load in (0.25, 0.50, 0.75):
        n_host = int(load * cfg.peak_bandwidth_GBps / 32 * host_us * 1e3)
        for label, policy, sid0 in cases:
            a, w, arr = host_trace(cfg, n_host, load, seed=11, sid0_only=sid0)
            ks = [] if label.startswith("none") else [kernel]
            over = {"priority": "high"} if label == "interleave-high" else None
            st = simulate_with_pim(cfg, a, w, arr, ks, policy=policy, pim_overrides=over)
            host_ns = st["host_time_ns"]
            gbps = (st["reads"] + st["writes"]) * 32 / host_ns if host_ns else 0.0
            pim = st["pim_kernel_ns"][0] if ks else float("nan")
            slow = f"{pim / alone:11.2f}x" if ks else f"{'-':>12s}"
            print(f"{load:5.0%} {label:16s} {gbps:9.2f} {st['p99_read_latency_ns']:9.1f} "
                  f"{st['avg_read_latency_ns']:9.1f} {pim / 1e3:8.1f} {slow}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1024)
    ap.add_argument("--cols", type=int, default=1024)
    ap.add_argument("--src-dtype", default="bf16", choices=["bf16", "fp32"])
    ap.add_argument("--host-us", type=float, default=0.0,
                    help="duration of the host arrivals (default: twice the kernel's time alone)")
    ap.add_argument("--quick", action="store_true", help="three formats only")
    args = ap.parse_args()
    cfg = one_pc_config()
    t0 = time.time()
    fmts = ["MXFP8_E4M3", "MXFP4_E2M1", "MX9"] if args.quick else sorted(FORMATS)
    throughput_table(cfg, args.rows, args.cols, args.src_dtype, fmts)
    host_table(cfg, args.rows, args.cols, args.src_dtype, "MX9", args.host_us)
    print(f"\n(wall time {time.time() - t0:.1f} s)")


if __name__ == "__main__":
    main()
