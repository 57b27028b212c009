"""Independent timing checker for DRAM command logs.

Why this exists: the cycle-level simulator (``harness._dram``) is only trustworthy if every command it
issues obeys the DRAM standard. This module replays a command log (CSV: ``cycle,command,channel,
pseudochannel,bankgroup,bank,row,column`` plus optional ``rank``/``sid``) and reports *every* violated
constraint. It is written from the JEDEC timing rules (JESD238 HBM3, JESD235 HBM2/2E, JESD79-4 DDR4) as
Ramulator 2.1 tabulates them, and from the timing values of the YAML preset, never from the simulator's
C++ code, so that the two can disagree.

The rules are data (``RULES``, ``COMMANDS``): a rule names a hierarchy level, the preceding and the
following commands, and a latency expression over the timing table (clock cycles). New commands (e.g. PIM
all-bank commands) are added as rows of ``COMMANDS`` and, where they have their own timing, of
``RULES``/``PIM_RULES``. A command that touches several banks (all-bank commands, or a ``-1`` in the
bankgroup/bank/rank column) is expanded into one event per bank it touches and obeys every rule of each.

Timing is measured the way Ramulator 2.1 measures multi-cycle commands: between the *last* tick of each
command on its command bus (HBM3's ACT takes 1.5 CK = 3 half-clock ticks; a column command 1 CK).

Usage: ``python tests/dram_checker.py LOG.csv --dram configs/dram/hbm3.yaml [--set key=value]``.
"""

from __future__ import annotations

import argparse
import ast
import math
import operator
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

LEVELS: tuple[str, ...] = ("channel", "pseudochannel", "rank", "bankgroup", "bank")
LOG_COLUMNS: tuple[str, ...] = ("cycle", "command", "channel", "pseudochannel", "bankgroup", "bank", "row", "column")


class CheckerError(ValueError):
    """The log or the device description cannot be checked (malformed, unknown command, out of range)."""


# --------------------------------------------------------------------------------------------------
# Commands (data)
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CommandSpec:
    """What a command is, as far as timing and bank state are concerned.

    name: as written in the log. kind: canonical name used in ``RULES`` (aliases share a kind).
    bus: "row" | "column" (dual-bus HBM) — single-bus standards put everything on one bus.
    duration_ck: command-bus occupancy in clocks (JEDEC: HBM3 ACT is 1.5 CK, HBM2 ACT 2 CK).
    all_bank: a broadcast command: it touches every bank under the node it addresses (the log's -1
              levels are expanded; the standard's scope is HBM: pseudo-channel, DDR4: rank); with
              fixed_scope always the whole scope (REFab), whatever the log gives below it.
    data: "read"/"write" if it moves a burst over the DQ bus; None otherwise (PIM column commands).
    needs: bank state required per touched bank: "closed", "open" (any row), "row" (the logged row),
           or None. effect: "open" | "close" | None.
    like: the command also obeys every rule written for this kind, at the levels in ``like_levels``
          (PIM_RD is like RD inside a bank and bank group; it does not turn the DQ bus around).
    """

    name: str
    kind: str
    bus: str
    duration_ck: float = 1.0
    all_bank: bool = False
    data: str | None = None
    needs: str | None = None
    effect: str | None = None
    like: str | None = None
    like_levels: tuple[str, ...] = LEVELS
    refresh: bool = False
    fixed_scope: bool = False  # all-bank command whose reach the standard fixes (REFab: whole scope)


def _std_commands() -> list[CommandSpec]:
    c: list[CommandSpec] = [
        CommandSpec("ACT", "ACT", "row", needs="closed", effect="open"),
        CommandSpec("PRE", "PRE", "row", effect="close"),
        CommandSpec("PREA", "PRE", "row", all_bank=True, effect="close"),
        CommandSpec("RD", "RD", "column", data="read", needs="row"),
        CommandSpec("WR", "WR", "column", data="write", needs="row"),
        CommandSpec("RDA", "RDA", "column", data="read", needs="row", effect="close"),
        CommandSpec("WRA", "WRA", "column", data="write", needs="row", effect="close"),
        CommandSpec("REFab", "REFab", "row", all_bank=True, needs="closed", refresh=True, fixed_scope=True),
        CommandSpec("REFpb", "REFpb", "row", needs="closed", refresh=True),
    ]
    aliases = {"PREpb": "PRE", "PREab": "PREA", "REF": "REFab", "REFA": "REFab", "REFsb": "REFpb", "REFPB": "REFpb"}
    by = {x.name: x for x in c}
    c += [replace(by[t], name=a) for a, t in aliases.items()]
    # PIM commands (DESIGN.md §4): all-bank row commands behave as ACT/PRE in every bank they touch;
    # all-bank column commands read/write the array of every bank into/out of the PIM units (they obey
    # bank and bank-group column timing but do not drive the DQ bus); PIM_Q computes in the units only.
    # Names agreed with helper "pim" in /work/ref/status/{checker,pim}.md; add rows here for new ones.
    c += [
        CommandSpec("ACTab", "ACT", "row", all_bank=True, needs="closed", effect="open"),
        CommandSpec("PIM_ACT", "ACT", "row", all_bank=True, needs="closed", effect="open"),
        CommandSpec("PIM_PRE", "PRE", "row", all_bank=True, effect="close"),
        CommandSpec("PIM_RD", "PIM_RD", "column", all_bank=True, needs="row", like="RD",
                    like_levels=("bankgroup", "bank")),
        CommandSpec("PIM_WR", "PIM_WR", "column", all_bank=True, needs="row", like="WR",
                    like_levels=("bankgroup", "bank")),
        CommandSpec("PIM_Q", "PIM_Q", "column", all_bank=True),
    ]
    return c


COMMANDS: dict[str, CommandSpec] = {c.name: c for c in _std_commands()}

# Command-bus occupancy in clocks for standards where a command is longer than one tick.
# HBM3 (JESD238): ACT is R-F-R = 1.5 CK; PRE/REF are half-clock commands; column commands 1 CK.
# HBM2/2E (JESD235): ACT takes 2 CK. DDR4: every command one clock.
DURATION_CK: dict[str, dict[str, float]] = {
    "HBM3": {"ACT": 1.5, "PRE": 0.5, "REFab": 0.5, "REFpb": 0.5},
    "HBM2E": {"ACT": 2.0},
    "DDR4": {},
}


