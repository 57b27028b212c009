"""GPU model: a roofline per op, with the bytes each operand really moves under the recipe.

time(op) = max(FLOPs / (peak x efficiency), bytes / (bandwidth x memory efficiency)) + launch cost.
GEMMs run at the MX/FP8 rate where the GPU has one (MX GEMMs on FP8 tensor cores with per-block
scales; all GEMMs of MX training are quantized, as in microxcaling's mx.Linear/mx.matmul), else the
BF16 rate; other ops at the FP32 vector rate. Bytes: a GEMM reads a GEMM weight as its MX copy (the
forward copy in forward, the backward copy in backward; the same in every scheme, so stored and JIT-Q
differ only in how the copy is made), other parameter reads move the working copy (or the master if
there is none; the optimizer moves the master), gradients and optimizer states their recipe dtypes,
floating activations the activation dtype. ``view`` accesses move nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.jitq.capacity import mx_copy_bytes
from harness.jitq.presets import GpuSpec, Recipe, dtype_bytes
from harness.jitq.workload import Workload


@dataclass
class OpTimes:
    time_s: np.ndarray  # per op
    bytes: np.ndarray  # per op, bytes moved under the recipe
    compute_s: np.ndarray
    memory_s: np.ndarray

    def window_times(self, wl: Workload) -> np.ndarray:
        return np.array([self.time_s[w.start:w.stop].sum() for w in wl.windows])


def op_bytes(wl: Workload, recipe: Recipe) -> np.ndarray:
    """Bytes each op moves once every operand is reinterpreted under the recipe."""
    return access_bytes(wl, recipe)[0]


def access_bytes(wl: Workload, recipe: Recipe) -> tuple[np.ndarray, np.ndarray]:
    """(bytes per op, bytes per access row) under the recipe."""
    acc = wl.accesses
    ten = wl.tensors.set_index("tensor_id")
    mxb = mx_copy_bytes(wl, recipe)
    phase = wl.ops.phase.to_numpy()
    gemm = wl.ops.gemm.to_numpy()
    op = acc.op_id.to_numpy().astype(np.int64)
    tid = acc.tensor_id.to_numpy().astype(np.int64)
    nb = acc.nbytes.to_numpy().astype(np.float64)
    eb = acc.elem_bytes.to_numpy().astype(np.float64)
    cat = acc.category.to_numpy()
    role = acc.role.to_numpy()
    tnb = ten.nbytes.reindex(tid).to_numpy(dtype=np.float64)
    tfloat = ten.is_float.reindex(tid).fillna(True).to_numpy(dtype=bool)
    scale = np.ones(len(acc))
    master = dtype_bytes(recipe.master_dtype)
    wc = dtype_bytes(recipe.working_copy) if recipe.working_copy else master
    opt_each = recipe.optimizer_state_bytes / max(len(recipe.optimizer_states), 1) if recipe.optimizer_states else 4.0
    ph = phase[op]
    is_param = cat == "parameter"
    scale[is_param] = np.where(ph[is_param] == "optimizer", master, wc) / eb[is_param]
    # GEMM reads of GEMM weights move the MX copy of the direction in use
    gw = np.array([int(t) in mxb for t in tid]) & gemm[op] & is_param
    for i in np.nonzero(gw)[0]:
        f, b = mxb[int(tid[i])]
        scale[i] = (b if ph[i] == "backward" else f) / max(tnb[i], 1.0)
    scale[cat == "gradient"] = dtype_bytes(recipe.grad_dtype) / eb[cat == "gradient"]
    scale[cat == "optimizer_state"] = opt_each / eb[cat == "optimizer_state"]
    act = np.isin(cat, ("activation", "input", "other")) & tfloat
    scale[act] = dtype_bytes(recipe.activation_dtype) / eb[act]
    moved = np.where(role == "view", 0.0, nb * scale)
    out = np.zeros(wl.n_ops)
    np.add.at(out, op, moved)
    return out, moved


def op_times(wl: Workload, recipe: Recipe, gpu: GpuSpec) -> OpTimes:
    """Roofline time of every op of the trace (see the module docstring)."""
    flops = wl.ops.flops.to_numpy().astype(np.float64)
    gemm = wl.ops.gemm.to_numpy()
    mx = recipe.mx_forward is not None
    rate = np.where(gemm, gpu.gemm_flops(mx), gpu.peak_vector_flops * gpu.efficiency["vector"])
    b = op_bytes(wl, recipe)
    comp = flops / rate
    mem = b / (gpu.bandwidth_Bps * gpu.efficiency["memory"])
    t = np.maximum(comp, mem) + gpu.efficiency["launch_s"]
    return OpTimes(t, b, comp, mem)


def stream_time_s(nbytes: float, gpu: GpuSpec, stream_efficiency: float = 1.0, kernels: int = 1) -> float:
    """Time of a streaming (memory-bound) kernel set moving ``nbytes`` in ``kernels`` launches."""
    return nbytes / (gpu.bandwidth_Bps * gpu.efficiency["memory"] * stream_efficiency) + kernels * gpu.efficiency["launch_s"]
