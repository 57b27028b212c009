"""PIM model parameters, DRAM geometry and quantize-kernel requests, with their validation.

Kept apart from the command-program expansion (``pim_program``) and the cost models so that every
check on user input happens in one place, before any simulator state is touched: bad input raises
:class:`PimError` (a ``ValueError``) and leaves nothing half-done.

Placement of a kernel's operands (the "PIM allocator", see docs/pim.md):

* A PIM region starts at an address aligned to ``row_stride`` = row bytes x banks per pseudo-channel x
  pseudo-channels in use; such an address names one DRAM row index ``addr // row_stride`` in EVERY
  bank, and the region occupies consecutive row indices in every bank.
* The weight (rows x cols, row-major in the flat address space for functional mode) is cut into
  rectangular slices, one per PIM unit (bands of whole blocks so a block never spans two units);
  each slice lives in its unit's bank(s), either row-major (``layout="row-major"``) or as tiles of
  ``block_size x Tc`` elements that each fill one DRAM row (``layout="tiled"``), so a backward block's
  elements share a DRAM row and a forward block spans ``block_size / Tc`` rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from harness.mx.formats import FORMATS, FormatSpec

__all__ = [
    "PimError",
    "Geometry",
    "PimConfig",
    "QuantizeKernel",
    "SliceShape",
    "POLICIES",
    "LAYOUTS",
    "DIRECTIONS",
    "SRC_DTYPES",
]

POLICIES = ("blocking", "interleave", "bank-partition")
LAYOUTS = ("row-major", "tiled")
DIRECTIONS = ("forward", "backward")
SRC_DTYPES = {"fp32": 4, "bf16": 2}


class PimError(ValueError):
    """Bad PIM input: unknown policy/layout/format, bad region, bad parameter."""


def _get(d: Mapping[str, Any], *names: str, default: Any = None) -> Any:
    for n in names:
        if n in d and d[n] is not None:
            return d[n]
    return default


@dataclass(frozen=True)
class Geometry:
    """The DRAM organization the PIM model needs, read from a DramConfig (contract A)."""

    standard: str
    channels: int
    pseudochannels: int
    sids: int
    bankgroups: int
    banks: int
    rows: int
    row_bytes: int
    tx_bytes: int
    tck_ps: float
    tick_ps: float
    timing: Mapping[str, float] = field(repr=False, default_factory=dict)
    refresh: str = "all-bank"

    @property
    def banks_per_pc(self) -> int:
        return self.sids * self.bankgroups * self.banks

    @property
    def pcs(self) -> int:
        return self.channels * self.pseudochannels

    @property
    def partition_groups(self) -> tuple[int, int]:
        """(groups, banks per group) one level below the all-bank scope: SIDs on HBM3, bank groups on
        HBM2E and DDR4. Bank-partition gives PIM the last group of every pseudo-channel."""
        if self.standard == "HBM3":
            return self.sids, self.bankgroups * self.banks
        return self.bankgroups, self.banks

    @property
    def cols_per_row(self) -> int:
        return self.row_bytes // self.tx_bytes

    def t(self, name: str, default: float | None = None) -> int:
        """A timing value in memory clocks (nRP, nRCDRD, ...), with HBM/DDR4 name fallbacks."""
        alts = {
            "nRCDRD": ("nRCDRD", "nRCD"),
            "nRCDWR": ("nRCDWR", "nRCD"),
            "nCCDL": ("nCCDL", "nCCD_L", "nCCD"),
            "nWTRL": ("nWTRL", "nWTR_L", "nWTR"),
        }.get(name, (name,))
        v = _get(self.timing, *alts)
        if v is None:
            if default is None:
                raise PimError(f"DRAM timing {name!r} missing from the config (needed by the PIM model)")
            v = default
        return int(v)

    @classmethod
    def from_cfg(cls, cfg: Any) -> "Geometry":
        org = dict(getattr(cfg, "org", {}) or {})
        timing = dict(getattr(cfg, "timing", {}) or {})
        tx = int(_get(org, "tx_bytes", default=32))
        columns = int(_get(org, "columns", default=0))
        row_bytes = _get(org, "row_bytes")
        raw_org = (((getattr(cfg, "raw", {}) or {}).get("MemorySystem") or {}).get("DRAM") or {}).get("org") or {}
        if row_bytes is None and columns and raw_org.get("prefetch"):
            # DramConfig: `columns` counts column addresses incl. the burst; one access = prefetch of them
            row_bytes = columns // int(raw_org["prefetch"]) * tx
        if row_bytes is None:
            dq = _get(org, "dq", "dq_bits")
            if dq is not None and columns:
                row_bytes = columns * int(dq) // 8
            elif columns:
                burst = _get(org, "burst_length", "BL")
                row_bytes = columns * tx // int(burst) if burst else columns * tx
            else:
                raise PimError("DRAM org has neither row_bytes nor columns")
        tck = float(_get(timing, "tCK_ps", default=getattr(cfg, "tick_ps", 1000.0)))
        ctl = ((getattr(cfg, "raw", {}) or {}).get("MemorySystem") or {}).get("Controller") or {}
        std = str(getattr(cfg, "standard", "?"))
        pcs = int(_get(org, "pseudochannels", "pseudochannel", default=1))
        sids = int(_get(org, "sids", "sid", default=1))
        if std == "DDR4":  # all-bank commands address a rank: ranks play the pseudo-channels' role
            pcs, sids = int(_get(org, "ranks", "rank", default=1)), 1
        return cls(
            standard=std,
            channels=int(_get(org, "channels", "channel", default=1)),
            pseudochannels=pcs,
            sids=sids,
            bankgroups=int(_get(org, "bankgroups", "bankgroup", default=1)),
            banks=int(_get(org, "banks", "bank", default=1)),
            rows=int(_get(org, "rows", "row")),
            row_bytes=int(row_bytes),
            tx_bytes=tx,
            tck_ps=tck,
            tick_ps=float(getattr(cfg, "tick_ps", tck)),
            timing=timing,
            refresh=str(ctl.get("refresh", "all-bank")),
        )


_PIM_DEFAULTS: dict[str, Any] = {
    "banks_per_unit": 1,          # 1: a unit per bank (GeniePIM, AiM); 2: per bank pair (Samsung HBM-PIM)
    "simd_bits": 256,             # one column access (HBM3: 32 B)
    "register_file_bytes": 1024,  # source staging per unit (32 x 256-bit registers)
    "output_buffer_bytes": 512,   # MX bytes buffered per unit before a write-back (flush) to the dst rows
    "command_interval": None,     # min cycles between all-bank column commands; None = nCCDL
    "compute_cycles_per_block": 4,
    "act_counts_tfaw": 4,         # an ACTab counts as this many ACTs in the tFAW window (0..4)
    "policy": "blocking",
    "chunk_groups": 8,            # blocking: register-file groups per chunk that owns the pseudo-channel
    "priority": "low",            # interleave: "low" = host first, "high" = PIM first
    "pim_banks": None,            # bank-partition: banks per pseudo-channel given to PIM (None = half)
}


@dataclass(frozen=True)
class PimConfig:
    """The ``pim:`` block of a DRAM config with defaults filled in and values checked."""

    banks_per_unit: int
    simd_bits: int
    register_file_bytes: int
    output_buffer_bytes: int
    command_interval: int
    compute_cycles_per_block: int
    act_counts_tfaw: int
    policy: str
    chunk_groups: int
    priority: str
    pim_banks: int

    @classmethod
    def from_cfg(cls, cfg: Any, overrides: Mapping[str, Any] | None = None) -> "PimConfig":
        geom = Geometry.from_cfg(cfg)
        raw = getattr(cfg, "raw", {}) or {}
        block = dict(_PIM_DEFAULTS)
        given = raw.get("pim") or {}
        if not isinstance(given, Mapping):
            raise PimError(f"config 'pim' must be a mapping, got {type(given).__name__}")
        unknown = set(given) - set(_PIM_DEFAULTS)
        if overrides:
            unknown |= set(overrides) - set(_PIM_DEFAULTS)
        if unknown:
            raise PimError(f"unknown pim config key(s) {sorted(unknown)}; known: {sorted(_PIM_DEFAULTS)}")
        block.update(given)
        block.update(overrides or {})
        return cls.build(geom, block)

    @classmethod
    def build(cls, geom: Geometry, block: Mapping[str, Any]) -> "PimConfig":
        def pos_int(name: str, lo: int = 1) -> int:
            v = block[name]
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise PimError(f"pim.{name} must be an integer >= {lo}, got {v!r}")
            return v

        bpu = pos_int("banks_per_unit")
        if bpu not in (1, 2):
            raise PimError(f"pim.banks_per_unit must be 1 (per bank) or 2 (per bank pair), got {bpu}")
        simd = pos_int("simd_bits")
        if simd != geom.tx_bytes * 8:
            raise PimError(
                f"pim.simd_bits ({simd}) must equal one column access ({geom.tx_bytes * 8} bits)"
            )
        if block["command_interval"] is None:
            block = {**block, "command_interval": geom.t("nCCDL")}
        ci = pos_int("command_interval")
        if ci < geom.t("nCCDL"):
            raise PimError(f"pim.command_interval ({ci}) is below nCCDL ({geom.t('nCCDL')})")
        policy = block["policy"]
        if policy not in POLICIES:
            raise PimError(f"unknown PIM policy {policy!r}; known: {', '.join(POLICIES)}")
        prio = block["priority"]
        if prio not in ("low", "high"):
            raise PimError(f"pim.priority must be 'low' or 'high', got {prio!r}")
        act_tfaw = block["act_counts_tfaw"]
        if isinstance(act_tfaw, bool) or not isinstance(act_tfaw, int) or not 0 <= act_tfaw <= 4:
            raise PimError(f"pim.act_counts_tfaw must be an integer 0..4, got {act_tfaw!r}")
        pb = block["pim_banks"]
        groups, per_group = geom.partition_groups
        if pb is None:
            pb = per_group
        if pb != per_group:
            raise PimError(
                f"pim.pim_banks must be {per_group} on {geom.standard} (bank-partition gives PIM the last "
                f"{'SID' if geom.standard == 'HBM3' else 'bank group'} of each pseudo-channel), got {pb!r}"
            )
        if policy == "bank-partition" and groups < 2:
            raise PimError(f"bank-partition needs at least 2 SIDs / bank groups per pseudo-channel; {geom.standard} "
                           f"config has {groups}")
        if pb % bpu:
            raise PimError(f"pim.pim_banks ({pb}) must be a multiple of banks_per_unit ({bpu})")
        rf = pos_int("register_file_bytes")
        ob = pos_int("output_buffer_bytes")
        for name, v in (("register_file_bytes", rf), ("output_buffer_bytes", ob)):
            if v % geom.tx_bytes:
                raise PimError(f"pim.{name} ({v}) must be a multiple of the column access ({geom.tx_bytes} B)")
        return cls(
            banks_per_unit=bpu, simd_bits=simd, register_file_bytes=rf, output_buffer_bytes=ob,
            command_interval=ci, compute_cycles_per_block=pos_int("compute_cycles_per_block"),
            act_counts_tfaw=act_tfaw, policy=policy, chunk_groups=pos_int("chunk_groups"),
            priority=prio, pim_banks=pb,
        )

    def pim_banks_per_pc(self, geom: Geometry, policy: str | None = None) -> int:
        """Banks of a pseudo-channel that hold PIM units under ``policy``."""
        return self.pim_banks if (policy or self.policy) == "bank-partition" else geom.banks_per_pc

    def units_per_pc(self, geom: Geometry, policy: str | None = None) -> int:
        return self.pim_banks_per_pc(geom, policy) // self.banks_per_unit


@dataclass(frozen=True)
class QuantizeKernel:
    """One PIM quantize request: an MX copy of a (rows, cols) row-major weight at ``src`` into ``dst``.

    ``direction="forward"`` blocks along ``cols`` (the contiguous dimension), ``"backward"`` along
    ``rows``; the functional output at ``dst`` is ``harness.mx.encode(W, fmt, axis=1|0)``'s scale bytes
    followed by its element bytes.
    """

    src: int
    dst: int
    rows: int
    cols: int
    src_dtype: str = "bf16"
    fmt: str = "MX9"
    direction: str = "forward"
    layout: str = "row-major"

    def __post_init__(self) -> None:
        for name in ("src", "dst", "rows", "cols"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise PimError(f"QuantizeKernel.{name} must be an int, got {v!r}")
        if self.src < 0 or self.dst < 0:
            raise PimError("QuantizeKernel regions must start at non-negative addresses")
        if self.rows <= 0 or self.cols <= 0:
            raise PimError(f"QuantizeKernel shape must be positive, got {self.rows} x {self.cols}")
        if self.src_dtype not in SRC_DTYPES:
            raise PimError(f"unknown src_dtype {self.src_dtype!r}; known: {', '.join(SRC_DTYPES)}")
        if self.fmt not in FORMATS:
            raise PimError(f"unknown MX format {self.fmt!r}; known: {', '.join(FORMATS)}")
        if self.direction not in DIRECTIONS:
            raise PimError(f"unknown direction {self.direction!r}; known: {', '.join(DIRECTIONS)}")
        if self.layout not in LAYOUTS:
            raise PimError(f"unknown layout {self.layout!r}; known: {', '.join(LAYOUTS)}")

    @property
    def spec(self) -> FormatSpec:
        return FORMATS[self.fmt]

    @property
    def esize(self) -> int:
        return SRC_DTYPES[self.src_dtype]

    @property
    def src_bytes(self) -> int:
        return self.rows * self.cols * self.esize

    @property
    def n_blocks(self) -> int:
        bs = self.spec.block_size
        if self.direction == "forward":
            return self.rows * math.ceil(self.cols / bs)
        return self.cols * math.ceil(self.rows / bs)

    @property
    def out_bytes(self) -> int:
        """MX bytes written at dst: scales then elements (contract B)."""
        return self.n_blocks * self.spec.bytes_per_block


@dataclass(frozen=True)
class SliceShape:
    """The (largest) slice of the weight held by one PIM unit, and how many units hold data."""

    rows: int
    cols: int
    units_used: int
    units_total: int
