"""``jitq capture``: record training steps of a zoo model into a trace directory."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "capture",
        help="record a training step (forward, backward, optimizer) into a trace directory",
        description="Record every aten op of whole training steps with its operands (traces/README.md).",
    )
    p.add_argument("--model", required=True, help="model name (e.g. gpt2-124m, llama2-7b, gpt2-tiny)")
    p.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
    p.add_argument("--seq", type=int, default=None, help="sequence length (default: the model's maximum)")
    p.add_argument("--mode", choices=["real", "fake"], default="real",
                   help="real: run on the CPU; fake: FakeTensorMode with modelled addresses (any size)")
    p.add_argument("--mx-forward", default=None, metavar="FMT", help="swap Linear layers for MXLinear with this forward format")
    p.add_argument("--mx-backward", default=None, metavar="FMT", help="MXLinear backward format")
    p.add_argument("--mx-mode", choices=["jit", "stored"], default="jit",
                   help="MXLinear mode: jit (quantize each step) or stored (directional copies kept and refreshed)")
    p.add_argument("--optimizer", choices=["adamw", "sgd"], default="adamw")
    p.add_argument("--master-dtype", choices=["fp32", "bf16"], default="fp32", help="parameter (and gradient) dtype")
    p.add_argument("--steps", type=int, default=1, help="training steps to record (default 1)")
    p.add_argument("--out", required=True, help="trace directory to write (replaced atomically)")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.set_defaults(func=run)


def _progress(t0: float, enabled: bool) -> Any:
    def show(rec: Any) -> None:
        if enabled:
            phase = ("forward", "backward", "optimizer")[rec.phase]
            print(f"  step {rec.step + 1} {phase:<9} done: {rec.n:>8,} ops, {len(rec.acc):>9,} accesses, "
                  f"{time.perf_counter() - t0:6.1f} s", file=sys.stderr, flush=True)
    return show


def run(args: argparse.Namespace) -> int:
    from harness.capture.run import CaptureError, capture
    from harness.capture.schema import TraceError
    from harness.models import ModelError, get_config

    try:
        cfg = get_config(args.model)
        seq = args.seq if args.seq is not None else cfg.max_seq
        t0 = time.perf_counter()
        if not args.quiet:
            print(f"jitq capture: {cfg.name} batch {args.batch} x seq {seq}, {args.mode} mode, {args.optimizer}, "
                  f"{args.steps} step(s) -> {args.out}", file=sys.stderr, flush=True)
        argv = ["jitq", "capture"] + (sys.argv[2:] if len(sys.argv) > 2 and sys.argv[1] == "capture" else [])
        out = capture(
            args.out, cfg.name, args.batch, seq, mode=args.mode, optimizer=args.optimizer,
            master_dtype=args.master_dtype, mx_forward=args.mx_forward, mx_backward=args.mx_backward,
            mx_mode=args.mx_mode, steps=args.steps, command_line=shlex.join(argv), progress=_progress(t0, not args.quiet),
        )
    except (ModelError, CaptureError, TraceError) as e:
        print(f"jitq capture: error: {e}", file=sys.stderr)
        return 2
    if not args.quiet:
        size = sum(f.stat().st_size for f in out.iterdir())
        print(f"jitq capture: wrote {out} ({size / 1e6:.2f} MB) in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)
    return 0
