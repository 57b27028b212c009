"""harness.mx.torch: the jitq::mx_qdq op, MXLinear's directional dataflow, fake/meta mode, jit == stored,
and a short MX training run that must track float32 (issue 3's MX-training acceptance)."""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch._subclasses.fake_tensor import FakeTensorMode  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402

import harness.mx as mx  # noqa: E402
from harness.mx.torch import (  # noqa: E402
    MXLinear,
    quantize_dequantize,
    refresh_mx_copies,
    swap_linear_to_mx,
)

FMT, BWD = "MXFP8_E4M3", "MX9"


def np_qdq(t: torch.Tensor, fmt: str, axis: int) -> torch.Tensor:
    return torch.from_numpy(mx.quantize_dequantize(t.detach().float().numpy(), fmt, axis))


# ---------------------------------------------------------------------------------------------- the op
@pytest.mark.parametrize("fmt", ["MXFP8_E4M3", "MXFP4_E2M1", "MXINT8", "MX9", "MX4"])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_op_matches_numpy_api(fmt: str, axis: int) -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(40, 3, 50, generator=g) * 10
    assert torch.equal(quantize_dequantize(x, fmt, axis), np_qdq(x, fmt, axis))


def test_op_bf16_in_bf16_out() -> None:
    x = torch.randn(8, 64).to(torch.bfloat16)
    y = quantize_dequantize(x, "MX9")
    assert y.dtype == torch.bfloat16
    assert torch.equal(y, np_qdq(x.float(), "MX9", -1).to(torch.bfloat16))


def test_straight_through_gradient() -> None:
    x = torch.randn(4, 64, requires_grad=True)
    w = torch.randn(4, 64)
    (quantize_dequantize(x, FMT) * w).sum().backward()
    assert torch.equal(x.grad, w)


def test_op_bad_input() -> None:
    with pytest.raises(ValueError, match="unknown MX format"):
        quantize_dequantize(torch.ones(32), "MXFP3")
    with pytest.raises(TypeError, match="floating-point"):
        quantize_dequantize(torch.ones(32, dtype=torch.int32), FMT)
    with pytest.raises(IndexError, match="axis 2"):
        quantize_dequantize(torch.ones(4, 32), FMT, 2)
    with pytest.raises(ValueError, match="unknown MX format"):
        MXLinear(32, 32, fwd_format="nope")
    with pytest.raises(ValueError, match="mode"):
        MXLinear(32, 32, mode="lazy")


def test_op_fake_and_meta() -> None:
    m = torch.empty(5, 64, device="meta")
    out = quantize_dequantize(m, "MX6", 0)
    assert out.device.type == "meta" and out.shape == (5, 64)
    with FakeTensorMode():
        x = torch.empty(3, 7, 64, dtype=torch.bfloat16)
        y = quantize_dequantize(x, FMT, 1)
        assert y.shape == (3, 7, 64) and y.dtype == torch.bfloat16
        with pytest.raises(ValueError, match="unknown MX format"):
            quantize_dequantize(x, "bad", 1)


# ------------------------------------------------------------------------------------ MXLinear dataflow
def _manual(x, w, b, g, fwd, bwd):  # noqa: ANN001, ANN202
    """Reference MXLinear dataflow, written out with the numpy API."""
    y = F.linear(np_qdq(x, fwd, -1), np_qdq(w, fwd, 1), b)
    gx = np_qdq(g, bwd, -1) @ np_qdq(w, bwd, 0)
    g2, x2 = g.reshape(-1, w.shape[0]), x.reshape(-1, w.shape[1])
    gw = np_qdq(g2, bwd, 0).t() @ np_qdq(x2, bwd, 0)
    return y, gx, gw, g2.sum(0)


