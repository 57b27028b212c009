"""The independent DRAM timing checker catches each rule family on hand-made logs (at the exact boundary:
one tick less is a violation, the minimum is not), and fuzzed simulator runs give zero violations.

Hand-made logs use the JEDEC values as Ramulator 2.1 publishes them (HBM3_6400Mbps, DDR4_2400R; see
docs/validation.md), written here as numbers so the tests do not lean on the checker's arithmetic.
HBM3 ticks are half clocks: n CK = 2n ticks; an ACT occupies 3 ticks (its last tick counts), column
commands 2 ticks (all on the same clock edge: even ticks here), PRE/REF 1 tick.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

import dram_checker as dc

HBM3_TIMING = dict(nBL=2, nCL=20, nRCDRD=31, nRCDWR=15, nRP=26, nRAS=45, nRC=72, nWR=33, nRTP=9, nCWL=10,
                   nCCDS=2, nCCDL=4, nCCDR=3, nRRDS=4, nRRDL=5, nFAW=24, nWTRS=7, nWTRL=10, nRTW=20, nPPD=2,
                   nRREFD=8, nRFC=416, nRFCpb=320, nREFI=6240, tCK_ps=625)
HBM3_ORG = dict(channels=1, pseudochannels=2, sids=2, bankgroups=4, banks=4, rows=8192, columns=32)
DDR4_TIMING = dict(nBL=4, nCL=16, nRCD=16, nRP=16, nRAS=39, nRC=55, nWR=18, nRTP=9, nCWL=12, nCCDS=4, nCCDL=6,
                   nRRDS=4, nRRDL=6, nWTRS=3, nWTRL=9, nFAW=26, nRFC=420, nREFI=9364, nCS=2, tCK_ps=833)
DDR4_ORG = dict(channels=1, ranks=2, bankgroups=4, banks=4, rows=65536, columns=128)
HBM2E_TIMING = dict(nBL=2, nCL=14, nRCDRD=14, nRCDWR=10, nRP=14, nRAS=33, nRC=47, nWR=16, nRTPL=5, nCWL=4,
                    nCCDS=2, nCCDL=4, nRRDS=4, nRRDL=6, nWTRS=4, nWTRL=8, nFAW=16, nRFC=350, nRFCpb=160,
                    nRREFD=8, nREFI=3900, tCK_ps=1000)
HBM2E_ORG = dict(channels=1, pseudochannels=2, bankgroups=4, banks=4, rows=16384, columns=64)


def hbm3(**kw: object) -> dc.Device:
    return dc.Device("HBM3", dict(HBM3_TIMING), dict(HBM3_ORG), ticks_per_clock=2, **kw)  # type: ignore[arg-type]


def ddr4(**kw: object) -> dc.Device:
    return dc.Device("DDR4", dict(DDR4_TIMING), dict(DDR4_ORG), ticks_per_clock=1, **kw)  # type: ignore[arg-type]


def log(rows: list[tuple]) -> pd.DataFrame:
    """rows: (cycle, command, pc, sid/rank, bankgroup, bank, row)."""
    return pd.DataFrame(
        [dict(cycle=r[0], command=r[1], channel=0, pseudochannel=r[2], rank=r[3], bankgroup=r[4], bank=r[5],
              row=r[6], column=0) for r in rows])


def rules_hit(dev: dc.Device, rows: list[tuple]) -> set[str]:
    return set(dc.check_log(log(rows), dev).violations["rule"])


def assert_boundary(dev: dc.Device, ok: list[tuple], bad: list[tuple], rule: str) -> None:
    """`ok` is legal; `bad` (one command moved earlier) violates `rule`."""
    rep = dc.check_log(log(ok), dev)
    assert rep.ok, rep.summary()
    hit = rules_hit(dev, bad)
    assert rule in hit, (rule, hit)


# ---- HBM3 bank-level rules --------------------------------------------------------------------------
def test_act_to_rd_wr_trcd() -> None:
    # tRCDRD 31 CK: ACT (last tick 2) -> RD (last tick t+1) needs 62 ticks, so RD at 64 (even), not 62.
    assert_boundary(hbm3(), [(0, "ACT", 0, 0, 0, 0, 5), (64, "RD", 0, 0, 0, 0, 5)],
                    [(0, "ACT", 0, 0, 0, 0, 5), (62, "RD", 0, 0, 0, 0, 5)], "tRCDRD ACT->RD")
    assert_boundary(hbm3(), [(0, "ACT", 0, 0, 0, 0, 5), (32, "WR", 0, 0, 0, 0, 5)],
                    [(0, "ACT", 0, 0, 0, 0, 5), (30, "WR", 0, 0, 0, 0, 5)], "tRCDWR ACT->WR")


def test_tras_trp_trc() -> None:
    base = [(0, "ACT", 0, 0, 0, 0, 5)]
    assert_boundary(hbm3(), base + [(92, "PRE", 0, 0, 0, 0, 5)], base + [(91, "PRE", 0, 0, 0, 0, 5)],
                    "tRAS ACT->PRE")
    # PRE at 92 (last tick 92) -> ACT last tick >= 92 + 52 -> ACT at 142; tRC: ACT last tick >= 2 + 144.
    ok = base + [(92, "PRE", 0, 0, 0, 0, 5), (144, "ACT", 0, 0, 0, 0, 6)]
    assert_boundary(hbm3(), ok, base + [(92, "PRE", 0, 0, 0, 0, 5), (143, "ACT", 0, 0, 0, 0, 6)], "tRC ACT->ACT same bank")
    late = [(0, "ACT", 0, 0, 0, 0, 5), (120, "PRE", 0, 0, 0, 0, 5)]
    assert "tRP PRE->ACT" in rules_hit(hbm3(), late + [(169, "ACT", 0, 0, 0, 0, 6)])
    assert dc.check_log(log(late + [(170, "ACT", 0, 0, 0, 0, 6)]), hbm3()).ok


def test_rtp_and_write_recovery() -> None:
    a = [(0, "ACT", 0, 0, 0, 0, 5)]
    # RD at 100 (last tick 101) -> PRE >= 101 + 18
    assert_boundary(hbm3(), a + [(100, "RD", 0, 0, 0, 0, 5), (119, "PRE", 0, 0, 0, 0, 5)],
                    a + [(100, "RD", 0, 0, 0, 0, 5), (118, "PRE", 0, 0, 0, 0, 5)], "tRTP RD->PRE")
    # WR at 40 (last tick 41) -> PRE >= 41 + 2*(10+2+33)
    assert_boundary(hbm3(), a + [(40, "WR", 0, 0, 0, 0, 5), (131, "PRE", 0, 0, 0, 0, 5)],
                    a + [(40, "WR", 0, 0, 0, 0, 5), (130, "PRE", 0, 0, 0, 0, 5)], "tWR WR->PRE")
    # RDA closes the bank: the next ACT waits tRTP + tRP after it (and tRC after the first ACT)
    # RDA at 100 (last tick 101) -> ACT last tick >= 101 + 2*(9+26) -> ACT at 169
    assert_boundary(hbm3(), a + [(100, "RDA", 0, 0, 0, 0, 5), (169, "ACT", 0, 0, 0, 0, 6)],
                    a + [(100, "RDA", 0, 0, 0, 0, 5), (168, "ACT", 0, 0, 0, 0, 6)], "tRTP+tRP RDA->ACT/REF")


# ---- HBM3 column-to-column and turnarounds ------------------------------------------------------------
def _open4() -> list[tuple]:
    # bank 0 of BG0, BG1 (SID 0), BG0 bank 1 (SID 0), BG0 (SID 1): ACTs 10 ticks apart (tRRDL 5 CK)
    return [(0, "ACT", 0, 0, 0, 0, 1), (10, "ACT", 0, 0, 1, 0, 1), (20, "ACT", 0, 0, 0, 1, 1), (30, "ACT", 0, 1, 0, 0, 1)]


def test_ccd_short_long_and_sid() -> None:
    o = _open4()
    t = 100
    assert_boundary(hbm3(), o + [(t, "RD", 0, 0, 0, 0, 1), (t + 4, "RD", 0, 0, 1, 0, 1)],
                    o + [(t, "RD", 0, 0, 0, 0, 1), (t + 2, "RD", 0, 0, 1, 0, 1)], "tCCDS RD->RD same SID")
    assert_boundary(hbm3(), o + [(t, "RD", 0, 0, 0, 0, 1), (t + 8, "RD", 0, 0, 0, 1, 1)],
                    o + [(t, "RD", 0, 0, 0, 0, 1), (t + 6, "RD", 0, 0, 0, 1, 1)], "tCCDL RD->RD same BG")
    assert_boundary(hbm3(), o + [(t, "WR", 0, 0, 0, 0, 1), (t + 8, "WR", 0, 0, 0, 1, 1)],
                    o + [(t, "WR", 0, 0, 0, 0, 1), (t + 6, "WR", 0, 0, 0, 1, 1)], "tCCDL WR->WR same BG")
    assert_boundary(hbm3(), o + [(t, "RD", 0, 0, 0, 0, 1), (t + 6, "RD", 0, 1, 0, 0, 1)],
                    o + [(t, "RD", 0, 0, 0, 0, 1), (t + 4, "RD", 0, 1, 0, 0, 1)], "tCCDR RD->RD other SID")


def test_turnarounds() -> None:
    o = _open4()
    t = 100
    # WR -> RD other BG: 2*(10+2+7) = 38; same BG: 2*(10+2+10) = 44
    assert_boundary(hbm3(), o + [(t, "WR", 0, 0, 0, 0, 1), (t + 38, "RD", 0, 0, 1, 0, 1)],
                    o + [(t, "WR", 0, 0, 0, 0, 1), (t + 36, "RD", 0, 0, 1, 0, 1)], "tWTRS WR->RD")
    assert_boundary(hbm3(), o + [(t, "WR", 0, 0, 0, 0, 1), (t + 44, "RD", 0, 0, 0, 1, 1)],
                    o + [(t, "WR", 0, 0, 0, 0, 1), (t + 42, "RD", 0, 0, 0, 1, 1)], "tWTRL WR->RD same BG")
    assert_boundary(hbm3(), o + [(t, "RD", 0, 0, 0, 0, 1), (t + 40, "WR", 0, 0, 1, 0, 1)],
                    o + [(t, "RD", 0, 0, 0, 0, 1), (t + 38, "WR", 0, 0, 1, 0, 1)], "tRTW RD->WR")
    # The other pseudo-channel has its own data bus and turnarounds (only the column bus is shared).
    assert dc.check_log(log(o + [(90, "ACT", 1, 0, 0, 0, 1), (t + 80, "RD", 0, 0, 0, 0, 1),
                                 (t + 82, "WR", 1, 0, 0, 0, 1)]), hbm3()).ok


def test_rrd_and_faw() -> None:
    assert_boundary(hbm3(), [(0, "ACT", 0, 0, 0, 0, 1), (8, "ACT", 0, 0, 1, 0, 1)],
                    [(0, "ACT", 0, 0, 0, 0, 1), (7, "ACT", 0, 0, 1, 0, 1)], "tRRDS ACT->ACT")
    assert_boundary(hbm3(), [(0, "ACT", 0, 0, 0, 0, 1), (10, "ACT", 0, 0, 0, 1, 1)],
                    [(0, "ACT", 0, 0, 0, 0, 1), (9, "ACT", 0, 0, 0, 1, 1)], "tRRDL ACT->ACT same BG")
    # tRRDS applies across SIDs of a pseudo-channel; the other pseudo-channel is free.
    assert "tRRDS ACT->ACT" in rules_hit(hbm3(), [(0, "ACT", 0, 0, 0, 0, 1), (4, "ACT", 0, 1, 1, 0, 1)])
    assert "tRRDS ACT->ACT" not in rules_hit(hbm3(), [(0, "ACT", 0, 0, 0, 0, 1), (4, "ACT", 1, 0, 1, 0, 1)])
    four = [(0, "ACT", 0, 0, 0, 0, 1), (8, "ACT", 0, 0, 1, 0, 1), (16, "ACT", 0, 0, 2, 0, 1), (24, "ACT", 0, 0, 3, 0, 1)]
    assert_boundary(hbm3(), four + [(48, "ACT", 0, 1, 0, 0, 1)], four + [(47, "ACT", 0, 1, 0, 0, 1)], "tFAW 4 ACT window")


def test_ppd_and_refresh_timing() -> None:
    o = [(0, "ACT", 0, 0, 0, 0, 1), (10, "ACT", 0, 0, 0, 1, 1)]
    assert_boundary(hbm3(), o + [(100, "PRE", 0, 0, 0, 0, 1), (104, "PRE", 0, 0, 0, 1, 1)],
                    o + [(100, "PRE", 0, 0, 0, 0, 1), (103, "PRE", 0, 0, 0, 1, 1)], "tPPD PRE->PRE")
    # REFab: every bank of the pseudo-channel must be closed tRP before; ACT waits tRFC after.
    r = [(0, "REFab", 0, 0, 0, 0, -1)]
    assert_boundary(hbm3(), r + [(830, "ACT", 0, 1, 2, 3, 1)], r + [(829, "ACT", 0, 1, 2, 3, 1)],
                    "tRFC REFab->ACT/PRE/REF")
    assert "tRFC REFab->ACT/PRE/REF" not in rules_hit(hbm3(), r + [(10, "ACT", 1, 0, 0, 0, 1)])
    assert "tRP PRE->REF" in rules_hit(hbm3(), o + [(100, "PRE", 0, 0, 0, 0, 1), (104, "PRE", 0, 0, 0, 1, 1),
                                                   (150, "REFab", 0, 0, 0, 0, -1)])
    # per-bank refresh: REFpb to different banks tRREFD apart; ACT of the refreshed bank after tRFCpb.
    assert_boundary(hbm3(), [(0, "REFpb", 0, 0, 0, 0, -1), (16, "REFpb", 0, 0, 1, 0, -1)],
                    [(0, "REFpb", 0, 0, 0, 0, -1), (15, "REFpb", 0, 0, 1, 0, -1)], "tRREFD REFpb->REFpb")
    assert_boundary(hbm3(), [(0, "REFpb", 0, 0, 0, 0, -1), (638, "ACT", 0, 0, 0, 0, 1)],
                    [(0, "REFpb", 0, 0, 0, 0, -1), (637, "ACT", 0, 0, 0, 0, 1)], "tRFCpb REFpb->ACT/PRE/REF")


def test_refresh_rate() -> None:
    refi = 2 * 6240  # ticks
    end = 30 * refi
    # no refresh at all for 30 tREFI: every bank is late
    idle = [(0, "ACT", 0, 0, 0, 0, 1), (end, "PRE", 0, 0, 0, 0, 1)]
    rep = dc.check_log(log(idle), hbm3())
    assert "refresh interval > 9 tREFI" in set(rep.violations["rule"])
    # one REFab per tREFI per pseudo-channel: fine
    refs = [(k * refi, "REFab", pc, 0, 0, 0, -1) for k in range(1, 31) for pc in (0, 1)]
    assert "refresh interval > 9 tREFI" not in rules_hit(hbm3(), refs)
    # per-bank refresh that skips one bank
    pb = [(k * refi + 16 * (2 * b + s) + pc * 8, "REFpb", pc, s, b // 4, b % 4, -1)
          for k in range(1, 31) for pc in (0, 1) for s in (0, 1) for b in range(16) if (pc, s, b) != (1, 1, 15)]
    rep = dc.check_log(log(pb), hbm3())
    v = rep.violations
    assert set(v["rule"]) == {"refresh interval > 9 tREFI"}, rep.summary()


# ---- state, buses ----------------------------------------------------------------------------------
def test_bank_state_legality() -> None:
    assert "state: column command to a closed bank" in rules_hit(hbm3(), [(100, "RD", 0, 0, 0, 0, 1)])
    assert "state: column command to a row that is not open" in rules_hit(
        hbm3(), [(0, "ACT", 0, 0, 0, 0, 1), (100, "RD", 0, 0, 0, 0, 2)])
    assert "state: bank must be closed" in rules_hit(hbm3(), [(0, "ACT", 0, 0, 0, 0, 1), (200, "ACT", 0, 0, 0, 0, 2)])
    assert "state: bank must be closed" in rules_hit(hbm3(), [(0, "ACT", 0, 0, 2, 1, 1), (400, "REFab", 0, 0, 0, 0, -1)])
    # RDA closes: a RD after it is to a closed bank. PRE of an idle bank is legal (JEDEC: a NOP).
    assert "state: column command to a closed bank" in rules_hit(
        hbm3(), [(0, "ACT", 0, 0, 0, 0, 1), (64, "RDA", 0, 0, 0, 0, 1), (200, "RD", 0, 0, 0, 0, 1)])
    assert dc.check_log(log([(0, "PRE", 0, 0, 0, 0, 1)]), hbm3()).ok


def test_command_buses_and_edges() -> None:
    # ACT occupies the row bus for 3 ticks; a PRE to another bank 1 tick later collides.
    o = [(0, "ACT", 0, 0, 0, 0, 1), (200, "ACT", 0, 0, 1, 0, 1)]
    assert "row bus occupancy" in rules_hit(hbm3(), o + [(300, "ACT", 1, 0, 0, 0, 1), (301, "PRE", 0, 0, 1, 0, 1)])
    assert "row bus occupancy" not in rules_hit(hbm3(), o + [(300, "ACT", 1, 0, 0, 0, 1), (303, "PRE", 0, 0, 1, 0, 1)])
    # column bus: one column command per clock on the channel (both pseudo-channels share it)
    two = o + [(10, "ACT", 1, 0, 0, 0, 1)]
    assert "column bus occupancy" in rules_hit(hbm3(), two + [(400, "RD", 0, 0, 0, 0, 1), (401, "RD", 1, 0, 0, 0, 1)])
    assert "column commands on both clock edges" in rules_hit(
        hbm3(), two + [(400, "RD", 0, 0, 0, 0, 1), (409, "RD", 1, 0, 0, 0, 1)])
    assert dc.check_log(log(two + [(401, "RD", 1, 0, 0, 0, 1), (409, "RD", 0, 0, 0, 0, 1)]), hbm3()).ok
    # a row and a column command in the same tick are fine on HBM3 (two buses) but not on DDR4
    assert dc.check_log(log(two + [(400, "RD", 0, 0, 0, 0, 1), (400, "PRE", 0, 0, 1, 0, 1)]), hbm3()).ok
    d = [(0, "ACT", 0, 0, 0, 0, 1), (0, "ACT", 0, 1, 0, 0, 1)]
    assert "command bus occupancy" in rules_hit(ddr4(), d)


def test_data_bus_collision() -> None:
    o = _open4()
    # RD data [t+40, t+44); WR at t+22 puts data at [t+42, t+46)
    hit = rules_hit(hbm3(), o + [(100, "RD", 0, 0, 0, 0, 1), (122, "WR", 0, 0, 1, 0, 1)])
    assert "data bus burst overlap" in hit and "tRTW RD->WR" in hit


# ---- all-bank and PIM commands ---------------------------------------------------------------------------
def test_all_bank_commands_obey_every_bank() -> None:
    # PREA (sid -1: the whole pseudo-channel) 60 ticks after an ACT in one bank violates that bank's
    # tRAS, and only once
    rep = dc.check_log(log([(0, "ACT", 0, 1, 3, 2, 7), (60, "PREA", 0, -1, -1, -1, -1)]), hbm3())
    assert list(rep.violations["rule"]) == ["tRAS ACT->PRE"], rep.summary()
    # a -1 bank is "all banks of that bank group": the ACT in bank 2 of BG 3 is hit, BG 2 is not
    assert "tRAS ACT->PRE" in rules_hit(hbm3(), [(0, "ACT", 0, 1, 3, 2, 7), (60, "PRE", 0, 1, 3, -1, -1)])
    assert "tRAS ACT->PRE" not in rules_hit(hbm3(), [(0, "ACT", 0, 1, 3, 2, 7), (60, "PRE", 0, 1, 2, -1, -1)])
    # ACTab opens every bank: a following ACT anywhere in the pseudo-channel finds an open bank
    hit = rules_hit(hbm3(), [(0, "ACTab", 0, -1, -1, -1, 4), (300, "ACT", 0, 1, 2, 2, 4)])
    assert "state: bank must be closed" in hit
    # PIM column commands need open banks and obey tRCD and the PIM command interval
    ok = [(0, "ACTab", 0, -1, -1, -1, 4), (64, "PIM_RD", 0, -1, -1, -1, 4), (72, "PIM_RD", 0, -1, -1, -1, 4),
          (116, "PIM_Q", 0, -1, -1, -1, -1)]
    assert dc.check_log(log(ok), hbm3()).ok, dc.check_log(log(ok), hbm3()).summary()
    hit = rules_hit(hbm3(), [(0, "ACTab", 0, -1, -1, -1, 4), (60, "PIM_RD", 0, -1, -1, -1, 4),
                             (66, "PIM_RD", 0, -1, -1, -1, 4)])
    assert {"tRCDRD ACT->RD", "PIM RD->RD/WR interval"} <= hit
    # PIM_Q waits for the read data (nCL + nBL = 22 CK after the PIM_RD at 72)
    assert "PIM RD->Q data ready" in rules_hit(hbm3(), ok[:-1] + [(114, "PIM_Q", 0, -1, -1, -1, -1)])
    assert "state: column command to a closed bank" in rules_hit(hbm3(), [(60, "PIM_RD", 0, -1, -1, -1, 4)])


def test_all_bank_command_keeps_a_given_sid() -> None:
    """PIM bank partitioning: an ACTab addressed to SID 1 leaves SID 0's banks alone."""
    df = pd.DataFrame([dict(cycle=1, command="ACTab", channel=0, pseudochannel=0, bankgroup=-1, bank=-1, row=5,
                            column=-1, rank=0, sid=1),
                       dict(cycle=41, command="ACT", channel=0, pseudochannel=0, bankgroup=0, bank=0, row=7,
                            column=-1, rank=0, sid=0)])
    assert dc.check_log(df, hbm3()).ok
    df.loc[1, "sid"] = 1
    assert "state: bank must be closed" in set(dc.check_log(df, hbm3()).violations["rule"])


