"""Capture benchmarks (issue 5): recorder overhead on a ~10M-parameter GPT-2 training step on the CPU
(target <= 15%), and a fake-mode GPT-3 175B step at batch 1 x 2048 captured and written (target
<= 60 s), with peak memory. Prints figures; run with ``python bench/bench_capture.py``.

Overhead figures: plain, logger and recorded steps run interleaved, one of each per round, the order
alternating from round to round, so a change in machine load hits all three alike. The headline is
the best-of-rounds overhead (best recorded / best plain); beside it are the ratio of the medians and
the median of the per-round paired ratios (recorded / plain within the same round), which is the
figure least moved by load that comes and goes. The load average is printed at the start and the end:
on a busy machine (load above the number of cores) wall times, and so all three figures, are inflated."""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path


def bench_fake_gpt3(model: str, batch: int, seq: int) -> None:
    from harness.capture import capture, read_trace

    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "trace"
        t0, c0 = time.perf_counter(), time.process_time()
        capture(out, model, batch, seq, mode="fake", command_line="bench_capture")
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        size = sum(f.stat().st_size for f in out.iterdir())
        tr = read_trace(out)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ph = tr.ops["phase"].value_counts()
    print(f"fake {model} step at {batch} x {seq}: {len(tr.ops):,} ops "
          f"(forward {ph.get('forward', 0):,}, backward {ph.get('backward', 0):,}, optimizer {ph.get('optimizer', 0):,}), "
          f"{len(tr.accesses):,} accesses, {len(tr.tensors):,} storages, {size / 1e6:.2f} MB written")
    print(f"  captured + written in {wall:.1f} s wall ({cpu:.1f} s CPU), target <= 60 s; "
          f"peak RSS {rss:.0f} MiB (getrusage, whole process so far)")
    reserved = tr.header.get("allocator", {}).get("reserved_bytes", 0)
    print(f"  allocator model reserved {reserved / 2**30:.1f} GiB")


def bench_overhead(repeats: int, threads: int | None) -> None:
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    class PlainLogger(TorchDispatchMode):
        """The issue's reference point: a plain TorchDispatchMode that logs each op's name."""

        def __init__(self) -> None:
            super().__init__()
            self.names: list[str] = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            self.names.append(func.name())
            return func(*args, **(kwargs or {}))

    if threads:
        torch.set_num_threads(threads)

    from harness.capture.recorder import Recorder
    from harness.capture.run import make_optimizer, training_step
    from harness.capture.tables import build_tables
    from harness.models import ModelConfig, build_model, make_batch, param_count

    cfg = ModelConfig("gpt2-10m", "gpt2", 10, 256, 8, 1024, 8192, 256, source="bench")
    model = build_model(cfg)
    opt = make_optimizer("adamw", list(model.parameters()))
    x, y = make_batch(cfg, 4, 128)
    for _ in range(3):  # warm up (first steps allocate optimizer state, warm the allocator)
        training_step(model, opt, x, y)
    plain, recd, tables, plain_cpu, recd_cpu, logged = [], [], [], [], [], []
    n_ops = 0

    def run_plain() -> None:
        t, c = time.perf_counter(), time.process_time()
        training_step(model, opt, x, y)
        plain.append(time.perf_counter() - t)
        plain_cpu.append(time.process_time() - c)

    def run_recorded() -> None:
        nonlocal n_ops
        rec = Recorder(model=model)
        t, c = time.perf_counter(), time.process_time()
        with rec:
            training_step(model, opt, x, y, rec)
        recd.append(time.perf_counter() - t)
        recd_cpu.append(time.process_time() - c)
        rec.finish()
        t = time.perf_counter()
        ops, _acc, _ten = build_tables(rec)
        tables.append(time.perf_counter() - t)
        n_ops = len(ops)

    def run_logger() -> None:
        t = time.perf_counter()
        with PlainLogger():
            training_step(model, opt, x, y)
        logged.append(time.perf_counter() - t)

    runs = (run_plain, run_logger, run_recorded)
    for i in range(repeats):  # interleaved, order alternating, so load changes and order effects hit all alike
        for run in (runs if i % 2 == 0 else runs[::-1]):
            run()
    p, r, lg = min(plain), min(recd), min(logged)
    med = statistics.median
    paired_r = med(b / a for a, b in zip(plain, recd))  # recorded / plain of the same round
    paired_lg = med(b / a for a, b in zip(plain, logged))
    print(f"recorder overhead, GPT-2 {param_count(cfg) / 1e6:.1f}M params, batch 4 x 128, AdamW, "
          f"{torch.get_num_threads()} threads, {n_ops} ops/step, best of {repeats}:")
    print(f"  plain step {p * 1e3:.1f} ms (median {statistics.median(plain) * 1e3:.1f}), recorded "
          f"{r * 1e3:.1f} ms (median {statistics.median(recd) * 1e3:.1f}): overhead {100 * (r / p - 1):+.1f}% "
          f"(median {100 * (statistics.median(recd) / statistics.median(plain) - 1):+.1f}%), target <= 15%")
    print(f"  median of per-round paired ratios (same round): recorded {100 * (paired_r - 1):+.1f}%, "
          f"logger {100 * (paired_lg - 1):+.1f}%")
    print(f"  for reference, a plain TorchDispatchMode logger (op names only): {lg * 1e3:.1f} ms, "
          f"overhead {100 * (lg / p - 1):+.1f}% (median {100 * (statistics.median(logged) / statistics.median(plain) - 1):+.1f}%)")
    pc, rc = min(plain_cpu), min(recd_cpu)
    print(f"  CPU time (all threads): plain {pc * 1e3:.1f} ms, recorded {rc * 1e3:.1f} ms: overhead {100 * (rc / pc - 1):+.1f}%")
    print(f"  recorder cost per op (best difference / ops): wall {(r - p) / n_ops * 1e6:.1f} us, CPU {(rc - pc) / n_ops * 1e6:.1f} us")
    print(f"  building the tables afterwards: {min(tables) * 1e3:.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--model", default="gpt3-175b")
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=None, help="torch threads for the overhead step (default: torch's)")
    ap.add_argument("--skip-fake", action="store_true")
    ap.add_argument("--skip-overhead", action="store_true")
    a = ap.parse_args()
    print("load average at start: %.1f %.1f %.1f (other work on this machine inflates wall times)" % os.getloadavg())
    if not a.skip_fake:
        bench_fake_gpt3(a.model, 1, a.seq)
    if not a.skip_overhead:
        bench_overhead(a.repeats, a.threads)
    print("load average at end: %.1f %.1f %.1f" % os.getloadavg())


if __name__ == "__main__":
    main()
