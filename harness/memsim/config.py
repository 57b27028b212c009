"""DRAM configs: Ramulator2-style YAML presets, ``key=value`` overrides, validation.

A config file nests ``MemorySystem`` / ``DRAM`` (``org``, ``timing``) / ``Controller`` as Ramulator2's
YAML does, but writes out every value (with its source in a comment) instead of naming a preset
compiled into the simulator. Overrides name a leaf by its full dotted path or by any unique suffix
(``channels=2``, ``nCL=22``, ``Controller.refresh=per-bank``). Every key and value is checked here so
that a typo fails before a run with an error naming the file and key.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.paths import preset_path


class ConfigError(ValueError):
    """A DRAM config (file, key or value) is invalid; the message names the file and key."""


# Children per node below the channel, in the order of each standard's hierarchy.
LEVEL_KEYS: dict[str, list[str]] = {
    "HBM3": ["pseudochannels", "sids", "bankgroups", "banks"],
    "HBM2E": ["pseudochannels", "bankgroups", "banks"],
    "DDR4": ["ranks", "bankgroups", "banks"],
}
# Timing parameters (memory clocks) each standard needs.
TIMING_KEYS: dict[str, list[str]] = {
    "HBM3": "nBL nCL nRCDRD nRCDWR nRP nRAS nRC nWR nRTP nCWL nCCDS nCCDL nCCDR nRRDS nRRDL nFAW nWTRS "
    "nWTRL nRTW nPPD nRFC nRFCpb nRREFD nREFI nREFIpb".split(),
    "HBM2E": "nBL nCL nRCDRD nRCDWR nRP nRAS nRC nWR nRTP nCWL nCCDS nCCDL nRRDS nRRDL nWTRS nWTRL nFAW "
    "nRFC nRFCpb nRREFD nREFI nREFIpb".split(),
    "DDR4": "nBL nCL nRCD nRP nRAS nRC nWR nRTP nCWL nCCDS nCCDL nRRDS nRRDL nWTRS nWTRL nFAW nRFC nREFI nCS".split(),
}
CONTROLLER_IMPL = {"HBM3": "HBM34", "HBM2E": "HBM12", "DDR4": "GenericDDR"}
MAPPINGS = ("RoBaRaCoCh", "RoCoBaRaCh", "ChRaBaRoCo", "RoBaRaCoCh_XOR")

# Schema of every leaf: dotted path -> (type, allowed values or None). Timing n* keys are added per
# standard; the free-form ``pim`` section belongs to the PIM model (harness.memsim.pim*).
_MS = "MemorySystem"
_ORG = "MemorySystem.DRAM.org"
_TIM = "MemorySystem.DRAM.timing"
_CTL = "MemorySystem.Controller"
_COMMON_SCHEMA: dict[str, tuple[type, tuple[Any, ...] | None]] = {
    f"{_MS}.impl": (str, ("GenericDRAM",)),
    f"{_MS}.channels": (int, None),
    f"{_MS}.requests_per_clock": (int, None),
    f"{_MS}.address_mapping": (str, MAPPINGS),
    f"{_MS}.address_overflow": (str, ("error", "wrap")),
    f"{_MS}.DRAM.impl": (str, tuple(LEVEL_KEYS)),
    f"{_ORG}.preset": (str, None),
    f"{_ORG}.density_Mb": (int, None),
    f"{_ORG}.dq": (int, None),
    f"{_ORG}.channel_width": (int, None),
    f"{_ORG}.rows": (int, None),
    f"{_ORG}.columns": (int, None),
    f"{_ORG}.prefetch": (int, None),
    f"{_TIM}.preset": (str, None),
    f"{_TIM}.rate": (int, None),
    f"{_TIM}.tCK_ps": (int, None),
    f"{_CTL}.impl": (str, tuple(CONTROLLER_IMPL.values())),
    f"{_CTL}.scheduler": (str, ("FRFCFS",)),
    f"{_CTL}.row_policy": (str, ("open", "closed")),
    f"{_CTL}.refresh": (str, ("all-bank", "per-bank", "none")),
    f"{_CTL}.read_buffer_size": (int, None),
    f"{_CTL}.write_buffer_size": (int, None),
    f"{_CTL}.wr_low_watermark": (float, None),
    f"{_CTL}.wr_high_watermark": (float, None),
    f"{_CTL}.read_forwarding": (bool, None),
}


def _schema(standard: str) -> dict[str, tuple[type, tuple[Any, ...] | None]]:
    s = dict(_COMMON_SCHEMA)
    for k in LEVEL_KEYS[standard]:
        s[f"{_ORG}.{k}"] = (int, None)
    for k in TIMING_KEYS[standard]:
        s[f"{_TIM}.{k}"] = (int, None)
    return s


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        path = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping):
            out.update(_flatten(v, path))
        else:
            out[path] = v
    return out


def _set_path(d: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for p in parts[:-1]:
        d = d.setdefault(p, {})
    d[parts[-1]] = value


def _check_type(where: str, key: str, value: Any, typ: type, choices: tuple[Any, ...] | None) -> Any:
    if typ is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif typ is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, typ)
    if not ok:
        raise ConfigError(f"{where}: {key} must be {typ.__name__}, got {type(value).__name__} {value!r}")
    if choices is not None and value not in choices:
        raise ConfigError(f"{where}: {key} must be one of {', '.join(map(str, choices))}; got {value!r}")
    return value


@dataclass
class DramConfig:
    """A validated DRAM system config (contract A). ``raw`` is the merged YAML dict."""

    standard: str
    org: dict[str, int]
    timing: dict[str, int]
    tick_ps: float
    peak_bandwidth_GBps: float
    raw: dict[str, Any]
    source: str = ""
    spec: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def channels(self) -> int:
        return int(self.org["channels"])

    def get(self, key: str) -> Any:
        """Value of a leaf by dotted path or unique suffix (as in overrides)."""
        flat = _flatten(self.raw)
        return flat[_resolve_key(flat, key, self.source)]

    def engine_config(self) -> dict[str, Any]:
        """The flat dict that ``harness._dram`` takes."""
        f = _flatten(self.raw)
        std = self.standard
        return {
            "standard": std,
            "level_sizes": [int(f[f"{_ORG}.{k}"]) for k in LEVEL_KEYS[std]],
            "rows": int(f[f"{_ORG}.rows"]),
            "columns": int(f[f"{_ORG}.columns"]),
            "prefetch": int(f[f"{_ORG}.prefetch"]),
            "channel_width": int(f[f"{_ORG}.channel_width"]),
            "timing": {k: int(v) for k, v in self.timing.items() if k != "tCK_ps"},
            "tCK_ps": int(self.timing["tCK_ps"]),
            "channels": int(f[f"{_MS}.channels"]),
            "address_mapping": f[f"{_MS}.address_mapping"],
            "address_overflow": f[f"{_MS}.address_overflow"],
            "requests_per_clock": int(f[f"{_MS}.requests_per_clock"]),
            "read_buffer_size": int(f[f"{_CTL}.read_buffer_size"]),
            "write_buffer_size": int(f[f"{_CTL}.write_buffer_size"]),
            "wr_low_watermark": float(f[f"{_CTL}.wr_low_watermark"]),
            "wr_high_watermark": float(f[f"{_CTL}.wr_high_watermark"]),
            "row_policy": f[f"{_CTL}.row_policy"],
            "refresh": f[f"{_CTL}.refresh"],
            "read_forwarding": bool(f[f"{_CTL}.read_forwarding"]),
        }


def _resolve_key(flat: Mapping[str, Any], key: str, where: str) -> str:
    if key in flat:
        return key
    matches = [p for p in flat if p.endswith("." + key)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ConfigError(f"{where}: unknown config key {key!r}")
    raise ConfigError(f"{where}: config key {key!r} is ambiguous ({', '.join(sorted(matches))}); use the dotted path")


def _parse_overrides(overrides: Mapping[str, Any] | Iterable[str] | None) -> list[tuple[str, Any]]:
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return list(overrides.items())
    out = []
    for item in overrides:
        if not isinstance(item, str) or "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        k, v = item.split("=", 1)
        try:
            value = yaml.safe_load(v) if v.strip() else ""
        except yaml.YAMLError:
            value = v
        out.append((k.strip(), value))
    return out


def load_config(
    name_or_path: str | os.PathLike[str], overrides: Mapping[str, Any] | Iterable[str] | None = None
) -> DramConfig:
    """Load a DRAM preset (``hbm3`` or a YAML path), apply overrides and validate everything.

    Raises ``ConfigError`` (a ``ValueError``) naming the file and key on any problem.
    """
    try:
        path = preset_path("dram", name_or_path)
    except FileNotFoundError as e:
        raise ConfigError(str(e)) from None
    where = str(path)
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{where}: not valid YAML: {e}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("MemorySystem"), dict):
        raise ConfigError(f"{where}: expected a mapping with a 'MemorySystem' section")
    raw = copy.deepcopy(raw)
    extra_top = set(raw) - {"MemorySystem", "pim"}
    if extra_top:
        raise ConfigError(f"{where}: unknown top-level key(s) {', '.join(sorted(extra_top))}")
    flat = _flatten({"MemorySystem": raw["MemorySystem"]})
    std = flat.get(f"{_MS}.DRAM.impl")
    if std not in LEVEL_KEYS:
        raise ConfigError(f"{where}: MemorySystem.DRAM.impl must be one of {', '.join(LEVEL_KEYS)}; got {std!r}")

    # Overrides: resolve against the file's own keys plus the schema (so absent optional keys can be set).
    schema = _schema(std)
    pim_flat = _flatten({"pim": raw.get("pim") or {}}) if isinstance(raw.get("pim"), Mapping) else {}
    for key, value in _parse_overrides(overrides):
        candidates = {**{k: None for k in schema}, **{k: None for k in flat}, **{k: None for k in pim_flat}}
        full = _resolve_key(candidates, key, f"{where} (override)")
        if full.startswith("pim."):
            _set_path(raw, full, value)
            continue
        if full == f"{_MS}.DRAM.impl" and value != std:
            raise ConfigError(f"{where}: the standard cannot be overridden; pick another preset")
        _set_path(raw, full, value)
        flat[full] = value

    # Validate every leaf.
    unknown = [k for k in flat if k not in schema]
    if unknown:
        raise ConfigError(f"{where}: unknown config key(s): {', '.join(sorted(unknown))}")
    missing = [k for k in schema if k not in flat and not k.endswith(".preset") and not k.endswith(".density_Mb") and not k.endswith(".dq")]
    if missing:
        raise ConfigError(f"{where}: missing config key(s): {', '.join(sorted(missing))}")
    for k, v in flat.items():
        typ, choices = schema[k]
        flat[k] = _check_type(where, k, v, typ, choices)
        _set_path(raw, k, flat[k])

    def pos_int(key: str, pow2: bool = False) -> int:
        v = flat[key]
        if v < 1 or (pow2 and v & (v - 1)):
            raise ConfigError(f"{where}: {key} must be a positive {'power of two' if pow2 else 'integer'}; got {v}")
        return int(v)

    channels = pos_int(f"{_MS}.channels", pow2=True)
    pos_int(f"{_MS}.requests_per_clock")
    for k in LEVEL_KEYS[std] + ["rows", "columns", "prefetch", "channel_width"]:
        pos_int(f"{_ORG}.{k}", pow2=True)
    pos_int(f"{_CTL}.read_buffer_size")
    pos_int(f"{_CTL}.write_buffer_size")
    lo, hi = flat[f"{_CTL}.wr_low_watermark"], flat[f"{_CTL}.wr_high_watermark"]
    if not 0.0 <= lo <= hi <= 1.0:
        raise ConfigError(f"{where}: need 0 <= wr_low_watermark <= wr_high_watermark <= 1; got {lo}, {hi}")
    if flat[f"{_CTL}.impl"] != CONTROLLER_IMPL[std]:
        raise ConfigError(f"{where}: Controller.impl for {std} must be {CONTROLLER_IMPL[std]}")
    if std == "DDR4" and flat[f"{_CTL}.refresh"] == "per-bank":
        raise ConfigError(f"{where}: DDR4 has no per-bank refresh command; use refresh=all-bank or none")
    timing: dict[str, int] = {}
    for k in TIMING_KEYS[std] + ["tCK_ps", "rate"]:
        v = flat[f"{_TIM}.{k}"]
        if v < 0 or (k in ("tCK_ps", "rate", "nBL") and v < 1):
            raise ConfigError(f"{where}: {_TIM}.{k} must be positive; got {v}")
        timing[k] = int(v)

    org_keys = LEVEL_KEYS[std]
    o = {k: int(flat[f"{_ORG}.{k}"]) for k in org_keys}
    rows, columns, prefetch = (int(flat[f"{_ORG}.{k}"]) for k in ("rows", "columns", "prefetch"))
    width = int(flat[f"{_ORG}.channel_width"])
    tx_bytes = prefetch * width // 8
    banks_per_channel = math.prod(o.values())
    capacity = channels * banks_per_channel * rows * (columns // prefetch) * tx_bytes
    org: dict[str, int] = {"channels": channels, **o}
    org.update(rows=rows, columns=columns, tx_bytes=tx_bytes, capacity_bytes=capacity)
    if "sids" not in org and std.startswith("HBM"):
        org["sids"] = 1
    if "ranks" not in org:
        org["ranks"] = 1
    if "pseudochannels" not in org:
        org["pseudochannels"] = 1
    tick_mult = 2 if std == "HBM3" else 1
    tick_ps = timing["tCK_ps"] / tick_mult
    # Peak: every (pseudo-)channel data bus transfers width bits at `rate` Mb/s per pin.
    buses = channels * (o.get("pseudochannels", 1))
    peak = buses * width * timing["rate"] / 8 / 1000.0
    return DramConfig(
        standard=std,
        org=org,
        timing=timing,
        tick_ps=tick_ps,
        peak_bandwidth_GBps=peak,
        raw=raw,
        source=where,
    )
