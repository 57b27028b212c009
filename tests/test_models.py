"""Model zoo: configurations, analytic parameter counts against built modules, batches, bad input."""

from __future__ import annotations

import pytest

from harness.models import MODEL_CONFIGS, ModelError, check_shape, param_count

torch = pytest.importorskip("torch")

from harness.models import build_model, make_batch  # noqa: E402

CONTRACT_NAMES = ["gpt2-124m", "gpt2-355m", "gpt2-774m", "gpt2-1.5b", "bert-base", "bert-large", "llama2-7b",
                  "llama2-13b", "llama2-70b", "gpt3-175b", "gpt2-tiny", "bert-tiny", "llama-tiny", "gpt3-tiny"]


def test_names_per_contract() -> None:
    assert sorted(MODEL_CONFIGS) == sorted(CONTRACT_NAMES)


@pytest.mark.parametrize("name", CONTRACT_NAMES)
def test_param_count_matches_built_model(name: str) -> None:
    device = "cpu" if name.endswith("tiny") else "meta"
    model = build_model(name, device=device)
    assert sum(p.numel() for p in model.parameters()) == param_count(name)


def test_published_counts() -> None:
    # GPT-2 small (HF gpt2, tied head), LLaMA-2 7B/70B (meta-llama configs), GPT-3 "175B"
    assert param_count("gpt2-124m") == 124_439_808
    assert param_count("gpt2-1.5b") == 1_557_611_200
    assert param_count("llama2-7b") == 6_738_415_616
    assert param_count("llama2-70b") == 68_976_648_192
    assert 174e9 < param_count("gpt3-175b") < 176e9


@pytest.mark.parametrize("name", ["gpt2-tiny", "bert-tiny", "llama-tiny", "gpt3-tiny"])
def test_tiny_models_train(name: str) -> None:
    model = build_model(name)
    x, y = make_batch(name, 2, 16)
    assert x.shape == y.shape == (2, 16) and x.dtype == torch.long
    loss = model(x, y)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_build_is_seeded() -> None:
    a, b = build_model("gpt2-tiny"), build_model("gpt2-tiny")
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_bf16_master_weights() -> None:
    model = build_model("llama-tiny", dtype=torch.bfloat16)
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}


def test_unknown_model_lists_known() -> None:
    with pytest.raises(ModelError, match="known models: .*gpt2-124m"):
        build_model("gpt5")
    with pytest.raises(ModelError, match="unknown model"):
        param_count("nope")


@pytest.mark.parametrize("batch,seq,msg", [(0, 8, "batch"), (2, 0, "seq"), (2, 129, "maximum sequence length 128"),
                                           (-1, 8, "batch")])
def test_impossible_shapes(batch: int, seq: int, msg: str) -> None:
    with pytest.raises(ModelError, match=msg):
        check_shape("gpt2-tiny", batch, seq)
    with pytest.raises(ModelError, match=msg):
        make_batch("gpt2-tiny", batch, seq)
