"""The model zoo's modules, in plain PyTorch so that every op is visible to the capture recorder and
nothing depends on downloads or on ``transformers``. Each model is called as ``model(input_ids,
labels) -> loss`` (next-token loss for GPT/LLaMA, token-level MLM loss over all positions for BERT)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from harness.models.config import ModelConfig, ModelError, check_shape, get_config


class CausalSelfAttention(nn.Module):
    """GPT-2 attention: one fused QKV projection (``c_attn``), SDPA, output projection (``c_proj``)."""

    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        self.n_head = c.n_head
        self.c_attn = nn.Linear(c.d_model, 3 * c.d_model)
        self.c_proj = nn.Linear(c.d_model, c.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, S, D = x.shape
        q, k, v = self.c_attn(x).split(D, dim=2)
        q, k, v = (t.view(B, S, self.n_head, D // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).reshape(B, S, D))


class GPTMLP(nn.Module):
    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(c.d_model, c.d_ff)
        self.c_proj = nn.Linear(c.d_ff, c.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class GPTBlock(nn.Module):
    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(c.d_model)
        self.attn = CausalSelfAttention(c)
        self.ln_2 = nn.LayerNorm(c.d_model)
        self.mlp = GPTMLP(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """GPT-2 / GPT-3 (pre-LN decoder, learned positions, LM head tied to ``wte``). GPT-3's alternating
    locally banded sparse attention is not modelled: all layers use dense causal attention."""

    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        self.config = c
        self.wte = nn.Embedding(c.vocab, c.d_model)
        self.wpe = nn.Embedding(c.max_seq, c.d_model)
        self.h = nn.ModuleList(GPTBlock(c) for _ in range(c.n_layer))
        self.ln_f = nn.LayerNorm(c.d_model)

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        S = input_ids.shape[1]
        pos = torch.arange(S, device=input_ids.device)
        x = self.wte(input_ids) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        logits = F.linear(self.ln_f(x), self.wte.weight)
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1))


class BertLayer(nn.Module):
    """Post-LN encoder layer with separate Q/K/V projections (HF BERT naming)."""

    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        d = c.d_model
        self.n_head = c.n_head
        self.query = nn.Linear(d, d)
        self.key = nn.Linear(d, d)
        self.value = nn.Linear(d, d)
        self.attn_out = nn.Linear(d, d)
        self.attn_ln = nn.LayerNorm(d, eps=1e-12)
        self.intermediate = nn.Linear(d, c.d_ff)
        self.output = nn.Linear(c.d_ff, d)
        self.output_ln = nn.LayerNorm(d, eps=1e-12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, S, D = x.shape
        q, k, v = (p(x).view(B, S, self.n_head, D // self.n_head).transpose(1, 2) for p in (self.query, self.key, self.value))
        a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, S, D)
        x = self.attn_ln(x + self.attn_out(a))
        return self.output_ln(x + self.output(F.gelu(self.intermediate(x))))


class Bert(nn.Module):
    """BERT with the masked-LM head (transform + tied decoder + bias); the pooler is left out because
    MLM training does not use it (its parameters would get no gradient)."""

    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        d = c.d_model
        self.config = c
        self.word_embeddings = nn.Embedding(c.vocab, d)
        self.position_embeddings = nn.Embedding(c.max_seq, d)
        self.token_type_embeddings = nn.Embedding(c.type_vocab, d)
        self.emb_ln = nn.LayerNorm(d, eps=1e-12)
        self.layer = nn.ModuleList(BertLayer(c) for _ in range(c.n_layer))
        self.head_dense = nn.Linear(d, d)
        self.head_ln = nn.LayerNorm(d, eps=1e-12)
        self.head_bias = nn.Parameter(torch.zeros(c.vocab))

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        S = input_ids.shape[1]
        pos = torch.arange(S, device=input_ids.device)
        types = torch.zeros_like(input_ids)
        x = self.word_embeddings(input_ids) + self.position_embeddings(pos) + self.token_type_embeddings(types)
        x = self.emb_ln(x)
        for layer in self.layer:
            x = layer(x)
        h = self.head_ln(F.gelu(self.head_dense(x)))
        logits = F.linear(h, self.word_embeddings.weight, self.head_bias)
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1))


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


class LlamaAttention(nn.Module):
    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        d, hd = c.d_model, c.head_dim
        self.n_head, self.n_kv, self.hd = c.n_head, c.kv_heads, hd
        self.q_proj = nn.Linear(d, c.n_head * hd, bias=False)
        self.k_proj = nn.Linear(d, c.kv_heads * hd, bias=False)
        self.v_proj = nn.Linear(d, c.kv_heads * hd, bias=False)
        self.o_proj = nn.Linear(c.n_head * hd, d, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        B, S, _ = x.shape
        q = self.q_proj(x).view(B, S, self.n_head, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, S, self.n_kv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, S, self.n_kv, self.hd).transpose(1, 2)
        q = q * cos + _rotate_half(q) * sin
        k = k * cos + _rotate_half(k) * sin
        if self.n_kv != self.n_head:  # grouped-query attention: share each K/V head among a group
            rep = self.n_head // self.n_kv
            k = k[:, :, None].expand(B, self.n_kv, rep, S, self.hd).reshape(B, self.n_head, S, self.hd)
            v = v[:, :, None].expand(B, self.n_kv, rep, S, self.hd).reshape(B, self.n_head, S, self.hd)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(y.transpose(1, 2).reshape(B, S, self.n_head * self.hd))


class LlamaMLP(nn.Module):
    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(c.d_model, c.d_ff, bias=False)
        self.up_proj = nn.Linear(c.d_model, c.d_ff, bias=False)
        self.down_proj = nn.Linear(c.d_ff, c.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaBlock(nn.Module):
    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        self.input_layernorm = nn.RMSNorm(c.d_model, eps=1e-5)
        self.self_attn = LlamaAttention(c)
        self.post_attention_layernorm = nn.RMSNorm(c.d_model, eps=1e-5)
        self.mlp = LlamaMLP(c)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class Llama(nn.Module):
    """LLaMA-2 (pre-RMSNorm, rotary positions, SwiGLU MLP, untied LM head, optional GQA). The rotary
    tables are non-persistent buffers (category ``other`` in traces)."""

    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        self.config = c
        self.embed_tokens = nn.Embedding(c.vocab, c.d_model)
        self.layers = nn.ModuleList(LlamaBlock(c) for _ in range(c.n_layer))
        self.norm = nn.RMSNorm(c.d_model, eps=1e-5)
        self.lm_head = nn.Linear(c.d_model, c.vocab, bias=False)
        hd = c.head_dim
        inv = 1.0 / (10000.0 ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        ang = torch.outer(torch.arange(c.max_seq, dtype=torch.float32), inv)
        ang = torch.cat((ang, ang), dim=-1)
        dt = torch.get_default_dtype()  # the model's dtype while it is being built
        self.register_buffer("rope_cos", ang.cos().to(dt), persistent=False)
        self.register_buffer("rope_sin", ang.sin().to(dt), persistent=False)

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        S = input_ids.shape[1]
        cos, sin = self.rope_cos[:S], self.rope_sin[:S]
        x = self.embed_tokens(input_ids)
        for layer in self.layers:
            x = layer(x, cos, sin)
        logits = self.lm_head(self.norm(x))
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1))


_FAMILIES = {"gpt2": GPT, "gpt3": GPT, "bert": Bert, "llama": Llama}


def _init_weights(model: nn.Module) -> None:
    """GPT-2-style init (normal 0.02, zero biases, LayerNorm 1/0): deterministic under a seed."""
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)


def build_model(
    name: str | ModelConfig,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
) -> nn.Module:
    """Build a model with random weights. ``device="meta"`` builds any size without allocating memory
    (for fake-mode capture); on the CPU the init is seeded so builds are reproducible."""
    c = get_config(name)
    cls = _FAMILIES.get(c.family)
    if cls is None:
        raise ModelError(f"model {c.name!r} has unknown family {c.family!r}")
    dev = torch.device(device)
    # Build directly in the target dtype (default dtype set while constructing) rather than with
    # ``model.to(dtype)``, which cannot swap FakeTensor parameters under FakeTensorMode.
    old_dtype = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(dev):
            if dev.type == "meta":
                model = cls(c)
            else:
                gen_state = torch.random.get_rng_state()
                torch.manual_seed(seed)
                try:
                    model = cls(c)
                    _init_weights(model)
                finally:
                    torch.random.set_rng_state(gen_state)
    finally:
        torch.set_default_dtype(old_dtype)
    return model


def make_batch(
    name: str | ModelConfig, batch: int, seq: int, device: str | torch.device = "cpu", seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random token ids and labels (int64, ``batch x seq``); labels are the inputs shifted by one."""
    c = check_shape(name, batch, seq)
    dev = torch.device(device)
    if dev.type == "meta":
        return (torch.empty(batch, seq, dtype=torch.long, device=dev),
                torch.empty(batch, seq, dtype=torch.long, device=dev))
    g = torch.Generator().manual_seed(seed)
    toks = torch.randint(0, c.vocab, (batch, seq + 1), generator=g)
    return toks[:, :-1].contiguous().to(dev), toks[:, 1:].contiguous().to(dev)


__all__ = ["build_model", "make_batch", "ModelError"]
