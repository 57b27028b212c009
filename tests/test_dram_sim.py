"""Unit tests of the DRAM simulator: stats contract, per-command-pair timing seen in command logs,
controller policies, configs and error handling. (Fidelity against Ramulator 2.1 and the independent
timing checker live in test_dram_fidelity.py / test_dram_checker.py.)"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from harness.memsim import ConfigError, TraceError, load_config, read_loadstore_trace, simulate

STATS_KEYS = {
    "cycles", "accept_cycles", "tick_ps", "reads", "writes", "row_hits", "row_misses", "row_conflicts",
    "avg_read_latency_ns", "p99_read_latency_ns", "bandwidth_GBps", "peak_bandwidth_GBps", "commands", "time_ns",
}


def run_log(tmp_path: Path, preset: str, addrs, writes=None, overrides=(), arrival=None):
    cfg = load_config(preset, list(overrides))
    a = np.asarray(addrs, dtype=np.uint64)
    w = np.zeros(len(a), bool) if writes is None else np.asarray(writes, bool)
    log = tmp_path / "cmd.csv"
    stats = simulate(cfg, a, w, arrival=arrival, command_log=log)
    with open(log) as f:
        rows = list(csv.DictReader(f))
    return cfg, stats, rows


def cmds(rows, name):
    return [int(r["cycle"]) for r in rows if r["command"] == name]


def test_stats_contract_and_units() -> None:
    cfg = load_config("hbm3")
    n = 2000
    s = simulate(cfg, np.arange(n, dtype=np.uint64) * 64, np.zeros(n, bool))
    assert STATS_KEYS <= set(s)
    assert s["reads"] == n and s["writes"] == 0
    assert s["row_hits"] + s["row_misses"] + s["row_conflicts"] == n
    assert s["tick_ps"] == 312.5 and cfg.tick_ps == 312.5
    assert s["time_ns"] == pytest.approx(s["cycles"] * 312.5 / 1000)
    assert 0 < s["accept_cycles"] <= s["cycles"]
    assert 0 < s["bandwidth_GBps"] <= s["peak_bandwidth_GBps"] == pytest.approx(51.2)
    assert s["commands"]["RD"] == n and s["commands"]["WR"] == 0
    assert 0 < s["avg_read_latency_ns"] <= s["p99_read_latency_ns"] * 1.5


def test_config_fields() -> None:
    h = load_config("hbm3")
    assert h.standard == "HBM3"
    assert h.org["tx_bytes"] == 32 and h.org["capacity_bytes"] == 512 << 20
    assert h.org["pseudochannels"] == 2 and h.org["sids"] == 2 and h.org["columns"] == 256
    assert h.timing["nRCDRD"] == 31 and h.timing["tCK_ps"] == 625 and h.timing["nRFC"] == 416
    d = load_config("ddr4", {"channels": 2})
    assert d.standard == "DDR4" and d.tick_ps == 833 and d.org["tx_bytes"] == 64
    assert d.org["capacity_bytes"] == 2 * (8 << 30) and d.peak_bandwidth_GBps == pytest.approx(38.4)
    e = load_config("hbm2e", ["MemorySystem.Controller.row_policy=closed"])
    assert e.standard == "HBM2E" and e.get("row_policy") == "closed"
    assert load_config(str(Path(h.source))).standard == "HBM3"


def test_ddr4_pair_timing_from_log(tmp_path: Path) -> None:
    # Two rows of bank 0 (row stride = 2^(6+7+4) bytes with RoBaRaCoCh): ACT RD PRE ACT RD.
    row = 1 << 17
    cfg, s, rows = run_log(tmp_path, "ddr4", [0, 64, row], overrides=["refresh=none"])
    t = cfg.timing
    act, rd, pre = cmds(rows, "ACT"), cmds(rows, "RD"), cmds(rows, "PREpb")
    assert len(act) == 2 and len(rd) == 3 and len(pre) == 1
    assert rd[0] - act[0] == t["nRCD"]
    assert rd[1] - rd[0] == t["nCCDL"]  # same bank group
    assert pre[0] - act[0] >= t["nRAS"] and pre[0] - rd[1] >= t["nRTP"]
    assert pre[0] == max(act[0] + t["nRAS"], rd[1] + t["nRTP"])
    assert act[1] - pre[0] == t["nRP"]
    assert rd[2] - act[1] == t["nRCD"]
    assert s["row_hits"] == 1 and s["row_misses"] == 1 and s["row_conflicts"] == 1


def test_ddr4_bank_groups_and_turnaround(tmp_path: Path) -> None:
    # Column bits 6..12, then bank group bits 13..14: addresses 0 and 1<<13 are in different groups.
    cfg, _, rows = run_log(tmp_path, "ddr4", [0, 1 << 13, 64], writes=[False, False, True], overrides=["refresh=none"])
    t = cfg.timing
    act = cmds(rows, "ACT")
    assert act[1] - act[0] == t["nRRDS"]  # different bank group
    rd, wr = cmds(rows, "RD"), cmds(rows, "WR")
    assert rd[1] - rd[0] == t["nCCDS"]
    assert wr[0] - rd[1] >= t["nCL"] + t["nBL"] + 2 - t["nCWL"]


def test_hbm3_pair_timing_edges_and_sids(tmp_path: Path) -> None:
    # 32-byte columns: 0 and 64 are columns 0 and 2 of the same row; 1<<10 flips the pseudo-channel,
    # 1<<11 the SID.
    cfg, _, rows = run_log(tmp_path, "hbm3", [0, 64, 1 << 11], overrides=["refresh=none"])
    t = {k: 2 * v for k, v in cfg.timing.items()}  # ticks
    act, rd = cmds(rows, "ACT"), cmds(rows, "RD")
    # end-to-end measurement: ACT occupies 3 ticks, RD 2 -> ACT->RD >= 2*nRCDRD + 2 - 1, then the
    # next rising edge (odd tick)
    earliest = act[0] + t["nRCDRD"] + 1
    assert rd[0] == earliest + (1 - earliest % 2)
    assert rd[1] - rd[0] == t["nCCDL"]
    assert all(c % 2 == 1 for c in rd), "column commands on rising edges (odd ticks)"
    assert act[1] - act[0] >= t["nRRDS"]
    sid_rd = [r for r in rows if r["command"] == "RD" and r["sid"] == "1"]
    assert len(sid_rd) == 1 and {r["pseudochannel"] for r in rows} == {"0"}


def test_hbm3_refreshes_all_bank_per_pseudochannel(tmp_path: Path) -> None:
    cfg = load_config("hbm3")
    n = 4000
    # sparse arrivals spread over ~10 refresh intervals
    arrival = np.arange(n, dtype=np.int64) * 64
    s = simulate(cfg, np.arange(n, dtype=np.uint64) * 4096, np.zeros(n, bool), arrival=arrival)
    n_refi = 2 * cfg.timing["nREFI"]
    expected = 2 * (s["cycles"] // n_refi)  # one REFab per pseudo-channel per tREFI
    assert abs(s["commands"]["REFab"] - expected) <= 2
    assert s["accept_cycles"] >= arrival[-1]


def test_per_bank_refresh_and_closed_page() -> None:
    cfg = load_config("hbm3", ["refresh=per-bank", "row_policy=closed"])
    n = 3000
    rng = np.random.default_rng(0)
    a = rng.integers(0, 1 << 24, n, dtype=np.uint64) * np.uint64(32)
    s = simulate(cfg, a, rng.random(n) < 0.3)
    c = s["commands"]
    assert c["REFpb"] > 0 and c["REFab"] == 0
    assert c["RDA"] + c["WRA"] > 0.5 * n
    assert s["reads"] + s["writes"] == n


def test_read_forwarding_and_write_coalescing() -> None:
    # Reads keep the controller in read mode, so the write stays queued while the same address is
    # read (forwarded) and written again (coalesced). A write leaves the queue once its ACT issues.
    cfg = load_config("ddr4")
    x = 1 << 24
    a = np.array([i * 64 for i in range(40)] + [x, x, x] + [i * 64 for i in range(40, 60)], dtype=np.uint64)
    w = np.array([False] * 40 + [True, False, True] + [False] * 20)
    s = simulate(cfg, a, w)
    assert s["read_forwarded"] == 1 and s["write_coalesced"] == 1
    assert s["commands"]["WR"] == 1 and s["commands"]["RD"] == 60
    off = simulate(load_config("ddr4", ["read_forwarding=false"]), a, w)
    assert off["read_forwarded"] == 0


@pytest.mark.parametrize("mapping", ["RoBaRaCoCh", "RoCoBaRaCh", "ChRaBaRoCo", "RoBaRaCoCh_XOR"])
def test_mappings_and_channels(mapping: str) -> None:
    n = 4000
    a = np.arange(n, dtype=np.uint64) * 32  # one HBM3 column access each
    one = simulate(load_config("hbm3", [f"address_mapping={mapping}"]), a, np.zeros(n, bool))
    two = simulate(load_config("hbm3", [f"address_mapping={mapping}", "channels=2"]), a, np.zeros(n, bool))
    assert one["reads"] == two["reads"] == n
    if mapping in ("RoBaRaCoCh", "RoCoBaRaCh", "RoBaRaCoCh_XOR"):  # channel bits at the bottom
        assert two["cycles"] < one["cycles"]


def test_mapping_changes_locality() -> None:
    n = 4000
    a = np.arange(n, dtype=np.uint64) * 64
    seq = simulate(load_config("ddr4", ["address_mapping=RoBaRaCoCh"]), a, np.zeros(n, bool))
    spread = simulate(load_config("ddr4", ["address_mapping=RoCoBaRaCh"]), a, np.zeros(n, bool))
    assert seq["row_hits"] > 0.9 * n
    assert spread["commands"]["ACT"] >= 16  # consecutive lines go to different banks first


def test_overflow_error_and_wrap() -> None:
    cfg = load_config("hbm3")
    big = np.array([0, 1 << 30], dtype=np.uint64)
    with pytest.raises(ConfigError, match="request 1.*beyond the capacity"):
        simulate(cfg, big, np.zeros(2, bool))
    s = simulate(load_config("hbm3", ["address_overflow=wrap"]), big, np.zeros(2, bool))
    assert s["row_hits"] == 1  # 1 GiB wraps onto address 0


def test_command_log_atomic_on_error(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    with pytest.raises(ConfigError):
        simulate(load_config("hbm3"), np.array([1 << 40], dtype=np.uint64), np.zeros(1, bool), command_log=log)
    assert not log.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "overrides, match",
    [
        (["nCL=abc"], "nCL must be int"),
        (["nosuchkey=1"], "unknown config key 'nosuchkey'"),
        (["impl=HBM3"], "ambiguous"),
        (["channels=3"], "power of two"),
        (["address_mapping=Foo"], "must be one of"),
        (["row_policy=1"], "must be str"),
        (["wr_low_watermark=0.9", "wr_high_watermark=0.5"], "wr_low_watermark"),
        (["nCL"], "key=value"),
    ],
)
def test_config_errors(overrides, match) -> None:
    with pytest.raises(ConfigError, match=match):
        load_config("hbm3", overrides)


def test_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown dram preset 'hbm9'"):
        load_config("hbm9")
    bad = tmp_path / "bad.yaml"
    text = Path(load_config("ddr4").source).read_text().replace("nCL: 16", "nCL: 16\n      nFOO: 3")
    bad.write_text(text)
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown config key.*nFOO"):
        load_config(bad)
    bad.write_text(Path(load_config("ddr4").source).read_text().replace("refresh: all-bank", "refresh: per-bank"))
    with pytest.raises(ConfigError, match="no per-bank refresh"):
        load_config(bad)


def test_loadstore_trace_parsing(tmp_path: Path) -> None:
    p = tmp_path / "t.trace"
    p.write_text("LD 0x1f40\nST 4096\n\n# comment\nLD 0XFF\n")
    a, w = read_loadstore_trace(p)
    assert a.dtype == np.uint64 and w.dtype == np.bool_
    assert a.tolist() == [0x1F40, 4096, 0xFF] and w.tolist() == [False, True, False]
    for text, msg in [("LD 0x10\nXX 5\n", ":2: expected"), ("LD\n", ":1: missing address"),
                      ("ST 0xZZ\n", ":1: bad address"), ("LD 1 2\n", ":1: unexpected text"),
                      ("LD 99999999999999999999999\n", "64 bits")]:
        p.write_text(text)
        with pytest.raises(TraceError, match=msg):
            read_loadstore_trace(p)
    with pytest.raises(TraceError, match="not found"):
        read_loadstore_trace(tmp_path / "missing.trace")


def test_trace_reader_is_fast(tmp_path: Path) -> None:
    import time

    n = 200_000
    p = tmp_path / "big.trace"
    p.write_text("".join(f"LD {i * 64:#x}\n" for i in range(n)))
    t0 = time.perf_counter()
    a, _ = read_loadstore_trace(p)
    assert len(a) == n and time.perf_counter() - t0 < 1.0


def test_bad_arrays() -> None:
    cfg = load_config("ddr4")
    with pytest.raises(ValueError, match="same shape"):
        simulate(cfg, np.zeros(3, np.uint64), np.zeros(2, bool))
    with pytest.raises(ValueError, match="non-decreasing"):
        simulate(cfg, np.zeros(3, np.uint64), np.zeros(3, bool), arrival=np.array([5, 3, 9]))
    with pytest.raises(ValueError, match="non-negative"):
        simulate(cfg, np.array([-1]), np.zeros(1, bool))
    empty = simulate(cfg, np.zeros(0, np.uint64), np.zeros(0, bool))
    assert empty["cycles"] == 0 and empty["reads"] == 0


def test_deterministic_and_requests_per_clock() -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(0, 1 << 26, 3000, dtype=np.uint64) * np.uint64(64)
    w = rng.random(3000) < 0.3
    cfg = load_config("ddr4")
    assert simulate(cfg, a, w) == simulate(cfg, a, w)
    fast = simulate(load_config("ddr4", ["requests_per_clock=4"]), a, w)
    assert fast["reads"] + fast["writes"] == 3000


def test_hbm2e_act_occupies_two_clocks(tmp_path: Path) -> None:
    # HBM2E: one tick per clock; ACT is 2 clocks on the row bus, so ACT->RD = nRCDRD + 1 and a second
    # ACT waits at least max(2, nRRDS).
    cfg, _, rows = run_log(tmp_path, "hbm2e", [0, 1 << 12], overrides=["refresh=none"])
    t = cfg.timing
    act, rd = cmds(rows, "ACT"), cmds(rows, "RD")
    assert rd[0] - act[0] == t["nRCDRD"] + 1
    assert act[1] - act[0] >= max(2, t["nRRDS"])
    assert cfg.tick_ps == 833


def test_spec_info_table() -> None:
    from harness import _dram

    info = _dram.spec_info(load_config("hbm3").engine_config())
    assert info["capacity_bytes"] == 512 << 20 and info["tick_multiplier"] == 2
    table = {(lv, a, b, w, sib): lat for lv, a, b, lat, w, sib in info["timing_table"]}
    assert table[("Bank", "ACT", "RD", 1, False)] == 2 * 31 + 2 - 1
    assert table[("Bank", "PREpb", "ACT", 1, False)] == 2 * 26 - 2
    assert table[("PseudoChannel", "ACT", "ACT", 4, False)] == 2 * 24
    assert table[("Sid", "RD", "RD", 1, True)] == 2 * 3


@pytest.mark.parametrize("std", ["hbm3", "hbm2e"])
def test_per_bank_refresh_spacing(std: str) -> None:
    """REFpb -> REFpb: nRREFD across banks of a pseudo-channel, nRFCpb on the same bank (JEDEC), so
    refreshes postponed by a PIM kernel cannot issue back to back."""
    from harness import _dram

    cfg = load_config(std)
    info = _dram.spec_info(cfg.engine_config())
    table = {(lv, a, b, w, sib): lat for lv, a, b, lat, w, sib in info["timing_table"]}
    mult = info["tick_multiplier"]
    assert table[("PseudoChannel", "REFpb", "REFpb", 1, False)] == mult * cfg.timing["nRREFD"]
    assert table[("Bank", "REFpb", "REFpb", 1, False)] == mult * cfg.timing["nRFCpb"]


@pytest.mark.parametrize("preset,overrides,locality,write_frac,bursty", [
    ("hbm3", [], 0.5, 0.4, True),
    ("hbm3", ["channels=2", "row_policy=closed"], 0.0, 0.3, False),
    ("hbm3", ["refresh=per-bank"], 0.9, 0.6, True),
    ("ddr4", [], 0.0, 0.3, False),
    # hits lose their row to an older request's precharge: their cached ready bounds must be voided
    ("ddr4", [], 0.5, 0.6, False),
    ("ddr4", ["row_policy=closed"], 0.9, 0.9, True),
    ("ddr4", ["channels=2"], 0.5, 0.6, False),  # write drains that flip between offers
    ("ddr4", ["channels=2"], 0.9, 0.9, True),
    ("ddr4", ["read_buffer_size=8", "write_buffer_size=8"], 0.5, 0.4, True),
    ("hbm2e", ["row_policy=closed"], 0.9, 0.9, True),
    # tiny queues: write drains flip often, so the ready index rebuilds the queue it switches to
    ("hbm3", ["read_buffer_size=4", "write_buffer_size=4", "refresh=per-bank"], 0.5, 0.5, True),
    ("hbm2e", ["refresh=per-bank", "channels=2"], 0.0, 0.5, False),
])
def test_skipping_idle_ticks_changes_nothing(tmp_path: Path, preset: str, overrides: list[str], locality: float,
                                             write_frac: float, bursty: bool) -> None:
    """The fast engine must give what the reference mode gives (every tick evaluated, every queued
    request looked up exactly at every pick, no cached ready bounds or ready index): same stats, same
    command log. (Before the write-drain mode was re-evaluated after every batch of offers, the bursty
    write-heavy 2-channel DDR4 case and the closed-page HBM2E case here differed.)"""
    from harness import _dram

    cfg = load_config(preset, ["address_overflow=wrap", *overrides])
    rng = np.random.default_rng(1)
    n = 10_000
    seq = np.arange(n, dtype=np.uint64) * np.uint64(64)
    rnd = rng.integers(0, 2**24, n).astype(np.uint64) * np.uint64(64)
    addrs = np.where(rng.random(n) < locality, seq, rnd)
    writes = rng.random(n) < write_frac
    arrival = np.cumsum(rng.integers(0, 5, n)).astype(np.int64) if bursty else None
    runs = []
    for every in (False, True):
        log = tmp_path / f"every{every}.csv"
        raw = _dram.simulate({**cfg.engine_config(), "tick_every_cycle": every}, addrs, writes, arrival, str(log))
        runs.append((raw, log.read_bytes()))
    (fast, fast_log), (slow, slow_log) = runs
    assert fast["ticks_simulated"] < slow["ticks_simulated"]  # the fast run did skip ticks
    assert {k: v for k, v in fast.items() if k != "ticks_simulated"} == {
        k: v for k, v in slow.items() if k != "ticks_simulated"}
    assert fast_log == slow_log


def test_engine_dict_errors_name_the_key() -> None:
    from harness import _dram

    cfg = load_config("ddr4")
    a, w = np.arange(4, dtype=np.uint64) * np.uint64(64), np.zeros(4, bool)
    with pytest.raises(ValueError, match="'tick_every_cycle' has the wrong type"):
        _dram.simulate({**cfg.engine_config(), "tick_every_cycle": "yes"}, a, w, None, "")
    engine = cfg.engine_config()
    del engine["channels"]
    with pytest.raises(ValueError, match="missing 'channels'"):
        _dram.simulate(engine, a, w, None, "")
