"""``jitq report``: the workflow's report steps (aggregate, figure, dashboard) as commands, so each step
can be rerun by hand on existing results. Heavy imports (pandas, matplotlib) happen inside the steps."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _aggregate(args: argparse.Namespace) -> int:
    from harness.report.aggregate import aggregate

    grid = aggregate(args.records, args.out, args.csv, args.layers)
    print(f"{len(grid)} cells, {grid.shape[1]} columns -> {args.out}")
    return 0


def _figure(args: argparse.Namespace) -> int:
    import pandas as pd

    from harness.report import figures

    grid = pd.read_parquet(args.grid)
    layers = pd.read_parquet(args.layers) if args.layers else None
    figures.draw(args.name, grid, args.png, args.svg, layers=layers, fmt=args.format)
    print(f"{args.name} -> {args.png}, {args.svg}")
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    import pandas as pd

    from harness.report.dashboard import write_dashboard

    grid = pd.read_parquet(args.grid)
    accuracy = pd.read_parquet(args.accuracy) if args.accuracy else None
    loss_curves = args.loss_curves
    write_dashboard(
        grid,
        args.figures,
        args.out,
        headline_scheme=args.headline_scheme,
        accuracy=accuracy,
        extra_figures=[loss_curves] if loss_curves else [],
    )
    print(f"dashboard -> {args.out}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from harness.report.aggregate import RecordError

    try:
        return int(args.step(args))
    except (RecordError, FileNotFoundError, KeyError, ValueError) as e:
        print(f"jitq report {args.report_step}: error: {e}", file=sys.stderr)
        return 2


def register(subparsers: Any) -> None:
    from harness.report.figures import FIGURE_NAMES

    p = subparsers.add_parser(
        "report",
        help="aggregate run records, draw figures, build the dashboard (the workflow's report steps)",
        description="The report steps of the Snakemake grid. Each reads files and writes files.",
    )
    sub = p.add_subparsers(dest="report_step", metavar="STEP")
    sub.required = True

    a = sub.add_parser("aggregate", help="run records (JSON) -> tidy grid table (parquet, csv)")
    a.add_argument("records", nargs="+", help="jitq run JSON records, one per grid cell")
    a.add_argument("--out", required=True, help="grid table, parquet")
    a.add_argument("--csv", help="the same table as CSV")
    a.add_argument("--layers", help="per-layer table (parquet): one row per cell and layer")
    a.set_defaults(func=_run, step=_aggregate)

    f = sub.add_parser("figure", help="draw one figure (PNG and SVG) from the grid table")
    f.add_argument("name", choices=FIGURE_NAMES)
    f.add_argument("--grid", required=True, help="grid table (parquet)")
    f.add_argument("--layers", help="per-layer table (parquet), for pim_keeps_up")
    f.add_argument("--format", help="MX format shown by memory_by_category (default: first in the grid)")
    f.add_argument("--png", required=True)
    f.add_argument("--svg", required=True)
    f.set_defaults(func=_run, step=_figure)

    d = sub.add_parser("dashboard", help="one self-contained HTML page from the grid table and figures")
    d.add_argument("figures", nargs="*", help="PNG figures to embed")
    d.add_argument("--grid", required=True, help="grid table (parquet)")
    d.add_argument("--accuracy", help="accuracy table (parquet) from the accuracy study, optional")
    d.add_argument("--loss-curves", help="loss-curve figure (PNG) from the accuracy study, optional")
    d.add_argument("--headline-scheme", default="jitq-pim", choices=["jitq-gpu", "jitq-pim"])
    d.add_argument("--out", required=True, help="HTML file")
    d.set_defaults(func=_run, step=_dashboard)
