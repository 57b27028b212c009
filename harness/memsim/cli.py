"""``jitq sim``: run a memory trace through the DRAM simulator."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sim", help="simulate a LoadStoreTrace on a DRAM preset")
    p.add_argument("--dram", required=True, help="DRAM preset YAML (configs/dram/*.yaml)")
    p.add_argument("--trace", required=True, help="LoadStoreTrace file (LD/ST lines)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    p.add_argument("--json", action="store_true", help="print stats as JSON")
    p.add_argument("--command-log", metavar="FILE", help="write the DRAM command log (CSV)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise SystemExit("jitq sim: the simulator front end is not built yet")
