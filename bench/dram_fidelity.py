"""Fidelity of the DRAM simulator against Ramulator 2.1 on the foundation issue's 1M-request traces.

Prints, per standard and trace: our accept time (in the reference's ticks), Ramulator 2.1's, the
difference, row hits / misses / conflicts of both, and our simulation speed. With --check it also replays
the command log of each run (or of its first --check-requests requests) through the independent timing
checker (tests/dram_checker.py). Used to fill the table in docs/validation.md.

    python bench/dram_fidelity.py [--n 1000000] [--check] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

# (standard, trace) -> Ramulator 2.1 accept ticks, row hits, misses, conflicts (issue 2 / DESIGN.md §9)
REFERENCE = {
    ("hbm3", "seq"): (4_534_261, 936_379, 22_922, 40_667),
    ("hbm3", "rand"): (7_306_797, 134, 109_228, 890_620),
    ("ddr4", "seq"): (5_352_993, 991_389, 8_579, 0),
    ("ddr4", "rand"): (7_026_592, 231, 98_085, 901_638),
}
RAMULATOR_REQ_PER_S = {("hbm3", "seq"): 209e3, ("hbm3", "rand"): 113e3, ("ddr4", "seq"): 287e3,
                       ("ddr4", "rand"): 188e3}
TICK_PS = {"hbm3": 312.5, "ddr4": 833.0}
OVERRIDES = {
    "hbm3": ["channels=1", "address_mapping=RoBaRaCoCh", "row_policy=open", "refresh=all-bank",
             "address_overflow=wrap"],
    "ddr4": ["channels=1", "address_mapping=RoBaRaCoCh", "row_policy=open", "refresh=all-bank"],
}


def traces(n: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    seq = (np.arange(n, dtype=np.uint64) * np.uint64(64), np.zeros(n, dtype=bool))
    rng = random.Random(1)
    lines = np.empty(n, dtype=np.uint64)
    writes = np.empty(n, dtype=bool)
    for i in range(n):
        lines[i] = rng.randrange(1 << 24)
        writes[i] = rng.random() < 0.3
    return {"seq": seq, "rand": (lines * np.uint64(64), writes)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="requests per trace")
    ap.add_argument("--check", action="store_true", help="replay command logs through the timing checker")
    ap.add_argument("--check-requests", type=int, default=1_000_000, help="requests whose log is checked")
    ap.add_argument("--json", help="write the rows as JSON here")
    a = ap.parse_args()

    from harness.memsim import load_config, simulate

    tr = traces(a.n)
    rows = []
    hdr = (f"{'std':5} {'trace':5} {'ours ticks':>12} {'Ramulator':>12} {'diff':>7}  "
           f"{'ours hit/miss/conflict':>26}  {'Ramulator hit/miss/conflict':>28} {'req/s wall':>10} {'req/s cpu':>10}")
    print(hdr)
    for (std, name), (ref_ticks, *ref_rows) in REFERENCE.items():
        cfg = load_config(std, overrides=OVERRIDES[std])
        addr, write = tr[name]
        t0, c0 = time.perf_counter(), time.process_time()
        st = simulate(cfg, addr, write)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        ticks = st["accept_cycles"] * st["tick_ps"] / TICK_PS[std]
        scale = a.n / 1_000_000
        diff = ticks / (ref_ticks * scale) - 1
        row = dict(standard=std, trace=name, requests=a.n, ticks=ticks, ramulator_ticks=ref_ticks * scale,
                   diff_pct=100 * diff, row_hits=st["row_hits"], row_misses=st["row_misses"],
                   row_conflicts=st["row_conflicts"], ramulator_rows=ref_rows, req_per_s=a.n / dt,
                   req_per_cpu_s=a.n / max(cpu, 1e-9), speedup=a.n / dt / RAMULATOR_REQ_PER_S[(std, name)],
                   cycles=st["cycles"],
                   avg_read_latency_ns=st.get("avg_read_latency_ns"))
        ours = f"{st['row_hits']:,}/{st['row_misses']:,}/{st['row_conflicts']:,}"
        refs = "/".join(f"{x:,}" for x in ref_rows)
        print(f"{std:5} {name:5} {ticks:12,.0f} {ref_ticks * scale:12,.0f} {100 * diff:+6.2f}%  {ours:>26}  "
              f"{refs:>28} {a.n / dt:10,.0f} {row['req_per_cpu_s']:10,.0f}")
        if a.check:
            import dram_checker as dc

            m = min(a.n, a.check_requests)
            with tempfile.TemporaryDirectory() as d:
                log = Path(d) / "cmd.csv"
                simulate(cfg, addr[:m], write[:m], command_log=str(log))
                t1, c1 = time.perf_counter(), time.process_time()
                rep = dc.check_log(log, dc.Device.from_config(cfg))
                row.update(checked_requests=m, checked_commands=rep.n_commands, violations=len(rep.violations),
                           check_s=time.perf_counter() - t1, check_cpu_s=time.process_time() - c1)
            print(f"      checker: {rep.n_commands:,} commands of {m:,} requests, {len(rep.violations)} "
                  f"violation(s), {row['check_s']:.1f} s wall, {row['check_cpu_s']:.1f} s cpu"
                  + ("" if rep.ok else "\n" + rep.summary(10)))
        rows.append(row)
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
