"""The trace format (contract E): column names and dtypes of each table, the reader that validates
them, and the atomic writer. Kept free of torch so that consumers of traces need only pandas."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

SCHEMA_VERSION = 1

# kind per column: "int" (int64), "str", "bool". Extra columns are allowed; these are required.
OPS_COLUMNS: dict[str, str] = {
    "op_id": "int", "step": "int", "name": "str", "phase": "str", "module": "str", "flops": "int",
}
ACCESSES_COLUMNS: dict[str, str] = {
    "op_id": "int", "tensor_id": "int", "role": "str", "offset": "int", "nbytes": "int",
    "address": "int", "dtype": "str", "shape": "str", "strides": "str",
}
TENSORS_COLUMNS: dict[str, str] = {
    "tensor_id": "int", "nbytes": "int", "base_address": "int", "category": "str", "param_name": "str",
    "first_op": "int", "last_op": "int", "persistent": "bool",
}
TABLES: dict[str, dict[str, str]] = {
    "ops.parquet": OPS_COLUMNS, "accesses.parquet": ACCESSES_COLUMNS, "tensors.parquet": TENSORS_COLUMNS,
}
HEADER_KEYS = ("schema_version", "model", "recipe", "torch_version", "mode", "command_line", "n_params")
RECIPE_KEYS = ("batch", "seq", "optimizer", "master_dtype", "grad_dtype", "mx_forward", "mx_backward", "steps")
PHASES = ("forward", "backward", "optimizer")
ROLES = ("read", "write", "view")
CATEGORIES = ("parameter", "gradient", "optimizer_state", "activation", "input", "mx_copy", "other")


class TraceError(ValueError):
    """A trace directory that is missing, malformed, or written by a newer schema version."""


@dataclass
class Trace:
    """One captured run: ``header`` (dict) and the three tables."""

    header: dict[str, Any]
    ops: pd.DataFrame
    accesses: pd.DataFrame
    tensors: pd.DataFrame
    path: Path | None = None


def _check_kind(series: pd.Series, kind: str) -> bool:
    if kind == "int":
        return pd.api.types.is_integer_dtype(series.dtype) and series.dtype.itemsize == 8
    if kind == "bool":
        return pd.api.types.is_bool_dtype(series.dtype)
    return pd.api.types.is_string_dtype(series.dtype) or series.dtype == object


def validate_table(df: pd.DataFrame, columns: dict[str, str], fname: str) -> None:
    for col, kind in columns.items():
        if col not in df.columns:
            raise TraceError(f"{fname}: missing column {col!r}")
        if not _check_kind(df[col], kind):
            want = {"int": "int64", "str": "string", "bool": "bool"}[kind]
            raise TraceError(f"{fname}: column {col!r} has dtype {df[col].dtype}, expected {want}")
        if kind in ("int", "bool") and df[col].isna().any():
            raise TraceError(f"{fname}: column {col!r} has missing values")


def _check_values(df: pd.DataFrame, col: str, allowed: tuple[str, ...], fname: str) -> None:
    bad = set(df[col].unique()) - set(allowed)
    if bad:
        raise TraceError(f"{fname}: column {col!r} has unknown values {sorted(map(str, bad))[:5]}; allowed {allowed}")


def validate_header(header: Any, fname: str = "header.json") -> None:
    if not isinstance(header, dict):
        raise TraceError(f"{fname}: expected a JSON object")
    for k in HEADER_KEYS:
        if k not in header:
            raise TraceError(f"{fname}: missing key {k!r}")
    v = header["schema_version"]
    if not isinstance(v, int) or isinstance(v, bool):
        raise TraceError(f"{fname}: schema_version must be an integer, got {v!r}")
    if v > SCHEMA_VERSION:
        raise TraceError(f"{fname}: schema_version {v} is newer than this reader ({SCHEMA_VERSION}); update the harness")
    if v < 1:
        raise TraceError(f"{fname}: schema_version {v} is not a valid version")
    if header["mode"] not in ("real", "fake"):
        raise TraceError(f"{fname}: key 'mode' must be 'real' or 'fake', got {header['mode']!r}")
    if not isinstance(header["recipe"], dict):
        raise TraceError(f"{fname}: key 'recipe' must be an object")
    for k in RECIPE_KEYS:
        if k not in header["recipe"]:
            raise TraceError(f"{fname}: recipe is missing key {k!r}")


def validate_trace(trace: Trace) -> None:
    """Cross-table checks: every access names a known op and tensor, phases/roles/categories known."""
    validate_header(trace.header)
    for fname, cols in TABLES.items():
        validate_table(getattr(trace, fname.split(".")[0]), cols, fname)
    _check_values(trace.ops, "phase", PHASES, "ops.parquet")
    _check_values(trace.accesses, "role", ROLES, "accesses.parquet")
    _check_values(trace.tensors, "category", CATEGORIES, "tensors.parquet")
    n = len(trace.ops)
    if n and not (trace.ops["op_id"].to_numpy() == range(n)).all():
        raise TraceError("ops.parquet: column 'op_id' must be 0..n-1 in order")
    acc = trace.accesses
    if len(acc) and (acc["op_id"].min() < 0 or acc["op_id"].max() >= n):
        raise TraceError("accesses.parquet: column 'op_id' refers to ops that do not exist")
    if not acc["tensor_id"].isin(trace.tensors["tensor_id"]).all():
        raise TraceError("accesses.parquet: column 'tensor_id' refers to tensors missing from tensors.parquet")
    if trace.tensors["tensor_id"].duplicated().any():
        raise TraceError("tensors.parquet: column 'tensor_id' has duplicates")


def read_trace(path: str | os.PathLike[str]) -> Trace:
    """Load and validate a trace directory; raises ``TraceError`` naming the file and column at fault."""
    d = Path(path)
    if not d.is_dir():
        raise TraceError(f"{d}: not a trace directory (does not exist or is not a directory)")
    hp = d / "header.json"
    try:
        header = json.loads(hp.read_text())
    except FileNotFoundError:
        raise TraceError(f"{hp}: missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise TraceError(f"{hp}: not valid JSON ({e})") from None
    validate_header(header, str(hp))
    tables: dict[str, pd.DataFrame] = {}
    for fname, cols in TABLES.items():
        fp = d / fname
        if not fp.is_file():
            raise TraceError(f"{fp}: missing")
        try:
            df = pd.read_parquet(fp)
        except Exception as e:  # pyarrow raises several types for corrupt files
            raise TraceError(f"{fp}: cannot be read as parquet ({type(e).__name__}: {e})") from None
        validate_table(df, cols, str(fp))
        tables[fname.split(".")[0]] = df
    trace = Trace(header, tables["ops"], tables["accesses"], tables["tensors"], d)
    validate_trace(trace)
    return trace


def write_trace(trace: Trace, out: str | os.PathLike[str]) -> Path:
    """Write atomically: into a temporary sibling directory, then rename over ``out``. An existing
    ``out`` is replaced only if it is empty or a trace directory (has ``header.json``)."""
    target = Path(out)
    tmp = make_temp_dir(target)
    try:
        fill_dir(trace, tmp)
        return commit_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def check_target(target: Path) -> None:
    if target.exists():
        if not target.is_dir():
            raise TraceError(f"{target}: exists and is not a directory")
        if any(target.iterdir()) and not (target / "header.json").exists():
            raise TraceError(f"{target}: exists, is not empty and is not a trace directory; refusing to replace it")


def make_temp_dir(target: Path) -> Path:
    """Create the temporary sibling early so that an unwritable destination fails before capturing."""
    check_target(target)
    parent = target.parent if str(target.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=parent))
    except OSError as e:
        raise TraceError(f"{target}: cannot write the trace there ({e.strerror or e})") from None
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it 0700; the trace should look like any directory
    return tmp


def fill_dir(trace: Trace, d: Path) -> None:
    validate_trace(trace)
    (d / "header.json").write_text(json.dumps(trace.header, indent=2, sort_keys=True) + "\n")
    for fname in TABLES:
        df = getattr(trace, fname.split(".")[0])
        df.to_parquet(d / fname, index=False, compression="zstd")


def commit_dir(tmp: Path, target: Path) -> Path:
    check_target(target)
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.rename(target, old / "trace")
    try:
        os.rename(tmp, target)
    except OSError:
        if old is not None:
            os.rename(old / "trace", target)
            shutil.rmtree(old, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target
