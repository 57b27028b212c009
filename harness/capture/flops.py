"""FLOPs of the matmul-like and convolution aten ops (a multiply-add counts 2). Bias additions and
softmax are not counted; attention counts its two (forward) or four (backward) matmuls, without
flash-attention recomputation; causal masking is not discounted."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

aten = torch.ops.aten


def _prod(xs: Any) -> int:
    return int(math.prod(int(x) for x in xs))


def _mm(args: tuple, kwargs: dict, out: Any) -> int:
    a, b = args[0], args[1]
    return 2 * int(a.shape[0]) * int(a.shape[1]) * int(b.shape[1])


def _addmm(args: tuple, kwargs: dict, out: Any) -> int:
    return _mm(args[1:], kwargs, out)


def _bmm(args: tuple, kwargs: dict, out: Any) -> int:
    a, b = args[0], args[1]
    return 2 * int(a.shape[0]) * int(a.shape[1]) * int(a.shape[2]) * int(b.shape[2])


def _baddbmm(args: tuple, kwargs: dict, out: Any) -> int:
    return _bmm(args[1:], kwargs, out)


def _linear(args: tuple, kwargs: dict, out: Any) -> int:
    x, w = args[0], args[1]
    return 2 * _prod(x.shape[:-1]) * int(w.shape[0]) * int(w.shape[1])


def _conv(args: tuple, kwargs: dict, out: Any) -> int:
    w = args[1]  # (C_out, C_in / groups, *kernel)
    o = out[0] if isinstance(out, (tuple, list)) else out
    return 2 * o.numel() * int(w.shape[1]) * _prod(w.shape[2:])


def _conv_bwd(args: tuple, kwargs: dict, out: Any) -> int:
    grad_out, w = args[0], args[2]
    mask = args[10] if len(args) > 10 else [True, True, True]
    one = 2 * grad_out.numel() * int(w.shape[1]) * _prod(w.shape[2:])
    return one * (int(bool(mask[0])) + int(bool(mask[1])))


def _attn(args: tuple, kwargs: dict, out: Any) -> int:
    q, k = args[0], args[1]
    return 4 * _prod(q.shape[:-1]) * int(k.shape[-2]) * int(q.shape[-1])


def _attn_bwd(args: tuple, kwargs: dict, out: Any) -> int:
    # args: grad_out, query, key, value, ...
    q, k = args[1], args[2]
    return 8 * _prod(q.shape[:-1]) * int(k.shape[-2]) * int(q.shape[-1])


def _table() -> dict[Any, Callable[[tuple, dict, Any], int]]:
    t: dict[Any, Callable[[tuple, dict, Any], int]] = {
        aten.mm.default: _mm, aten.addmm.default: _addmm, aten.bmm.default: _bmm,
        aten.baddbmm.default: _baddbmm, aten.linear.default: _linear,
        aten.convolution.default: _conv, aten.convolution_backward.default: _conv_bwd,
    }
    fwd = ["_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_flash_attention",
           "_scaled_dot_product_efficient_attention", "_scaled_dot_product_cudnn_attention",
           "_scaled_dot_product_attention_math"]
    for name in fwd:
        if hasattr(aten, name):
            t[getattr(aten, name).default] = _attn
        if hasattr(aten, name + "_backward"):
            t[getattr(aten, name + "_backward").default] = _attn_bwd
    return t


FLOP_FUNCS = _table()
