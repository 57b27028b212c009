"""Helpers shared by the tests/test_mx_*.py files (bit comparison, the two implementations)."""

from __future__ import annotations

import numpy as np

import harness.mx as mx
from harness.mx import reference

#: The public API (C++ kernel) and the numpy reference, for tests that every rule holds in both.
IMPLS = {"kernel": mx, "reference": reference}

OCP = ["MXFP8_E4M3", "MXFP8_E5M2", "MXFP6_E3M2", "MXFP6_E2M3", "MXFP4_E2M1", "MXINT8"]
OCP_FP = OCP[:-1]
SMX = ["MX9", "MX6", "MX4"]


def bits(a: np.ndarray) -> np.ndarray:
    """uint32 view of float32 values with every NaN made the same (NaN-aware bit comparison)."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    u = a.view(np.uint32).copy()
    u[np.isnan(a)] = 0x7FC00000
    return u


def assert_same_bits(a: np.ndarray, b: np.ndarray) -> None:
    """Bit-for-bit equality of two float32 arrays (all NaNs equal, -0 != +0)."""
    assert a.shape == b.shape
    ua, ub = bits(a), bits(b)
    if not np.array_equal(ua, ub):
        i = np.flatnonzero(ua != ub)[:5]
        raise AssertionError(f"differ at {i}: {a.reshape(-1)[i]} vs {b.reshape(-1)[i]}")


def block(values: list[float], size: int = 32) -> np.ndarray:
    """One float32 block: ``values`` then zeros up to ``size``."""
    out = np.zeros(size, dtype=np.float32)
    out[: len(values)] = np.asarray(values, dtype=np.float32)
    return out


def below(p: float) -> np.float32:
    """The float32 just below ``p``."""
    return np.nextafter(np.float32(p), np.float32(0))