@pytest.mark.parametrize("mode", ["jit", "stored"])
def test_mxlinear_equals_manual_quantize_and_linear(mode: str) -> None:
    torch.manual_seed(0)
    lin = MXLinear(96, 48, fwd_format=FMT, bwd_format=BWD, mode=mode)
    x = torch.randn(2, 40, 96, requires_grad=True)
    y = lin(x)
    g = torch.randn_like(y)
    y.backward(g)
    ry, rgx, rgw, rgb = _manual(x.detach(), lin.weight.detach(), lin.bias.detach(), g, FMT, BWD)
    assert torch.equal(y, ry)
    assert torch.equal(x.grad, rgx)
    assert torch.equal(lin.weight.grad, rgw)
    assert torch.equal(lin.bias.grad, rgb)


def _skewed_weight() -> torch.Tensor:
    """Values in [0.75, 1.25] except one huge entry: a block holding it crushes its neighbours to 0
    in MXFP4 (scale 2^7, half the smallest subnormal is 2^6 > 1.25)."""
    w = 0.75 + 0.5 * torch.rand(32, 32, generator=torch.Generator().manual_seed(3))
    w[0, 0] = 1000.0
    return w


def test_directional_copies_differ_where_they_should() -> None:
    lin = MXLinear(32, 32, bias=False, fwd_format="MXFP4_E2M1", mode="stored")
    with torch.no_grad():
        lin.weight.copy_(_skewed_weight())
    lin.refresh_copies()
    wf, wb = lin.weight_fwd, lin.weight_bwd
    # forward copy: blocks are rows (along in-features) -> row 0 crushed, column 0 intact
    assert torch.all(wf[0, 1:] == 0) and torch.all(wf[1:, 0] != 0)
    # backward copy: blocks are columns (along out-features) -> column 0 crushed, row 0 intact
    assert torch.all(wb[1:, 0] == 0) and torch.all(wb[0, 1:] != 0)
    assert torch.equal(wf, np_qdq(lin.weight, "MXFP4_E2M1", 1))
    assert torch.equal(wb, np_qdq(lin.weight, "MXFP4_E2M1", 0))


def test_backward_data_uses_backward_copy() -> None:
    lin = MXLinear(32, 32, bias=False, fwd_format="MXFP4_E2M1", mode="jit")
    with torch.no_grad():
        lin.weight.copy_(_skewed_weight())
    x = torch.randn(16, 32, requires_grad=True)
    g = torch.ones(16, 32)
    lin(x).backward(g)
    gq = np_qdq(g, "MXFP4_E2M1", -1)
    assert torch.equal(x.grad, gq @ np_qdq(lin.weight, "MXFP4_E2M1", 0))
    assert not torch.equal(x.grad, gq @ np_qdq(lin.weight, "MXFP4_E2M1", 1))


def test_forward_and_backward_formats_are_independent() -> None:
    torch.manual_seed(0)
    a = MXLinear(64, 64, fwd_format=FMT, bwd_format="MXFP4_E2M1")
    b = MXLinear(64, 64, fwd_format=FMT, bwd_format="MX9")
    b.load_state_dict(a.state_dict())
    x = torch.randn(8, 64, requires_grad=True)
    ya, yb = a(x), b(x)
    assert torch.equal(ya, yb)
    (gxa,) = torch.autograd.grad(ya.sum(), x)
    (gxb,) = torch.autograd.grad(yb.sum(), x)
    assert not torch.equal(gxa, gxb)
    assert MXLinear(8, 8, fwd_format="MX6").bwd_format == "MX6"  # default: same as forward


# ------------------------------------------------------------------------------ jit vs stored, swapping
def test_jit_and_stored_are_bit_identical_over_steps() -> None:
    torch.manual_seed(0)
    jit = nn.Sequential(nn.Linear(64, 64), nn.GELU(), nn.Linear(64, 32))
    stored = nn.Sequential(nn.Linear(64, 64), nn.GELU(), nn.Linear(64, 32))
    stored.load_state_dict(jit.state_dict())
    swap_linear_to_mx(jit, FMT, BWD, mode="jit")
    swap_linear_to_mx(stored, FMT, BWD, mode="stored")
    opts = [torch.optim.AdamW(m.parameters(), lr=1e-2) for m in (jit, stored)]
    g = torch.Generator().manual_seed(5)
    for _ in range(5):
        x, t = torch.randn(16, 64, generator=g), torch.randn(16, 32, generator=g)
        losses = []
        for m, opt in zip((jit, stored), opts):
            loss = F.mse_loss(m(x), t)
            opt.zero_grad()
            loss.backward()
            opt.step()
            refresh_mx_copies(m)
            losses.append(loss)
        assert torch.equal(*losses)
    for (k, a), (_, b) in zip(jit.state_dict().items(), stored.state_dict().items()):
        assert torch.equal(a, b), k


