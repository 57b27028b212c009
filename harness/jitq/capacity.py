"""Capacity model: live bytes over one training iteration by category, for one scheme.

The trace gives lifetimes (first/last op of every storage) as captured, usually in FP32; the recipe
says what training would really keep. So every tensor is *reinterpreted*: parameters become master
weights in the master dtype (plus a working copy if the recipe keeps one), gradients are rescaled to the
gradient dtype, floating activations to the activation dtype; optimizer states are derived from the
parameters and the recipe (the captured optimizer may differ, and its states appear mid-step on the
first step); MX copies are computed from the GEMM weights' shapes and the cell's formats. The peak is
the maximum over ops of the sum of live bytes, and its breakdown is taken at that op, so the categories
add up to the peak exactly (never a sum of per-category maxima).

Schemes: ``stored`` keeps the working copy (if the recipe has one) and both directional MX copies for
the whole iteration. ``jitq-gpu`` and ``jitq-pim`` keep no MX copies; with ``jitq_drops_working_copy``
the GEMM weights' working copy also goes (quantization reads the master directly). They hold a transient
buffer instead: during window k, the MX copies of windows k .. k+depth (in the direction each window
needs), depth = 0 for ``jitq-gpu`` (quantize right before use) and ``prefetch_depth`` (default 1) for
``jitq-pim`` (PIM prepares the next layer during this one).

Gradients (recipe ``gradient_lifetime``): ``iteration`` (the presets) keeps every gradient at full size
for the whole iteration, as a gradient buffer allocated once does (ZeRO's model-state accounting;
Megatron-LM's contiguous gradient buffer; any run with gradient accumulation, whose later micro-batches
start backward with all gradients live). ``trace`` uses the captured lifetimes (PyTorch's
``zero_grad(set_to_none=True)``, one micro-batch): a gradient exists from its first backward op on, so a
peak at the start of backward holds none.

Activation checkpointing (recipe flag): a tensor made inside a transformer block's forward window and
used in backward is freed at the end of that window and rematerialised at the start of the block's
backward window; block inputs (made before the window) are kept, as in per-block checkpointing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.jitq.presets import Recipe, dtype_bytes, mx_size
from harness.jitq.workload import Workload

CATEGORIES = ("master_weights", "working_copy", "mx_copies", "gradients", "optimizer_states", "activations",
              "other", "transient_quant")


@dataclass
class CapacityResult:
    scheme: str
    peak_bytes: int
    peak_op: int
    peak_phase: str
    at_peak: dict[str, int]  # category -> bytes live at the peak op (sums to peak_bytes)
    total_by_category: dict[str, int]  # full size of each category (persistent view), for bytes/param
    mx_bytes_per_weight: dict[int, tuple[int, int]]  # tensor id -> (forward copy, backward copy) bytes

    def model_state_bytes_per_param(self, n_params: int) -> float:
        keys = ("master_weights", "working_copy", "mx_copies", "gradients", "optimizer_states")
        return sum(self.total_by_category[k] for k in keys) / max(n_params, 1)


def mx_copy_bytes(wl: Workload, recipe: Recipe) -> dict[int, tuple[int, int]]:
    """Bytes of the forward (blocked along input = axis 1) and backward (axis 0) copy of each GEMM weight."""
    fwd = mx_size(recipe.mx_forward) if recipe.mx_forward else None
    bwd = mx_size(recipe.mx_backward) if recipe.mx_backward else None
    out: dict[int, tuple[int, int]] = {}
    w = wl.tensors[wl.tensors.gemm_weight]
    for t, r, c in zip(w.tensor_id, w.rows, w.cols):
        out[int(t)] = (fwd.copy_bytes(int(r), int(c), 1) if fwd else 0, bwd.copy_bytes(int(r), int(c), 0) if bwd else 0)
    return out


def window_mx_bytes(wl: Workload, mxb: dict[int, tuple[int, int]]) -> np.ndarray:
    """MX bytes each window needs (its weights in its direction)."""
    out = np.zeros(len(wl.windows), dtype=np.int64)
    for w in wl.windows:
        k = 1 if w.direction == "backward" else 0
        out[w.index] = sum(mxb[t][k] for t in w.weights if t in mxb)
    return out


def capacity(wl: Workload, recipe: Recipe, scheme: str, prefetch_depth: int = 1) -> CapacityResult:
    """Live bytes by category over the iteration for ``scheme``; see the module docstring."""
    n = wl.n_ops
    diff = {c: np.zeros(n + 1, dtype=np.float64) for c in CATEGORIES}
    total = {c: 0.0 for c in CATEGORIES}

    def add(cat: str, nbytes: float, first: int, last: int) -> None:
        diff[cat][first] += nbytes
        diff[cat][last + 1] -= nbytes

    def add_whole(cat: str, nbytes: float) -> None:
        add(cat, nbytes, 0, n - 1)
        total[cat] += nbytes

    jit = scheme != "stored"
    t = wl.tensors
    mxb = mx_copy_bytes(wl, recipe)
    master_b = dtype_bytes(recipe.master_dtype)
    wc_b = dtype_bytes(recipe.working_copy) if recipe.working_copy else 0.0
    opt_b = recipe.optimizer_state_bytes
    grad_b = dtype_bytes(recipe.grad_dtype)
    act_b = dtype_bytes(recipe.activation_dtype)

    params = t[t.category == "parameter"]
    for tid, numel, gw in zip(params.tensor_id, params.numel, params.gemm_weight):
        add_whole("master_weights", numel * master_b)
        add_whole("optimizer_states", numel * opt_b)
        if wc_b and not (jit and recipe.jitq_drops_working_copy and gw):
            add_whole("working_copy", numel * wc_b)
        if not jit and gw:
            add_whole("mx_copies", float(sum(mxb[int(tid)])))

    # checkpointing: forward window of each block, and the block's backward window
    fwd_win: dict[int, tuple[int, int, int]] = {}
    if recipe.activation_checkpointing:
        bwd_start = {w.layer: w.start for w in wl.windows if w.phase == "backward"}
        for w in wl.windows:
            if w.phase == "forward" and any(p.isdigit() for p in w.layer.split(".")) and w.layer in bwd_start:
                fwd_win[w.index] = (w.start, w.stop, bwd_start[w.layer])
    win_of_op = wl.ops.window.to_numpy()
    phase_of_op = wl.ops.phase.to_numpy()

    rest = t[t.category != "parameter"]
    for cat, numel, eb, first, last, pers, isf in zip(rest.category, rest.numel, rest.elem_bytes, rest.first_op,
                                                       rest.last_op, rest.persistent, rest.is_float):
        first, last = int(first), int(last)
        if cat in ("optimizer_state", "mx_copy"):
            continue  # derived from the recipe above / computed from the cell's formats
        if cat == "gradient":
            nb = numel * grad_b
            key = "gradients"
            if recipe.gradient_lifetime == "iteration":
                add_whole(key, nb)
                continue
        else:
            nb = numel * (act_b if isf else eb)
            key = "activations" if cat in ("activation", "input") else "other"
        total[key] += nb
        if pers:
            add(key, nb, 0, n - 1)
            continue
        if first < 0 or last < first:
            continue
        wi = int(win_of_op[first])
        if key == "activations" and wi in fwd_win and phase_of_op[last] == "backward":
            s, e, b = fwd_win[wi]
            if first >= s and last >= b:  # made inside the block, needed in its backward: recompute
                add(key, nb, first, e - 1)
                add(key, nb, b, last)
                continue
        add(key, nb, first, last)

    if jit:
        depth = 0 if scheme == "jitq-gpu" else max(int(prefetch_depth), 0)
        wmx = window_mx_bytes(wl, mxb)
        order = [w.index for w in wl.windows]
        carrying = [i for i in order if wmx[i] > 0]
        for w in wl.windows:
            # the next `depth` weight-carrying windows after w (cyclic: the optimizer prefetches layer 0)
            ahead = [i for i in carrying if i > w.index][:depth]
            if len(ahead) < depth:
                ahead += carrying[: depth - len(ahead)]
            live = wmx[w.index] + sum(int(wmx[i]) for i in ahead if i != w.index)
            if live:
                add("transient_quant", float(live), w.start, w.stop - 1)
        total["transient_quant"] = float(0)

    curves = {c: np.cumsum(diff[c])[:n] for c in CATEGORIES}
    s = sum(curves.values())
    peak_op = int(np.argmax(s))
    at_peak = {c: int(round(curves[c][peak_op])) for c in CATEGORIES}
    if jit:
        total["transient_quant"] = float(max(curves["transient_quant"].max(), 0))
    return CapacityResult(scheme, int(sum(at_peak.values())), peak_op, str(phase_of_op[peak_op]), at_peak,
                          {c: int(round(v)) for c, v in total.items()}, mxb)