# --------------------------------------------------------------------------------------------------
# Rules (data)
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """`next` may not follow `prev` on the same node of `level` sooner than `latency` clocks.

    latency: expression over timing names (``nCWL + nBL + nWR``); a tuple gives alternatives, the first
    whose names all exist in the timing table is used (``("nRTW", "nCL + nBL + 2 - nCWL")``).
    sibling: `prev` on a *different* node of `level` under the same parent (e.g. other SID: nCCDR).
    window: >1 means at most `window` `prev` commands in any `latency` window (tFAW: 4).
    """

    level: str
    prev: tuple[str, ...]
    next: tuple[str, ...]
    latency: str | tuple[str, ...]
    name: str
    sibling: bool = False
    window: int = 1


R = ("RD", "RDA")
W = ("WR", "WRA")
COL = R + W
REF = ("REFab", "REFpb")

# Per-bank rules shared by all standards (JEDEC core timings). All-bank commands (PREA, REFab) are
# expanded into each bank, so "RD -> PREA >= nRTP" is the bank-level "RD -> PRE" rule.
_BANK_RULES: list[Rule] = [
    Rule("bank", ("ACT",), ("ACT",), "nRC", "tRC ACT->ACT same bank"),
    Rule("bank", ("ACT",), R, ("nRCDRD", "nRCD"), "tRCDRD ACT->RD"),
    Rule("bank", ("ACT",), W, ("nRCDWR", "nRCD"), "tRCDWR ACT->WR"),
    Rule("bank", ("ACT",), ("PRE",), "nRAS", "tRAS ACT->PRE"),
    Rule("bank", ("PRE",), ("ACT",), "nRP", "tRP PRE->ACT"),
    Rule("bank", ("RD",), ("PRE",), ("nRTP", "nRTPL"), "tRTP RD->PRE"),
    Rule("bank", ("WR",), ("PRE",), "nCWL + nBL + nWR", "tWR WR->PRE"),
    Rule("bank", ("RDA",), ("ACT",) + REF, ("nRTP + nRP", "nRTPL + nRP"), "tRTP+tRP RDA->ACT/REF"),
    Rule("bank", ("WRA",), ("ACT",) + REF, "nCWL + nBL + nWR + nRP", "tWR+tRP WRA->ACT/REF"),
    Rule("bank", ("ACT",), REF, "nRC", "tRC ACT->REF"),
    Rule("bank", ("PRE",), REF, "nRP", "tRP PRE->REF"),
    Rule("bank", ("REFab",), ("ACT", "PRE", "REFab", "REFpb"), "nRFC", "tRFC REFab->ACT/PRE/REF"),
    Rule("bank", ("REFpb",), ("ACT", "PRE", "REFab", "REFpb"), ("nRFCpb", "nRFCSB"), "tRFCpb REFpb->ACT/PRE/REF"),
]
_BG_RULES: list[Rule] = [
    Rule("bankgroup", R, R, "nCCDL", "tCCDL RD->RD same BG"),
    Rule("bankgroup", W, W, "nCCDL", "tCCDL WR->WR same BG"),
    Rule("bankgroup", W, R, "nCWL + nBL + nWTRL", "tWTRL WR->RD same BG"),
    Rule("bankgroup", ("ACT",), ("ACT",), "nRRDL", "tRRDL ACT->ACT same BG"),
]

RULES: dict[str, list[Rule]] = {
    # JESD238 HBM3 (Ramulator 2.1 HBM3 table): ACT rate and tFAW per pseudo-channel across SIDs,
    # column-to-column per SID (tCCDS) and across SIDs (tCCDR, reads), turnarounds per pseudo-channel.
    "HBM3": _BANK_RULES + _BG_RULES + [
        Rule("rank", R, R, "nCCDS", "tCCDS RD->RD same SID"),
        Rule("rank", W, W, "nCCDS", "tCCDS WR->WR same SID"),
        Rule("rank", R, R, ("nCCDR", "nCCDS"), "tCCDR RD->RD other SID", sibling=True),
        Rule("pseudochannel", R, R, "nBL", "tBL RD->RD data bus"),
        Rule("pseudochannel", W, W, "nBL", "tBL WR->WR data bus"),
        Rule("pseudochannel", R, W, ("nRTW", "nCL + nBL + 2 - nCWL"), "tRTW RD->WR"),
        Rule("pseudochannel", W, R, "nCWL + nBL + nWTRS", "tWTRS WR->RD"),
        Rule("pseudochannel", ("ACT",), ("ACT",), "nRRDS", "tRRDS ACT->ACT"),
        Rule("pseudochannel", ("ACT",), ("ACT",), "nFAW", "tFAW 4 ACT window", window=4),
        Rule("pseudochannel", ("PRE",), ("PRE",), "nPPD", "tPPD PRE->PRE"),
        Rule("pseudochannel", ("REFpb",), ("REFpb",), "nRREFD", "tRREFD REFpb->REFpb"),
        Rule("pseudochannel", ("REFpb",), ("ACT",), "nRREFD", "tRREFD REFpb->ACT"),
        Rule("pseudochannel", ("ACT",), ("REFpb",), "nRRDS", "tRRDS ACT->REFpb"),
    ],
    # JESD235 HBM2/2E (Ramulator 2.1 HBM2 table): no SIDs in the timing, tCCDS per pseudo-channel.
    "HBM2E": _BANK_RULES + _BG_RULES + [
        Rule("pseudochannel", R, R, "nBL", "tBL RD->RD data bus"),
        Rule("pseudochannel", W, W, "nBL", "tBL WR->WR data bus"),
        Rule("pseudochannel", R, R, "nCCDS", "tCCDS RD->RD"),
        Rule("pseudochannel", W, W, "nCCDS", "tCCDS WR->WR"),
        Rule("pseudochannel", R, W, ("nRTW", "nCL + nBL + 2 - nCWL"), "tRTW RD->WR"),
        Rule("pseudochannel", W, R, "nCWL + nBL + nWTRS", "tWTRS WR->RD"),
        Rule("pseudochannel", ("ACT",), ("ACT",), "nRRDS", "tRRDS ACT->ACT"),
        Rule("pseudochannel", ("ACT",), ("ACT",), "nFAW", "tFAW 4 ACT window", window=4),
        Rule("pseudochannel", ("REFpb",), ("REFpb",), "nRREFD", "tRREFD REFpb->REFpb"),
        Rule("pseudochannel", ("REFpb",), ("ACT",), "nRREFD", "tRREFD REFpb->ACT"),
        Rule("pseudochannel", ("ACT",), ("REFpb",), "nRRDS", "tRRDS ACT->REFpb"),
    ],
    # JESD79-4 DDR4 (Ramulator 2.1 DDR4 table): the data bus is shared by the ranks of a channel.
    "DDR4": _BANK_RULES + _BG_RULES + [
        Rule("channel", R, R, "nBL", "tBL RD->RD data bus"),
        Rule("channel", W, W, "nBL", "tBL WR->WR data bus"),
        Rule("rank", R, R, "nCCDS", "tCCDS RD->RD"),
        Rule("rank", W, W, "nCCDS", "tCCDS WR->WR"),
        Rule("rank", R, W, "nCL + nBL + 2 - nCWL", "tRTW RD->WR"),
        Rule("rank", W, R, "nCWL + nBL + nWTRS", "tWTRS WR->RD"),
        Rule("rank", R, R, "nBL + nCS", "rank switch RD->RD", sibling=True),
        # RD -> WR to another rank: the write burst starts after the read burst plus the rank switch
        # (Ramulator 2.1 uses nBL + nCS here, which lets the bursts overlap when nCL > nCWL).
        Rule("rank", R, W, "nCL + nBL + nCS - nCWL", "rank switch RD->WR", sibling=True),
        Rule("rank", W, R, "nCWL + nBL + nCS - nCL", "rank switch WR->RD", sibling=True),
        Rule("rank", ("ACT",), ("ACT",), "nRRDS", "tRRDS ACT->ACT"),
        Rule("rank", ("ACT",), ("ACT",), "nFAW", "tFAW 4 ACT window", window=4),
    ],
}

