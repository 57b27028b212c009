"""Trace capture on tiny models (real mode): phases, roles, categories, storage attribution, lifetimes,
real vs fake op streams, and PyTorch's own memory tracker as the reference for the peak."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from harness.capture import peak_live_bytes, record  # noqa: E402
from harness.capture.recorder import Recorder  # noqa: E402
from harness.capture.run import make_optimizer, training_step  # noqa: E402
from harness.models import build_model, make_batch, param_count  # noqa: E402


@pytest.fixture(scope="module")
def real():
    return record("gpt2-tiny", 2, 32, mode="real", steps=2, command_line="test")


@pytest.fixture(scope="module")
def fake():
    return record("gpt2-tiny", 2, 32, mode="fake", steps=2, command_line="test")


def _joined(tr):
    a = tr.accesses.merge(tr.ops[["op_id", "phase", "step", "name"]], on="op_id")
    return a.merge(tr.tensors[["tensor_id", "category", "param_name"]], on="tensor_id")


def test_header(real) -> None:
    h = real.header
    assert h["schema_version"] == 1 and h["mode"] == "real" and h["model"] == "gpt2-tiny"
    assert h["recipe"]["batch"] == 2 and h["recipe"]["seq"] == 32 and h["recipe"]["optimizer"] == "adamw"
    assert h["n_params"] == param_count("gpt2-tiny")
    assert "time" not in " ".join(h)  # no timestamps: reruns give identical headers


def test_phases_in_order(real) -> None:
    for _step, ops in real.ops.groupby("step"):
        phases = ops["phase"].tolist()
        first = [phases.index(p) for p in ("forward", "backward", "optimizer")]
        assert first == sorted(first)
        assert phases == sorted(phases, key=["forward", "backward", "optimizer"].index)


def test_every_parameter_read_in_forward(real) -> None:
    a = _joined(real)
    params = set(real.tensors.loc[real.tensors.category == "parameter", "param_name"])
    assert len(params) == len(list(build_model("gpt2-tiny").parameters()))
    for step in (0, 1):
        f = a[(a.phase == "forward") & (a.step == step) & (a.category == "parameter")]
        assert set(f.loc[f.role == "read", "param_name"]) == params
        # bytes read from parameters cover the whole model at least once
        assert f.loc[f.role == "read", "nbytes"].sum() >= param_count("gpt2-tiny") * 4


def test_every_gradient_written_in_backward(real) -> None:
    a = _joined(real)
    params = set(real.tensors.loc[real.tensors.category == "parameter", "param_name"])
    for step in (0, 1):
        g = a[(a.category == "gradient") & (a.step == step)]
        assert set(g.loc[(g.phase == "backward") & (g.role == "write"), "param_name"]) == params
    grads = real.tensors[real.tensors.category == "gradient"]
    assert len(grads) == 2 * len(params)  # new gradients each step (zero_grad sets them to None)
    assert not grads.persistent.any()


def test_optimizer_reads_and_writes_params_and_states(real) -> None:
    a = _joined(real)
    params = set(real.tensors.loc[real.tensors.category == "parameter", "param_name"])
    states = real.tensors[real.tensors.category == "optimizer_state"]
    assert len(states) == 3 * len(params)  # exp_avg, exp_avg_sq, step
    assert states.persistent.all()
    for step in (0, 1):
        o = a[(a.phase == "optimizer") & (a.step == step)]
        for cat in ("parameter", "optimizer_state"):
            for role in ("read", "write"):
                sel = o[(o.category == cat) & (o.role == role)]
                assert set(sel.param_name) == params, (cat, role)
        # every state storage (incl. step counters) is both read and written
        st = o[o.category == "optimizer_state"]
        assert set(st.loc[st.role == "read", "tensor_id"]) == set(states.tensor_id)
        assert set(st.loc[st.role == "write", "tensor_id"]) == set(states.tensor_id)
        assert set(o.loc[(o.category == "gradient") & (o.role == "read"), "param_name"]) == params


def test_module_paths(real) -> None:
    ops = real.ops
    mm = ops[(ops.phase == "forward") & (ops.name == "aten.addmm.default")]
    assert set(mm.module) == {f"h.{i}.{m}" for i in range(2) for m in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")}
    bmm = ops[(ops.phase == "backward") & (ops.name == "aten.mm.default") & (ops.module != "")]
    assert {m for m in bmm.module} <= set(mm.module)
    assert len(set(bmm.module)) == len(set(mm.module))
    opt = ops[ops.phase == "optimizer"]
    assert (opt.module != "").mean() > 0.9  # attributed to the parameter's module


def test_flops(real) -> None:
    ops = real.ops
    f = ops[(ops.phase == "forward") & (ops.step == 0)]
    c = 64
    tokens = 2 * 32
    lin = 2 * tokens * 2 * (c * 3 * c + c * c + 2 * c * 4 * c)
    head = 2 * tokens * c * 512
    attn = 2 * 4 * 2 * 4 * 32 * 32 * 16
    assert f.flops.sum() == lin + head + attn
    assert (ops.flops >= 0).all()


def test_real_and_fake_give_the_same_stream(real, fake) -> None:
    assert list(real.ops.name) == list(fake.ops.name)
    assert real.ops.drop(columns=[]).equals(fake.ops)
    cols = ["op_id", "tensor_id", "role", "offset", "nbytes", "dtype", "shape", "strides"]
    assert real.accesses[cols].equals(fake.accesses[cols])
    assert real.tensors.drop(columns=["base_address"]).equals(fake.tensors.drop(columns=["base_address"]))


def test_fake_addresses_never_overlap_while_live(fake) -> None:
    t = fake.tensors
    assert (t.base_address % 512 == 0).all()
    b, e = t.base_address.to_numpy(), t.base_address.to_numpy() + np.maximum(t.nbytes.to_numpy(), 1)
    f, last = t.first_op.to_numpy(), t.last_op.to_numpy()
    both_live = (f[:, None] <= last[None, :]) & (f[None, :] <= last[:, None])
    overlap = (b[:, None] < e[None, :]) & (b[None, :] < e[:, None])
    np.fill_diagonal(overlap, False)
    assert not (both_live & overlap).any()
    # blocks are reused: the address space is smaller than the sum of all storages
    assert fake.header["allocator"]["reserved_bytes"] < t.nbytes.sum()
    a = fake.accesses.merge(t[["tensor_id", "base_address"]], on="tensor_id")
    assert (a.address == a.base_address + a.offset).all()


def test_peak_matches_torch_memtracker() -> None:
    """Peak of live bytes from the trace vs torch.distributed._tools.mem_tracker.MemTracker, PyTorch's
    own per-storage tracker, on the same step (fresh model, first step: optimizer state is created)."""
    mem_tracker = pytest.importorskip("torch.distributed._tools.mem_tracker")
    for name in ("llama-tiny",):
        model = build_model(name)
        x, y = make_batch(name, 2, 32)
        opt = make_optimizer("adamw", list(model.parameters()))
        mt = mem_tracker.MemTracker()
        mt.track_external(model, opt, x, y)
        with mt:
            training_step(model, opt, x, y)
        ref = mt.get_tracker_snapshot("peak")[torch.device("cpu")]["Total"]
        peak, _ = peak_live_bytes(record(name, 2, 32, command_line="test"))
        assert abs(peak - ref) <= 0.05 * ref, (name, peak, ref)


def test_views_and_inplace_attributed_to_their_storage() -> None:
    x = torch.zeros(10, 10)
    rec = Recorder()
    xid = rec.register(x, "input", "x")
    with rec:
        rows = x[2:5]  # view: offset 2 rows
        rows.add_(1.0)  # in-place on the view: read + write of x's bytes [80, 200)
        col = x[:, 3]
        col.mul_(2.0)  # strided in-place: span from element 3 to element 93
        y = x.sum()
        x.zero_()
    rec.finish()
    from harness.capture.tables import build_tables

    ops, acc, ten = build_tables(rec)
    names = list(ops.name)
    assert names == ["aten.slice.Tensor", "aten.add_.Tensor", "aten.select.int", "aten.mul_.Tensor",
                     "aten.sum.default", "aten.zero_.default"]
    add = acc[acc.op_id == 1]
    assert sorted(add.role) == ["read", "write"]
    assert (add.tensor_id == xid).all() and (add.offset == 80).all() and (add.nbytes == 120).all()
    mul = acc[acc.op_id == 3]
    assert sorted(mul.role) == ["read", "write"]
    assert (mul.tensor_id == xid).all() and (mul.offset == 12).all() and (mul.nbytes == (9 * 10 + 1) * 4).all()
    assert mul["strides"].iloc[0] == "10" and mul["shape"].iloc[0] == "10"
    sl = acc[acc.op_id == 0]
    assert set(sl.role) == {"view"} and (sl.tensor_id == xid).all()
    assert list(sl.offset) == [0, 80]
    s = acc[acc.op_id == 4]
    assert list(s.role) == ["read", "write"] and s.tensor_id.iloc[0] == xid and s.tensor_id.iloc[1] != xid
    z = acc[acc.op_id == 5]
    assert list(z.role) == ["write"] and z.nbytes.iloc[0] == 400  # zero_ overwrites without reading
    assert ten.set_index("tensor_id").loc[xid, "category"] == "input"
    assert float(y) == pytest.approx(3 * 10 + 3)  # sanity: the ops really ran (rows 2-4 = 1, col 3 of them 2)


def test_lifetimes_of_temporaries() -> None:
    rec = Recorder()
    with rec:
        a = torch.ones(4)  # op 0
        b = a * 2  # op 1
        del a
        c = b + 1  # op 2
        del b
        d = c.sum()  # op 3
    rec.finish()
    from harness.capture.tables import build_tables

    _ops, _acc, ten = build_tables(rec)
    t = ten.set_index("first_op")
    assert t.loc[0, "last_op"] == 1 and not t.loc[0, "persistent"]  # a freed after op 1
    assert t.loc[1, "last_op"] == 2
    assert bool(t.loc[2, "persistent"]) and bool(t.loc[3, "persistent"])
    del c, d


def test_sgd_and_bf16_recipes() -> None:
    tr = record("llama-tiny", 1, 16, optimizer="sgd", master_dtype="bf16", command_line="test")
    assert (tr.tensors.category == "optimizer_state").sum() == 0  # plain SGD keeps no state
    p = tr.accesses.merge(tr.tensors, on="tensor_id")
    assert set(p.loc[p.category == "parameter", "dtype"]) == {"bfloat16"}
    assert tr.header["recipe"]["master_dtype"] == "bf16"
    assert isinstance(tr.ops, pd.DataFrame)
    fk = record("llama-tiny", 1, 16, optimizer="sgd", master_dtype="bf16", mode="fake", command_line="test")
    assert fk.ops.equals(tr.ops)


def test_mx_recipe_records_quantize_ops_and_copies() -> None:
    pytest.importorskip("harness.mx.torch")
    try:
        from harness.mx import api

        api.kernel()
    except ImportError:
        pytest.skip("MX C++ kernel harness._mx not built")
    for mx_mode, persistent in (("jit", 0), ("stored", 8 * 2)):
        tr = record("gpt2-tiny", 1, 16, mx_forward="MXFP8_E4M3", mx_backward="MX9", mx_mode=mx_mode, command_line="t")
        q = tr.ops[tr.ops.name == "jitq.mx_qdq.default"]
        assert len(q) == 8 * 6  # 8 Linear layers x (2 forward + 4 backward, or 1 + 3 + 2 refreshes)
        copies = tr.tensors[tr.tensors.category == "mx_copy"]
        assert int(copies.persistent.sum()) == persistent
        linears = {f"h.{i}.{m}.weight" for i in range(2) for m in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")}
        assert set(copies.param_name) == linears
        # the forward GEMM of each Linear reads a weight copy, not the master weight
        a = tr.accesses.merge(tr.ops, on="op_id").merge(tr.tensors[["tensor_id", "category", "param_name"]], on="tensor_id")
        fwd_mm = a[(a.phase == "forward") & (a.name == "aten.addmm.default") & (a.role == "read")]
        assert set(fwd_mm.loc[fwd_mm.category == "mx_copy", "param_name"]) == linears
        assert fwd_mm.loc[fwd_mm.category == "parameter", "param_name"].str.endswith(".bias").all()
        assert tr.header["recipe"]["mx_forward"] == "MXFP8_E4M3" and tr.header["recipe"]["mx_mode"] == mx_mode


@pytest.mark.parametrize("name", ["bert-tiny", "llama-tiny"])
def test_real_and_fake_agree_for_other_families(name: str) -> None:
    r = record(name, 1, 8, mode="real", command_line="t")
    f = record(name, 1, 8, mode="fake", command_line="t")
    assert r.ops.equals(f.ops)
    assert r.tensors.drop(columns=["base_address"]).equals(f.tensors.drop(columns=["base_address"]))
    assert set(r.tensors.category) >= {"parameter", "gradient", "optimizer_state", "activation", "input"}
