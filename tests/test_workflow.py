"""The Snakemake grid: dry run and lint of the default grid, config validation, and a tiny grid run end to
end (interrupted by a hard kill, resumed, then checked: tables, figures, dashboard, report, no work on a
second run, only the affected jobs after a config change).

Runs Snakemake in subprocesses with a temporary working directory, so the repository's own ``results/``
and ``traces/`` are never touched.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

pytest.importorskip("snakemake")

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
SCHEMA = REPO / "workflow" / "schemas" / "grid.schema.yaml"

TINY = {
    "models": ["gpt2-tiny"],
    "formats": ["MXFP8_E4M3", "MX6"],
    "schemes": ["stored", "jitq-gpu", "jitq-pim"],
    "capture": {"mode": "real", "batch": 2, "seq": 32},
    # A few steps of the accuracy study, so that its table and figure reach the dashboard.
    "accuracy": {"formats": ["MX6"], "baselines": ["fp32"], "short": {"preset": "tiny", "steps": 4, "eval_every": 2}},
}
REQUIRED = ["model", "format", "scheme", "gpu", "dram", "recipe", "peak_bytes", "capacity_saving_pct",
            "iteration_s", "tokens_per_s", "throughput_loss_pct"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # `jitq` and `snakemake` of this interpreter's environment come first on PATH.
    env["PATH"] = os.pathsep.join([str(Path(PY).parent), env.get("PATH", "")])
    return env


def smk(work: Path, *args: str, config: Path | None = None, timeout: float = 600,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = [PY, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(work),
           "--profile", str(REPO / "profiles" / "default"), "--cores", "2"]
    if config is not None:
        cmd += ["--configfile", str(config)]
    proc = subprocess.run([*cmd, *args], env=_env(), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


def planned_jobs(output: str) -> dict[str, int]:
    """Job counts from Snakemake's 'Job stats' table (dry run or run)."""
    counts: dict[str, int] = {}
    m = re.search(r"Job stats:\n.*?\n-+\s+-+\n(.*?)\ntotal", output, re.S)
    if not m:
        return counts
    for line in m.group(1).splitlines():
        name, n = line.split()
        counts[name] = int(n)
    return counts


def write_config(path: Path, cfg: dict) -> Path:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


# --- default grid: dry run and lint ----------------------------------------------------------------

def test_default_grid_dry_run(tmp_path: Path) -> None:
    proc = smk(tmp_path, "-n", config=REPO / "configs" / "grid.yaml")
    jobs = planned_jobs(proc.stdout + proc.stderr)
    grid = yaml.safe_load((REPO / "configs" / "grid.yaml").read_text())
    cells = len(grid["models"]) * len(grid["formats"]) * len(grid["schemes"])
    assert jobs["capture"] == len(grid["models"])
    assert jobs["run_cell"] == cells
    assert jobs["aggregate"] == 1 and jobs["dashboard"] == 1


def test_lint_is_clean(tmp_path: Path) -> None:
    proc = smk(tmp_path, "--lint", config=REPO / "configs" / "grid.yaml")
    assert "Congratulations, your workflow is in a good condition" in proc.stdout + proc.stderr


# --- config validation -----------------------------------------------------------------------------

def _validate(cfg: dict) -> dict:
    from snakemake.utils import validate

    validate(cfg, str(SCHEMA))
    return cfg


def test_schema_fills_defaults() -> None:
    cfg = _validate({"models": ["gpt2-tiny"]})
    assert cfg["schemes"] == ["stored", "jitq-gpu", "jitq-pim"]
    assert cfg["capture"]["mode"] == "fake" and cfg["capture"]["batch"] == 8
    assert cfg["report"]["memory_format"] == "MXFP8_E4M3"
    partial = _validate({"capture": {"batch": 3}})
    assert partial["capture"]["batch"] == 3 and partial["capture"]["seq"] == 1024


@pytest.mark.parametrize(
    "bad, key",
    [
        ({"formats": ["MXFP7"]}, "formats"),
        ({"models": ["gpt5"]}, "models"),
        ({"schemes": ["stored", "magic"]}, "schemes"),
        ({"capture": {"batch": 0}}, "batch"),
        ({"capture": {"mode": "imaginary"}}, "mode"),
        ({"modles": ["gpt2-tiny"]}, "modles"),
        ({"formats": []}, "formats"),
        ({"capture": {"per_model": {"gpt2-tiny": {"batch": -1}}}}, "gpt2-tiny"),
    ],
)
def test_schema_rejects_bad_values_naming_the_key(bad: dict, key: str) -> None:
    from snakemake.exceptions import WorkflowError

    with pytest.raises(WorkflowError) as err:
        _validate(bad)
    text = str(err.value)
    assert key in text, text


