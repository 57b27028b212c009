"""``jitq sim``: runs a LoadStoreTrace, prints stats (text / JSON), writes a command log, and fails
cleanly (message, non-zero exit, nothing written) on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main


@pytest.fixture()
def trace(tmp_path: Path) -> Path:
    p = tmp_path / "t.trace"
    p.write_text("".join(f"{'ST' if i % 5 == 0 else 'LD'} {i * 32:#x}\n" for i in range(500)))
    return p


def test_sim_json_and_log(trace: Path, tmp_path: Path, capsys) -> None:
    log = tmp_path / "cmds.csv"
    rc = main(["sim", "--dram", "hbm3", "--trace", str(trace), "--json", "--command-log", str(log),
               "--set", "channels=2", "--set", "nCL=22"])
    assert rc == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["reads"] == 400 and stats["writes"] == 100 and stats["channels"] == 2
    assert stats["accept_cycles"] <= stats["cycles"]
    lines = log.read_text().splitlines()
    assert lines[0].startswith("cycle,command,channel,pseudochannel,bankgroup,bank,row,column")
    assert len(lines) - 1 == sum(stats["commands"].values())
    assert {ln.split(",")[2] for ln in lines[1:]} == {"0", "1"}


def test_sim_text_output(trace: Path, capsys) -> None:
    assert main(["sim", "--dram", "configs/dram/ddr4.yaml", "--trace", str(trace)]) == 0
    out = capsys.readouterr().out
    assert "DDR4" in out and "accept_cycles" in out and "bandwidth_GBps" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dram", "nosuch"], "unknown dram preset"),
        (["--set", "bogus=1"], "unknown config key 'bogus'"),
        (["--set", "nRP=1.5"], "must be int"),
    ],
)
def test_sim_config_errors(trace: Path, tmp_path: Path, capsys, args, message) -> None:
    log = tmp_path / "out.csv"
    base = ["sim", "--dram", "hbm3", "--trace", str(trace), "--command-log", str(log)]
    if args[0] == "--dram":
        base[2] = args[1]
        args = []
    rc = main(base + args)
    assert rc != 0
    assert message in capsys.readouterr().err
    assert not log.exists()


def test_sim_bad_trace_and_capacity(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.trace"
    bad.write_text("LD 0x40\nLOAD 0x80\n")
    log = tmp_path / "out.csv"
    assert main(["sim", "--dram", "hbm3", "--trace", str(bad), "--command-log", str(log)]) != 0
    assert "bad.trace:2:" in capsys.readouterr().err
    big = tmp_path / "big.trace"
    big.write_text("LD 0x0\nST 0x40000000\n")
    assert main(["sim", "--dram", "hbm3", "--trace", str(big), "--command-log", str(log)]) != 0
    assert "beyond the capacity" in capsys.readouterr().err
    assert not log.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["bad.trace", "big.trace"]
    assert main(["sim", "--dram", "hbm3", "--trace", str(big), "--set", "address_overflow=wrap"]) == 0


def test_sim_console_script(trace: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "harness.cli", "sim", "--dram", "hbm2e", "--trace", str(trace), "--json"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["standard"] == "HBM2E"
    r = subprocess.run([sys.executable, "-m", "harness.cli", "sim", "--dram", "hbm3", "--trace", "/nonexistent"],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "not found" in r.stderr
