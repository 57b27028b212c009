"""Time the accuracy study: seconds per optimizer step of `jitq train` for each format, and the study
time that implies (steps x formats, one process after the other; halve it for two parallel jobs on two
otherwise idle cores).

    python bench/bench_train.py --preset short --steps 30
    python bench/bench_train.py --preset full --steps 10 --formats fp32 MXFP8_E4M3 MX9

The first few steps include warm-up; the figure is an estimate, the record's `wall_s` is the truth.
"""

from __future__ import annotations

import argparse
import os
import time

ALL = ["fp32", "bf16", "MXFP8_E4M3", "MXFP8_E5M2", "MXFP6_E3M2", "MXFP6_E2M3", "MXFP4_E2M1", "MXINT8",
       "MX9", "MX6", "MX4"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="short")
    p.add_argument("--steps", type=int, default=30, help="steps timed per format")
    p.add_argument("--formats", nargs="+", default=ALL)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()

    from harness.train.corpus import load_corpus
    from harness.train.loop import PRESETS, preset, run_training

    base = PRESETS[args.preset]
    corpus = load_corpus(base.corpus_bytes, base.val_fraction)
    print(f"preset {args.preset}: {base.model}, batch {base.batch}, study steps {base.steps}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    run_training(preset(args.preset, steps=2, eval_every=2, eval_batches=1), corpus=corpus)  # warm-up
    total = 0.0
    for fmt in args.formats:
        # One validation batch only, so that the figure is the training step's cost.
        cfg = preset(args.preset, format=fmt, steps=args.steps, eval_every=args.steps, threads=args.threads,
                     eval_batches=1)
        t0, c0 = time.perf_counter(), time.process_time()
        rec = run_training(cfg, corpus=corpus).record
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        per_step = cpu / rec["steps_done"]  # CPU time: robust to other processes sharing the cores
        total += per_step * base.steps
        print(f"{fmt:12s} {per_step * 1e3:8.1f} ms CPU/step  {wall / rec['steps_done'] * 1e3:8.1f} ms wall/step"
              f"  -> {per_step * base.steps:7.1f} CPU s for {base.steps} steps")
    print(f"estimated study CPU time for these formats: {total / 60:.1f} min "
          f"(two parallel single-thread jobs on two idle cores: ~{total / 120:.1f} min wall)")


if __name__ == "__main__":
    main()
