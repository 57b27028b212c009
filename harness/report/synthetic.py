"""Synthetic ``jitq run`` records with the keys of contract F, for the report's tests.

The numbers follow simple closed forms (bytes per parameter, a fixed GEMM time per layer) so tests can
check the report's arithmetic; they are not measurements and never reach ``results/``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

_PARAMS = {"gpt2-tiny": 2_000_000, "gpt2-124m": 124_000_000, "gpt2-355m": 355_000_000, "gpt3-175b": 175e9}
_BITS = {"MXFP8_E4M3": 8.25, "MXFP8_E5M2": 8.25, "MXFP6_E3M2": 6.25, "MXFP6_E2M3": 6.25,
         "MXFP4_E2M1": 4.25, "MXINT8": 8.25, "MX9": 9.0, "MX6": 6.0, "MX4": 4.0}


def synthetic_record(
    model: str, fmt: str, scheme: str, gpu: str = "h100-sxm", dram: str = "hbm3",
    recipe: str = "mx-directional", n_layers: int = 4,
) -> dict[str, Any]:
    n = float(_PARAMS.get(model, 50_000_000))
    copies = 2 * n * _BITS.get(fmt, 8.0) / 8
    cats = {
        "bytes_master_weights": 4 * n,
        "bytes_gradients": 2 * n,
        "bytes_optimizer_states": 8 * n,
        "bytes_activations": 3 * n,
        "bytes_mx_copies": copies if scheme == "stored" else 0.0,
        "bytes_quant_buffers": 0.0 if scheme == "stored" else copies / max(n_layers, 1),
    }
    stored_peak = sum(v for k, v in cats.items() if k not in ("bytes_quant_buffers", "bytes_mx_copies")) + copies
    peak = sum(cats.values())
    stored_iter = 1e-9 * n * 6 * 8192 / 400
    iteration = stored_iter * {"stored": 1.0, "jitq-gpu": 1.05, "jitq-pim": 1.01}[scheme]
    gemm = [stored_iter / n_layers / 3] * n_layers
    pim = [g * (0.6 if fmt.startswith("MXFP8") else 1.3) for g in gemm]
    rec: dict[str, Any] = {
        "model": model, "format": fmt, "backward_format": fmt, "scheme": scheme, "gpu": gpu,
        "dram": dram, "recipe": recipe, "batch": 8, "seq": 1024, "n_params": int(n), "family": "gpt2",
        **{k: int(v) for k, v in cats.items()},
        "peak_bytes": int(peak),
        "capacity_saving_pct": 100.0 * (stored_peak - peak) / stored_peak,
        "iteration_s": iteration,
        "tokens_per_s": 8192 / iteration,
        "throughput_loss_pct": 100.0 * (1 - stored_iter / iteration),
        "pim_keeps_up": bool(all(p <= g for p, g in zip(pim, gemm))) if scheme == "jitq-pim" else None,
        "pim_stall_s": sum(max(0.0, p - g) for p, g in zip(pim, gemm)) if scheme == "jitq-pim" else 0.0,
        "largest_model": "gpt2-1.5b", "largest_model_params": int(1.5e9 * (1.3 if scheme != "stored" else 1)),
        "layers": [
            {"layer": f"h.{i}", "gemm_s": g, "pim_s": p if scheme == "jitq-pim" else None}
            for i, (g, p) in enumerate(zip(gemm, pim))
        ],
        "dram_stats": {"bandwidth_GBps": 812.5, "row_hits": 1000, "commands": {"ACT": 10, "RD": 990}},
        "versions": {"harness": "0.1.0", "torch": "2.13.0"},
        "config_hash": "0" * 16,
    }
    return rec


def synthetic_records(
    models: Sequence[str] = ("gpt2-tiny", "gpt2-124m"),
    formats: Sequence[str] = ("MXFP8_E4M3", "MX6"),
    schemes: Sequence[str] = ("stored", "jitq-gpu", "jitq-pim"),
) -> list[dict[str, Any]]:
    return [synthetic_record(m, f, s) for m, f, s in itertools.product(models, formats, schemes)]
