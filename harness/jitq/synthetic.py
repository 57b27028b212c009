"""An analytic GPT-style training-step trace in the capture contract's format (CONTRACTS.md E).

Why it exists: the unit tests of the capacity, timing and PIM models need traces of known size for
models from 1M to 175B parameters in well under a second, independent of the capture helper and of
torch. It is not a substitute for a captured trace: op names, module paths and lifetimes follow what a
GPT-2 block does (pre-LN, fused QKV, GELU MLP, tied LM head), with FP32 tensors, batch x seq tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class TraceData:
    """Same attributes as ``harness.capture.Trace``: header dict and the three tables."""

    header: dict[str, Any]
    ops: pd.DataFrame
    accesses: pd.DataFrame
    tensors: pd.DataFrame


@dataclass
class _Builder:
    ops: list[dict[str, Any]] = field(default_factory=list)
    acc: list[dict[str, Any]] = field(default_factory=list)
    ten: list[dict[str, Any]] = field(default_factory=list)
    next_addr: int = 1 << 20
    phase: str = "forward"

    def tensor(self, shape: tuple[int, ...], category: str, param_name: str = "", persistent: bool = False,
               elem: int = 4) -> int:
        n = elem
        for s in shape:
            n *= s
        tid = len(self.ten)
        self.ten.append(dict(tensor_id=tid, nbytes=n, base_address=self.next_addr, category=category,
                             param_name=param_name, first_op=-1, last_op=-1, persistent=persistent,
                             _shape=shape, _dtype="float32" if elem == 4 else "int64"))
        self.next_addr += (n + 4095) // 4096 * 4096
        return tid

    def op(self, name: str, module: str, flops: int, reads: list[int], writes: list[int]) -> int:
        oid = len(self.ops)
        self.ops.append(dict(op_id=oid, step=0, name=name, phase=self.phase, module=module, flops=int(flops)))
        for role, tids in (("read", reads), ("write", writes)):
            for t in tids:
                r = self.ten[t]
                shape = r["_shape"]
                strides, acc = [], 1
                for s in reversed(shape):
                    strides.append(acc)
                    acc *= s
                self.acc.append(dict(op_id=oid, tensor_id=t, role=role, offset=0, nbytes=r["nbytes"],
                                     address=r["base_address"], dtype=r["_dtype"],
                                     shape="x".join(map(str, shape)), strides="x".join(map(str, reversed(strides)))))
                if r["first_op"] < 0:
                    r["first_op"] = oid
                r["last_op"] = oid
        return oid


def gpt_trace(n_layer: int = 2, d_model: int = 64, n_head: int = 4, vocab: int = 256, batch: int = 2,
              seq: int = 32, d_ff: int | None = None, model: str = "synthetic-gpt") -> TraceData:
    """A forward + backward + per-tensor Adam step of a GPT-2-style model, FP32, as a TraceData."""
    d_ff = d_ff or 4 * d_model
    b = _Builder()
    B, S, D, F, V, H = batch, seq, d_model, d_ff, vocab, n_head
    T = B * S
    params: dict[str, int] = {}

    def param(name: str, shape: tuple[int, ...]) -> int:
        params[name] = b.tensor(shape, "parameter", name, persistent=True)
        return params[name]

    param("transformer.wte.weight", (V, D))
    param("transformer.wpe.weight", (S, D))
    for i in range(n_layer):
        p = f"transformer.h.{i}"
        for ln in ("ln_1", "ln_2"):
            param(f"{p}.{ln}.weight", (D,))
            param(f"{p}.{ln}.bias", (D,))
        for lin, (o, k) in (("attn.c_attn", (3 * D, D)), ("attn.c_proj", (D, D)), ("mlp.c_fc", (F, D)),
                            ("mlp.c_proj", (D, F))):
            param(f"{p}.{lin}.weight", (o, k))
            param(f"{p}.{lin}.bias", (o,))
    param("transformer.ln_f.weight", (D,))
    param("transformer.ln_f.bias", (D,))
    ids = b.tensor((B, S), "input", elem=8)
    labels = b.tensor((B, S), "input", elem=8)

    # ---------------------------------------------------------------------------------------- forward
    saved: list[tuple[str, str, int, int, int, str]] = []  # (kind, module, in, weight, out, ...) for backward
    x = b.tensor((B, S, D), "activation")
    pe = b.tensor((B, S, D), "activation")
    b.op("aten.embedding.default", "transformer.wte", 0, [params["transformer.wte.weight"], ids], [x])
    b.op("aten.embedding.default", "transformer.wpe", 0, [params["transformer.wpe.weight"]], [pe])
    h = b.tensor((B, S, D), "activation")
    b.op("aten.add.Tensor", "transformer", T * D, [x, pe], [h])
    for i in range(n_layer):
        p = f"transformer.h.{i}"

        def ln(name: str, src: int) -> int:
            out = b.tensor((B, S, D), "activation")
            b.op("aten.native_layer_norm.default", f"{p}.{name}", 8 * T * D,
                 [src, params[f"{p}.{name}.weight"], params[f"{p}.{name}.bias"]], [out])
            saved.append(("ln", f"{p}.{name}", src, params[f"{p}.{name}.weight"], out, ""))
            return out

        def linear(name: str, src: int, o: int, k: int) -> int:
            out = b.tensor((B, S, o), "activation")
            b.op("aten.addmm.default", f"{p}.{name}", 2 * T * o * k,
                 [params[f"{p}.{name}.bias"], src, params[f"{p}.{name}.weight"]], [out])
            saved.append(("linear", f"{p}.{name}", src, params[f"{p}.{name}.weight"], out, f"{o}x{k}"))
            return out

        a = ln("ln_1", h)
        qkv = linear("attn.c_attn", a, 3 * D, D)
        sc = b.tensor((B, H, S, S), "activation")
        b.op("aten.bmm.default", f"{p}.attn", 2 * B * S * S * D, [qkv], [sc])
        pr = b.tensor((B, H, S, S), "activation")
        b.op("aten._softmax.default", f"{p}.attn", 5 * B * H * S * S, [sc], [pr])
        att = b.tensor((B, S, D), "activation")
        b.op("aten.bmm.default", f"{p}.attn", 2 * B * S * S * D, [pr, qkv], [att])
        saved.append(("attn", f"{p}.attn", qkv, pr, att, ""))
        o1 = linear("attn.c_proj", att, D, D)
        h1 = b.tensor((B, S, D), "activation")
        b.op("aten.add.Tensor", p, T * D, [h, o1], [h1])
        m = ln("ln_2", h1)
        f1 = linear("mlp.c_fc", m, F, D)
        g = b.tensor((B, S, F), "activation")
        b.op("aten.gelu.default", f"{p}.mlp.act", 8 * T * F, [f1], [g])
        saved.append(("gelu", f"{p}.mlp.act", f1, -1, g, ""))
        f2 = linear("mlp.c_proj", g, D, F)
        h2 = b.tensor((B, S, D), "activation")
        b.op("aten.add.Tensor", p, T * D, [h1, f2], [h2])
        h = h2
    hf = b.tensor((B, S, D), "activation")
    b.op("aten.native_layer_norm.default", "transformer.ln_f", 8 * T * D,
         [h, params["transformer.ln_f.weight"], params["transformer.ln_f.bias"]], [hf])
    logits = b.tensor((B, S, V), "activation")
    b.op("aten.mm.default", "lm_head", 2 * T * V * D, [hf, params["transformer.wte.weight"]], [logits])
    loss = b.tensor((), "activation")
    b.op("aten._log_softmax.default", "", 5 * T * V, [logits, labels], [loss])

    # --------------------------------------------------------------------------------------- backward
    b.phase = "backward"
    grads: dict[str, int] = {}

    def grad_of(name: str) -> int:
        if name not in grads:
            shape = b.ten[params[name]]["_shape"]
            grads[name] = b.tensor(shape, "gradient", name, persistent=False)
        return grads[name]

    dlog = b.tensor((B, S, V), "activation")
    b.op("aten._log_softmax_backward_data.default", "", 5 * T * V, [loss, logits], [dlog])
    dh = b.tensor((B, S, D), "activation")
    b.op("aten.mm.default", "lm_head", 2 * T * V * D, [dlog, params["transformer.wte.weight"]], [dh])
    b.op("aten.mm.default", "lm_head", 2 * T * V * D, [dlog, hf], [grad_of("transformer.wte.weight")])
    g2 = b.tensor((B, S, D), "activation")
    b.op("aten.native_layer_norm_backward.default", "transformer.ln_f", 10 * T * D,
         [dh, h, params["transformer.ln_f.weight"]],
         [g2, grad_of("transformer.ln_f.weight"), grad_of("transformer.ln_f.bias")])
    dh = g2
    for kind, mod, src, w, out, shp in reversed(saved):
        if kind == "linear":
            o, k = map(int, shp.split("x"))
            dx = b.tensor(b.ten[src]["_shape"], "activation")
            b.op("aten.mm.default", mod, 2 * T * o * k, [dh, w], [dx])
            b.op("aten.mm.default", mod, 2 * T * o * k, [dh, src], [grad_of(f"{mod}.weight")])
            b.op("aten.sum.dim_IntList", mod, T * o, [dh], [grad_of(f"{mod}.bias")])
            dh = dx
        elif kind == "ln":
            dx = b.tensor((B, S, D), "activation")
            b.op("aten.native_layer_norm_backward.default", mod, 10 * T * D, [dh, src, w],
                 [dx, grad_of(f"{mod}.weight"), grad_of(f"{mod}.bias")])
            dh = dx
        elif kind == "gelu":
            dx = b.tensor(b.ten[src]["_shape"], "activation")
            b.op("aten.gelu_backward.default", mod, 10 * T * F, [dh, src], [dx])
            dh = dx
        else:  # attention: grads of probs and qkv
            dp = b.tensor((B, H, S, S), "activation")
            b.op("aten.bmm.default", mod, 2 * B * S * S * D, [dh, src], [dp])
            ds = b.tensor((B, H, S, S), "activation")
            b.op("aten._softmax_backward_data.default", mod, 5 * B * H * S * S, [dp, w], [ds])
            dq = b.tensor(b.ten[src]["_shape"], "activation")
            b.op("aten.bmm.default", mod, 4 * B * S * S * D, [ds, w, dh, src], [dq])
            dh = dq
    b.op("aten.embedding_dense_backward.default", "transformer.wpe", T * D, [dh], [grad_of("transformer.wpe.weight")])
    b.op("aten.embedding_dense_backward.default", "transformer.wte", T * D, [dh, ids],
         [grad_of("transformer.wte.weight")])

    # -------------------------------------------------------------------------------------- optimizer
    b.phase = "optimizer"
    for name, pid in params.items():
        shape = b.ten[pid]["_shape"]
        m = b.tensor(shape, "optimizer_state", name, persistent=True)
        v = b.tensor(shape, "optimizer_state", name, persistent=True)
        n = b.ten[pid]["nbytes"] // 4
        b.op("aten._fused_adamw_.default", "", 12 * n, [pid, grad_of(name), m, v], [pid, m, v])

    tensors = pd.DataFrame([{k: v for k, v in r.items() if not k.startswith("_")} for r in b.ten])
    tensors = tensors.astype({"tensor_id": "int64", "nbytes": "int64", "base_address": "int64",
                              "first_op": "int64", "last_op": "int64", "persistent": "bool"})
    ops = pd.DataFrame(b.ops).astype({"op_id": "int64", "step": "int64", "flops": "int64"})
    acc = pd.DataFrame(b.acc).astype({"op_id": "int64", "tensor_id": "int64", "offset": "int64",
                                      "nbytes": "int64", "address": "int64"})
    n_params = int(sum(b.ten[p]["nbytes"] // 4 for p in params.values()))
    header = dict(schema_version=1, model=model, mode="fake", generator="harness.jitq.synthetic", torch_version="", command_line="",
                  n_params=n_params,
                  recipe=dict(batch=batch, seq=seq, optimizer="adamw", master_dtype="fp32", grad_dtype="fp32",
                              mx_forward=None, mx_backward=None, steps=1),
                  synthetic=dict(n_layer=n_layer, d_model=d_model, n_head=n_head, d_ff=d_ff, vocab=vocab))
    return TraceData(header, ops, acc, tensors)