# Timing rows of PIM commands (helper "pim" adds rows here; names ``pim_<key>`` come from the YAML's
# ``pim:`` section, e.g. ``pim_command_interval``). Applied to every standard.
PIM_RULES: list[Rule] = [
    # As agreed with helper "pim" (CONTRACTS.md, Additions (pim)); clocks; per pseudo-channel (broadcast).
    Rule("pseudochannel", ("PIM_RD",), ("PIM_RD", "PIM_WR"), ("max(nCCDL, pim_command_interval)", "nCCDL"),
         "PIM RD->RD/WR interval"),
    Rule("pseudochannel", ("PIM_WR",), ("PIM_WR",), ("max(nCCDL, pim_command_interval)", "nCCDL"),
         "PIM WR->WR interval"),
    Rule("pseudochannel", ("PIM_WR",), ("PIM_RD",), "nCWL + nBL + nWTRL", "PIM WR->RD turnaround"),
    Rule("pseudochannel", ("PIM_RD",), ("PIM_Q",), "nCL + nBL", "PIM RD->Q data ready"),
    Rule("pseudochannel", ("PIM_Q",), ("PIM_Q", "PIM_RD", "PIM_WR"), "pim_compute_cycles_per_block",
         "PIM Q compute time"),
    # PIM_RD/PIM_WR also obey the bank and bank-group rules of RD/WR through CommandSpec.like (tRCD,
    # tRTP, tWR, tCCDL, tWTRL in every bank they touch).
]


# --------------------------------------------------------------------------------------------------
# Device description
# --------------------------------------------------------------------------------------------------
@dataclass
class Device:
    """Everything the checker needs to know about the DRAM: standard, timing (clocks), org, tick."""

    standard: str
    timing: dict[str, float]
    org: dict[str, int]
    ticks_per_clock: int = 1
    commands: dict[str, CommandSpec] = field(default_factory=lambda: dict(COMMANDS))
    rules: list[Rule] = field(default_factory=list)
    measure_from_last_tick: bool = True
    check_refresh: bool = True
    faw_weight: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.standard = self.standard.upper()
        if self.standard not in RULES:
            raise CheckerError(f"unknown standard {self.standard!r}; known: {sorted(RULES)}")
        if not self.rules:
            self.rules = list(RULES[self.standard]) + list(PIM_RULES)
        for k in ("bankgroups", "banks"):
            if int(self.org.get(k, 0)) < 1:
                raise CheckerError(f"org needs '{k}' >= 1, got {self.org.get(k)!r}")

    @property
    def dual_bus(self) -> bool:
        return self.standard.startswith("HBM")

    @property
    def all_bank_scope(self) -> str:
        return "rank" if self.standard == "DDR4" else "pseudochannel"

    @property
    def data_level(self) -> str:
        return "channel" if self.standard == "DDR4" else "pseudochannel"

    def n(self, level: str) -> int:
        """Number of nodes of `level` under its parent."""
        key = {"pseudochannel": "pseudochannels", "rank": "ranks", "bankgroup": "bankgroups", "bank": "banks",
               "channel": "channels"}[level]
        if level == "rank":  # ranks x stack IDs (HBM3 SIDs play the rank's role; a log may carry both)
            return max(1, int(self.org.get("ranks") or 1)) * max(1, int(self.org.get("sids") or 1))
        return max(1, int(self.org.get(key) or 1))

    def duration_ticks(self, spec: CommandSpec) -> int:
        ck = DURATION_CK.get(self.standard, {}).get(spec.kind, spec.duration_ck)
        if spec.kind not in DURATION_CK.get(self.standard, {}) and spec.like is not None:
            ck = DURATION_CK.get(self.standard, {}).get(spec.like, spec.duration_ck)
        return max(1, int(round(ck * self.ticks_per_clock)))

    def latency_ticks(self, expr: str | tuple[str, ...]) -> int | None:
        """Evaluate a latency expression in ticks; None if a name is missing from the timing table."""
        for alt in (expr,) if isinstance(expr, str) else expr:
            v = _eval_expr(alt, self.timing)
            if v is not None:
                return int(math.ceil(v * self.ticks_per_clock))
        return None

    @classmethod
    def from_config(cls, cfg: object, **kw: object) -> "Device":
        """Build from a ``harness.memsim.DramConfig`` (contract A): standard, org, timing, tick_ps."""
        timing = {k: float(v) for k, v in dict(getattr(cfg, "timing")).items() if isinstance(v, (int, float))}
        raw = getattr(cfg, "raw", {}) or {}
        pim = _find_section(raw, "pim")
        if isinstance(pim, Mapping):
            for k, v in pim.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    timing.setdefault(f"pim_{k}", float(v))
        tck = timing.get("tCK_ps")
        tick = float(getattr(cfg, "tick_ps"))
        tpc = 1 if not tck else max(1, int(round(tck / tick)))
        org = {k: int(v) for k, v in dict(getattr(cfg, "org")).items() if isinstance(v, (int, float))}
        if isinstance(pim, Mapping) and "act_counts_tfaw" in pim and "faw_weight" not in kw:
            w = int(pim["act_counts_tfaw"])  # ACTs one all-bank ACT counts as in tFAW (bool: 1 / 0)
            kw["faw_weight"] = {n: w for n, c in COMMANDS.items() if c.kind == "ACT" and c.all_bank}
        return cls(standard=str(getattr(cfg, "standard")), timing=timing, org=org, ticks_per_clock=tpc, **kw)  # type: ignore[arg-type]

    @property
    def refi_ticks(self) -> int | None:
        t = self.timing
        if "nREFI" in t:
            return int(t["nREFI"] * self.ticks_per_clock)
        for k, scale in (("tREFI_ns", 1000.0), ("tREFI", 1000.0), ("tREFI_ps", 1.0)):
            if k in t and "tCK_ps" in t:
                return int(t[k] * scale / t["tCK_ps"] * self.ticks_per_clock)
        return None


