"""MX quantization inside PyTorch: a fake-quantize custom op and an ``nn.Linear`` replacement.

Why a registered custom op (``jitq::mx_qdq``) rather than a plain Python function: the trace capture
records MX training steps under ``FakeTensorMode`` / on meta tensors for models far too large to run, so
the quantizer must (a) have a shape-only "fake" implementation and (b) appear as one named op in a
dispatch-level trace, where it marks the bytes that JIT-Q moves into the memory.  The real CPU
implementation delegates to :func:`harness.mx.quantize_dequantize`, the project's single bit-exact
quantizer (C++ kernel), so training runs, the GPU baseline and the PIM model all see the same bits.

:class:`MXLinear` follows the dataflow of the Microscaling paper (and microxcaling's ``mx.Linear``):

====================  ======================================  =====================================
GEMM                  operands                                blocks along (= reduction axis)
====================  ======================================  =====================================
forward  y = x W^T    x, W in ``fwd_format``                   in-features (W: axis 1)
backward-data dx      dy, W in ``bwd_format``                  out-features (W: axis 0)
backward-weight dW    dy, x in ``bwd_format``                  tokens (batch x sequence)
====================  ======================================  =====================================

The two weight copies (forward: blocked along input features; backward: along output features) are the
"directional" copies.  ``mode="jit"`` re-quantizes the master weight at every use (what JIT-Q does in
the memory); ``mode="stored"`` keeps both copies as buffers refreshed by :meth:`MXLinear.refresh_copies`
after each optimizer step (what a stored-copy scheme does).  Because the quantizer is a pure function of
the master weight, both modes give bit-identical training.  Gradients reach the master weights through a
straight-through estimator; the bias and the bias gradient stay in the master precision.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "quantize_dequantize",
    "MXLinear",
    "swap_linear_to_mx",
    "OP_NAME",
]

#: Qualified name of the registered op, as it shows in dispatch traces (``torch.ops.jitq.mx_qdq``).
OP_NAME = "jitq::mx_qdq"

_FLOAT_DTYPES = (torch.float32, torch.bfloat16, torch.float16, torch.float64)
_MODES = ("jit", "stored")


def _mx():
    """The numpy-level MX package; imported on use so this module loads even while it is rebuilt."""
    import harness.mx as mx

    return mx


def _format_error(msg: str) -> Exception:
    err = getattr(_mx(), "MXFormatError", ValueError)
    return err(msg)


def _check_format(fmt: str) -> None:
    formats = _mx().FORMATS
    if not isinstance(fmt, str) or fmt not in formats:
        raise _format_error(f"unknown MX format {fmt!r}; known: {', '.join(sorted(formats))}")


def _check_args(x: Tensor, fmt: str, axis: int) -> None:
    if x.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"MX quantization needs a floating-point tensor, got {x.dtype}")
    _check_format(fmt)
    if x.dim() == 0:
        raise ValueError("MX quantization needs a tensor with at least one dimension")
    if not -x.dim() <= axis < x.dim():
        raise IndexError(f"axis {axis} out of range for a tensor with {x.dim()} dimensions")


@torch.library.custom_op(OP_NAME, mutates_args=())
def _mx_qdq(x: Tensor, fmt: str, axis: int) -> Tensor:
    """Real implementation (any device): quantize on the host through ``harness.mx``."""
    _check_args(x, fmt, axis)
    src = x.detach().to(device="cpu", dtype=torch.float32).contiguous()
    out = _mx().quantize_dequantize(src.numpy(), fmt, axis)
    res = torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32))
    return res.to(device=x.device, dtype=x.dtype)


@_mx_qdq.register_fake
def _mx_qdq_fake(x: Tensor, fmt: str, axis: int) -> Tensor:
    """Shape/dtype-only implementation used by FakeTensorMode and meta tensors."""
    _check_args(x, fmt, axis)
    return torch.empty_like(x, memory_format=torch.contiguous_format)


def _qdq_setup_context(ctx, inputs, output) -> None:  # noqa: ANN001 - torch's signature
    pass


def _qdq_backward(ctx, grad: Tensor):  # noqa: ANN001
    # Straight-through estimator: d qdq(x) / dx := 1.
    return grad, None, None


_mx_qdq.register_autograd(_qdq_backward, setup_context=_qdq_setup_context)


def quantize_dequantize(t: Tensor, fmt: str, axis: int = -1) -> Tensor:
    """Fake-quantize ``t`` to MX format ``fmt`` with blocks along ``axis``; same shape and dtype.

    Non-float32 inputs (bf16, fp16) are quantized from their float32 value and the result is cast back;
    the gradient passes straight through.
    """
    return torch.ops.jitq.mx_qdq(t, fmt, int(axis))


def _qdq(t: Tensor, fmt: str, axis: int) -> Tensor:
    return torch.ops.jitq.mx_qdq(t, fmt, axis)


class _MXLinearFn(torch.autograd.Function):
    """y = qf(x) qf(W, in)^T + b with the backward GEMMs on their own quantized operands.

    ``w_fwd`` / ``w_bwd`` are the stored directional copies, or ``None`` to quantize just in time.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, w_fwd, w_bwd, fwd_format, bwd_format):  # noqa: ANN001
        xq = _qdq(x, fwd_format, -1)
        wq = w_fwd if w_fwd is not None else _qdq(weight, fwd_format, 1)
        ctx.save_for_backward(x, weight, w_bwd)
        ctx.bwd_format = bwd_format
        ctx.has_bias = bias is not None
        return F.linear(xq, wq, bias)

    @staticmethod
    def backward(ctx, grad_out):  # noqa: ANN001
        x, weight, w_bwd = ctx.saved_tensors
        fmt = ctx.bwd_format
        out_f, in_f = weight.shape
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            wq = w_bwd if w_bwd is not None else _qdq(weight, fmt, 0)
            grad_x = _qdq(grad_out, fmt, -1).matmul(wq)
        g2 = grad_out.reshape(-1, out_f)
        if ctx.needs_input_grad[1]:
            x2 = x.reshape(-1, in_f)
            grad_w = _qdq(g2, fmt, 0).t().matmul(_qdq(x2, fmt, 0))
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = g2.sum(0)
        return grad_x, grad_w, grad_b, None, None, None, None