def test_pim_tfaw_weight_is_configurable() -> None:
    acts = [(0, "ACTab", 0, -1, -1, -1, 4)]
    assert dc.check_log(log(acts), hbm3()).ok
    assert "tFAW 4 ACT window" in rules_hit(hbm3(faw_weight={"ACTab": 16}), acts)


# ---- DDR4 and HBM2E -----------------------------------------------------------------------------------
def test_ddr4_rules() -> None:
    o = [(0, "ACT", 0, 0, 0, 0, 1), (6, "ACT", 0, 0, 1, 0, 1), (12, "ACT", 0, 1, 0, 0, 1)]
    assert_boundary(ddr4(), o + [(20, "RD", 0, 0, 0, 0, 1)], o + [(15, "RD", 0, 0, 0, 0, 1)], "tRCDRD ACT->RD")
    # RD -> WR same rank: nCL + nBL + 2 - nCWL = 10
    assert_boundary(ddr4(), o + [(30, "RD", 0, 0, 0, 0, 1), (40, "WR", 0, 0, 1, 0, 1)],
                    o + [(30, "RD", 0, 0, 0, 0, 1), (39, "WR", 0, 0, 1, 0, 1)], "tRTW RD->WR")
    # rank switch: RD -> RD other rank nBL + nCS = 6
    assert_boundary(ddr4(), o + [(30, "RD", 0, 0, 0, 0, 1), (36, "RD", 0, 1, 0, 0, 1)],
                    o + [(30, "RD", 0, 0, 0, 0, 1), (35, "RD", 0, 1, 0, 0, 1)], "rank switch RD->RD")
    # RD -> WR other rank: nCL + nBL + nCS - nCWL = 10 (the bursts would collide at 6)
    assert_boundary(ddr4(), o + [(30, "RD", 0, 0, 0, 0, 1), (40, "WR", 0, 1, 0, 0, 1)],
                    o + [(30, "RD", 0, 0, 0, 0, 1), (36, "WR", 0, 1, 0, 0, 1)], "rank switch RD->WR")
    assert "data bus burst overlap" in rules_hit(ddr4(), o + [(30, "RD", 0, 0, 0, 0, 1), (36, "WR", 0, 1, 0, 0, 1)])
    assert_boundary(ddr4(), [(0, "ACT", 0, 0, 0, 0, 1), (4, "ACT", 0, 0, 1, 0, 1)],
                    [(0, "ACT", 0, 0, 0, 0, 1), (3, "ACT", 0, 0, 1, 0, 1)], "tRRDS ACT->ACT")
    # ranks have their own tRRD/tFAW
    assert dc.check_log(log([(0, "ACT", 0, 0, 0, 0, 1), (1, "ACT", 0, 1, 0, 0, 1)]), ddr4()).ok


