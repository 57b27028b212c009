"""Model zoo built in code from published configurations (no download).

``MODEL_CONFIGS`` and ``param_count`` need no torch; ``build_model`` and ``make_batch`` import it
lazily so that the capacity model can size models on machines without torch."""

from __future__ import annotations

from typing import Any

from harness.models.config import MODEL_CONFIGS, ModelConfig, ModelError, check_shape, get_config, param_count


def build_model(name: Any, device: Any = "cpu", dtype: Any = None, seed: int = 0) -> Any:
    """See ``harness.models.build.build_model``."""
    import torch

    from harness.models.build import build_model as _build

    return _build(name, device=device, dtype=dtype or torch.float32, seed=seed)


def make_batch(name: Any, batch: int, seq: int, device: Any = "cpu", seed: int = 0) -> Any:
    """See ``harness.models.build.make_batch``."""
    from harness.models.build import make_batch as _make

    return _make(name, batch, seq, device=device, seed=seed)


__all__ = ["MODEL_CONFIGS", "ModelConfig", "ModelError", "build_model", "check_shape", "get_config",
           "make_batch", "param_count"]
