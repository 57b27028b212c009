"""One grid cell end to end: CLI, deterministic records, bad input, PIM speed, plausibility."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.jitq.cell import record_bytes, run_cell
from harness.jitq.errors import JitqError
from harness.jitq.synthetic import gpt_trace


def write_trace(tr, d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "header.json").write_text(json.dumps(tr.header))
    tr.ops.to_parquet(d / "ops.parquet")
    tr.accesses.to_parquet(d / "accesses.parquet")
    tr.tensors.to_parquet(d / "tensors.parquet")
    return d


@pytest.fixture(scope="module")
def tiny():
    return gpt_trace(n_layer=2, d_model=64, n_head=4, vocab=256, batch=2, seq=32, model="synthetic-gpt")


@pytest.fixture(scope="module")
def gemm_heavy():
    # GPT-2 1.5B shape at 8 x 1024 tokens: GEMM time dominates every layer
    return gpt_trace(n_layer=3, d_model=1600, n_head=25, vocab=50257, batch=8, seq=1024, model="synthetic-gpt")


def cell(tr, **kw):
    args = dict(model="synthetic-gpt", format="MXFP8_E4M3", scheme="jitq-pim", gpu="h100-sxm", dram="hbm3",
                recipe="paper-jitq", trace_data=tr, max_requests=20_000)
    args.update(kw)
    return run_cell(**args)


def test_cli_writes_a_deterministic_record(tmp_path, tiny):
    d = write_trace(tiny, tmp_path / "trace")
    outs = []
    for i in range(2):
        out = tmp_path / f"r{i}.json"
        rc = main(["run", "--model", "synthetic-gpt", "--format", "MX9", "--backward-format", "MXFP8_E5M2",
                   "--scheme", "jitq-pim", "--gpu", "mi300x", "--dram", "hbm3", "--trace", str(d), "--out",
                   str(out), "--quiet"])
        assert rc == 0
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    r = json.loads(outs[0])
    for k in ("peak_bytes", "capacity_saving_pct", "iteration_s", "tokens_per_s", "throughput_loss_pct",
              "pim_keeps_up", "pim_stall_s", "layer_pim_s", "layer_gemm_s", "trace_sha256", "gpu_sha256",
              "recipe_sha256", "dram_sha256", "harness_version", "bytes_mx_copies", "bytes_transient_quant"):
        assert k in r
    assert r["format"] == "MX9" and r["backward_format"] == "MXFP8_E5M2"
    assert sum(r[f"bytes_{c}"] for c in ("master_weights", "working_copy", "mx_copies", "gradients",
                                         "optimizer_states", "activations", "other", "transient_quant")) == r["peak_bytes"]


def test_identical_inputs_identical_records(tiny):
    for scheme in ("stored", "jitq-gpu", "jitq-pim"):
        assert record_bytes(cell(tiny, scheme=scheme)) == record_bytes(cell(tiny, scheme=scheme))


@pytest.mark.parametrize("bad", [
    dict(gpu="h200-imaginary"), dict(recipe="no-such-recipe"), dict(dram="hbm9"), dict(format="MXFP3"),
    dict(scheme="magic"), dict(backward_format="INT2"), dict(dram="ddr4"),
])
def test_bad_presets_raise(tiny, bad):
    with pytest.raises(JitqError):
        cell(tiny, **bad)


def test_bad_input_cli_leaves_no_file(tmp_path, tiny, capsys):
    d = write_trace(tiny, tmp_path / "trace")
    # a recipe that cannot use the requested format
    rp = tmp_path / "mx9-only.yaml"
    rp.write_text(Path("configs/recipes/paper-jitq.yaml").read_text().replace("allowed_formats: all",
                                                                               "allowed_formats: [MX9]"))
    # a trace of a newer schema
    new = write_trace(tiny, tmp_path / "new")
    h = json.loads((new / "header.json").read_text())
    h["schema_version"] = 99
    (new / "header.json").write_text(json.dumps(h))
    cases = [(["--gpu", "nope"], d, "unknown gpus preset"), (["--recipe", str(rp), "--format", "MXFP4_E2M1"], d,
                                                             "cannot use"),
             ([], new, "schema_version")]
    for extra, trace, msg in cases:
        out = tmp_path / "x.json"
        args = ["run", "--model", "synthetic-gpt", "--format", "MX9", "--scheme", "stored", "--gpu", "h100-sxm",
                "--dram", "hbm3", "--trace", str(trace), "--out", str(out), "--quiet"]
        # later options win in argparse
        rc = main(args + extra)
        assert rc == 2
        assert not out.exists()
        assert msg in capsys.readouterr().err


def test_bad_recipe_key_names_file_and_key(tmp_path):
    from harness.jitq.presets import load_recipe

    rp = tmp_path / "r.yaml"
    rp.write_text(Path("configs/recipes/zero.yaml").read_text().replace("grad_dtype: bf16", "grad_dtyp: bf16"))
    with pytest.raises(JitqError, match=r"r\.yaml.*grad_dtyp"):
        load_recipe(rp)


def test_slower_pim_never_lowers_loss(gemm_heavy):
    losses = []
    for interval in (4, 64, 1024, 16384):
        r = cell(gemm_heavy, dram_overrides=[f"pim.command_interval={interval}"])
        losses.append(r["throughput_loss_pct"])
    assert all(b >= a - 1e-12 for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] > losses[0]  # at some point PIM is late and stalls


def test_pim_loss_small_for_gemm_heavy(gemm_heavy):
    for fmt in ("MX9", "MXFP4_E2M1"):
        r = cell(gemm_heavy, format=fmt)
        assert r["pim_keeps_up"] is True
        assert r["throughput_loss_pct"] < 3.0
        assert r["throughput_loss_vs_ideal_pct"] < 3.0
        assert len(r["layer_pim_s"]) == len(r["layer_gemm_s"]) == len(r["layer_names"]) > 0


def test_jitq_gpu_costs_kernels_stored_costs_a_pass(gemm_heavy):
    s = cell(gemm_heavy, scheme="stored", recipe="mx-directional")
    g = cell(gemm_heavy, scheme="jitq-gpu", recipe="mx-directional")
    assert s["time_quant_gpu_s"] > 0 and g["time_quant_gpu_s"] > s["time_quant_gpu_s"]
    assert g["throughput_loss_pct"] > 0
    assert g["capacity_saving_pct"] > 0


def test_missing_simulator_is_a_clear_error_not_a_fallback(tmp_path, tiny, monkeypatch, capsys):
    """Without the compiled simulator no record is written: no silently analytic results."""
    import sys

    from harness.jitq.pimwindows import SimulatorMissingError

    monkeypatch.setitem(sys.modules, "harness._dram", None)  # `import harness._dram` now fails
    with pytest.raises(SimulatorMissingError, match=r"pip install -e \."):
        cell(tiny, scheme="stored")
    d = write_trace(tiny, tmp_path / "trace")
    out = tmp_path / "x.json"
    rc = main(["run", "--model", "synthetic-gpt", "--format", "MX9", "--scheme", "stored", "--gpu", "h100-sxm",
               "--dram", "hbm3", "--trace", str(d), "--out", str(out), "--quiet"])
    assert rc == 2 and not out.exists()
    assert "harness._dram" in capsys.readouterr().err


def test_record_names_its_models(tiny):
    r = cell(tiny)
    assert r["dram_model"] == "memsim"
    assert r["pim_model"] == r["host_slowdown_model"] == "memsim.pim.simulate_with_pim"
    assert r["gradient_lifetime"] == "iteration"
    assert r["bytes_gradients"] == r["n_params"] * 2
