"""The largest model that fits a GPU's memory under each scheme, by analytic scaling of one cell.

Depth scaling at the traced width: the trace gives the parameters of one transformer block
(``P_layer``, from the parameters of the first indexed layer) and of the rest (embeddings, head). Model
states scale with parameters at the cell's bytes per parameter; activations live at the peak scale with
depth; the transient buffer and non-model bytes stay. So peak(L) = s x (P_rest + L x P_layer) +
A x L / L0 + fixed, and the largest L with peak(L) <= memory gives ``max_layers_fit`` and
``max_params_fit``. ``largest_model_fit`` is the biggest named model of the same family
(``harness.models.MODEL_CONFIGS``, tiny test models excluded) with at most ``max_params_fit``
parameters, so the two columns always agree ("" when none is that small, or the traced model is not a
named one). Charging all peak activations per layer is conservative when depth-independent activations
(the logits of a large vocabulary) are a large share of the peak.
"""

from __future__ import annotations

import math
from typing import Any

from harness.jitq.capacity import CapacityResult
from harness.jitq.workload import Workload
from harness.models import MODEL_CONFIGS, param_count


def _layer_params(wl: Workload) -> tuple[int, int, int]:
    p = wl.params
    layers = sorted({l for l in p.layer if any(x.isdigit() for x in l.split("."))})
    if not layers:
        return 0, int(p.numel.sum()), 0
    per = int(p[p.layer == layers[0]].numel.sum())
    return per, int(p.numel.sum()) - per * len(layers), len(layers)


def largest_named_model(model_name: str, max_params: int) -> str:
    """The biggest model of ``model_name``'s family with at most ``max_params`` parameters ("" if none)."""
    me = MODEL_CONFIGS.get(model_name)
    if me is None:
        return ""
    best, best_p = "", -1
    for name, c in MODEL_CONFIGS.items():
        if c.family != me.family or "tiny" in name:
            continue
        pc = int(param_count(name))
        if pc <= max_params and pc > best_p:
            best, best_p = name, pc
    return best


def fit(wl: Workload, cap: CapacityResult, memory_bytes: int, model_name: str) -> dict[str, Any]:
    n = wl.n_params
    states = sum(cap.at_peak[k] for k in ("master_weights", "working_copy", "mx_copies", "gradients",
                                          "optimizer_states"))
    s = states / max(n, 1)
    act = cap.at_peak["activations"]
    fixed = cap.at_peak["other"] + cap.at_peak["transient_quant"]
    p_layer, p_rest, l0 = _layer_params(wl)
    out: dict[str, Any] = {"max_params_fit": 0, "max_layers_fit": 0, "largest_model_fit": ""}
    if l0 and p_layer:
        per_layer = s * p_layer + act / l0
        l_max = math.floor((memory_bytes - fixed - s * p_rest) / per_layer) if per_layer > 0 else 0
        l_max = max(l_max, 0)
        out["max_layers_fit"] = int(l_max)
        out["max_params_fit"] = int(p_rest + l_max * p_layer) if l_max > 0 else 0
    out["largest_model_fit"] = largest_named_model(model_name, out["max_params_fit"])
    return out