def test_hbm2e_rules() -> None:
    dev = dc.Device("HBM2E", dict(HBM2E_TIMING), dict(HBM2E_ORG), ticks_per_clock=1)
    # ACT is 2 CK: ACT at 0 (last tick 1) -> RD needs 14 -> RD at 15
    assert_boundary(dev, [(0, "ACT", 0, 0, 0, 0, 1), (15, "RD", 0, 0, 0, 0, 1)],
                    [(0, "ACT", 0, 0, 0, 0, 1), (14, "RD", 0, 0, 0, 0, 1)], "tRCDRD ACT->RD")
    assert "tRTP RD->PRE" in rules_hit(dev, [(0, "ACT", 0, 0, 0, 0, 1), (40, "RD", 0, 0, 0, 0, 1),
                                             (44, "PRE", 0, 0, 0, 0, 1)])


def test_bad_logs_raise_clear_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(dc.CheckerError, match="unknown command"):
        dc.check_log(log([(0, "FOO", 0, 0, 0, 0, 1)]), hbm3())
    with pytest.raises(dc.CheckerError, match="bank=4 out of range"):
        dc.check_log(log([(0, "ACT", 0, 0, 0, 4, 1)]), hbm3())
    p = tmp_path / "x.csv"
    p.write_text("cycle,command\n1,ACT\n")
    with pytest.raises(dc.CheckerError, match="lacks columns"):
        dc.check_log(p, hbm3())


