"""The ``jitq`` command line. Each subcommand lives in the module that owns its work and
registers itself here, so ``jitq --help`` lists everything the package can do."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from harness import __version__


# Each module here has ``register(subparsers)``; keep heavy imports (torch, pandas) inside the
# subcommand's run function so that ``jitq --help`` stays fast.
SUBCOMMAND_MODULES: list[str] = [
    "harness.memsim.cli",  # jitq sim
    "harness.jitq.cli",  # jitq run
    "harness.report.cli",  # jitq report
    "harness.train.cli",  # jitq train
    "harness.capture.cli",  # jitq capture
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jitq",
        description="JIT-Q harness: MX quantization in HBM-PIM vs stored low-precision weight copies.",
    )
    parser.add_argument("--version", action="version", version=f"jitq {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    import importlib

    for module in SUBCOMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # `jitq ... | head` should end quietly, as Unix tools do, not with a BrokenPipeError traceback.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
