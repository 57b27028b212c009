"""Where the harness finds its data files (configs, sample traces).

The YAML presets live in the repository's top-level ``configs/`` so that users can read and edit them
next to the Snakefile. A development (editable) install reads them there; a wheel carries a copy under
``harness/configs`` (installed by ext/CMakeLists.txt). ``JITQ_CONFIG_DIR`` overrides both.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent


def config_dir() -> Path:
    """The directory holding ``dram/``, ``gpus/``, ``recipes/``... presets."""
    env = os.environ.get("JITQ_CONFIG_DIR")
    if env:
        return Path(env)
    for candidate in (REPO_DIR / "configs", PACKAGE_DIR / "configs"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"no configs directory found (looked in {REPO_DIR / 'configs'} and {PACKAGE_DIR / 'configs'}); "
        "set JITQ_CONFIG_DIR"
    )


def preset_path(kind: str, name_or_path: str | os.PathLike[str]) -> Path:
    """Resolve a preset given by name (``hbm3`` -> ``configs/dram/hbm3.yaml``) or by path.

    Raises ``FileNotFoundError`` naming the presets that do exist, so a typo is easy to fix.
    """
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.is_file():
            raise FileNotFoundError(f"{kind} preset file not found: {p}")
        return p
    d = config_dir() / kind
    f = d / f"{name_or_path}.yaml"
    if not f.is_file():
        known = sorted(x.stem for x in d.glob("*.yaml")) if d.is_dir() else []
        raise FileNotFoundError(f"unknown {kind} preset {str(name_or_path)!r}; known: {', '.join(known) or 'none'}")
    return f


def list_presets(kind: str) -> list[str]:
    d = config_dir() / kind
    return sorted(x.stem for x in d.glob("*.yaml")) if d.is_dir() else []
