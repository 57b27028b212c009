"""The package installs, its compiled modules import, and the CLI answers."""

import subprocess
import sys

import harness


def test_compiled_modules_import() -> None:
    from harness import _dram, _mx

    assert _dram.__version__ == harness.__version__
    assert _mx.__version__ == harness.__version__


def test_cli_help_lists_sim() -> None:
    out = subprocess.run([sys.executable, "-m", "harness.cli", "--help"], capture_output=True, text=True, check=True)
    assert "sim" in out.stdout
