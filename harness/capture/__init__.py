"""Memory traces of PyTorch training steps (contract E).

``read_trace``/``TraceError``/``SCHEMA_VERSION``/``live_bytes`` need only pandas; ``capture``/``record``
import torch when called. Names are resolved lazily so that ``jitq --help`` (which imports
``harness.capture.cli``) does not import pandas or torch."""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "SCHEMA_VERSION": "harness.capture.schema",
    "Trace": "harness.capture.schema",
    "TraceError": "harness.capture.schema",
    "read_trace": "harness.capture.schema",
    "write_trace": "harness.capture.schema",
    "live_bytes": "harness.capture.lifetimes",
    "live_by_category_at": "harness.capture.lifetimes",
    "peak_live_bytes": "harness.capture.lifetimes",
    "capture": "harness.capture.run",
    "record": "harness.capture.run",
    "CaptureError": "harness.capture.run",
}


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'harness.capture' has no attribute {name!r}")
    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value


__all__ = sorted(_LAZY)
