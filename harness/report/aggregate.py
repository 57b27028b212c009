"""Turn the per-cell ``jitq run`` records into tidy tables.

One record is a flat JSON object (contract F), except for a few structured values: per-layer timings
(lists) and small nested dicts (DRAM stats, versions, config hashes). The grid table keeps one row per
cell and one column per scalar; nested dicts become ``<key>_<subkey>`` columns; per-layer lists go to a
separate long table (one row per cell and layer) so that the grid table stays tidy.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

#: The parameters that identify a grid cell, in the order the result paths name them.
CELL_KEYS: tuple[str, ...] = ("model", "format", "scheme", "gpu", "dram", "recipe")

#: Columns every row must carry a value in (the aggregate step fails if one is missing or NaN).
REQUIRED_COLUMNS: tuple[str, ...] = (
    *CELL_KEYS,
    "peak_bytes",
    "capacity_saving_pct",
    "iteration_s",
    "tokens_per_s",
    "throughput_loss_pct",
)

#: Columns that come first in the table, in this order, when present; the rest follow sorted.
LEADING_COLUMNS: tuple[str, ...] = (
    *CELL_KEYS,
    "backward_format",
    "batch",
    "seq",
    "n_params",
    "peak_bytes",
    "capacity_saving_pct",
    "iteration_s",
    "tokens_per_s",
    "throughput_loss_pct",
    "pim_keeps_up",
    "pim_stall_s",
)


class RecordError(ValueError):
    """A run record is missing, malformed, or lacks a required value (the message names file and key)."""


def _layer_rows(key: str, value: list[Any]) -> list[dict[str, Any]] | None:
    """Rows of the per-layer table from one list-valued record entry, or None if it is not per-layer.

    Two shapes are per-layer: a list of dicts (one per layer) and a list of scalars under a key that
    starts with ``layer_`` (one value per layer, e.g. ``layer_pim_s``, ``layer_names``); lists under
    ``layer_`` keys of one record share their index, so they become columns of the same rows.
    """
    if value and all(isinstance(v, Mapping) for v in value):
        return [{"table": key, "index": i, **dict(v)} for i, v in enumerate(value)]
    if key.startswith("layer_") and all(isinstance(v, (int, float, str, bool)) or v is None for v in value):
        return [{"table": "layer", "index": i, key[len("layer_") :]: v} for i, v in enumerate(value)]
    return None


def flatten_record(record: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Split one record into its scalar columns and its per-layer rows (cell keys not yet attached)."""
    scalars: dict[str, Any] = {}
    layer_parts: dict[tuple[str, int], dict[str, Any]] = {}

    def visit(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                visit(f"{prefix}_{k}" if prefix else str(k), v)
        elif isinstance(value, (list, tuple)):
            rows = _layer_rows(prefix, list(value))
            if rows is None:
                # Short lists of scalars that are not per layer (e.g. command line): keep as JSON text.
                scalars[prefix] = json.dumps(value, sort_keys=True)
                return
            for row in rows:
                slot = layer_parts.setdefault((row.pop("table"), row.pop("index")), {})
                slot.update(row)
        else:
            scalars[prefix] = value

    for key, value in record.items():
        visit(str(key), value)
    layers = [{"table": t, "layer_index": i, **row} for (t, i), row in sorted(layer_parts.items())]
    return scalars, layers


def load_record(path: str | os.PathLike[str]) -> dict[str, Any]:
    p = Path(path)
    try:
        with p.open() as f:
            rec = json.load(f)
    except FileNotFoundError as e:
        raise RecordError(f"{p}: run record not found") from e
    except json.JSONDecodeError as e:
        raise RecordError(f"{p}: not valid JSON ({e.msg} at line {e.lineno}); rerun the cell") from e
    if not isinstance(rec, dict):
        raise RecordError(f"{p}: a run record must be a JSON object, got {type(rec).__name__}")
    return rec


def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def build_tables(
    records: Sequence[Mapping[str, Any]], sources: Sequence[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The grid table (one row per cell) and the per-layer table from records.

    Raises ``RecordError`` naming the file and key when a required value is absent or two records
    describe the same cell.
    """
    sources = list(sources) if sources is not None else [f"record {i}" for i in range(len(records))]
    rows: list[dict[str, Any]] = []
    layer_rows: list[dict[str, Any]] = []
    seen: dict[tuple[Any, ...], str] = {}
    for src, rec in zip(sources, records, strict=True):
        scalars, layers = flatten_record(rec)
        for key in REQUIRED_COLUMNS:
            if key not in scalars or _is_missing(scalars[key]):
                raise RecordError(f"{src}: required key {key!r} is missing or null")
        cell = tuple(scalars[k] for k in CELL_KEYS)
        if cell in seen:
            raise RecordError(f"{src}: same cell {dict(zip(CELL_KEYS, cell))} as {seen[cell]}")
        seen[cell] = src
        rows.append(scalars)
        ids = {k: scalars[k] for k in CELL_KEYS}
        layer_rows.extend({**ids, **row} for row in layers)

    grid = pd.DataFrame(rows)
    lead = [c for c in LEADING_COLUMNS if c in grid.columns]
    rest = sorted(c for c in grid.columns if c not in lead)
    grid = grid[lead + rest]
    if len(grid):
        grid = grid.sort_values(list(CELL_KEYS), kind="stable").reset_index(drop=True)
    layers_df = pd.DataFrame(layer_rows)
    if len(layers_df):
        layers_df = layers_df.sort_values([*CELL_KEYS, "table", "layer_index"], kind="stable").reset_index(drop=True)
    else:
        layers_df = pd.DataFrame(columns=[*CELL_KEYS, "table", "layer_index"])
    return grid, layers_df


def _atomic_write(path: Path, write: Any) -> None:
    """Write via a temporary file in the same directory and rename, so a killed job leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; the result is an ordinary file
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _parquet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Object columns mixing types (e.g. None and str) are written as strings; parquet needs one type."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object:
            kinds = {type(v) for v in out[c] if not _is_missing(v)}
            if len(kinds) > 1:
                out[c] = out[c].map(lambda v: None if _is_missing(v) else str(v))
    return out


def write_tables(
    grid: pd.DataFrame,
    layers: pd.DataFrame,
    parquet: str | os.PathLike[str],
    csv: str | os.PathLike[str] | None = None,
    layers_parquet: str | os.PathLike[str] | None = None,
) -> None:
    g = _parquet_safe(grid)
    _atomic_write(Path(parquet), lambda p: g.to_parquet(p, index=False))
    if csv is not None:
        _atomic_write(Path(csv), lambda p: grid.to_csv(p, index=False))
    if layers_parquet is not None:
        lay = _parquet_safe(layers)
        _atomic_write(Path(layers_parquet), lambda p: lay.to_parquet(p, index=False))


def aggregate(
    record_paths: Iterable[str | os.PathLike[str]],
    parquet: str | os.PathLike[str],
    csv: str | os.PathLike[str] | None = None,
    layers_parquet: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """Read the records, build and write the tables; returns the grid table."""
    paths = [str(p) for p in record_paths]
    if not paths:
        raise RecordError("no run records given")
    records = [load_record(p) for p in paths]
    grid, layers = build_tables(records, paths)
    write_tables(grid, layers, parquet, csv, layers_parquet)
    return grid
