"""``jitq run``: one grid cell to one JSON record (heavy imports happen inside ``_run``)."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("run", help="run one grid cell (capacity + iteration time) to a JSON record",
                              description="Capacity and throughput of one model x format x scheme x GPU x DRAM cell.")
    p.add_argument("--model", required=True)
    p.add_argument("--format", required=True, help="forward MX format (e.g. MXFP8_E4M3, MX9)")
    p.add_argument("--backward-format", default=None, help="backward MX format (default: --format)")
    p.add_argument("--scheme", required=True, choices=["stored", "jitq-gpu", "jitq-pim"])
    p.add_argument("--gpu", required=True, help="GPU preset (configs/gpus) or YAML path")
    p.add_argument("--dram", required=True, help="DRAM preset (configs/dram) or YAML path")
    p.add_argument("--recipe", default="paper-jitq", help="precision recipe (configs/recipes) or YAML path")
    p.add_argument("--trace", default=None, help="trace directory; default: fake-mode capture cached in "
                   "$JITQ_CACHE_DIR or ~/.cache/jitq/traces")
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--seq", type=int, default=None)
    p.add_argument("--prefetch-depth", type=int, default=1)
    p.add_argument("--channel-subset", type=int, default=1, help="channels simulated per window")
    p.add_argument("--max-requests", type=int, default=50_000, help="requests per simulated window slice")
    p.add_argument("--set", dest="dram_overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="DRAM config override (repeatable), e.g. pim.command_interval=8")
    p.add_argument("--eff", dest="efficiency", action="append", default=[], metavar="KEY=VALUE",
                   help="roofline efficiency override (gemm, memory, vector, launch_s), repeatable")
    p.add_argument("--stream-from-simulator", action="store_true",
                   help="derate GPU quantization passes by the DRAM simulator's streaming efficiency")
    p.add_argument("--out", required=True, help="output JSON file (written atomically)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from harness.jitq.cell import run_cell, write_record
    from harness.jitq.errors import JitqError
    from harness.jitq.pimwindows import SimulatorMissingError

    try:
        eff: dict[str, float] = {}
        for item in args.efficiency:
            k, sep, v = item.partition("=")
            try:
                eff[k.strip()] = float(v)
            except ValueError:
                raise JitqError(f"--eff {item!r}: expected KEY=NUMBER") from None
            if not sep:
                raise JitqError(f"--eff {item!r}: expected KEY=NUMBER")
        rec = run_cell(model=args.model, format=args.format, backward_format=args.backward_format,
                       scheme=args.scheme, gpu=args.gpu, dram=args.dram, recipe=args.recipe, trace=args.trace,
                       batch=args.batch, seq=args.seq, prefetch_depth=args.prefetch_depth,
                       channel_subset=args.channel_subset, max_requests=args.max_requests,
                       dram_overrides=args.dram_overrides, efficiency=eff or None,
                       stream_from_simulator=args.stream_from_simulator,
                       progress=not args.quiet)
    except (JitqError, SimulatorMissingError) as exc:
        print(f"jitq run: error: {exc}", file=sys.stderr)
        return 2
    write_record(rec, args.out)
    return 0
