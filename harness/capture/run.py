"""Capture whole training steps of a zoo model into a trace (contract E).

A step is: forward (``loss = model(input_ids, labels)``), backward (``loss.backward()``), optimizer
(``optimizer.step()`` then ``optimizer.zero_grad(set_to_none=True)``). ``real`` mode runs on the CPU;
``fake`` mode builds the model and batch as CPU-device fake tensors under ``FakeTensorMode`` (no
memory; the same kernels are chosen, so the op stream is the same as in real mode; the ``meta`` device
would not be: SDPA picks its math path there) and gives storages virtual addresses from
``AllocatorModel``."""

from __future__ import annotations

import contextlib
import shlex
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from harness.capture.recorder import BWD, FWD, OPT, PHASES, Recorder
from harness.capture.schema import SCHEMA_VERSION, Trace, TraceError, commit_dir, fill_dir, make_temp_dir
from harness.capture.tables import build_tables
from harness.models import ModelError, build_model, check_shape, get_config, make_batch, param_count

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


class CaptureError(ValueError):
    """Bad capture request (unknown option value, MX support missing, ...)."""


def make_optimizer(name: str, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """AdamW (default settings, per-tensor implementation as on CPU) or plain SGD with momentum 0."""
    if name == "adamw":
        return torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01, foreach=False)
    if name == "sgd":
        return torch.optim.SGD(params, lr=1e-3, foreach=False)
    raise CaptureError(f"unknown optimizer {name!r}; choose adamw or sgd")


MX_MODES = ("jit", "stored")


def _swap_mx(model: torch.nn.Module, fwd: str, bwd: str | None, mx_mode: str) -> torch.nn.Module:
    """Swap every ``nn.Linear`` for ``MXLinear`` (contract D). The GPT LM head (``F.linear`` with the
    tied embedding) and embeddings stay in the master precision."""
    try:
        from harness.mx.torch import swap_linear_to_mx
    except ImportError as e:
        raise CaptureError(f"MX recipe needs harness.mx.torch (MXLinear), which is not available: {e}") from None
    try:
        return swap_linear_to_mx(model, fwd, bwd, mode=mx_mode)
    except ValueError as e:
        raise CaptureError(f"MX recipe: {e}") from None


def check_mx(fwd: str, bwd: str | None, real: bool) -> None:
    """Fail before capturing: formats must be known, and a real run needs the MX kernel."""
    try:
        import harness.mx.torch as mxt
    except ImportError as e:
        raise CaptureError(f"MX recipe needs harness.mx.torch (MXLinear), which is not available: {e}") from None
    for fmt in {fwd, bwd or fwd}:
        try:
            if real:
                mxt.quantize_dequantize(torch.zeros(64), fmt)
            else:
                mxt.MXLinear(1, 1, fwd_format=fmt, device="meta")
        except ImportError as e:
            raise CaptureError(f"MX recipe in real mode: {e}") from None
        except ValueError as e:
            raise CaptureError(f"MX recipe: {e}") from None


def _refresh_mx(model: torch.nn.Module) -> None:
    from harness.mx.torch import refresh_mx_copies

    refresh_mx_copies(model)


def training_step(
    model: torch.nn.Module, opt: torch.optim.Optimizer, input_ids: torch.Tensor, labels: torch.Tensor,
    rec: Recorder | None = None, step: int = 0, names: dict[int, str] | None = None, mx_stored: bool = False,
) -> None:
    """One step: forward, backward, optimizer step, zero_grad (set to None). With ``rec`` (already
    entered) the phases are marked and gradients / optimizer states get their categories. With
    ``mx_stored`` the stored MX weight copies are refreshed after the optimizer step (optimizer phase)."""
    if rec is None:
        loss = model(input_ids, labels)
        loss.backward()
        del loss
        opt.step()
        if mx_stored:
            _refresh_mx(model)
        opt.zero_grad(set_to_none=True)
        return
    names = names if names is not None else {id(p): n for n, p in model.named_parameters()}
    with rec.in_phase(FWD, step):
        loss = model(input_ids, labels)
    with rec.in_phase(BWD, step):
        loss.backward()
        del loss
        for p in model.parameters():
            if p.grad is not None:
                rec.register(p.grad, "gradient", names[id(p)])
    with rec.in_phase(OPT, step):
        opt.step()
        if mx_stored:  # stored MX copies are re-quantized from the updated master weights
            _refresh_mx(model)
        for p, state in opt.state.items():
            for v in state.values():
                if isinstance(v, torch.Tensor):
                    rec.register(v, "optimizer_state", names.get(id(p), ""))
        opt.zero_grad(set_to_none=True)