def test_stale_stored_copies_raise() -> None:
    lin = MXLinear(32, 32, mode="stored")
    with torch.no_grad():
        lin.weight.mul_(2)
    with pytest.raises(RuntimeError, match="refresh_copies"):
        lin(torch.randn(2, 32))
    lin.refresh_copies()
    x = torch.randn(2, 32)
    assert torch.equal(copy.deepcopy(lin)(x), lin(x))  # a deep copy is not stale


def test_swap_keeps_parameters_state_dict_and_rng() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Sequential(nn.Linear(64, 8, bias=False)))
    params = [id(p) for p in model.parameters()]
    keys = list(model.state_dict())
    rng = torch.get_rng_state()
    swap_linear_to_mx(model, FMT, BWD, mode="stored")
    assert torch.equal(rng, torch.get_rng_state())  # swapping draws no random numbers
    assert [id(p) for p in model.parameters()] == params
    assert list(model.state_dict()) == keys
    assert isinstance(model[0], MXLinear) and isinstance(model[2][0], MXLinear)
    assert model[2][0].bias is None and model[0].bwd_format == BWD
    mha = nn.MultiheadAttention(32, 4)
    swap_linear_to_mx(mha, FMT)  # its out_proj is a Linear subclass used by fused code: left alone
    assert not isinstance(mha.out_proj, MXLinear)


# ------------------------------------------------------------------------------ fake mode and tracing
class _OpLog(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        self.names.append(str(func))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("mode,expected", [("jit", 6), ("stored", 4)])
def test_fake_mode_training_step_shows_the_op(mode: str, expected: int) -> None:
    with FakeTensorMode():
        lin = MXLinear(4096, 1024, fwd_format=FMT, bwd_format=BWD, mode=mode)
        x = torch.empty(2, 128, 4096, requires_grad=True)
        with _OpLog() as log:
            y = lin(x)
            y.sum().backward()
        assert y.shape == (2, 128, 1024)
        assert lin.weight.grad.shape == (1024, 4096) and x.grad.shape == x.shape
    assert sum(n == "jitq.mx_qdq.default" for n in log.names) == expected


def test_meta_device_model() -> None:
    model = nn.Sequential(nn.Linear(256, 512, device="meta"), nn.GELU(), nn.Linear(512, 256, device="meta"))
    swap_linear_to_mx(model, FMT, BWD, mode="stored")
    x = torch.empty(4, 256, device="meta", requires_grad=True)
    model(x).sum().backward()
    assert model[0].weight.grad.device.type == "meta"
    assert model[0].weight_bwd.shape == (512, 256)


# ------------------------------------------------------------------------- MX training tracks float32
@pytest.mark.slow
def test_mx_training_tracks_float32() -> None:
    """Tiny byte-level GPT, 300 steps on CPU: MXFP8_E4M3 forward / MX9 backward vs float32."""
    from harness.train.loop import preset, run_training

    runs = {
        f: run_training(preset("tiny", format=f, backward_format=b, steps=300, eval_every=100)).record
        for f, b in [("fp32", None), (FMT, BWD)]
    }
    for rec in runs.values():
        assert rec["final_train_loss"] < rec["train_loss"][0] - 2.0  # from ~5.5 nats (uniform) down
        assert rec["val_loss"][-1] < rec["val_loss"][0]
    fp32, mxr = runs["fp32"]["final_val_loss"], runs[FMT]["final_val_loss"]
    assert abs(mxr - fp32) / fp32 < 0.03, (fp32, mxr)
