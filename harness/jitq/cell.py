"""One grid cell end to end: ``run_cell(...)`` returns the flat record ``jitq run`` writes.

The stored baseline of the same cell is always computed too, so that ``capacity_saving_pct`` and
``throughput_loss_pct`` compare like with like. Records are deterministic (no timestamps, no absolute
paths; identical inputs give identical bytes) and written atomically (temp file + rename).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from harness import __version__
from harness.jitq.capacity import CATEGORIES, capacity
from harness.jitq.errors import JitqError
from harness.jitq.gpumodel import access_bytes, op_times
from harness.jitq.pimwindows import (HOST_MODEL, DramView, WeightJob, job_key, load_dram, simulate_window,
                                     streaming_efficiency)
from harness.jitq.presets import GpuSpec, Recipe, load_gpu, load_recipe
from harness.jitq.scaling import fit
from harness.jitq.schemes import SchemeTime, pipeline, slots, time_jitq_gpu, time_stored
from harness.jitq.workload import Workload, build_workload, load_trace, trace_sha256

SCHEMES = ("stored", "jitq-gpu", "jitq-pim")
RECORD_VERSION = 1
PROFILE: dict[str, float] = {}  # wall seconds of the last run by part (for bench/bench_cell.py; not in records)


def _say(msg: str, progress: bool) -> None:
    if progress:
        print(f"[jitq run] {msg}", file=sys.stderr, flush=True)


def cache_dir() -> Path:
    """Where fake-mode captures are cached: ``$JITQ_CACHE_DIR``, else ``~/.cache/jitq/traces``."""
    env = os.environ.get("JITQ_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "jitq" / "traces"


def _fake_capture(model: str, batch: int, seq: int, progress: bool) -> Path:
    out = cache_dir() / f"{model}-b{batch}-s{seq}-fake"
    if (out / "header.json").is_file():
        return out
    _say(f"no --trace: capturing {model} (batch {batch}, seq {seq}) in fake mode into {out}", progress)
    from harness.cli import main as cli_main

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        rc = cli_main(["capture", "--model", model, "--batch", str(batch), "--seq", str(seq), "--mode", "fake",
                       "--out", str(tmp)])
    except SystemExit as exc:  # argparse errors (e.g. no capture subcommand yet)
        rc = exc.code
    if rc:
        raise JitqError(f"fake capture of {model!r} failed (exit {rc}); pass --trace DIR")
    os.replace(tmp, out)
    return out


def _pim_time(wl: Workload, times_acc: np.ndarray, recipe: Recipe, gpu: GpuSpec, dram: DramView,
              seq: list[Any], prefetch_depth: int, n_sub: int, max_requests: int,
              progress: bool) -> tuple[SchemeTime, dict[str, Any]]:
    """jitq-pim: per-window simulations (memoized) + the PIM pipeline."""
    shape = {int(t): (int(r), int(c)) for t, r, c in zip(wl.tensors.tensor_id, wl.tensors.rows, wl.tensors.cols)}
    src = "bf16" if recipe.master_dtype in ("bf16", "bfloat16") else "fp32"
    jobs: list[list[WeightJob]] = []
    for s in seq:
        fmt = recipe.mx_backward if s.direction == "backward" else recipe.mx_forward
        if s.window.phase == "optimizer" or not fmt:
            jobs.append([])
            continue
        jobs.append([WeightJob(shape[t][0], shape[t][1], src, fmt, s.direction) for t in s.window.weights])
    carrying = [i for i, j in enumerate(jobs) if j]
    # pair each job with the slot that precedes it among carrying slots (the optimizer slot for the first)
    paired: dict[int, int] = {}
    for n, i in enumerate(carrying):
        host = carrying[n - 1] if n > 0 else 0
        if n == 0 and i == 0:
            host = i
        paired[host] = i
    acc = wl.accesses
    op_ids = acc.op_id.to_numpy()
    order = np.argsort(op_ids, kind="stable")
    bounds = np.searchsorted(op_ids[order], np.arange(wl.n_ops + 1))
    addr = acc.address.to_numpy().astype(np.int64)
    writes = (acc.role.to_numpy() == "write")
    view = acc.role.to_numpy() == "view"
    memo: dict[tuple[Any, ...], Any] = {}
    slow = [1.0] * len(seq)
    job_s = [0.0] * len(seq)
    stats_sum: dict[str, float] = {}
    n_sim = 0
    requests = 0
    t0 = time.perf_counter()
    for i, s in enumerate(seq):
        job = jobs[paired[i]] if i in paired else []
        key = (s.window.key, s.recompute, job_key(job))
        if key not in memo:
            rows = order[bounds[s.window.start]:bounds[s.window.stop]]
            rows = rows[~view[rows] & (times_acc[rows] > 0)]
            nbytes = times_acc[rows]
            ls = addr[rows] // dram.tx_bytes
            lc = np.ceil(nbytes / dram.tx_bytes).astype(np.int64)
            memo[key] = simulate_window(dram, ls, lc, writes[rows], s.base_s, job, gpu.hbm_stacks, n_sub,
                                        max_requests)
            n_sim += 1
            requests += memo[key].requests
            if progress and n_sim % 5 == 0:
                _say(f"simulated {n_sim} distinct windows ({i + 1}/{len(seq)} slots)", progress)
        r = memo[key]
        slow[i] = r.host_slowdown
        if i in paired:
            job_s[paired[i]] = r.pim_ns * 1e-9
        for k, v in r.stats.items():
            stats_sum[k] = stats_sum.get(k, 0.0) + v
    PROFILE["simulator_s"] = PROFILE.get("simulator_s", 0.0) + time.perf_counter() - t0
    base = [s.base_s for s in seq]
    slot_s = [b * x for b, x in zip(base, slow)]
    total, stall, _ = pipeline(seq, slot_s, job_s, prefetch_depth)
    names = []
    for i in carrying:
        s = seq[i]
        names.append(f"{s.direction}:{s.window.layer}" + (":recompute" if s.recompute else ""))
    st = SchemeTime(total, sum(base), 0.0, 0.0, pim_stall_s=float(sum(stall)),
                    pim_slowdown_s=float(sum(slot_s) - sum(base)), layer_names=names,
                    layer_gemm_s=[float(seq[i].base_s) for i in carrying], layer_pim_s=[float(job_s[i]) for i in carrying],
                    layer_stall_s=[float(stall[i]) for i in carrying])
    # working-copy cast for parameters that keep one (non-GEMM parameters), as in jitq-gpu
    if recipe.working_copy:
        from harness.jitq.gpumodel import stream_time_s
        from harness.jitq.presets import dtype_bytes

        p = wl.params
        keep = p[~p.gemm_weight] if recipe.jitq_drops_working_copy else p
        if len(keep):
            st.working_copy_s = stream_time_s(float(keep.numel.sum()) * (dtype_bytes(recipe.master_dtype) +
                                              dtype_bytes(recipe.working_copy)), gpu, 1.0, 1)
            st.iteration_s += st.working_copy_s
    dram_stats: dict[str, Any] = {"dram_windows_simulated": n_sim, "dram_requests_simulated": requests,
                                  "host_slowdown_model": HOST_MODEL, "pim_model": HOST_MODEL}
    if stats_sum:
        acc_n = stats_sum.get("row_hits", 0) + stats_sum.get("row_misses", 0) + stats_sum.get("row_conflicts", 0)
        dram_stats["dram_row_hit_rate"] = stats_sum.get("row_hits", 0.0) / acc_n if acc_n else 0.0
        dram_stats["dram_reads"] = int(stats_sum.get("reads", 0))
        dram_stats["dram_writes"] = int(stats_sum.get("writes", 0))
    return st, dram_stats


def run_cell(model: str, format: str, scheme: str, gpu: str, dram: str, recipe: str = "paper-jitq",
             backward_format: str | None = None, trace: str | Path | None = None, batch: int | None = None,
             seq: int | None = None, prefetch_depth: int = 1, channel_subset: int = 1,
             max_requests: int = 50_000, dram_overrides: list[str] | None = None,
             efficiency: dict[str, float] | None = None, stream_from_simulator: bool = False,
             progress: bool = False,
             trace_data: Any = None) -> dict[str, Any]:
    """Capacity and iteration time of one cell; returns the flat record (see ``docs/reproduction.md``).

    ``trace_data`` (an object with ``header``/``ops``/``accesses``/``tensors``) replaces ``trace`` in
    tests. Without either, the model is captured in fake mode into :func:`cache_dir`.

    ``stream_from_simulator``: derate the GPU quantization passes by the DRAM simulator's single-channel
    sequential-read efficiency (always recorded as ``dram_streaming_efficiency``). Off by default: every
    other memory-bound op is timed with the GPU's sustained bandwidth (x memory efficiency), and the
    simulator's figure (Ramulator trace-frontend semantics, ~43% of peak for HBM3) is not comparable to
    it, so derating only the passes would favour JIT-Q.
    """
    PROFILE.clear()
    t_start = time.perf_counter()
    if scheme not in SCHEMES:
        raise JitqError(f"unknown scheme {scheme!r}; known: {', '.join(SCHEMES)}")
    if prefetch_depth < 0 or channel_subset < 1 or max_requests < 1:
        raise JitqError("prefetch_depth must be >= 0, channel_subset >= 1, max_requests >= 1")
    rec = load_recipe(recipe).with_formats(format, backward_format)
    g = load_gpu(gpu, efficiency)
    d = load_dram(dram, dram_overrides)
    if channel_subset > d.channels * g.hbm_stacks:
        raise JitqError(f"channel_subset {channel_subset} exceeds the {d.channels * g.hbm_stacks} channels")
    if trace_data is None:
        if trace is None:
            trace = _fake_capture(model, batch or 8, seq or 1024, progress)
        trace_data = load_trace(trace)
    hdr = trace_data.header
    if hdr.get("model") and hdr.get("model") != model and not str(hdr.get("model")).startswith("synthetic"):
        raise JitqError(f"trace is of model {hdr.get('model')!r}, not {model!r}")
    tr = hdr.get("recipe") or {}
    for k, v in (("batch", batch), ("seq", seq)):
        if v is not None and tr.get(k) is not None and int(tr[k]) != int(v):
            raise JitqError(f"--{k} {v} does not match the trace's {k} {tr[k]}")
    _say(f"{model} {rec.mx_forward}/{rec.mx_backward} {scheme} on {g.name} + {d.name} ({rec.name})", progress)
    t0 = time.perf_counter()
    wl = build_workload(trace_data)
    times = op_times(wl, rec, g)
    _, per_access = access_bytes(wl, rec)
    PROFILE["model_s"] = time.perf_counter() - t0
    cap_stored = capacity(wl, rec, "stored", prefetch_depth)
    cap = cap_stored if scheme == "stored" else capacity(wl, rec, scheme, prefetch_depth)
    t0 = time.perf_counter()
    sim_stream_eff = streaming_efficiency(d)
    stream_eff = sim_stream_eff if stream_from_simulator else 1.0
    PROFILE["simulator_s"] = time.perf_counter() - t0
    mxb = cap_stored.mx_bytes_per_weight
    t_stored = time_stored(wl, times, rec, g, mxb, stream_eff)
    dram_stats: dict[str, Any] = {"dram_windows_simulated": 0, "dram_requests_simulated": 0}
    if scheme == "stored":
        t_cell = t_stored
    elif scheme == "jitq-gpu":
        t_cell = time_jitq_gpu(wl, times, rec, g, mxb, stream_eff)
    else:
        t_cell, dram_stats = _pim_time(wl, per_access, rec, g, d, slots(wl, times, rec), prefetch_depth,
                                       channel_subset, max_requests, progress)
    dram_stats.setdefault("pim_model", "")
    dram_stats.setdefault("host_slowdown_model", "")
    recompute_s = float(sum(s.base_s for s in slots(wl, times, rec) if s.recompute))
    tokens = wl.tokens
    n = wl.n_params
    fitted = fit(wl, cap, g.memory_bytes, model)
    r: dict[str, Any] = {
        "record_version": RECORD_VERSION,
        "model": model, "format": rec.mx_forward, "backward_format": rec.mx_backward, "scheme": scheme,
        "gpu": g.name, "dram": d.name, "recipe": rec.name, "batch": int(tr.get("batch", batch or 0) or 0),
        "seq": int(tr.get("seq", seq or 0) or 0), "prefetch_depth": prefetch_depth,
        "channel_subset": channel_subset, "max_requests": max_requests,
        "dram_overrides": ",".join(dram_overrides or []),
        **{f"efficiency_{k}": v for k, v in sorted(g.efficiency.items())},
        "activation_checkpointing": rec.activation_checkpointing,
        "gradient_lifetime": rec.gradient_lifetime,
        "n_params": n, "n_params_quantized": int(wl.params[wl.params.gemm_weight].numel.sum()),
        "tokens_per_iteration": tokens,
        "peak_bytes": cap.peak_bytes, "peak_phase": cap.peak_phase, "peak_op": cap.peak_op,
        **{f"bytes_{c}": cap.at_peak[c] for c in CATEGORIES},
        "peak_bytes_stored": cap_stored.peak_bytes,
        "capacity_saving_pct": 100.0 * (cap_stored.peak_bytes - cap.peak_bytes) / cap_stored.peak_bytes,
        "model_state_bytes_per_param": cap.model_state_bytes_per_param(n),
        "gpu_memory_bytes": g.memory_bytes, "fits_gpu": cap.peak_bytes <= g.memory_bytes,
        **fitted,
        "iteration_s": t_cell.iteration_s, "iteration_s_stored": t_stored.iteration_s,
        "tokens_per_s": tokens / t_cell.iteration_s if t_cell.iteration_s > 0 else 0.0,
        "throughput_loss_pct": 100.0 * (t_cell.iteration_s - t_stored.iteration_s) / t_stored.iteration_s,
        # against an ideal iteration with no quantization or working-copy cost at all (the MX copies simply
        # exist): the reading of the paper's "throughput loss" that docs/reproduction.md compares with
        "iteration_s_ideal": t_cell.compute_s,
        "throughput_loss_vs_ideal_pct": 100.0 * (t_cell.iteration_s - t_cell.compute_s) / t_cell.compute_s
        if t_cell.compute_s > 0 else 0.0,
        "time_compute_s": t_cell.compute_s, "time_recompute_s": recompute_s, "time_quant_gpu_s": t_cell.quant_s,
        "time_working_copy_s": t_cell.working_copy_s, "time_gemm_s": float(times.time_s[wl.ops.gemm.to_numpy()].sum()),
        "pim_keeps_up": bool(t_cell.pim_stall_s <= 0.0) if scheme == "jitq-pim" else None,
        "pim_stall_s": t_cell.pim_stall_s, "pim_slowdown_s": t_cell.pim_slowdown_s,
        "pim_time_total_s": float(sum(t_cell.layer_pim_s)),
        "layer_names": t_cell.layer_names, "layer_gemm_s": t_cell.layer_gemm_s,
        "layer_pim_s": t_cell.layer_pim_s, "layer_stall_s": t_cell.layer_stall_s,
        "dram_model": "memsim", "dram_streaming_efficiency": sim_stream_eff,
        "stream_from_simulator": stream_from_simulator,
        **dram_stats,
        "harness_version": __version__, "trace_schema_version": int(hdr.get("schema_version", 0)),
        "trace_mode": str(hdr.get("mode", "")), "trace_torch_version": str(hdr.get("torch_version", "")),
        "recipe_sha256": rec.sha256, "gpu_sha256": g.sha256,
        "dram_sha256": hashlib.sha256(json.dumps(d.raw, sort_keys=True, default=str).encode()).hexdigest()[:16],
        "trace_sha256": trace_sha256(trace_data),
    }
    PROFILE["total_s"] = time.perf_counter() - t_start
    _say(f"peak {cap.peak_bytes / 1e9:.3f} GB (saving {r['capacity_saving_pct']:.2f}%), iteration "
         f"{t_cell.iteration_s * 1e3:.3f} ms (loss {r['throughput_loss_pct']:.3f}%)", progress)
    return r


def record_bytes(record: dict[str, Any]) -> bytes:
    """The canonical JSON bytes of a record (sorted keys; NaN refused)."""
    return (json.dumps(record, sort_keys=True, indent=1, allow_nan=False) + "\n").encode()


def write_record(record: dict[str, Any], out: str | Path) -> None:
    """Write atomically: a temp file in the same directory, then rename."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(record_bytes(record))
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