def test_bad_config_fails_before_any_job(tmp_path: Path) -> None:
    for cfg, key in (({**TINY, "gpus": ["h100-sxm", "tpu-v9"]}, "gpus"), ({**TINY, "formats": ["MX5"]}, "formats")):
        proc = smk(tmp_path, "-n", config=write_config(tmp_path / "bad.yaml", cfg), check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0
        assert key in out and "Job stats" not in out, out[-2000:]
    assert not (tmp_path / "results").exists()


# --- the tiny grid, end to end ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the tiny grid, kill it hard mid-grid, check nothing half-written is left, resume to the end."""
    work = tmp_path_factory.mktemp("grid")
    config = write_config(work / "tiny.yaml", TINY)
    cmd = [PY, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(work), "--profile",
           str(REPO / "profiles" / "default"), "--cores", "2", "--configfile", str(config)]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    runs = work / "results" / "runs"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if runs.is_dir() and any(runs.rglob("*.json")):
            break
        time.sleep(0.2)
    killed_mid_grid = proc.poll() is None
    if killed_mid_grid:
        os.killpg(proc.pid, signal.SIGKILL)  # snakemake and its running jobs, as a crash would
    out, _ = proc.communicate(timeout=60)
    assert killed_mid_grid, f"the run ended before it could be interrupted:\n{out[-5000:]}"
    # Whatever a killed job left behind is either absent or complete: records are written atomically.
    for rec in runs.rglob("*.json"):
        json.loads(rec.read_text())
    done_before = len(list(runs.rglob("*.json")))
    assert done_before < 6, "every cell was done before the interruption"

    smk(work, "--unlock", config=config)  # a hard kill leaves Snakemake's lock behind
    resumed = smk(work, config=config)
    jobs = planned_jobs(resumed.stdout + resumed.stderr)
    assert jobs.get("run_cell", 0) <= 6 - done_before + 1  # finished cells are not redone
    return work


def test_tiny_grid_tables(tiny_run: Path) -> None:
    import pandas as pd

    grid = pd.read_parquet(tiny_run / "results" / "grid.parquet")
    csv = pd.read_csv(tiny_run / "results" / "grid.csv")
    assert len(grid) == len(csv) == 2 * 3
    assert set(grid["scheme"]) == set(TINY["schemes"]) and set(grid["format"]) == set(TINY["formats"])
    for col in REQUIRED:
        assert col in grid.columns, col
        assert grid[col].notna().all(), col
    assert any(c.startswith("bytes_") for c in grid.columns)
    stored = grid[grid["scheme"] == "stored"]
    assert (stored["capacity_saving_pct"].abs() < 1e-9).all()
    for rec in (tiny_run / "results" / "runs").rglob("*.json"):
        parts = dict(p.split("=", 1) for p in rec.with_suffix("").relative_to(tiny_run / "results" / "runs").parts)
        assert set(parts) == {"model", "format", "scheme", "gpu", "dram", "recipe"}


def test_tiny_grid_figures_dashboard_benchmarks(tiny_run: Path) -> None:
    from harness.report.figures import FIGURE_NAMES

    figs = tiny_run / "results" / "figures"
    for name in FIGURE_NAMES:
        for ext in ("png", "svg"):
            assert (figs / f"{name}.{ext}").stat().st_size > 1000, (name, ext)
    page = (tiny_run / "results" / "dashboard.html").read_text()
    assert "headline-table" in page and "grid-table" in page
    assert page.count("data:image/png;base64,") >= len(FIGURE_NAMES)
    assert "http://" not in page and "https://" not in page
    assert "final val loss" in page and "loss_curves" in page
    bench = tiny_run / "results" / "benchmarks"
    assert len(list((bench / "run_cell").rglob("*.tsv"))) == 6
    assert (bench / "aggregate.tsv").is_file() and (bench / "dashboard.tsv").is_file()


def test_second_run_does_nothing(tiny_run: Path) -> None:
    proc = smk(tiny_run, config=tiny_run / "tiny.yaml")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_config_change_reruns_only_affected_jobs(tiny_run: Path) -> None:
    # A third format: three new cells, then the report steps; no capture, no existing cell.
    more = write_config(tiny_run / "more.yaml", {**TINY, "formats": [*TINY["formats"], "MXFP4_E2M1"]})
    jobs = planned_jobs(smk(tiny_run, "-n", config=more).stdout)
    assert jobs.get("run_cell") == 3 and "capture" not in jobs
    assert jobs.get("aggregate") == 1 and jobs.get("dashboard") == 1
    # The format shown in the memory figure: that figure and the dashboard only.
    fig = write_config(tiny_run / "fig.yaml", {**TINY, "report": {"memory_format": "MX6"}})
    jobs = planned_jobs(smk(tiny_run, "-n", config=fig).stdout)
    assert set(jobs) == {"figure_memory_by_category", "dashboard", "all"}, jobs


def test_snakemake_report(tiny_run: Path) -> None:
    out = tiny_run / "results" / "report.html"
    smk(tiny_run, "--report", str(out), config=tiny_run / "tiny.yaml")
    text = out.read_text(errors="replace")
    assert "memory_by_category" in text and "pim_keeps_up" in text
