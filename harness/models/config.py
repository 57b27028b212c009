"""Published transformer configurations, as data. Keeping the numbers apart from the code that builds
the modules lets the capacity model (and tests) compute parameter counts without importing torch."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelConfig:
    """One model's shape. ``family`` picks the architecture in ``harness.models.build``.

    ``n_kv_head`` is 0 for "same as n_head" (LLaMA-2-70B uses grouped-query attention with 8).
    """

    name: str
    family: str  # "gpt2" | "bert" | "llama" | "gpt3"
    n_layer: int
    d_model: int
    n_head: int
    d_ff: int
    vocab: int
    max_seq: int
    n_kv_head: int = 0
    type_vocab: int = 2  # BERT token types
    source: str = ""

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    @property
    def kv_heads(self) -> int:
        return self.n_kv_head or self.n_head


def _gpt2(name: str, L: int, d: int, h: int, src: str) -> ModelConfig:
    return ModelConfig(name, "gpt2", L, d, h, 4 * d, 50257, 1024, source=src)


_GPT2_SRC = "Radford et al. 2019 / openai-community gpt2 config.json (n_layer, n_embd, n_head, n_ctx=1024)"
_BERT_SRC = "Devlin et al. 2019, Table/§3 (BERT-base L=12 H=768 A=12; BERT-large L=24 H=1024 A=16), vocab 30522"
_LLAMA_SRC = "Touvron et al. 2023 (LLaMA 2), Table 1 + meta-llama config.json (intermediate_size, GQA 8 kv heads for 70B)"
_GPT3_SRC = "Brown et al. 2020, Table 2.1 (175B: n_layers=96, d_model=12288, n_heads=96, n_ctx=2048)"

MODEL_CONFIGS: dict[str, ModelConfig] = {
    c.name: c
    for c in [
        _gpt2("gpt2-124m", 12, 768, 12, _GPT2_SRC),
        _gpt2("gpt2-355m", 24, 1024, 16, _GPT2_SRC),
        _gpt2("gpt2-774m", 36, 1280, 20, _GPT2_SRC),
        _gpt2("gpt2-1.5b", 48, 1600, 25, _GPT2_SRC),
        ModelConfig("bert-base", "bert", 12, 768, 12, 3072, 30522, 512, source=_BERT_SRC),
        ModelConfig("bert-large", "bert", 24, 1024, 16, 4096, 30522, 512, source=_BERT_SRC),
        ModelConfig("llama2-7b", "llama", 32, 4096, 32, 11008, 32000, 4096, source=_LLAMA_SRC),
        ModelConfig("llama2-13b", "llama", 40, 5120, 40, 13824, 32000, 4096, source=_LLAMA_SRC),
        ModelConfig("llama2-70b", "llama", 80, 8192, 64, 28672, 32000, 4096, n_kv_head=8, source=_LLAMA_SRC),
        ModelConfig("gpt3-175b", "gpt3", 96, 12288, 96, 49152, 50257, 2048, source=_GPT3_SRC),
        # tiny variants: same code paths, seconds on a CPU (for tests and samples)
        ModelConfig("gpt2-tiny", "gpt2", 2, 64, 4, 256, 512, 128, source="test"),
        ModelConfig("bert-tiny", "bert", 2, 64, 4, 256, 512, 128, source="test"),
        ModelConfig("llama-tiny", "llama", 2, 64, 4, 176, 512, 128, n_kv_head=2, source="test"),
        ModelConfig("gpt3-tiny", "gpt3", 2, 96, 4, 384, 512, 128, source="test"),
    ]
}


class ModelError(ValueError):
    """Unknown model name or a shape the model cannot run (the message lists what is allowed)."""


def get_config(name_or_config: str | ModelConfig) -> ModelConfig:
    if isinstance(name_or_config, ModelConfig):
        return name_or_config
    try:
        return MODEL_CONFIGS[name_or_config]
    except KeyError:
        known = ", ".join(MODEL_CONFIGS)
        raise ModelError(f"unknown model {name_or_config!r}; known models: {known}") from None


def param_count(name: str | ModelConfig) -> int:
    """Trainable parameters, computed from the configuration alone (tests check it against the built
    module). GPT-2/GPT-3 tie the LM head to the token embedding; LLaMA does not; the BERT model is
    BertForMaskedLM-shaped (no pooler, MLM head with a tied decoder and its own bias)."""
    c = get_config(name)
    d, f, V, L = c.d_model, c.d_ff, c.vocab, c.n_layer
    if c.family in ("gpt2", "gpt3"):
        block = 2 * 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * f + f) + (f * d + d)
        return V * d + c.max_seq * d + L * block + 2 * d
    if c.family == "bert":
        emb = V * d + c.max_seq * d + c.type_vocab * d + 2 * d
        block = 4 * (d * d + d) + 2 * 2 * d + (d * f + f) + (f * d + d)
        head = d * d + d + 2 * d + V
        return emb + L * block + head
    if c.family == "llama":
        kv = c.kv_heads * c.head_dim
        block = 2 * d + d * d + 2 * d * kv + d * d + 3 * d * f
        return 2 * V * d + d + L * block
    raise ModelError(f"unknown family {c.family!r}")


def check_shape(name: str | ModelConfig, batch: int, seq: int) -> ModelConfig:
    """Reject shapes the model cannot run, before anything is built or allocated."""
    c = get_config(name)
    if not isinstance(batch, int) or batch < 1:
        raise ModelError(f"batch must be a positive integer, got {batch!r}")
    if not isinstance(seq, int) or seq < 1:
        raise ModelError(f"seq must be a positive integer, got {seq!r}")
    if seq > c.max_seq:
        raise ModelError(f"seq {seq} exceeds {c.name}'s maximum sequence length {c.max_seq}")
    return c
