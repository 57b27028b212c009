"""Iteration time of each scheme from the roofline op times, plus what each scheme adds.

- ``stored``: after the optimizer step one fused multi-tensor GPU pass reads, for every GEMM weight, the source (working copy,
  else master) and writes both directional MX copies; with a working copy, a cast pass refreshes it
  (read master, write copy). Both stream at the GPU's bandwidth x memory efficiency x the DRAM
  simulator's streaming efficiency.
- ``jitq-gpu``: before each window, one GPU kernel per weight reads the master and writes the MX copy of
  the direction the window needs (forward windows, recomputed forward windows under checkpointing, and
  backward windows). The working copy cast remains only for weights that keep a working copy.
- ``jitq-pim``: PIM job k (window k's weights) runs while the GPU computes earlier windows; it may start
  at the start of the weight-carrying window ``prefetch_depth`` before k (forward jobs not before the
  optimizer step has started: the master must be updated), and after job k-1. Window k starts when
  window k-1 has ended and job k is done; the wait is the stall. Window times are the roofline times
  multiplied by the host slowdown the DRAM simulation measured with the paired PIM job running.
The iteration is taken in the cyclic order starting at the optimizer step, so jobs for the first
forward layers can overlap it. Checkpointing adds the recomputed forward block windows before each
block's backward window (their time, and in JIT-Q their forward-copy quantization).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.jitq.gpumodel import OpTimes, stream_time_s
from harness.jitq.presets import GpuSpec, Recipe, dtype_bytes
from harness.jitq.workload import Window, Workload


@dataclass
class Slot:
    """One window in execution order (a recomputed forward window appears as its own slot)."""

    window: Window
    recompute: bool
    base_s: float

    @property
    def direction(self) -> str:
        return "forward" if self.recompute else self.window.direction


@dataclass
class SchemeTime:
    iteration_s: float
    compute_s: float  # sum of roofline op times (+ recompute)
    quant_s: float  # GPU quantization passes / kernels
    working_copy_s: float
    pim_stall_s: float = 0.0
    pim_slowdown_s: float = 0.0
    layer_names: list[str] = field(default_factory=list)
    layer_gemm_s: list[float] = field(default_factory=list)
    layer_pim_s: list[float] = field(default_factory=list)
    layer_stall_s: list[float] = field(default_factory=list)


def slots(wl: Workload, times: OpTimes, recipe: Recipe) -> list[Slot]:
    """Execution order starting at the optimizer step (cyclic), with recompute slots if checkpointing."""
    wt = times.window_times(wl)
    seq: list[Slot] = []
    fwd_of = {w.layer: w for w in wl.windows if w.phase == "forward"}
    for w in wl.windows:
        if (recipe.activation_checkpointing and w.phase == "backward" and w.layer in fwd_of
                and any(p.isdigit() for p in w.layer.split("."))):
            f = fwd_of[w.layer]
            seq.append(Slot(f, True, float(wt[f.index])))
        seq.append(Slot(w, False, float(wt[w.index])))
    opt = [i for i, s in enumerate(seq) if s.window.phase == "optimizer"]
    if opt:
        seq = seq[opt[0]:] + seq[: opt[0]]
    return seq


def _weight_numel(wl: Workload) -> tuple[float, float, int]:
    """(elements of GEMM weights, elements of other parameters, number of GEMM weights)."""
    p = wl.params
    gw = p[p.gemm_weight]
    return float(gw.numel.sum()), float(p[~p.gemm_weight].numel.sum()), len(gw)


def time_stored(wl: Workload, times: OpTimes, recipe: Recipe, gpu: GpuSpec, mxb: dict[int, tuple[int, int]],
                stream_eff: float) -> SchemeTime:
    seq = slots(wl, times, recipe)
    compute = sum(s.base_s for s in seq)
    n_gw, n_other, k = _weight_numel(wl)
    src_b = dtype_bytes(recipe.working_copy or recipe.master_dtype)
    mx_total = float(sum(f + b for f, b in mxb.values()))
    quant = stream_time_s(n_gw * src_b + mx_total, gpu, stream_eff, 1) if k else 0.0  # one multi-tensor kernel
    wc = 0.0
    if recipe.working_copy:
        wc = stream_time_s((n_gw + n_other) * (dtype_bytes(recipe.master_dtype) + dtype_bytes(recipe.working_copy)),
                           gpu, stream_eff, 1)  # one multi-tensor cast kernel
    return SchemeTime(compute + quant + wc, compute, quant, wc)


def time_jitq_gpu(wl: Workload, times: OpTimes, recipe: Recipe, gpu: GpuSpec, mxb: dict[int, tuple[int, int]],
                  stream_eff: float) -> SchemeTime:
    seq = slots(wl, times, recipe)
    compute = sum(s.base_s for s in seq)
    master = dtype_bytes(recipe.master_dtype)
    numel = dict(zip(wl.tensors.tensor_id.astype(int), wl.tensors.numel))
    quant = 0.0
    for s in seq:
        k = 1 if s.direction == "backward" else 0
        for t in s.window.weights:
            quant += stream_time_s(numel[t] * master + mxb[t][k], gpu, stream_eff, 1)
    wc = 0.0
    if recipe.working_copy:
        p = wl.params
        keep = p[~p.gemm_weight] if recipe.jitq_drops_working_copy else p
        if len(keep):
            wc = stream_time_s(float(keep.numel.sum()) * (master + dtype_bytes(recipe.working_copy)), gpu,
                               stream_eff, 1)
    return SchemeTime(compute + quant + wc, compute, quant, wc)


def pipeline(seq: list[Slot], slot_s: list[float], job_s: list[float], depth: int) -> tuple[float, list[float], list[float]]:
    """Start/end times of the PIM pipeline; returns (iteration time, stall per slot, job end per slot).

    ``job_s[i]`` is the PIM time of the job slot i needs (0: none). Jobs run one after another; job n may
    start when the weight-carrying slot ``depth`` places earlier starts (its buffer is then free).
    """
    carrying = [i for i, j in enumerate(job_s) if j > 0]
    t = 0.0
    pim_free = 0.0
    start = [0.0] * len(seq)
    stall = [0.0] * len(seq)
    job_end = [0.0] * len(seq)
    pos = {i: n for n, i in enumerate(carrying)}
    for i in range(len(seq)):
        if i in pos:
            n = pos[i]
            if depth <= 0:
                earliest = t  # no prefetch: the job starts when its own slot would
            elif n - depth >= 0:
                earliest = start[carrying[n - depth]]  # buffer slot frees when that window starts
            else:
                earliest = 0.0  # first jobs: from the optimizer step (time 0 of the cyclic order)
            begin = max(earliest, pim_free)
            job_end[i] = begin + job_s[i]
            pim_free = job_end[i]
            if job_end[i] > t:
                stall[i] = job_end[i] - t
                t = job_end[i]
        start[i] = t
        t += slot_s[i]
    return t, stall, job_end
