"""The JIT-Q experiment: for one grid cell (model x MX format x scheme x GPU x DRAM x recipe), how many
bytes training holds and how long an iteration takes.

Modules: ``presets`` (recipes, GPUs, dtypes, MX format sizes), ``workload`` (a captured trace turned
into layer windows and per-op byte/FLOP tables), ``capacity`` (live bytes by category), ``gpumodel``
(roofline), ``pimwindows`` (per-layer DRAM + PIM simulation), ``schemes`` (iteration time of stored,
jitq-gpu, jitq-pim), ``scaling`` (largest model that fits), ``cell`` (``run_cell`` and the JSON
record), ``synthetic`` (analytic transformer traces for tests), ``cli`` (``jitq run``).
"""

from __future__ import annotations

from typing import Any

from harness.jitq.errors import JitqError

__all__ = ["run_cell", "JitqError", "SCHEMES"]

SCHEMES = ("stored", "jitq-gpu", "jitq-pim")


def run_cell(**params: Any) -> dict[str, Any]:
    """Run one grid cell and return its flat record (see :func:`harness.jitq.cell.run_cell`)."""
    from harness.jitq.cell import run_cell as _run

    return _run(**params)