class MXLinear(nn.Linear):
    """Drop-in ``nn.Linear`` whose three GEMMs run on MX-quantized operands (see module docstring).

    ``fwd_format`` quantizes the forward GEMM; ``bwd_format`` (default: ``fwd_format``) both backward
    GEMMs.  The state dict holds only ``weight`` and ``bias``: the stored copies are derived data.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        fwd_format: str = "MXFP8_E4M3",
        bwd_format: str | None = None,
        mode: str = "jit",
        device=None,  # noqa: ANN001 - as nn.Linear
        dtype=None,  # noqa: ANN001
    ) -> None:
        bwd_format = fwd_format if bwd_format is None else bwd_format
        _check_format(fwd_format)
        _check_format(bwd_format)
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        self.fwd_format = fwd_format
        self.bwd_format = bwd_format
        self.mode = mode
        self._copies_version: int | None = None
        if mode == "stored":
            self.register_buffer("weight_fwd", torch.empty_like(self.weight), persistent=False)
            self.register_buffer("weight_bwd", torch.empty_like(self.weight), persistent=False)
            self.refresh_copies()

    @torch.no_grad()
    def refresh_copies(self) -> None:
        """Re-quantize both directional copies from the master weight (stored mode; a no-op in jit
        mode).  Call after every ``optimizer.step()``; the buffers are updated in place so that they
        keep their storage (a persistent tensor in a captured trace)."""
        if self.mode != "stored":
            return
        w = self.weight.detach()
        fwd = _qdq(w, self.fwd_format, 1)
        bwd = _qdq(w, self.bwd_format, 0)
        if self.weight_fwd.shape != w.shape or self.weight_fwd.dtype != w.dtype:
            self.weight_fwd = fwd
            self.weight_bwd = bwd
        else:
            self.weight_fwd.copy_(fwd)
            self.weight_bwd.copy_(bwd)
        self._copies_version = _version_of(self.weight)

    def forward(self, x: Tensor) -> Tensor:
        w_fwd = w_bwd = None
        if self.mode == "stored":
            if self._copies_version != _version_of(self.weight):
                raise RuntimeError(
                    "MXLinear(mode='stored'): the weight changed since the stored copies were made; "
                    "call refresh_copies() (or refresh_mx_copies(model)) after optimizer.step()"
                )
            w_fwd, w_bwd = self.weight_fwd, self.weight_bwd
        return _MXLinearFn.apply(x, self.weight, self.bias, w_fwd, w_bwd, self.fwd_format, self.bwd_format)

    def _load_from_state_dict(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super()._load_from_state_dict(*args, **kwargs)
        self.refresh_copies()

    def __setstate__(self, state: dict) -> None:
        # deepcopy / unpickling copy the weight and its stored copies together, but the new weight
        # tensor starts a new version counter: re-sync it so the copy is not taken for stale.
        super().__setstate__(state)
        if getattr(self, "mode", "jit") == "stored" and "weight" in self._parameters:
            self._copies_version = _version_of(self.weight)

    def _apply(self, fn, recurse: bool = True):  # noqa: ANN001
        out = super()._apply(fn, recurse)
        self.refresh_copies()
        return out

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, fwd_format={self.fwd_format}, bwd_format={self.bwd_format}, mode={self.mode}"


def _version_of(t: Tensor) -> int | None:
    try:
        return int(t._version)
    except (RuntimeError, AttributeError):  # inference tensors have no version counter
        return None


def swap_linear_to_mx(
    model: nn.Module, fwd_format: str, bwd_format: str | None = None, mode: str = "jit"
) -> nn.Module:
    """Replace every ``nn.Linear`` in ``model`` (in place; also returned) with an :class:`MXLinear`
    sharing the same ``weight``/``bias`` Parameters, so optimizers and tied weights stay valid.

    Only modules whose type is exactly ``nn.Linear`` are swapped: subclasses such as the
    ``out_proj`` of ``nn.MultiheadAttention`` are used through their ``.weight`` by fused code that
    would bypass ``MXLinear.forward``, so swapping them would change nothing but the name.
    """
    if type(model) is nn.Linear:
        raise TypeError("swap_linear_to_mx swaps the children of a model; wrap a lone nn.Linear yourself")
    for name, child in list(model.named_children()):
        if type(child) is nn.Linear:
            setattr(model, name, _mx_from_linear(child, fwd_format, bwd_format, mode))
        else:
            swap_linear_to_mx(child, fwd_format, bwd_format, mode)
    return model


def _mx_from_linear(lin: nn.Linear, fwd_format: str, bwd_format: str | None, mode: str) -> MXLinear:
    # Build on the meta device (no RNG draw, no allocation), then adopt the existing Parameters.
    new = MXLinear(
        lin.in_features, lin.out_features, bias=lin.bias is not None,
        fwd_format=fwd_format, bwd_format=bwd_format, mode="jit", device="meta",
    )
    new.weight = lin.weight
    new.bias = lin.bias
    new.train(lin.training)
    if mode == "stored":
        new.mode = "stored"
        new.register_buffer("weight_fwd", torch.empty(0), persistent=False)
        new.register_buffer("weight_bwd", torch.empty(0), persistent=False)
        new.refresh_copies()
    elif mode != "jit":
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    return new


def refresh_mx_copies(model: nn.Module) -> int:
    """Refresh the stored copies of every stored-mode :class:`MXLinear` in ``model``; returns how many."""
    n = 0
    for m in model.modules():
        if isinstance(m, MXLinear) and m.mode == "stored":
            m.refresh_copies()
            n += 1
    return n


__all__.append("refresh_mx_copies")