def _run_steps(
    cfg: Any, batch: int, seq: int, mode: str, optimizer: str, master_dtype: str,
    mx_forward: str | None, mx_backward: str | None, steps: int, progress: Any, mx_mode: str = "jit",
) -> Recorder:
    """Build everything (under FakeTensorMode in fake mode: CPU-device fake tensors, so kernels are
    chosen exactly as in real mode) and run the steps under the recorder."""
    model = build_model(cfg, device="cpu", dtype=DTYPES[master_dtype])
    if mx_forward:
        model = _swap_mx(model, mx_forward, mx_backward, mx_mode)
    mx_stored = bool(mx_forward) and mx_mode == "stored"
    names = {id(p): n for n, p in model.named_parameters()}
    opt = make_optimizer(optimizer, list(model.parameters()))
    input_ids, labels = make_batch(cfg, batch, seq, device="cpu")
    rec = Recorder(fake=(mode == "fake"), model=model, progress=progress)
    for n, p in model.named_parameters():
        rec.register(p, "parameter", n)
    for n, b in model.named_buffers():
        mod, _, leaf = n.rpartition(".")
        if leaf in ("weight_fwd", "weight_bwd"):  # stored MX directional copies of mod.weight
            rec.register(b, "mx_copy", f"{mod}.weight" if mod else "weight")
        else:
            rec.register(b, "other", n)
    rec.register(input_ids, "input", "input_ids")
    rec.register(labels, "input", "labels")
    with rec:
        for step in range(steps):
            training_step(model, opt, input_ids, labels, rec, step, names, mx_stored)
    rec.finish()  # before the model and optimizer go out of scope: what is alive now is persistent
    return rec


def record(
    model_name: str,
    batch: int,
    seq: int,
    mode: str = "real",
    optimizer: str = "adamw",
    master_dtype: str = "fp32",
    mx_forward: str | None = None,
    mx_backward: str | None = None,
    steps: int = 1,
    mx_mode: str = "jit",
    command_line: str | None = None,
    progress: Callable[[Recorder], None] | None = None,
) -> Trace:
    """Run ``steps`` training steps under the recorder and return the trace (not yet written)."""
    cfg = get_config(model_name)
    check_shape(cfg, batch, seq)
    if mode not in ("real", "fake"):
        raise CaptureError(f"unknown mode {mode!r}; choose real or fake")
    if master_dtype not in DTYPES:
        raise CaptureError(f"unknown master dtype {master_dtype!r}; choose {', '.join(DTYPES)}")
    if optimizer not in ("adamw", "sgd"):
        raise CaptureError(f"unknown optimizer {optimizer!r}; choose adamw or sgd")
    if not isinstance(steps, int) or steps < 1:
        raise CaptureError(f"steps must be a positive integer, got {steps!r}")
    if mx_backward and not mx_forward:
        raise CaptureError("--mx-backward needs --mx-forward")
    if mx_mode not in MX_MODES:
        raise CaptureError(f"unknown MX mode {mx_mode!r}; choose {' or '.join(MX_MODES)}")
    if mx_forward:
        check_mx(mx_forward, mx_backward, real=(mode == "real"))
    if mode == "fake":
        from torch._subclasses.fake_tensor import FakeTensorMode

        ctx: Any = FakeTensorMode()
    else:
        ctx = contextlib.nullcontext()
    with ctx:
        rec = _run_steps(cfg, batch, seq, mode, optimizer, master_dtype, mx_forward, mx_backward, steps, progress,
                         mx_mode)
    ops, accesses, tensors = build_tables(rec)
    header = {
        "schema_version": SCHEMA_VERSION,
        "model": cfg.name,
        "recipe": {
            "batch": batch, "seq": seq, "optimizer": optimizer, "master_dtype": master_dtype,
            "grad_dtype": master_dtype, "mx_forward": mx_forward, "mx_backward": (mx_backward or mx_forward) if mx_forward else None, "steps": steps,
            "mx_mode": mx_mode if mx_forward else None,
        },
        "torch_version": torch.__version__,
        "mode": mode,
        "command_line": command_line if command_line is not None else shlex.join(sys.argv),
        "n_params": param_count(cfg),
        "n_ops": int(len(ops)),
        "phases": list(PHASES),
    }
    if mode == "fake":
        header["allocator"] = {"round_bytes": 512, "policy": "best-fit, split, coalesce, free at storage death",
                               "reserved_bytes": rec.alloc.heap_top if rec.alloc else 0}
    return Trace(header, ops, accesses, tensors)


def capture(out: str | Path, model_name: str, batch: int, seq: int, **kw: Any) -> Path:
    """Record and write a trace directory atomically. The destination is checked (and a temporary
    sibling created) before any work, so an unwritable ``out`` fails fast and nothing partial remains."""
    check_shape(model_name, batch, seq)
    target = Path(out)
    tmp = make_temp_dir(target)
    try:
        trace = record(model_name, batch, seq, **kw)
        fill_dir(trace, tmp)
        return commit_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


__all__ = ["capture", "record", "CaptureError", "ModelError", "TraceError"]
