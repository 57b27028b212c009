"""``jitq sim``: run a memory trace through the DRAM simulator."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sim", help="simulate a LoadStoreTrace on a DRAM preset")
    p.add_argument("--dram", required=True, help="DRAM preset name (hbm3, hbm2e, ddr4) or YAML path (configs/dram/*.yaml)")
    p.add_argument("--trace", required=True, help="LoadStoreTrace file (LD/ST lines)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    p.add_argument("--json", action="store_true", help="print stats as JSON")
    p.add_argument("--command-log", metavar="FILE", help="write the DRAM command log (CSV)")
    p.set_defaults(func=run)


def _format(stats: dict) -> str:
    lines = [f"{stats['standard']} x{stats['channels']} channel(s), tick {stats['tick_ps']} ps"]
    for key in ("reads", "writes", "accept_cycles", "cycles", "time_ns", "row_hits", "row_misses", "row_conflicts",
                "avg_read_latency_ns", "p99_read_latency_ns", "bandwidth_GBps", "peak_bandwidth_GBps"):
        v = stats[key]
        lines.append(f"  {key:22} {v:,.3f}" if isinstance(v, float) else f"  {key:22} {v:,}")
    cmds = ", ".join(f"{k} {v:,}" for k, v in stats["commands"].items() if v)
    lines.append(f"  {'commands':22} {cmds}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from harness.memsim import ConfigError, TraceError, load_config, read_loadstore_trace, simulate

    try:
        cfg = load_config(args.dram, args.set)
        addrs, is_write = read_loadstore_trace(args.trace)
        stats = simulate(cfg, addrs, is_write, command_log=args.command_log)
    except (ConfigError, TraceError) as e:
        print(f"jitq sim: error: {e}", file=sys.stderr)
        return 2
    except (ValueError, OSError, IndexError, RuntimeError) as e:
        print(f"jitq sim: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(stats, indent=2, sort_keys=True) if args.json else _format(stats))
    return 0
