"""Writing and reading run records: JSON, written atomically so a killed job leaves no half file
(Snakemake would otherwise take a truncated record for a finished one)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

REQUIRED_KEYS = (
    "format", "backward_format", "steps", "seed", "corpus_sha256", "versions",
    "train_loss", "val_steps", "val_loss", "final_val_loss",
)


def write_record(record: dict, path: str | os.PathLike) -> Path:
    """Write ``record`` as JSON to ``path`` via a temporary file in the same directory + rename."""
    missing = [k for k in REQUIRED_KEYS if k not in record]
    if missing:
        raise ValueError(f"training record lacks keys {missing}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(record, f, indent=1, allow_nan=False)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def read_record(path: str | os.PathLike) -> dict:
    """Read a record and check it has the contract's keys (a clear error names the file)."""
    path = Path(path)
    try:
        rec = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from e
    missing = [k for k in REQUIRED_KEYS if k not in rec]
    if missing:
        raise ValueError(f"{path}: not a jitq train record (missing {missing})")
    return rec

