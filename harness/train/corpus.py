"""The training corpus: the Python standard library's own sources, so the study needs no download.

The file list is fixed (sorted relative paths, test suites and third-party packages excluded) and cut at
a byte cap, and its SHA-256 is recorded with every run: two runs are comparable only when that hash
matches (a different Python version ships different sources, hence a different corpus).
"""

from __future__ import annotations

import hashlib
import os
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Directories skipped anywhere in a stdlib path: test suites (huge, repetitive), installed
#: third-party packages, and bytecode caches.
_SKIP_DIRS = frozenset({"site-packages", "dist-packages", "test", "tests", "__pycache__", "idle_test"})

#: Separator written before each file: a readable boundary the model learns to predict.
_HEADER = "\n# ==== {path} ====\n"


@dataclass(frozen=True)
class Corpus:
    """Byte-level corpus with a fixed train/validation split (validation = the last ``val_fraction``)."""

    data: np.ndarray  # uint8, the whole corpus
    sha256: str
    n_files: int
    source: str  # the stdlib directory it was read from
    val_fraction: float

    @property
    def split_index(self) -> int:
        return int(len(self.data) * (1.0 - self.val_fraction))

    @property
    def train(self) -> np.ndarray:
        return self.data[: self.split_index]

    @property
    def val(self) -> np.ndarray:
        return self.data[self.split_index :]

    def describe(self) -> dict:
        """Fields for a run record."""
        return {
            "corpus_sha256": self.sha256,
            "corpus_bytes": int(len(self.data)),
            "corpus_files": self.n_files,
            "corpus_source": "python-stdlib",
            "corpus_python_stdlib": self.source,
            "val_fraction": self.val_fraction,
            "train_bytes": int(self.split_index),
            "val_bytes": int(len(self.data) - self.split_index),
        }


def stdlib_sources(root: Path | None = None) -> list[Path]:
    """The stdlib's ``.py`` files in a fixed order (sorted POSIX relative paths)."""
    root = Path(root or sysconfig.get_paths()["stdlib"])
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS]
        files.extend(Path(dirpath) / f for f in filenames if f.endswith(".py"))
    return sorted((p for p in files if p.is_file()), key=lambda p: p.relative_to(root).as_posix())


def load_corpus(max_bytes: int = 2_000_000, val_fraction: float = 0.1, root: Path | None = None) -> Corpus:
    """Concatenate stdlib sources (each behind a path header) until ``max_bytes``; cut exactly there."""
    if max_bytes < 4096:
        raise ValueError(f"max_bytes must be at least 4096, got {max_bytes}")
    if not 0.0 < val_fraction < 0.5:
        raise ValueError(f"val_fraction must be in (0, 0.5), got {val_fraction}")
    root = Path(root or sysconfig.get_paths()["stdlib"])
    chunks: list[bytes] = []
    total = 0
    n_files = 0
    for path in stdlib_sources(root):
        if total >= max_bytes:
            break
        chunk = _HEADER.format(path=path.relative_to(root).as_posix()).encode() + path.read_bytes()
        chunks.append(chunk)
        total += len(chunk)
        n_files += 1
    blob = b"".join(chunks)[:max_bytes]
    if len(blob) < max_bytes:
        raise ValueError(f"the stdlib at {root} holds only {len(blob)} bytes of sources (< {max_bytes})")
    data = np.frombuffer(blob, dtype=np.uint8).copy()
    return Corpus(data, hashlib.sha256(blob).hexdigest(), n_files, str(root), val_fraction)
