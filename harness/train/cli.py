"""``jitq train``: one run of the accuracy study (a byte-level GPT on the stdlib sources) -> JSON record."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train the small byte-level GPT with MX (or fp32/bf16) and record its loss curves",
        description="Train a small GPT-style byte-level LM on the Python stdlib sources with MXLinear "
        "everywhere (or an fp32/bf16 baseline); write the loss curves as a JSON record.",
    )
    p.add_argument("--format", required=True, help="fp32, bf16, or an MX format (MXFP8_E4M3, MX9, ...)")
    p.add_argument("--backward-format", help="MX format of the backward GEMMs (default: --format)")
    p.add_argument("--steps", type=int, help="optimizer steps (default: the preset's)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights and batches (default 0)")
    p.add_argument("--eval-every", type=int, help="validate every K steps (default: the preset's)")
    p.add_argument("--preset", default="short", help="model/batch size: tiny, short (default), full")
    p.add_argument("--mode", choices=("jit", "stored"), default="jit",
                   help="MX weight copies: quantize at each use (jit) or store and refresh after each step")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1; part of the record)")
    p.add_argument("--batch", type=int, help="sequences per step (default: the preset's)")
    p.add_argument("--lr", type=float, help="peak learning rate (default: the preset's)")
    p.add_argument("--corpus-bytes", type=int, help="corpus size cap in bytes (default: the preset's)")
    p.add_argument("--out", required=True, help="output JSON file (written atomically)")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.set_defaults(func=run)


def _progress(stream):  # noqa: ANN001, ANN202
    """A one-line display on a terminal; one line per validation point otherwise (logs, Snakemake)."""
    tty = stream.isatty()
    state = {"val": None}

    def show(step: int, steps: int, loss: float, val: float | None, elapsed: float) -> None:
        if val is not None:
            state["val"] = val
        rate = step / elapsed if elapsed > 0 else 0.0
        eta = (steps - step) / rate if rate > 0 else 0.0
        v = f"{state['val']:.4f}" if state["val"] is not None else "-"
        line = (f"step {step:>6}/{steps} loss {loss:.4f} val {v} "
                f"{rate:6.2f} step/s eta {eta:6.0f}s")
        if tty:
            stream.write("\r" + line)
            if step == steps:
                stream.write("\n")
        elif val is not None:
            stream.write(line + "\n")
        stream.flush()

    return show


def run(args: argparse.Namespace) -> int:
    from harness.train.loop import preset, run_training
    from harness.train.record import write_record

    try:
        cfg = preset(
            args.preset, format=args.format, backward_format=args.backward_format, steps=args.steps,
            seed=args.seed, eval_every=args.eval_every, mode=args.mode, threads=args.threads,
            batch=args.batch, lr=args.lr, corpus_bytes=args.corpus_bytes,
        )
        cfg.validate()
    except ValueError as e:
        print(f"jitq train: {e}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(f"jitq train: {cfg.format} (backward {cfg.effective_backward_format}), preset {args.preset}, "
              f"{cfg.steps} steps, seed {cfg.seed}", file=sys.stderr)
    result = run_training(cfg, progress=None if args.quiet else _progress(sys.stderr))
    rec = result.record
    rec["preset"] = args.preset
    rec["command_line"] = " ".join(["jitq", *sys.argv[1:]]) if sys.argv else "jitq train"
    write_record(rec, args.out)
    if not args.quiet:
        fv = rec["final_val_loss"]
        print(f"jitq train: final val loss {fv if fv is None else round(fv, 4)} "
              f"({rec['wall_s']:.1f} s) -> {args.out}", file=sys.stderr)
    return 0
