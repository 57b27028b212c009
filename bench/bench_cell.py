"""Time of one grid cell (``harness.jitq.run_cell``) for GPT-2 124M and GPT-3 175B, and the share spent
in the DRAM simulator. Targets (issue 6): 10 s and 60 s on the 2-core development machine.

The fake-mode capture is timed separately (it is cached and shared by every cell of a model); the cell
time is ``run_cell`` on the cached trace with the jitq-pim scheme (the most expensive one).

    python bench/bench_cell.py [--dram hbm3] [--gpu h100-sxm] [--models gpt2-124m,gpt3-175b]
    python bench/bench_cell.py --reproduction   # every figure of docs/reproduction.md (~10 min)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from harness.jitq import cell

SHAPES = {"gpt2-124m": (8, 1024), "gpt3-175b": (1, 2048)}
TARGET_S = {"gpt2-124m": 10.0, "gpt3-175b": 60.0}


def _line(tag: str, r: dict) -> None:
    print(f"{tag:44s} saving {r['capacity_saving_pct']:6.2f}%  loss vs stored {r['throughput_loss_pct']:7.3f}%  "
          f"vs ideal {r['throughput_loss_vs_ideal_pct']:7.3f}%  keeps up {r['pim_keeps_up']}  "
          f"stall {r['pim_stall_s']:.2e} s  PIM {r['pim_time_total_s']:.2e} s  GEMM {sum(r['layer_gemm_s']):.2e} s  "
          f"activations {100 * r['bytes_activations'] / r['peak_bytes']:.0f}% of peak", flush=True)


def reproduction() -> None:
    """The cells behind docs/reproduction.md: captures of GPT-2 124M / GPT-3 175B, synthetic GPT-2 1.5B and
    GPT-3 175B at two batch sizes under each recipe, format, PIM command interval and GPU."""
    from harness.jitq.synthetic import gpt_trace

    ckpt = Path(tempfile.mkdtemp()) / "paper-jitq-ckpt.yaml"
    text = Path("configs/recipes/paper-jitq.yaml").read_text()
    ckpt.write_text(text.replace("activation_checkpointing: false", "activation_checkpointing: true")
                    .replace("name: paper-jitq", "name: paper-jitq-ckpt"))
    for model, (b, s) in SHAPES.items():
        trace = cell._fake_capture(model, b, s, progress=False)
        for sc in ("jitq-pim", "jitq-gpu"):
            _line(f"{model} capture {b}x{s} {sc}",
                  cell.run_cell(model=model, format="MX9", scheme=sc, gpu="h100-sxm", dram="hbm3", trace=trace))
    shapes = [("gpt2-1.5b", (48, 1600, 25, 50257)), ("gpt3-175b", (96, 12288, 96, 50257))]
    for name, dims in shapes:
        for b in (1, 8):
            s = 1024 if name == "gpt2-1.5b" else 2048
            tr = gpt_trace(*dims, b, s)
            tag = f"{name} synthetic {b}x{s}"

            def run(**kw):
                args = dict(model=name, format="MX9", scheme="jitq-pim", gpu="h100-sxm", dram="hbm3", trace_data=tr)
                return cell.run_cell(**{**args, **kw})

            for rec in ("paper-jitq", str(ckpt), "mx-directional", "zero"):
                for sc in (("jitq-pim", "jitq-gpu") if rec == "paper-jitq" else ("jitq-pim",)):
                    _line(f"{tag} {Path(rec).stem} {sc}", run(recipe=rec, scheme=sc))
            for fmt in ("MXFP8_E4M3", "MXFP4_E2M1"):
                _line(f"{tag} {fmt}", run(format=fmt))
            for ci in (8, 16, 64, 256):
                _line(f"{tag} command_interval={ci}", run(dram_overrides=[f"pim.command_interval={ci}"]))
            if b == 8:
                for g, d in (("a100-80gb", "hbm2e"), ("mi300x", "hbm3")):
                    _line(f"{tag} {g}", run(gpu=g, dram=d))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dram", default="hbm3")
    ap.add_argument("--gpu", default="h100-sxm")
    ap.add_argument("--format", default="MX9")
    ap.add_argument("--models", default="gpt2-124m,gpt3-175b")
    ap.add_argument("--reproduction", action="store_true", help="print every figure of docs/reproduction.md")
    a = ap.parse_args()
    if a.reproduction:
        reproduction()
        return
    for model in a.models.split(","):
        b, s = SHAPES[model]
        t0 = time.perf_counter()
        trace = cell._fake_capture(model, b, s, progress=False)
        t_cap = time.perf_counter() - t0
        t0 = time.perf_counter()
        r = cell.run_cell(model=model, format=a.format, scheme="jitq-pim", gpu=a.gpu, dram=a.dram, trace=trace)
        t_cell = time.perf_counter() - t0
        sim = cell.PROFILE.get("simulator_s", 0.0)
        print(f"{model}: cell {t_cell:.2f} s (target {TARGET_S[model]:.0f} s), simulator {sim:.2f} s "
              f"({100 * sim / t_cell:.0f}%), capture (cached after first run) {t_cap:.1f} s, "
              f"dram_model={r['dram_model']} pim_model={r['pim_model']}, windows simulated "
              f"{r['dram_windows_simulated']}, requests {r['dram_requests_simulated']}; "
              f"saving {r['capacity_saving_pct']:.2f}%, loss {r['throughput_loss_pct']:.3f}% "
              f"(vs ideal {r['throughput_loss_vs_ideal_pct']:.3f}%)")


if __name__ == "__main__":
    main()