def _find_section(raw: object, key: str) -> object:
    if isinstance(raw, Mapping):
        if key in raw:
            return raw[key]
        for v in raw.values():
            r = _find_section(v, key)
            if r is not None:
                return r
    return None


_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}


def _eval_expr(expr: str, names: Mapping[str, float]) -> float | None:
    """Evaluate ``nA + nB - 2`` style expressions; None when a name is not in `names`."""

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id not in names:
                raise KeyError(node.id)
            return float(names[node.id])
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "max":
            return max(ev(a) for a in node.args)
        raise CheckerError(f"unsupported latency expression {expr!r}")

    try:
        return ev(ast.parse(expr, mode="eval"))
    except KeyError:
        return None


# --------------------------------------------------------------------------------------------------
# Log loading and expansion
# --------------------------------------------------------------------------------------------------
def read_log(path: str | Path) -> pd.DataFrame:
    """Read a command log CSV; adds ``line`` (1-based file line, header = line 1)."""
    path = Path(path)
    try:
        df = pd.read_csv(path, engine="pyarrow")
    except Exception as e:  # pyarrow's parse errors name the row
        raise CheckerError(f"{path}: cannot parse command log: {e}") from e
    missing = [c for c in LOG_COLUMNS if c not in df.columns]
    if missing:
        raise CheckerError(f"{path}: command log lacks columns {missing} (header: {list(df.columns)})")
    df["line"] = np.arange(2, len(df) + 2, dtype=np.int64)
    return df


@dataclass
class _Events:
    """Column arrays of the expanded command stream (one row per touched bank), sorted by time."""

    cycle: np.ndarray
    eff: np.ndarray  # tick at which the command counts (its last bus tick)
    cmd: np.ndarray  # index into Checker.names
    coord: dict[str, np.ndarray]
    row: np.ndarray
    line: np.ndarray
    origin: np.ndarray  # original row index (shared by expanded copies)
    expanded: bool


