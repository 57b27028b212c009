"""Live-memory curves from a trace's storage lifetimes (torch-free; pandas/numpy only)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.capture.schema import Trace


def live_bytes(trace: Trace, category: str | None = None) -> np.ndarray:
    """Bytes of live storages at each op (a storage is live over ops [first_op, last_op])."""
    t = trace.tensors if category is None else trace.tensors[trace.tensors["category"] == category]
    n = len(trace.ops)
    delta = np.zeros(n + 1, dtype=np.int64)
    np.add.at(delta, t["first_op"].to_numpy(), t["nbytes"].to_numpy())
    np.add.at(delta, t["last_op"].to_numpy() + 1, -t["nbytes"].to_numpy())
    return np.cumsum(delta)[:n]


def peak_live_bytes(trace: Trace) -> tuple[int, int]:
    """(peak live bytes, op_id where it is first reached)."""
    lb = live_bytes(trace)
    if not len(lb):
        return 0, 0
    i = int(lb.argmax())
    return int(lb[i]), i


def live_by_category_at(trace: Trace, op_id: int) -> pd.Series:
    """Bytes per category of the storages live at ``op_id`` (e.g. at the peak)."""
    t = trace.tensors
    m = (t["first_op"] <= op_id) & (t["last_op"] >= op_id)
    return t[m].groupby("category")["nbytes"].sum()