def test_checker_is_fast_on_a_million_commands() -> None:
    """A synthetic 1.2M-command legal stream (row-hit reads spread over banks) checks in seconds."""
    import time

    n_banks = 16
    reads_per_row = 32
    # per "round": open 16 banks, read each row, precharge all, repeat
    rounds = 2400
    per = n_banks * (2 + reads_per_row)
    act_t = np.arange(n_banks) * 12  # tRRDL- and tFAW-safe
    rd_t = 200 + np.arange(n_banks * reads_per_row) * 8  # tCCDL-safe in all cases
    pre_t = rd_t[-1] + 40 + np.arange(n_banks) * 4
    span = pre_t[-1] + 60
    one_c = np.concatenate([act_t, rd_t, pre_t])
    one_cmd = np.array(["ACT"] * n_banks + ["RD"] * (n_banks * reads_per_row) + ["PRE"] * n_banks)
    bank_ids = np.concatenate([np.arange(n_banks), np.repeat(np.arange(n_banks), reads_per_row), np.arange(n_banks)])
    cyc = (np.arange(rounds)[:, None] * span + one_c[None, :]).ravel()
    df = pd.DataFrame({"cycle": cyc, "command": np.tile(one_cmd, rounds), "channel": 0, "pseudochannel": 0,
                       "rank": 0, "bankgroup": np.tile(bank_ids // 4, rounds), "bank": np.tile(bank_ids % 4, rounds),
                       "row": np.repeat(np.arange(rounds) % 100, per), "column": 0})
    dev = hbm3(check_refresh=False)
    t0 = time.perf_counter()
    rep = dc.check_log(df, dev)
    dt = time.perf_counter() - t0
    assert rep.ok, rep.summary()
    assert len(df) > 1_000_000
    assert dt < 30, dt


def test_bank_mask_limits_a_broadcast_to_its_banks() -> None:
    """PIM bank partitioning: `bank_mask` (hex, bit (sid*4 + bg)*4 + bank) names the banks touched."""
    df = log([(0, "ACT", 0, 1, 3, 3, 7), (40, "PREab", 0, -1, -1, -1, -1)])
    df["bank_mask"] = ["", "0x7fff"]  # SID 0 only: the open bank (SID 1, BG 3, bank 3) is untouched
    assert dc.check_log(df, hbm3()).ok
    df["bank_mask"] = ["", "0x80000000"]  # bit 31 = SID 1, BG 3, bank 3
    assert "tRAS ACT->PRE" in set(dc.check_log(df, hbm3()).violations["rule"])


# ---- fuzz: the simulator's own logs must be clean ------------------------------------------------------
def fuzz_trace(seed: int, n: int, capacity: int, tx: int, write_frac: float, locality: float,
               sparse: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Random request stream: runs of sequential/strided accesses (probability `locality` of staying in
    the run) mixed with random jumps, `write_frac` writes, optionally bursty arrivals with idle gaps."""
    rng = np.random.default_rng(seed)
    lines = capacity // tx
    jump = rng.random(n) >= locality
    jump[0] = True
    run = np.cumsum(jump) - 1
    starts = np.flatnonzero(jump)
    base = rng.integers(0, lines, starts.size)
    stride = rng.choice(np.array([1, 1, 2, 8, 64, 1024]), starts.size)
    off = np.arange(n) - starts[run]
    addr = ((base[run] + off * stride[run]) % lines).astype(np.uint64) * np.uint64(tx)
    is_write = rng.random(n) < write_frac
    arrival = None
    if sparse:
        gaps = np.where(rng.random(n) < 0.01, rng.integers(100, 20_000, n), rng.integers(0, 4, n))
        arrival = np.cumsum(gaps).astype(np.int64)
    return addr, is_write, arrival


FUZZ_CASES = [
    # (preset, overrides, write fraction, locality, sparse arrivals)
    ("hbm3", [], 0.3, 0.5, False),
    ("hbm3", ["row_policy=closed", "refresh=per-bank", "address_mapping=RoCoBaRaCh"], 0.5, 0.9, False),
    ("hbm3", ["channels=2", "address_mapping=ChRaBaRoCo"], 0.1, 0.0, True),
    ("hbm3", ["address_mapping=RoBaRaCoCh_XOR", "refresh=per-bank"], 0.7, 0.7, True),
    ("hbm2e", [], 0.3, 0.6, False),
    ("hbm2e", ["row_policy=closed", "refresh=per-bank", "address_mapping=RoCoBaRaCh"], 0.2, 0.3, True),
    ("hbm2e", ["channels=4", "address_mapping=RoBaRaCoCh_XOR"], 0.4, 0.6, True),
    ("ddr4", [], 0.3, 0.5, False),
    ("ddr4", ["row_policy=closed", "address_mapping=RoCoBaRaCh"], 0.7, 0.9, True),
    ("ddr4", ["address_mapping=RoBaRaCoCh_XOR", "channels=2"], 0.0, 0.2, False),
    ("ddr4", ["ranks=2"], 0.4, 0.5, True),
    ("ddr4", ["ranks=4", "row_policy=closed"], 0.4, 0.6, True),
    ("hbm3", ["sids=4", "refresh=per-bank", "channels=2"], 0.4, 0.6, True),
]


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("preset,overrides,write_frac,locality,sparse", FUZZ_CASES)
def test_fuzzed_simulator_logs_have_no_violations(memsim, tmp_path, preset, overrides, write_frac, locality,  # type: ignore[no-untyped-def]
                                                  sparse, seed) -> None:
    cfg = memsim.load_config(preset, overrides=["channels=1", *overrides])
    n = 20_000 if seed == 1 else 8_000
    cap = int(cfg.org["capacity_bytes"])
    addr, is_write, arrival = fuzz_trace(seed * 7919 + len(overrides), n, cap, int(cfg.org["tx_bytes"]),
                                         write_frac, locality, sparse)
    path = tmp_path / "cmd.csv"
    stats = memsim.simulate(cfg, addr, is_write, arrival=arrival, command_log=str(path))
    assert stats["reads"] + stats["writes"] == n
    rep = dc.check_log(path, dc.Device.from_config(cfg))
    assert not rep.skipped, rep.skipped
    assert rep.ok, rep.summary()
    counts = rep.counts
    assert counts.get("RD", 0) + counts.get("RDA", 0) >= 1
    if stats["cycles"] > 12 * (dc.Device.from_config(cfg).refi_ticks or 0):
        assert sum(v for k, v in counts.items() if k.startswith("REF")) > 0, counts


def test_cli_reports_and_exits_nonzero(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("harness.memsim.config")
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    log([(0, "ACT", 0, 1, 0, 0, 5), (64, "RD", 0, 1, 0, 0, 5)]).to_csv(good, index=False)
    log([(0, "ACT", 0, 1, 0, 0, 5), (62, "RD", 0, 1, 0, 0, 5)]).to_csv(bad, index=False)
    assert dc.main([str(good), "--dram", "hbm3"]) == 0
    assert dc.main([str(tmp_path / "missing.csv"), "--dram", "hbm3"]) == 2
    assert "error" in capsys.readouterr().err
    # the script runs standalone, as documented
    script = Path(__file__).with_name("dram_checker.py")
    r = subprocess.run([sys.executable, str(script), str(bad), "--dram", "hbm3"], capture_output=True, text=True)
    assert r.returncode == 1 and "tRCDRD ACT->RD" in r.stdout, r.stdout + r.stderr


# ---- the vectorised passes agree with a naive quadratic replay ------------------------------------------
def _naive_pair_lines(dev: dc.Device, df: pd.DataFrame) -> set[tuple[str, int]]:
    """Quadratic replay of every pairwise and window rule: (rule, line) of each violation."""
    specs = dev.commands
    scope = dev.all_bank_scope
    below = dc.LEVELS[dc.LEVELS.index(scope) + 1:]
    ev = []  # (cycle, order, line, cmd, coords)
    for order, r in enumerate(df.itertuples(index=False)):
        s = specs[r.command]
        c = {"channel": r.channel, "pseudochannel": r.pseudochannel, "rank": r.rank, "bankgroup": r.bankgroup,
             "bank": r.bank}
        for lv in below:
            if s.fixed_scope:
                c[lv] = -1
        ranges = [range(dev.n(lv)) if c[lv] == -1 else [c[lv]] for lv in dc.LEVELS[1:]]
        for combo in itertools.product(*ranges):
            cc = dict(zip(dc.LEVELS[1:], combo), channel=c["channel"])
            eff = r.cycle + dev.duration_ticks(s) - 1
            ev.append((r.cycle, order, order + 2, r.command, cc, eff))
    ev.sort(key=lambda e: (e[0], e[1]))
    out: set[tuple[str, int]] = set()

    def kinds(rule_kinds: tuple[str, ...], name: str, level: str) -> bool:
        s = specs[name]
        return s.kind in rule_kinds or (s.like in rule_kinds and level in s.like_levels)

    for rule in dev.rules:
        need = dev.latency_ticks(rule.latency)
        if need is None:
            continue
        lv = rule.level
        key_lv = dc.LEVELS[dc.LEVELS.index(lv) - 1] if rule.sibling else lv
        upto = dc.LEVELS[: dc.LEVELS.index(key_lv) + 1]
        seen = set()
        groups: dict[tuple, list] = {}
        for e in ev:
            g = tuple(e[4][x] for x in upto)
            if (g, e[1]) in seen:
                continue  # an all-bank command counts once per node
            seen.add((g, e[1]))
            groups.setdefault(g, []).append(e)
        for g, es in groups.items():
            for j, f in enumerate(es):
                if not kinds(rule.next, f[3], lv):
                    continue
                prevs = [p for p in es[:j] if kinds(rule.prev, p[3], lv)
                         and (not rule.sibling or p[4][lv] != f[4][lv])]
                if rule.window > 1:
                    if sum(1 for p in prevs if f[5] - p[5] < need) >= rule.window:
                        out.add((rule.name, f[2]))
                elif any(f[5] - p[5] < need for p in prevs):
                    out.add((rule.name, f[2]))
    return out


@pytest.mark.parametrize("std,seed", [("HBM3", 0), ("HBM3", 1), ("DDR4", 2), ("HBM3", 3)])
def test_vectorised_rules_match_a_naive_replay(std: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 120
    names = ["ACT", "PRE", "RD", "WR", "RDA", "WRA", "PREA", "REFab", "REFpb"] + (
        ["ACTab", "PIM_RD", "PIM_WR", "PIM_Q"] if std == "HBM3" else [])
    dev = hbm3(check_refresh=False) if std == "HBM3" else ddr4(check_refresh=False)
    df = pd.DataFrame({
        "cycle": np.sort(rng.integers(0, 600, n)), "command": rng.choice(names, n), "channel": 0,
        "pseudochannel": rng.integers(0, dev.n("pseudochannel"), n), "rank": rng.integers(0, dev.n("rank"), n),
        "bankgroup": rng.integers(0, 2, n), "bank": rng.integers(0, 2, n), "row": rng.integers(0, 3, n), "column": 0})
    rep = dc.check_log(df, dev)
    timing_rules = {r.name for r in dev.rules}
    got = {(r, int(ln)) for r, ln in zip(rep.violations["rule"], rep.violations["line"]) if r in timing_rules}
    want = _naive_pair_lines(dev, df)
    assert got == want, (sorted(got - want)[:10], sorted(want - got)[:10])


def test_a_log_without_refresh_is_reported(memsim, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The refresh-rate rule runs on real logs: a run with refresh switched off fails it."""
    cfg = memsim.load_config("hbm3", overrides=["channels=1", "refresh=none"])
    addr, is_write, arrival = fuzz_trace(5, 8_000, int(cfg.org["capacity_bytes"]), int(cfg.org["tx_bytes"]),
                                         0.3, 0.5, True)
    path = tmp_path / "cmd.csv"
    memsim.simulate(cfg, addr, is_write, arrival=arrival, command_log=str(path))
    rep = dc.check_log(path, dc.Device.from_config(cfg))
    assert set(rep.violations["rule"]) == {"refresh interval > 9 tREFI"}, rep.summary()


def test_mutated_simulator_logs_are_caught(memsim, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Faults injected into a clean simulator log are reported: a dropped PRE, a wrong row, an ACT moved into
    its bank's tRP window, a pseudo-channel shifted by half a clock."""
    cfg = memsim.load_config("hbm3", overrides=["channels=1"])
    addr, is_write, _ = fuzz_trace(11, 6_000, int(cfg.org["capacity_bytes"]), int(cfg.org["tx_bytes"]), 0.3, 0.5,
                                   False)
    path = tmp_path / "cmd.csv"
    memsim.simulate(cfg, addr, is_write, command_log=str(path))
    dev = dc.Device.from_config(cfg)
    df = pd.read_csv(path)
    assert dc.check_log(df, dev).ok
    pre = df.index[df["command"] == "PREpb"][len(df) // 50]
    bank = (df["pseudochannel"] == df.at[pre, "pseudochannel"]) & (df["sid"] == df.at[pre, "sid"]) & (
        df["bankgroup"] == df.at[pre, "bankgroup"]) & (df["bank"] == df.at[pre, "bank"])
    nxt_act = df.index[bank & (df.index > pre) & (df["command"] == "ACT")][0]

    def rules(d: pd.DataFrame) -> set[str]:
        return set(dc.check_log(d.reset_index(drop=True), dev).violations["rule"])

    assert "state: bank must be closed" in rules(df.drop(index=pre))
    rd = df.index[df["command"] == "RD"][len(df) // 40]
    wrong = df.copy()
    wrong.at[rd, "row"] = (wrong.at[rd, "row"] + 1) % int(cfg.org["rows"])
    assert "state: column command to a row that is not open" in rules(wrong)
    early = df.copy()
    early.at[nxt_act, "cycle"] = early.at[pre, "cycle"] + 4
    assert "tRP PRE->ACT" in rules(early.sort_values("cycle", kind="stable"))
    shifted = df.copy()
    shifted.loc[shifted["pseudochannel"] == 1, "cycle"] += 1
    assert "column commands on both clock edges" in rules(shifted.sort_values("cycle", kind="stable"))


def test_measuring_from_the_first_tick_is_a_switch() -> None:
    """JEDEC/Ramulator 2.1 count a multi-cycle command from its last tick; the switch counts from the first."""
    rows = [(0, "ACT", 0, 0, 0, 0, 5), (62, "RD", 0, 0, 0, 0, 5)]
    assert "tRCDRD ACT->RD" in rules_hit(hbm3(), rows)
    assert dc.check_log(log(rows), hbm3(measure_from_last_tick=False)).ok
