"""PIM quantize kernels in the DRAM simulator: requests, analytic cost, functional image, timing runs.

Public API (contract B, plus documented additions; docs/pim.md)::

    from harness.memsim.pim import QuantizeKernel, analytic_kernel_time_ns, simulate_with_pim
    from harness.memsim.pim import MemoryImage, PimConfig, PimError, kernel_footprint

* :class:`QuantizeKernel` - one request (weight at ``src``, MX copy to ``dst``).
* :func:`analytic_kernel_time_ns` - GeniePIM-style closed-form time of one kernel on the whole device.
* :class:`MemoryImage` - the functional mode: a sparse byte image; ``run_quantize`` writes exactly
  ``harness.mx.encode(W, fmt, axis=1 if forward else 0)``'s scale bytes then element bytes at ``dst``.
* :func:`simulate_with_pim` - cycle-level run of host traffic plus PIM kernels under a policy.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .pim_analytic import analytic_cycles, analytic_kernel_time_ns, kernel_counts
from .pim_config import (
    DIRECTIONS,
    LAYOUTS,
    POLICIES,
    SRC_DTYPES,
    Geometry,
    PimConfig,
    PimError,
    QuantizeKernel,
)
from .pim_program import Footprint, Program, check_kernels, expand, footprint

__all__ = [
    "QuantizeKernel",
    "PimConfig",
    "PimError",
    "Geometry",
    "MemoryImage",
    "Program",
    "Footprint",
    "POLICIES",
    "LAYOUTS",
    "DIRECTIONS",
    "SRC_DTYPES",
    "analytic_kernel_time_ns",
    "analytic_cycles",
    "kernel_counts",
    "kernel_footprint",
    "kernel_program",
    "simulate_with_pim",
]


def _capacity(cfg: Any, geom: Geometry) -> int:
    org = getattr(cfg, "org", {}) or {}
    cap = org.get("capacity_bytes")
    if cap is None:
        cap = geom.rows * geom.row_bytes * geom.banks_per_pc * geom.pcs
    return int(cap)


def kernel_footprint(cfg: Any, kernel: QuantizeKernel, policy: str | None = None) -> Footprint:
    """Address ranges ``kernel`` reserves (all banks, consecutive row indices); see docs/pim.md."""
    geom = Geometry.from_cfg(cfg)
    pim = PimConfig.from_cfg(cfg)
    pol = _policy(policy, pim)
    return footprint(geom, pim, kernel, pol, geom.pcs)


def kernel_program(cfg: Any, kernel: QuantizeKernel, policy: str | None = None) -> Program:
    """The per-unit command program of ``kernel`` (what every pseudo-channel broadcasts)."""
    geom = Geometry.from_cfg(cfg)
    pim = PimConfig.from_cfg(cfg)
    pol = _policy(policy, pim)
    check_kernels(geom, pim, [kernel], pol, geom.pcs, _capacity(cfg, geom))
    return expand(geom, pim, kernel, pol, geom.pcs)


def _policy(policy: str | None, pim: PimConfig) -> str:
    pol = policy or pim.policy
    if pol not in POLICIES:
        raise PimError(f"unknown PIM policy {pol!r}; known: {', '.join(POLICIES)}")
    return pol


def _native() -> Any:
    try:
        from .. import _dram
    except ImportError as exc:  # pragma: no cover - depends on the build
        raise ImportError(
            "harness._dram is not built: `cmake -S ext -B build/dev -G Ninja -DJITQ_INPLACE=ON "
            "-Dpybind11_DIR=$(python -m pybind11 --cmakedir) && cmake --build build/dev --target _dram`"
        ) from exc
    if not hasattr(_dram, "PimMemoryImage"):
        raise ImportError("harness._dram was built without the PIM bindings (ext/src/dram/pim_*.cpp)")
    return _dram


def _as_bytes(data: Any) -> np.ndarray:
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    try:
        return np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    except TypeError as exc:
        raise PimError(f"write_bytes needs bytes or a numpy array, got {type(data).__name__}") from exc


class MemoryImage:
    """Functional mode: a sparse byte image of the DRAM address space of ``cfg``.

    Pages are allocated on first write (a 64 GiB space costs nothing until written); bytes never
    written read as zero. Every method validates its arguments before touching the image.
    """

    def __init__(self, cfg: Any) -> None:
        self._cfg = cfg
        self._geom = Geometry.from_cfg(cfg)
        self._pim = PimConfig.from_cfg(cfg)
        self.capacity = _capacity(cfg, self._geom)
        self._img = _native().PimMemoryImage(self.capacity)

    @property
    def pages(self) -> int:
        """Pages allocated so far (64 KiB each)."""
        return int(self._img.pages)

    def _check(self, addr: int, n: int) -> None:
        if isinstance(addr, bool) or not isinstance(addr, (int, np.integer)) or addr < 0:
            raise PimError(f"address must be a non-negative int, got {addr!r}")
        if n < 0 or int(addr) + n > self.capacity:
            raise PimError(f"range [0x{int(addr):x}, +{n}) exceeds the capacity 0x{self.capacity:x}")

    def write_bytes(self, addr: int, data: Any) -> None:
        buf = _as_bytes(data)
        self._check(addr, buf.size)
        self._img.write(int(addr), buf)

    def read_bytes(self, addr: int, n: int) -> bytes:
        self._check(addr, int(n))
        return self._img.read(int(addr), int(n)).tobytes()

    def write_array(self, addr: int, w: np.ndarray, src_dtype: str = "fp32") -> None:
        """Store a 2-D weight row-major as fp32 or bf16 (bf16 by rounding to nearest even)."""
        if src_dtype not in SRC_DTYPES:
            raise PimError(f"unknown src_dtype {src_dtype!r}; known: {', '.join(SRC_DTYPES)}")
        arr = np.ascontiguousarray(w, dtype=np.float32)
        if src_dtype == "bf16":
            import ml_dtypes

            arr = arr.astype(ml_dtypes.bfloat16)
        self.write_bytes(addr, arr)

    def run_quantize(self, kernel: QuantizeKernel, policy: str | None = None) -> int:
        """Run ``kernel`` functionally; returns the MX bytes written at ``kernel.dst``.

        Regions are checked like in the timing model (alignment to the PIM row stride, capacity,
        overlap); the bytes equal ``harness.mx.encode`` of the same data for every layout (the
        layout is where the allocator puts bytes in banks, invisible to addresses).
        """
        pol = _policy(policy, self._pim)
        check_kernels(self._geom, self._pim, [kernel], pol, self._geom.pcs, self.capacity)
        return int(self._img.quantize(kernel.src, kernel.dst, kernel.rows, kernel.cols, kernel.src_dtype,
                                      kernel.fmt, kernel.direction == "forward"))


def simulate_with_pim(cfg: Any, addrs: Any, is_write: Any, arrival: Any,
                      kernels: Sequence[QuantizeKernel], policy: str | None = None,
                      command_log: str | None = None, channels: int | None = None,
                      pim_overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Cycle-level run of host requests plus PIM quantize kernels (see pim_timing)."""
    from .pim_timing import run as _run

    return _run(cfg, addrs, is_write, arrival, kernels, policy=policy, command_log=command_log,
                channels=channels, pim_overrides=pim_overrides)
