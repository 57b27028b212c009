"""Shared pytest fixtures (keep small: several helpers append here)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def memsim():  # type: ignore[no-untyped-def]
    """`harness.memsim` with the contract-A API (load_config, simulate); the DRAM tests need it.
    A missing API is a failure, not a skip: these tests are the simulator's acceptance."""
    from harness import memsim

    missing = [n for n in ("load_config", "simulate") if not hasattr(memsim, n)]
    assert not missing, f"harness.memsim lacks {missing} (contract A)"
    return memsim
