"""Speed and fidelity benchmark of the DRAM simulator on the issue's four 1M-request traces.

Prints simulated requests per second, the ratio to Ramulator 2.1's rate on the same 2-core machine,
and accept_cycles against Ramulator 2.1's (DESIGN.md section 9). The traces are generated with numpy /
Python's random (the issue's recipe) and cached under build/bench-traces (not in git).

    python bench/bench_dram.py [--requests N] [--repeat R] [--only hbm3-seq,...]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

# One BLAS thread: OpenBLAS's idle worker threads otherwise spin on the shared cores and skew timings.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.memsim import load_config, simulate  # noqa: E402

# Ramulator 2.1 on this machine (issue 2 / DESIGN.md section 9): ticks, hits/misses/conflicts, req/s.
REFERENCE = {
    "hbm3-seq": dict(ticks=4_534_261, hmc=(936_379, 22_922, 40_667), rate=209e3),
    "hbm3-rand": dict(ticks=7_306_797, hmc=(134, 109_228, 890_620), rate=113e3),
    "ddr4-seq": dict(ticks=5_352_993, hmc=(991_389, 8_579, 0), rate=287e3),
    "ddr4-rand": dict(ticks=7_026_592, hmc=(231, 98_085, 901_638), rate=188e3),
}


def sequential(n: int) -> tuple[np.ndarray, np.ndarray]:
    """LD of address i*64 for i < n."""
    return np.arange(n, dtype=np.uint64) * np.uint64(64), np.zeros(n, dtype=bool)


def random_trace(n: int, cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """rng = random.Random(1); per request line = rng.randrange(2**24), write = rng.random() < 0.3."""
    f = cache / f"random-{n}.npz"
    if f.exists():
        z = np.load(f)
        return z["addrs"], z["is_write"]
    rng = random.Random(1)
    addrs = np.empty(n, dtype=np.uint64)
    wr = np.empty(n, dtype=bool)
    for i in range(n):
        addrs[i] = rng.randrange(2**24) * 64
        wr[i] = rng.random() < 0.3
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(f, addrs=addrs, is_write=wr)
    return addrs, wr


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="runs per case; the best time is reported")
    ap.add_argument("--only", default="", help="comma-separated cases (hbm3-seq,hbm3-rand,ddr4-seq,ddr4-rand)")
    ap.add_argument("--cache", default=str(REPO / "build" / "bench-traces"))
    args = ap.parse_args(argv)
    n = args.requests
    cases = [c for c in REFERENCE if not args.only or c in args.only.split(",")]
    print("req/s = requests / wall time (best of --repeat); cpu req/s = requests / process CPU time (less")
    print("sensitive to other load on the machine). Ramulator 2.1's rates were measured on this 2-core machine.")
    print(f"{'case':10} {'accept_cycles':>14} {'ramulator':>11} {'diff':>7}  {'hits/misses/conflicts':>28}  "
          f"{'req/s':>10} {'x ram.':>7} {'cpu req/s':>10} {'x ram.':>7}")
    for case in cases:
        std, kind = case.split("-")
        cfg = load_config(std, ["address_overflow=wrap"])
        addrs, wr = sequential(n) if kind == "seq" else random_trace(n, Path(args.cache))
        best = best_cpu = float("inf")
        stats = {}
        for _ in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            stats = simulate(cfg, addrs, wr)
            best = min(best, time.perf_counter() - t0)
            best_cpu = min(best_cpu, time.process_time() - c0)
        ref = REFERENCE[case]
        scale = n / 1_000_000
        ref_ticks = ref["ticks"] * scale
        diff = (stats["accept_cycles"] - ref_ticks) / ref_ticks * 100
        rate = n / best
        rate_cpu = n / max(best_cpu, 1e-9)
        hmc = f"{stats['row_hits']}/{stats['row_misses']}/{stats['row_conflicts']}"
        print(f"{case:10} {stats['accept_cycles']:>14,} {int(ref_ticks):>11,} {diff:>+6.2f}%  {hmc:>28}  "
              f"{rate:>10,.0f} {rate / ref['rate']:>6.1f}x {rate_cpu:>10,.0f} {rate_cpu / ref['rate']:>6.1f}x")
        if n == 1_000_000:
            print(f"{'':10} Ramulator 2.1 hits/misses/conflicts: {'/'.join(map(str, ref['hmc']))}; "
                  f"avg read latency {stats['avg_read_latency_ticks']:.0f} ticks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
