"""Cycle-level PIM kernels: agreement with the analytic model, timing legality, policies, bad input."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from harness.memsim import load_config
from harness.memsim.pim import (
    DIRECTIONS,
    LAYOUTS,
    Geometry,
    PimError,
    QuantizeKernel,
    analytic_kernel_time_ns,
    kernel_program,
    simulate_with_pim,
)
from harness.mx import FORMATS

_dram = pytest.importorskip("harness._dram", reason="harness._dram not built")
if not hasattr(_dram, "pim_simulate"):  # pragma: no cover - depends on the build
    pytest.skip("harness._dram built without the PIM sources", allow_module_level=True)

sys.path.insert(0, str(Path(__file__).parent))
import dram_checker as dc  # noqa: E402

NO_HOST = (np.zeros(0, np.uint64), np.zeros(0, bool), None)


def _stride(cfg) -> int:
    g = Geometry.from_cfg(cfg)
    return g.row_bytes * g.banks_per_pc * g.pcs


@pytest.fixture(scope="module")
def hbm3():
    return load_config("hbm3")


@pytest.mark.parametrize("src_dtype", ["fp32", "bf16"])
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_cycle_level_within_10pct_of_analytic(hbm3, fmt: str, src_dtype: str) -> None:
    s = _stride(hbm3)
    for direction in DIRECTIONS:
        for layout in LAYOUTS:
            k = QuantizeKernel(0, 512 * s, 1024, 768, src_dtype, fmt, direction, layout)
            st = simulate_with_pim(hbm3, *NO_HOST, [k])
            sim, ana = st["pim_kernel_ns"][0], analytic_kernel_time_ns(hbm3, k)
            assert abs(sim / ana - 1) < 0.10, (direction, layout, sim, ana)
            assert st["pim_done_ns"] == pytest.approx(st["pim_kernel_end_ns"][0])


@pytest.mark.parametrize("override", [["pim.banks_per_unit=2"], ["pim.command_interval=6"],
                                      ["refresh=none"], ["pim.register_file_bytes=4096"]])
def test_analytic_tracks_parameters(override: list[str]) -> None:
    cfg = load_config("hbm3", override)
    s = _stride(cfg)
    for direction in DIRECTIONS:
        k = QuantizeKernel(0, 512 * s, 2048, 1024, "bf16", "MX9", direction, "row-major")
        sim = simulate_with_pim(cfg, *NO_HOST, [k])["pim_kernel_ns"][0]
        assert abs(sim / analytic_kernel_time_ns(cfg, k) - 1) < 0.10


@pytest.mark.parametrize("preset", ["hbm2e", "ddr4"])
def test_other_standards_within_10pct_of_analytic(preset: str) -> None:
    cfg = load_config(preset)
    s = _stride(cfg)
    for direction in DIRECTIONS:
        for layout in LAYOUTS:
            k = QuantizeKernel(0, 256 * s, 1024, 768, "bf16", "MXFP8_E4M3", direction, layout)
            sim = simulate_with_pim(cfg, *NO_HOST, [k])["pim_kernel_ns"][0]
            assert abs(sim / analytic_kernel_time_ns(cfg, k) - 1) < 0.10, (direction, layout)


def test_program_counts(hbm3) -> None:
    """Every source column is read once; every MX byte written once; one PIM_Q per block per unit."""
    k = QuantizeKernel(0, 512 * _stride(hbm3), 1024, 1024, "bf16", "MXFP8_E4M3", "forward")
    p = kernel_program(hbm3, k)
    units = p.slice.units_total
    assert p.n_rd * 32 * units == k.src_bytes
    assert p.n_q * units == k.n_blocks
    assert p.n_wr * 32 * units == k.out_bytes
    st = simulate_with_pim(hbm3, *NO_HOST, [k])
    pcs = Geometry.from_cfg(hbm3).pcs
    assert st["commands"]["PIM_RD"] == p.n_rd * pcs
    assert st["commands"]["PIM_Q"] == p.n_q * pcs


def test_backward_row_major_costs_row_switches(hbm3) -> None:
    s = _stride(hbm3)
    t = {lay: analytic_kernel_time_ns(hbm3, QuantizeKernel(0, 512 * s, 2048, 2048, "bf16", "MX9", "backward", lay))
         for lay in LAYOUTS}
    assert t["row-major"] > 2 * t["tiled"]


def _host(cfg, n: int, seed: int, load: float, avoid_sid: bool = False):
    rng = np.random.default_rng(seed)
    cap = cfg.org["capacity_bytes"]
    a = rng.integers(0, cap // 64, n, dtype=np.int64) * 64
    if avoid_sid:  # keep host traffic in SID 0 (bank-partition gives PIM the last SID)
        g = Geometry.from_cfg(cfg)
        bit = 5 + int(np.log2(cfg.channels)) + int(np.log2(g.cols_per_row)) + int(np.log2(g.pseudochannels))
        a &= ~np.int64(1 << bit)
    w = rng.random(n) < 0.3
    arrival = np.cumsum(rng.exponential(2.0 / load, n)).astype(np.int64)
    return a.astype(np.uint64), w, arrival


def _kernels(cfg):
    s = _stride(cfg)
    return [
        QuantizeKernel(0, 64 * s, 256, 512, "bf16", "MXFP8_E4M3", "forward", "row-major"),
        QuantizeKernel(0, 128 * s, 256, 512, "bf16", "MX9", "backward", "row-major"),
        QuantizeKernel(256 * s, 300 * s, 128, 256, "fp32", "MXFP4_E2M1", "backward", "tiled"),
    ]


CASES = [
    ("hbm3", []),
    ("hbm3", ["refresh=per-bank"]),
    ("hbm3", ["pim.priority=high", "pim.chunk_groups=2"]),
    ("hbm3", ["channels=2", "pim.banks_per_unit=2", "pim.act_counts_tfaw=1"]),
    ("hbm3", ["pim.chunk_groups=100000"]),  # a chunk is cut below tREFI/2 so refresh keeps its deadline
    ("hbm2e", []),
    ("ddr4", []),
]


def _host_logs_pass(cfg, tmp_path) -> bool:
    """Whether a host-only simulate() log of this config passes the checker (log conventions agree)."""
    from harness.memsim import simulate

    a, w, arr = _host(cfg, 400, 5, load=0.5)
    log = tmp_path / "host.csv"
    simulate(cfg, a, w, arr, command_log=log)
    return dc.check_log(log, dc.Device.from_config(cfg)).ok


def _checker_honours_partial_all_bank(cfg, tmp_path) -> bool:
    """Probe: an ACTab on the last SID / bank group, then a legal host ACT elsewhere in the pseudo-channel."""
    std = cfg.standard
    g = Geometry.from_cfg(cfg)
    last_sid, last_bg = (g.sids - 1, -1) if std == "HBM3" else (-1 if std == "HBM2E" else 0, g.bankgroups - 1)
    head = "cycle,command,channel,pseudochannel,bankgroup,bank,row,column,rank,sid\n"
    rows = [f"1,ACTab,0,0,{last_bg},-1,5,-1,0,{last_sid}", "201,ACT,0,0,0,0,7,-1,0,0"]
    log = tmp_path / "probe.csv"
    log.write_text(head + "\n".join(rows) + "\n")
    try:
        return dc.check_log(log, dc.Device.from_config(cfg)).ok
    except Exception:
        return False


@pytest.mark.parametrize("policy", ["blocking", "interleave", "bank-partition"])
@pytest.mark.parametrize("preset,override", CASES)
def test_fuzzed_mix_has_no_timing_violations(tmp_path, policy: str, preset: str, override: list[str]) -> None:
    cfg = load_config(preset, override)
    if not _host_logs_pass(cfg, tmp_path):
        pytest.xfail("simulator and checker disagree on host-only logs of this config (log conventions; "
                     "see docs/validation.md, PIM section)")
    if policy == "bank-partition" and not _checker_honours_partial_all_bank(cfg, tmp_path):
        pytest.xfail("checker expands every all-bank command to the whole pseudo-channel; bank-partition "
                     "PIM commands cover one SID / bank group")
    log = tmp_path / "cmd.csv"
    for seed in (1, 2):
        a, w, arr = _host(cfg, 1500, seed, load=0.25 + 0.25 * seed, avoid_sid=False)
        st = simulate_with_pim(cfg, a, w, arr, _kernels(cfg), policy=policy, command_log=log)
        assert all(t > 0 for t in st["pim_kernel_ns"])
        assert st["reads"] + st["writes"] == len(a)
        rep = dc.check_log(log, dc.Device.from_config(cfg))
        assert rep.ok, rep.summary()


@pytest.mark.parametrize("policy", ["blocking", "interleave", "bank-partition"])
@pytest.mark.parametrize("preset,override", [CASES[0], CASES[3], CASES[5]])
def test_skipping_idle_ticks_changes_nothing(tmp_path, monkeypatch, policy: str, preset: str,
                                             override: list[str]) -> None:
    """PIM drivers must ask for every tick at which they would act (a waiting command's restart, a
    program PREab that turns out a no-op): a run that evaluates every tick gives the same log."""
    from harness.memsim.config import DramConfig

    cfg = load_config(preset, override)
    a, w, arr = _host(cfg, 3000, 2, load=0.75)
    plain = DramConfig.engine_config
    out = []
    for every in (False, True):
        monkeypatch.setattr(DramConfig, "engine_config", lambda self, e=every: {**plain(self), "tick_every_cycle": e})
        log = tmp_path / f"every{every}.csv"
        st = simulate_with_pim(cfg, a, w, arr, _kernels(cfg), policy=policy, command_log=log)
        out.append((st, log.read_bytes()))
    (fast, fast_log), (slow, slow_log) = out
    assert fast["ticks_simulated"] < slow["ticks_simulated"]
    assert {k: v for k, v in fast.items() if k != "ticks_simulated"} == {
        k: v for k, v in slow.items() if k != "ticks_simulated"}
    assert fast_log == slow_log


def test_policies_trade_host_latency_for_pim_time(hbm3) -> None:
    a, w, arr = _host(hbm3, 4000, 7, load=0.5)
    k = [QuantizeKernel(0, 64 * _stride(hbm3), 1024, 1024, "bf16", "MX9", "forward")]
    base = simulate_with_pim(hbm3, a, w, arr, [])
    res = {p: simulate_with_pim(hbm3, a, w, arr, k, policy=p) for p in ("blocking", "interleave")}
    assert base["pim_kernel_ns"] == []
    for st in res.values():
        assert st["p99_read_latency_ns"] >= base["p99_read_latency_ns"] * 0.9
    # low-priority interleave defers PIM to the host: PIM takes longer than under blocking
    assert res["interleave"]["pim_kernel_ns"][0] > res["blocking"]["pim_kernel_ns"][0]


def test_bad_input(hbm3, tmp_path) -> None:
    s = _stride(hbm3)
    good = QuantizeKernel(0, 64 * s, 256, 256, "bf16", "MX9", "forward")
    a, w, arr = _host(hbm3, 10, 1, 0.5)
    with pytest.raises(PimError, match="policy"):
        simulate_with_pim(hbm3, a, w, arr, [good], policy="round-robin")
    with pytest.raises(PimError, match="aligned"):
        simulate_with_pim(hbm3, a, w, arr, [QuantizeKernel(32, 64 * s, 256, 256, "bf16", "MX9", "forward")])
    with pytest.raises(PimError, match="overlap"):
        simulate_with_pim(hbm3, a, w, arr, [good, QuantizeKernel(0, 64 * s, 256, 256, "bf16", "MX9", "backward")])
    with pytest.raises(PimError, match="capacity"):
        simulate_with_pim(hbm3, a, w, arr, [QuantizeKernel(0, 8191 * s, 4096, 4096, "bf16", "MX9", "forward")])
    with pytest.raises(PimError, match="unknown pim config"):
        simulate_with_pim(hbm3, a, w, arr, [good], pim_overrides={"bogus": 1})
    with pytest.raises(PimError, match="command_interval"):
        simulate_with_pim(hbm3, a, w, arr, [good], pim_overrides={"command_interval": 1})
    with pytest.raises(PimError, match="register file"):
        simulate_with_pim(hbm3, a, w, arr, [QuantizeKernel(0, 64 * s, 64, 64, "fp32", "MX9", "backward")],
                          pim_overrides={"register_file_bytes": 256})
    log = tmp_path / "never.csv"
    with pytest.raises(PimError):
        simulate_with_pim(hbm3, a, w, arr, [good], policy="nope", command_log=log)
    assert not log.exists()
    # two copies of one weight (same src, different dst) are fine
    st = simulate_with_pim(hbm3, a, w, arr, [good, QuantizeKernel(0, 128 * s, 256, 256, "bf16", "MX9", "backward")])
    assert len(st["pim_kernel_ns"]) == 2
