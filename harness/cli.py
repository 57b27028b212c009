"""The ``jitq`` command line. Each subcommand lives in the module that owns its work and
registers itself here, so ``jitq --help`` lists everything the package can do."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from harness import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jitq",
        description="JIT-Q harness: MX quantization in HBM-PIM vs stored low-precision weight copies.",
    )
    parser.add_argument("--version", action="version", version=f"jitq {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    from harness.memsim import cli as memsim_cli

    memsim_cli.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
