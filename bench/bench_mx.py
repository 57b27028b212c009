"""Throughput of the MX kernel: GB/s of float32 input for encode and quantize_dequantize.

Usage: python bench/bench_mx.py [--size-mib 64] [--repeats 3] [--axis -1] [--threads 0] [--formats ...]

Prints, per format, the best-of-N wall-clock GB/s (input bytes / time, timing the public API
harness.mx.encode / quantize_dequantize on a (N, 4096) float32 tensor, outputs allocated per call as
users see them), the process CPU-seconds per GB (threads add up), and the speed-up over the peers'
figures measured on this 2-core machine (issue 3): microxcaling 0.03-0.07 GB/s, torchao to_mx
0.07-0.27 GB/s, AMD Quark's C++ MX9 kernel 0.17 GB/s (ratios against the upper end, conservative).
Wall-clock figures depend on what else runs on the machine: the load average is printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import datetime, timezone

import numpy as np

import harness.mx as mx
from harness.mx.api import kernel

PEERS_GBPS = {"microxcaling": 0.07, "torchao": 0.27, "quark_mx9": 0.17}


def _time(fn, repeats: int) -> tuple[float, float]:
    """(best wall seconds, CPU seconds of that run) over ``repeats`` runs after one warm-up."""
    fn()
    best, best_cpu = float("inf"), 0.0
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        t, c = time.perf_counter() - t0, time.process_time() - c0
        if t < best:
            best, best_cpu = t, c
    return best, best_cpu


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=float, default=64.0, help="float32 input size (default 64 MiB)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--axis", type=int, default=-1, help="block axis of the (N, 4096) input")
    ap.add_argument("--threads", type=int, default=0, help="kernel threads (0: default = cores)")
    ap.add_argument("--isa", choices=["auto", "baseline", "avx2"], default="auto",
                    help="kernel build to run (auto: avx2 where the CPU has it)")
    ap.add_argument("--formats", nargs="*", default=list(mx.FORMATS))
    ap.add_argument("--json", help="also write the figures to this JSON file")
    args = ap.parse_args(argv)

    k = kernel()
    k.set_num_threads(args.threads)
    if args.isa != "auto" and not k.set_isa(args.isa):
        raise SystemExit(f"this CPU cannot run the {args.isa} build")
    cols = 4096
    rows = max(1, int(args.size_mib * 2**20 / 4 / cols))
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((rows, cols)) * np.exp2(rng.integers(-8, 8, (rows, 1)))).astype(np.float32)
    gb = x.nbytes / 1e9
    record = {
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, {platform.processor() or platform.platform()}",
        "threads": k.num_threads(),
        "isa": k.isa(),
        "shape": list(x.shape),
        "axis": args.axis,
        "loadavg_before": os.getloadavg()[0],
        "formats": {},
    }
    print(f"# MX kernel bench {record['date_utc']} UTC, {record['machine']}, threads={record['threads']}, "
          f"isa={record['isa']}, "
          f"input {x.nbytes / 2**20:.0f} MiB {x.shape} axis={args.axis}, "
          f"load average {record['loadavg_before']:.1f}")
    print(f"{'format':12s} {'encode GB/s':>12s} {'qdq GB/s':>9s} {'enc cpu-s/GB':>13s} {'qdq cpu-s/GB':>13s}"
          f" {'x microxcaling':>15s} {'x torchao':>10s} {'x quark':>8s}")
    for fmt in args.formats:
        te, ce = _time(lambda: mx.encode(x, fmt, args.axis), args.repeats)
        tq, cq = _time(lambda: mx.quantize_dequantize(x, fmt, args.axis), args.repeats)
        enc, qdq = gb / te, gb / tq
        slowest = min(enc, qdq)
        row = {
            "encode_GBps": enc,
            "qdq_GBps": qdq,
            "encode_cpu_s_per_GB": ce / gb,
            "qdq_cpu_s_per_GB": cq / gb,
            "speedup_vs_microxcaling": slowest / PEERS_GBPS["microxcaling"],
            "speedup_vs_torchao": slowest / PEERS_GBPS["torchao"] if fmt.startswith("MXFP") else None,
            "speedup_vs_quark_mx9": slowest / PEERS_GBPS["quark_mx9"] if fmt == "MX9" else None,
        }
        record["formats"][fmt] = row
        tq_s = f"{row['speedup_vs_torchao']:.0f}x" if row["speedup_vs_torchao"] else "-"
        qk_s = f"{row['speedup_vs_quark_mx9']:.0f}x" if row["speedup_vs_quark_mx9"] else "-"
        print(f"{fmt:12s} {enc:12.2f} {qdq:9.2f} {ce / gb:13.3f} {cq / gb:13.3f}"
              f" {row['speedup_vs_microxcaling']:14.0f}x {tq_s:>10s} {qk_s:>8s}")
    record["loadavg_after"] = os.getloadavg()[0]
    print(f"# load average after: {record['loadavg_after']:.1f} (2-core machine shared with other jobs)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(record, f, indent=2)
    return record


if __name__ == "__main__":
    main()