class Checker:
    """Replays one command log against one `Device`."""

    def __init__(self, device: Device):
        self.dev = device

    # -- public ------------------------------------------------------------------------------------
    def check(self, log: pd.DataFrame | str | Path, max_per_rule: int | None = None) -> "Report":
        df = read_log(log) if not isinstance(log, pd.DataFrame) else log
        if "line" not in df.columns:
            df = df.assign(line=np.arange(2, len(df) + 2, dtype=np.int64))
        for c in LOG_COLUMNS:
            if c not in df.columns:
                raise CheckerError(f"command log lacks column {c!r}")
        ev, names = self._events(df)
        self.names = names
        out: list[pd.DataFrame] = []
        skipped: list[str] = []
        sorted_cache: dict = {}  # per level: permutation, group ids, permuted command/tick/origin arrays
        for rule in self.dev.rules:
            need = self.dev.latency_ticks(rule.latency)
            prev = self._kinds_mask(rule.prev, rule.level)
            nxt = self._kinds_mask(rule.next, rule.level)
            if not prev.any() or not nxt.any():
                continue
            if need is None:
                skipped.append(f"{rule.name}: timing {rule.latency!r} not in the timing table")
                continue
            if rule.window > 1:
                out.append(self._window(ev, rule, need, prev, sorted_cache))
            elif rule.sibling:
                out.append(self._sibling(ev, rule, need, prev, nxt, sorted_cache))
            else:
                out.append(self._pair(ev, rule, need, prev, nxt, sorted_cache))
        out.append(self._buses(df, names, self._code))
        out.append(self._data_bus(ev))
        out.append(self._states(ev, sorted_cache))
        if self.dev.check_refresh:
            out.append(self._refresh(ev, sorted_cache))
        out = [o for o in out if o is not None and len(o)]
        cols = ["rule", "level", "prev_command", "next_command", "required", "actual", "line", "prev_line", "cycle"]
        viol = pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=cols)
        viol = viol[cols].sort_values(["line", "rule"], kind="stable").reset_index(drop=True)
        if max_per_rule is not None:
            viol = viol.groupby("rule", sort=False).head(max_per_rule).reset_index(drop=True)
        counts = np.bincount(self._code, minlength=len(names))
        return Report(viol, len(df), skipped, {n: int(c) for n, c in zip(names, counts) if c})

    # -- event table ---------------------------------------------------------------------------------
    def _events(self, df: pd.DataFrame) -> tuple[_Events, list[str]]:
        dev = self.dev
        code, uniq = pd.factorize(df["command"])
        names = [str(x) for x in uniq]
        unknown = [n for n in names if n not in dev.commands]
        if unknown or (code < 0).any():
            bad = np.isin(code, [names.index(u) for u in unknown]) | (code < 0)
            first = int(df["line"].to_numpy()[bad][0])
            raise CheckerError(f"unknown command(s) {unknown or ['<empty>']} (first at log line {first}); "
                               f"known: {sorted(dev.commands)}")
        code = code.astype(np.int64)
        self._code = code
        specs = [dev.commands[n] for n in names]
        n = len(df)

        def col(name: str, *alt: str) -> np.ndarray:
            for c in (name,) + alt:
                if c in df.columns:
                    return df[c].fillna(-1).to_numpy(dtype=np.int64)
            return np.zeros(n, dtype=np.int64)

        cycle = df["cycle"].to_numpy(dtype=np.int64)
        nsid = max(1, int(dev.org.get("sids") or 1))
        if "rank" in df.columns and "sid" in df.columns:  # both: node = rank * sids + sid
            r_, s_ = col("rank"), col("sid")
            rank = np.where((r_ < 0) | (s_ < 0), -1, r_ * nsid + s_)
        else:
            rank = col("rank", "sid")
        coord = {"channel": col("channel"), "pseudochannel": col("pseudochannel"), "rank": rank,
                 "bankgroup": col("bankgroup"), "bank": col("bank")}
        if dev.standard == "DDR4":
            coord["pseudochannel"] = np.where(coord["pseudochannel"] < 0, 0, coord["pseudochannel"])
        row = col("row")
        line = df["line"].to_numpy(dtype=np.int64)
        all_bank = np.array([s.all_bank for s in specs], dtype=bool)[code]
        # Optional `bank_mask` (hex; bit = (rank*bankgroups + bankgroup)*banks + bank within the
        # pseudo-channel): the exact set of banks a broadcast command touches (PIM bank partitioning).
        has_mask = np.zeros(n, dtype=bool)
        mask = np.zeros(n, dtype=np.uint64)
        if "bank_mask" in df.columns:
            raw = df["bank_mask"].astype(str).str.strip()
            present = ~raw.isin(["", "nan", "None", "-1", "<NA>"])
            if present.any():
                try:
                    vals = [int(x, 16) for x in raw[present]]
                except ValueError as e:
                    raise CheckerError(f"bad bank_mask value: {e}") from e
                has_mask = present.to_numpy()
                mask[has_mask] = np.array(vals, dtype=np.uint64)
                all_bank = all_bank | has_mask
        # A command touches every node of each level it leaves at -1 (an all-bank command addresses its
        # scope, or one SID / bank group of it under PIM bank partitioning); REFab always covers its
        # whole scope (HBM: pseudo-channel, DDR4: rank), whatever the log says below it.
        fixed = np.array([s.fixed_scope for s in specs], dtype=bool)[code]
        for lv in LEVELS[LEVELS.index(dev.all_bank_scope) + 1:]:
            coord[lv] = np.where(fixed, -1, coord[lv])
        for lv in LEVELS:
            c = coord[lv]
            bad = (c >= dev.n(lv)) | (c < -1) | ((c == -1) & (lv == "channel"))
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise CheckerError(f"log line {line[i]}: {lv}={c[i]} out of range 0..{dev.n(lv) - 1}"
                                   + (" (bank is the index within its bank group)" if lv == "bank" else ""))
        if n and np.any(cycle < 0):
            raise CheckerError(f"log line {line[np.flatnonzero(cycle < 0)[0]]}: negative cycle")
        dur = np.array([dev.duration_ticks(s) for s in specs], dtype=np.int64)
        eff = cycle + (dur[code] - 1 if dev.measure_from_last_tick else 0)
        origin = np.arange(n, dtype=np.int64)
        wild = has_mask.copy()
        for lv in LEVELS[1:]:
            wild |= coord[lv] == -1
        expanded = bool(wild.any())
        if expanded:
            idx = np.flatnonzero(wild)
            sub = {lv: coord[lv][idx] for lv in LEVELS}
            grids = np.meshgrid(*[np.arange(dev.n(lv)) for lv in LEVELS[1:]], indexing="ij")
            grid = {lv: g.ravel() for lv, g in zip(LEVELS[1:], grids)}
            parts_i: list[np.ndarray] = []
            parts_g: list[np.ndarray] = []
            chunk = max(1, 4_000_000 // max(1, grid["bank"].size))
            for s in range(0, idx.size, chunk):
                m = np.ones((min(chunk, idx.size - s), grid["bank"].size), dtype=bool)
                for lv in LEVELS[1:]:
                    v = sub[lv][s:s + chunk, None]
                    m &= (v == -1) | (v == grid[lv][None, :])
                hm = has_mask[idx[s:s + chunk]]
                if hm.any():
                    flat = ((grid["rank"] * dev.n("bankgroup") + grid["bankgroup"]) * dev.n("bank")
                            + grid["bank"]).astype(np.uint64)
                    bits = (mask[idx[s:s + chunk]][:, None] >> flat[None, :]) & np.uint64(1)
                    m &= ~hm[:, None] | (bits == 1)
                ii, gg = np.nonzero(m)
                parts_i.append(idx[s + ii])
                parts_g.append(gg)
            ei = np.concatenate(parts_i)
            eg = np.concatenate(parts_g)
            keep = np.flatnonzero(~wild)
            take = np.concatenate([keep, ei])
            new_coord = {"channel": coord["channel"][take]}
            for lv in LEVELS[1:]:
                new_coord[lv] = np.concatenate([coord[lv][keep], grid[lv][eg]])
            coord = new_coord
            cycle, eff, code, row, line, origin = (a[take] for a in (cycle, eff, code, row, line, origin))
        order = np.lexsort((origin, cycle))
        ev = _Events(cycle[order], eff[order], code[order], {k: v[order] for k, v in coord.items()},
                     row[order], line[order], origin[order], expanded)
        self._specs = specs
        return ev, names

    def _kinds_mask(self, kinds: Sequence[str], level: str) -> np.ndarray:
        """Boolean over command codes: which log commands count as one of `kinds` at `level`."""
        ks = set(kinds)
        return np.array([s.kind in ks or (s.like in ks and level in s.like_levels) for s in self._specs],
                        dtype=bool)

    def _gid(self, ev: _Events, level: str) -> np.ndarray:
        """Integer id of the node of `level` each event belongs to (mixed radix over the org counts)."""
        key = ev.coord["channel"].astype(np.int64, copy=True)
        for lv in LEVELS[1: LEVELS.index(level) + 1]:
            key = key * self.dev.n(lv) + ev.coord[lv]
        return key

    def _sorted(self, ev: _Events, level: str, cache: dict) -> tuple[np.ndarray, np.ndarray]:
        """Permutation grouping events by node of `level` (time order kept inside), and dense group ids."""
        if level not in cache:
            key = self._gid(ev, level)
            perm = np.argsort(key, kind="stable")
            sk = key[perm]
            gid = np.concatenate([[0], np.cumsum(sk[1:] != sk[:-1])]) if sk.size else sk
            cache[level] = (perm, gid.astype(np.int64))
            cache[level, "cmd"] = ev.cmd[perm]
            cache[level, "eff"] = ev.eff[perm]
            cache[level, "origin"] = ev.origin[perm] if ev.expanded else None
        return cache[level]

    @staticmethod
    def _dedup(gid: np.ndarray, origin: np.ndarray) -> np.ndarray:
        """Mask keeping one event per (original command, group): an all-bank command counts once per node."""
        keep = np.ones(gid.size, dtype=bool)
        if gid.size > 1:
            keep[1:] = ~((gid[1:] == gid[:-1]) & (origin[1:] == origin[:-1]))
        return keep

    @staticmethod
    def _last_prev(gid: np.ndarray, is_prev: np.ndarray, eff: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each event: the latest effective tick of an earlier `prev` event in its group (-1: none),
        and the position of the latest such event (for the report)."""
        big = np.int64(1) << np.int64(41)
        v = gid * big + np.where(is_prev, eff, -1)
        pm = np.maximum.accumulate(v) if v.size else v
        last = np.full(v.size, -1, dtype=np.int64)
        if v.size > 1:
            last[1:] = pm[:-1] - gid[1:] * big
        last[last < 0] = -1
        pos = np.where(is_prev, np.arange(v.size), -1)
        pp = np.maximum.accumulate(pos) if pos.size else pos
        lp = np.full(v.size, -1, dtype=np.int64)
        if v.size > 1:
            lp[1:] = pp[:-1]
        ok = lp >= 0
        lp[ok] = np.where(gid[lp[ok]] == gid[ok], lp[ok], -1)
        return last, lp

    def _emit(self, rule: Rule, need: int, ev: _Events, perm: np.ndarray, nxt_pos: np.ndarray,
              prv_pos: np.ndarray, actual: np.ndarray) -> pd.DataFrame:
        names = self.names
        e_next = perm[nxt_pos]
        e_prev = np.where(prv_pos >= 0, perm[np.maximum(prv_pos, 0)], -1)
        d = pd.DataFrame({
            "rule": rule.name, "level": rule.level,
            "prev_command": np.where(e_prev >= 0, [names[c] for c in ev.cmd[np.maximum(e_prev, 0)]], "")
            if len(e_prev) else [],
            "next_command": [names[c] for c in ev.cmd[e_next]],
            "required": need, "actual": actual,
            "line": ev.line[e_next], "prev_line": np.where(e_prev >= 0, ev.line[np.maximum(e_prev, 0)], -1),
            "cycle": ev.cycle[e_next],
        })
        # An all-bank command violating a rule in several banks is one violation per (line, prev_line).
        return d.drop_duplicates(["line", "prev_line"])

    # -- rule families ------------------------------------------------------------------------------
    def _pair(self, ev: _Events, rule: Rule, need: int, prev: np.ndarray, nxt: np.ndarray, cache: dict) -> pd.DataFrame:
        perm, gid = self._sorted(ev, rule.level, cache)
        cmd = cache[rule.level, "cmd"]
        sel = np.flatnonzero((prev | nxt)[cmd])
        if ev.expanded:
            sel = sel[self._dedup(gid[sel], cache[rule.level, "origin"][sel])]
        c = cmd[sel]
        g, eff = gid[sel], cache[rule.level, "eff"][sel]
        last, lp = self._last_prev(g, prev[c], eff)
        bad = np.flatnonzero(nxt[c] & (last >= 0) & (eff - last < need))
        return self._emit(rule, need, ev, perm, sel[bad], np.where(lp[bad] >= 0, sel[lp[bad]], -1),
                          eff[bad] - last[bad])

    def _sibling(self, ev: _Events, rule: Rule, need: int, prev: np.ndarray, nxt: np.ndarray, cache: dict) -> pd.DataFrame:
        parent = LEVELS[LEVELS.index(rule.level) - 1]
        perm, gid = self._sorted(ev, parent, cache)
        cmd = cache[parent, "cmd"]
        is_p, is_n = prev[cmd], nxt[cmd]
        sel = np.flatnonzero(is_p | is_n)
        if ev.expanded:
            sel = sel[self._dedup(gid[sel], cache[parent, "origin"][sel])]
        g, eff, ch = gid[sel], cache[parent, "eff"][sel], ev.coord[rule.level][perm[sel]]
        outs = []
        for c in np.unique(ch[is_n[sel]]):
            last, lp = self._last_prev(g, is_p[sel] & (ch != c), eff)
            bad = np.flatnonzero(is_n[sel] & (ch == c) & (last >= 0) & (eff - last < need))
            outs.append(self._emit(rule, need, ev, perm, sel[bad], np.where(lp[bad] >= 0, sel[lp[bad]], -1),
                                   eff[bad] - last[bad]))
        return pd.concat(outs, ignore_index=True) if outs else None  # type: ignore[return-value]

    def _window(self, ev: _Events, rule: Rule, need: int, prev: np.ndarray, cache: dict) -> pd.DataFrame:
        perm, gid = self._sorted(ev, rule.level, cache)
        cmd = cache[rule.level, "cmd"]
        sel = np.flatnonzero(prev[cmd])
        if ev.expanded:
            sel = sel[self._dedup(gid[sel], cache[rule.level, "origin"][sel])]
        if self.dev.faw_weight:
            w = np.array([self.dev.faw_weight.get(n, 1) for n in self.names], dtype=np.int64)[cmd[sel]]
            sel = np.repeat(sel, w)
        g, eff = gid[sel], cache[rule.level, "eff"][sel]
        k = rule.window
        if sel.size <= k:
            return None  # type: ignore[return-value]
        same = g[k:] == g[:-k]
        gap = eff[k:] - eff[:-k]
        bad = np.flatnonzero(same & (gap < need))
        return self._emit(rule, need, ev, perm, sel[bad + k], sel[bad], gap[bad])

    def _buses(self, df: pd.DataFrame, names: list[str], code: np.ndarray) -> pd.DataFrame | None:
        """Command-bus occupancy per channel (HBM: separate row and column buses); HBM3 column commands
        on clock edges only."""
        dev = self.dev
        specs = self._specs
        bus = np.array([(s.bus if dev.dual_bus else "cmd") == "column" for s in specs], dtype=np.int64)[code]
        dur = np.array([dev.duration_ticks(s) for s in specs], dtype=np.int64)[code]
        cyc = df["cycle"].to_numpy(dtype=np.int64)
        ch = df["channel"].to_numpy(dtype=np.int64)
        line = df["line"].to_numpy(dtype=np.int64)
        order = np.lexsort((line, cyc, bus, ch))
        c, b, h, d, ln, cd = cyc[order], bus[order], ch[order], dur[order], line[order], code[order]
        outs = []
        if c.size > 1:
            gid = h * 2 + b
            end = c + d
            big = np.int64(1) << np.int64(41)
            pm = np.maximum.accumulate(gid * big + end)
            prev_end = np.full(c.size, -1, dtype=np.int64)
            prev_end[1:] = pm[:-1] - gid[1:] * big
            bad = np.flatnonzero((prev_end > 0) & (c < prev_end))
            if bad.size:
                lbl = np.where(b[bad] == 1, "column", "row") if dev.dual_bus else np.full(bad.size, "command")
                outs.append(pd.DataFrame({
                    "rule": [f"{x} bus occupancy" for x in lbl], "level": "channel",
                    "prev_command": [names[x] for x in cd[bad - 1]], "next_command": [names[x] for x in cd[bad]],
                    "required": prev_end[bad] - c[bad - 1], "actual": c[bad] - c[bad - 1],
                    "line": ln[bad], "prev_line": ln[bad - 1], "cycle": c[bad]}))
        if dev.standard == "HBM3" and dev.ticks_per_clock == 2 and np.any(b == 1):
            # Column commands are issued on one clock edge only: every one has the parity of the first
            # (which parity a simulator calls "rising" is its tick-phase convention).
            par = c[b == 1] % 2
            first = int(par[np.argmin(ln[b == 1])])
            odd = np.flatnonzero((b == 1) & (c % 2 != first))
            if odd.size:
                outs.append(pd.DataFrame({
                    "rule": "column commands on both clock edges", "level": "channel", "prev_command": "",
                    "next_command": [names[x] for x in cd[odd]], "required": 0, "actual": 1,
                    "line": ln[odd], "prev_line": -1, "cycle": c[odd]}))
        return pd.concat(outs, ignore_index=True) if outs else None

    def _data_bus(self, ev: _Events) -> pd.DataFrame | None:
        """Bursts on one DQ bus must not overlap: RD [t+CL, t+CL+BL), WR [t+CWL, t+CWL+BL)."""
        dev = self.dev
        kind = np.array([{"read": 1, "write": 2}.get(s.data or "", 0) for s in self._specs], dtype=np.int64)[ev.cmd]
        sel = np.flatnonzero(kind > 0)
        if ev.expanded:
            sel = sel[self._dedup(ev.origin[sel], ev.origin[sel])]
        need = [dev.latency_ticks(x) for x in ("nCL", "nCWL", "nBL")]
        if sel.size < 2 or any(x is None for x in need):
            return None
        cl, cwl, bl = need  # type: ignore[misc]
        start = np.where(kind[sel] == 1, ev.cycle[sel] + cl, ev.cycle[sel] + cwl)
        key = np.zeros(sel.size, dtype=np.int64)
        for lv in LEVELS[: LEVELS.index(dev.data_level) + 1]:
            key = key * dev.n(lv) + ev.coord[lv][sel]
        o = np.lexsort((start, key))
        s, k, idx = start[o], key[o], sel[o]
        end = s + bl
        big = np.int64(1) << np.int64(41)
        pm = np.maximum.accumulate(k * big + end)
        prev_end = np.full(s.size, -1, dtype=np.int64)
        prev_end[1:] = pm[:-1] - k[1:] * big
        bad = np.flatnonzero((prev_end > 0) & (s < prev_end))
        if not bad.size:
            return None
        names = self.names
        return pd.DataFrame({
            "rule": "data bus burst overlap", "level": dev.data_level,
            "prev_command": [names[x] for x in ev.cmd[idx[bad - 1]]], "next_command": [names[x] for x in ev.cmd[idx[bad]]],
            "required": prev_end[bad] - s[bad - 1], "actual": s[bad] - s[bad - 1],
            "line": ev.line[idx[bad]], "prev_line": ev.line[idx[bad - 1]], "cycle": ev.cycle[idx[bad]]})

    def _states(self, ev: _Events, cache: dict) -> pd.DataFrame | None:
        """Bank state machine: ACT needs a closed bank, RD/WR the open row, REF closed banks."""
        perm, gid = self._sorted(ev, "bank", cache)
        specs = self._specs
        effect = np.array([{"open": 1, "close": 2}.get(s.effect or "", 0) for s in specs], dtype=np.int64)
        needs = np.array([{"closed": 1, "open": 2, "row": 3}.get(s.needs or "", 0) for s in specs], dtype=np.int64)
        cmd = cache["bank", "cmd"]
        eff_kind = effect[cmd]
        nd = needs[cmd]
        row = ev.row[perm]
        changer = eff_kind > 0
        pos = np.where(changer, np.arange(cmd.size), -1)
        pp = np.maximum.accumulate(pos) if pos.size else pos
        lp = np.full(cmd.size, -1, dtype=np.int64)
        if cmd.size > 1:
            lp[1:] = pp[:-1]
        valid = lp >= 0
        valid[valid] = gid[lp[valid]] == gid[valid]
        lpc = np.maximum(lp, 0)
        is_open = valid & (eff_kind[lpc] == 1)
        open_row = np.where(is_open, row[lpc], -1)
        outs = []
        names = self.names

        def add(mask: np.ndarray, label: str, actual: np.ndarray | int) -> None:
            i = np.flatnonzero(mask)
            if i.size:
                e = perm[i]
                d = pd.DataFrame({"rule": label, "level": "bank", "prev_command":
                                  np.where(valid[i], [names[x] for x in ev.cmd[perm[lpc[i]]]], ""),
                                  "next_command": [names[x] for x in ev.cmd[e]], "required": -1,
                                  "actual": actual if np.isscalar(actual) else np.asarray(actual)[i],
                                  "line": ev.line[e], "prev_line": np.where(valid[i], ev.line[perm[lpc[i]]], -1),
                                  "cycle": ev.cycle[e]})
                outs.append(d.drop_duplicates(["line", "rule"]))

        add((nd == 1) & is_open, "state: bank must be closed", open_row)
        add((nd >= 2) & ~is_open, "state: column command to a closed bank", -1)
        add((nd == 3) & is_open & (row >= 0) & (open_row >= 0) & (row != open_row),
            "state: column command to a row that is not open", open_row)
        return pd.concat(outs, ignore_index=True) if outs else None

    def _refresh(self, ev: _Events, cache: dict) -> pd.DataFrame | None:
        """Every bank of every channel in the log is refreshed at least once per 9 tREFI (JEDEC lets a
        controller postpone 8 refreshes), counted from the log's start to its end."""
        refi = self.dev.refi_ticks
        if refi is None or ev.cycle.size == 0:
            return None
        limit = 9 * refi
        end = int(ev.cycle.max())
        if end <= limit:
            return None
        is_ref = np.array([s.refresh for s in self._specs], dtype=bool)[ev.cmd]
        dev = self.dev
        nb = dev.n("pseudochannel") * dev.n("rank") * dev.n("bankgroup") * dev.n("bank")
        chans = np.unique(ev.coord["channel"])
        key = self._gid(ev, "bank")
        rk = key[is_ref]
        rc = ev.cycle[is_ref]
        rl = ev.line[is_ref]
        all_keys = (chans[:, None] * nb + np.arange(nb)[None, :]).ravel()
        # add sentinels at 0 and at the end for every bank
        k = np.concatenate([rk, all_keys, all_keys])
        c = np.concatenate([rc, np.zeros(all_keys.size, np.int64), np.full(all_keys.size, end, np.int64)])
        ln = np.concatenate([rl, np.full(all_keys.size, -1), np.full(all_keys.size, -2)])
        o = np.lexsort((c, k))
        k, c, ln = k[o], c[o], ln[o]
        gap = c[1:] - c[:-1]
        bad = np.flatnonzero((k[1:] == k[:-1]) & (gap > limit))
        if not bad.size:
            return None
        # one entry per (channel, gap end): report the bank count in the rule text only once
        d = pd.DataFrame({"rule": "refresh interval > 9 tREFI", "level": "bank", "prev_command": "REF",
                          "next_command": np.where(ln[bad + 1] == -2, "(end of log)", "REF"),
                          "required": limit, "actual": gap[bad], "line": ln[bad + 1], "prev_line": ln[bad],
                          "cycle": c[bad + 1]})
        return d.drop_duplicates(["line", "prev_line", "actual"])


@dataclass
class Report:
    """Result of a check: every violation (one row each) and what could not be checked."""

    violations: pd.DataFrame
    n_commands: int
    skipped: list[str]
    counts: dict[str, int]

    @property
    def ok(self) -> bool:
        return len(self.violations) == 0

    def by_rule(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.violations["rule"].value_counts().items()}

    def summary(self, show: int = 20) -> str:
        lines = [f"{self.n_commands} commands checked; {len(self.violations)} violation(s)"]
        for k, v in self.by_rule().items():
            lines.append(f"  {v:8d}  {k}")
        for s in self.skipped:
            lines.append(f"  skipped: {s}")
        if len(self.violations):
            lines.append(self.violations.head(show).to_string(index=False))
        return "\n".join(lines)


def device_from_dram(dram: str, overrides: Iterable[str] = ()) -> Device:
    """Load a DRAM preset with the project's config loader (contract A) and describe it for the checker."""
    try:  # the project's config reader (contract A): used for the timing *values* only
        from harness.memsim import load_config
    except ImportError:
        from harness.memsim.config import load_config

    cfg = load_config(dram, overrides=list(overrides))
    return Device.from_config(cfg)


def check_log(log: str | Path | pd.DataFrame, device: Device, max_per_rule: int | None = None) -> Report:
    """Check one command log; see `Checker`."""
    return Checker(device).check(log, max_per_rule=max_per_rule)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Replay a DRAM command log and report every timing violation.")
    ap.add_argument("log", help="command log CSV")
    ap.add_argument("--dram", required=True, help="DRAM preset name or YAML path")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    ap.add_argument("--show", type=int, default=20, help="violations to print")
    ap.add_argument("--csv", help="write all violations to this CSV")
    a = ap.parse_args(argv)
    try:
        rep = check_log(a.log, device_from_dram(a.dram, a.set))
    except (ValueError, OSError) as e:  # CheckerError, the loader's ConfigError, missing files
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(rep.summary(a.show))
    if a.csv:
        rep.violations.to_csv(a.csv, index=False)
    return 0 if rep.ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
