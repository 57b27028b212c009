"""The SLURM profile submits every job with the partition, CPUs, memory and runtime it declares.

Stand-in ``sbatch``/``sacct``/``squeue``/``scontrol``/``sinfo``/``srun`` scripts on PATH play a cluster:
``sbatch`` records its command line, hands out job ids and runs the wrapped job;
``sacct``/``squeue`` report RUNNING until the job's exit status exists, then COMPLETED or FAILED. The
workflow (a tiny grid) then runs through snakemake-executor-plugin-slurm exactly as on a cluster.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
pytest.importorskip("snakemake")
pytest.importorskip("snakemake_executor_plugin_slurm")

PY = sys.executable

SBATCH = f"""#!{PY}
import os, re, shlex, subprocess, sys
from pathlib import Path
state = Path(os.environ["FAKE_SLURM_DIR"])
with open(state / "sbatch.log", "a") as f:
    f.write(shlex.join(sys.argv[1:]) + "\\n")
counter = state / "next_id"
jobid = int(counter.read_text()) if counter.exists() else 1000
counter.write_text(str(jobid + 1))
args = sys.argv[1:]
wrap = next((a[len("--wrap="):] for a in args if a.startswith("--wrap=")), None)
if wrap is None:
    wrap = sys.stdin.read()
workdir = args[args.index("-D") + 1] if "-D" in args else os.getcwd()
name = args[args.index("--job-name") + 1]
(state / f"{{jobid}}.name").write_text(name)
env = dict(os.environ, SLURM_JOB_ID=str(jobid), SLURM_JOBID=str(jobid))
# The job runs to its end before sbatch returns: the first status query already sees it finished, which
# keeps the plugin's status polling at its shortest interval (a real cluster would queue it instead).
with open(state / f"{{jobid}}.out", "w") as log:
    rc = subprocess.run(["/bin/sh", "-c", wrap], cwd=workdir, env=env, stdout=log,
                        stderr=subprocess.STDOUT).returncode
(state / f"{{jobid}}.rc").write_text(str(rc))
print(jobid)
"""

STATUS = f"""#!{PY}
import sys
from pathlib import Path
import os
state = Path(os.environ["FAKE_SLURM_DIR"])
for name in sorted(state.glob("*.name")):
    jobid = name.stem
    rc = state / f"{{jobid}}.rc"
    if rc.exists() and rc.read_text().strip():
        st = "COMPLETED" if rc.read_text().strip() == "0" else "FAILED"
    else:
        st = "RUNNING"
    print(f"{{jobid}}|{{st}}")
"""

SRUN = """#!/bin/sh
# srun stand-in: drop srun's own options, run the rest (the job step) here.
while [ $# -gt 0 ]; do case "$1" in -*) shift ;; "") shift ;; *) break ;; esac; done
exec "$@"
"""

SCONTROL = """#!/bin/sh
echo "MinJobAge               = 300 sec"
"""

SINFO = """#!/bin/sh
echo "PARTITION"
echo "short*"
echo "standard"
"""


def _install_fake_slurm(bin_dir: Path) -> None:
    bin_dir.mkdir(parents=True)
    for name, text in {"sbatch": SBATCH, "sacct": STATUS, "squeue": STATUS, "srun": SRUN,
                       "scontrol": SCONTROL, "sinfo": SINFO}.items():
        p = bin_dir / name
        p.write_text(text)
        p.chmod(0o755)


def _resources_by_rule(sbatch_lines: list[str]) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for line in sbatch_lines:
        argv = shlex.split(line)
        comment = argv[argv.index("--comment") + 1]
        rule = re.match(r"rule_(\w+?)(_wildcards_.*)?$", comment).group(1)
        got = {
            "partition": argv[argv.index("-p") + 1] if "-p" in argv else None,
            "mem": argv[argv.index("--mem") + 1] if "--mem" in argv else None,
            "time": argv[argv.index("-t") + 1] if "-t" in argv else None,
            "cpus": next((a.split("=", 1)[1] for a in argv if a.startswith("--cpus-per-task=")), None),
        }
        out.setdefault(rule, []).append(got)
    return out


@pytest.mark.slow
def test_slurm_profile_submits_declared_resources(tmp_path: Path) -> None:
    fake = tmp_path / "slurm"
    _install_fake_slurm(fake / "bin")
    work = tmp_path / "work"
    work.mkdir()
    (work / "grid.yaml").write_text(textwrap.dedent("""\
        models: [gpt2-tiny]
        formats: [MXFP8_E4M3]
        schemes: [stored]
        capture: {mode: real, batch: 2, seq: 32}
        accuracy: {default_run: false}
        """))
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(fake / "bin"), str(Path(PY).parent), env.get("PATH", "")])
    env["FAKE_SLURM_DIR"] = str(fake)
    cmd = [
        PY, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(work),
        "--profile", str(REPO / "profiles" / "slurm"), "--configfile", str(work / "grid.yaml"),
        "--slurm-init-seconds-before-status-checks", "1", "--latency-wait", "5", "--retries", "0",
        # One job of each kind up to a figure (capture, run_cell, aggregate, figure): every job costs a
        # Snakemake start on the "node", so the whole grid would be slow for CI; the other figure rules
        # and the dashboard are declared the same way.
        "results/figures/memory_by_category.png",
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)
    logs = "".join(p.read_text() for p in sorted(fake.glob("*.out")))
    assert proc.returncode == 0, proc.stderr[-4000:] + "\n--- job output ---\n" + logs[-4000:]
    assert (work / "results" / "figures" / "memory_by_category.png").is_file()

    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    declared = profile["set-resources"]
    submitted = _resources_by_rule((fake / "sbatch.log").read_text().splitlines())
    assert set(submitted) == {"capture", "run_cell", "aggregate", "figure_memory_by_category"}
    assert all(len(lines) == 1 for lines in submitted.values())
    for rule, lines in submitted.items():
        want = declared[rule]
        for got in lines:
            assert got["partition"] == want["slurm_partition"], (rule, got)
            assert got["mem"] == str(want["mem_mb"]), (rule, got)
            assert got["time"] == str(want["runtime"]), (rule, got)
            assert got["cpus"] == str(want["cpus_per_task"]), (rule, got)
