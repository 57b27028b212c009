"""Tables and figures of the accuracy study (``jitq train`` records, contract G).

:func:`load_accuracy` turns the per-format JSON records into one row per run, with the final validation
loss and its gap to the FP32 run of the same study (same preset, steps, seed and corpus: only those are
comparable).  :func:`plot_loss_curves` draws the validation curves and the gaps.  The dashboard calls
both; ``python -m harness.report.accuracy table|figure`` runs them from the workflow.

Read docs/accuracy.md before quoting the numbers: a ~0.1M-parameter byte-level model trained for a few
hundred steps is an indication of a format's numerical behaviour, not the Microscaling paper's benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

BASELINE_ORDER: tuple[str, ...] = ("fp32", "bf16")
MX_ORDER: tuple[str, ...] = (
    "MXFP8_E4M3", "MXFP8_E5M2", "MXFP6_E3M2", "MXFP6_E2M3", "MXFP4_E2M1", "MXINT8", "MX9", "MX6", "MX4",
)
#: Runs whose losses may be compared: the same study settings on the same corpus.
STUDY_KEYS: tuple[str, ...] = ("preset", "steps", "seed", "corpus_sha256")

#: Columns of :func:`load_accuracy` (one row per run), in order; documented in docs/accuracy.md.
COLUMNS: tuple[str, ...] = (
    "format", "backward_format", "mode", "preset", "steps", "steps_done", "seed",
    "final_val_loss", "final_train_loss", "val_loss_gap_to_fp32", "val_loss_gap_pct",
    "val_loss_gap_to_bf16", "diverged", "bits_per_element", "n_params", "tokens_per_step",
    "wall_s", "tokens_per_s", "threads", "corpus_sha256", "torch_version",
    "val_steps", "val_loss", "train_loss", "path",
)


class AccuracyError(ValueError):
    """A record is missing or malformed (the message names the file)."""


def _bits(fmt: str) -> float | None:
    if fmt == "fp32":
        return 32.0
    if fmt == "bf16":
        return 16.0
    try:
        from harness.mx import FORMATS
    except ImportError:  # pragma: no cover - harness.mx is part of the package
        return None
    spec = FORMATS.get(fmt)
    return float(spec.bits_per_element) if spec is not None else None


def _read(path: str | os.PathLike[str]) -> dict[str, Any]:
    p = Path(path)
    try:
        rec = json.loads(p.read_text())
    except FileNotFoundError as e:
        raise AccuracyError(f"{p}: no such accuracy record") from e
    except json.JSONDecodeError as e:
        raise AccuracyError(f"{p}: not valid JSON ({e})") from e
    for key in ("format", "final_val_loss", "val_steps", "val_loss", "train_loss", "steps", "seed"):
        if key not in rec:
            raise AccuracyError(f"{p}: not a jitq train record (no '{key}')")
    return rec


def _order(fmt: str) -> int:
    order = (*BASELINE_ORDER, *MX_ORDER)
    return order.index(fmt) if fmt in order else len(order)


def load_accuracy(paths: Iterable[str | os.PathLike[str]]) -> pd.DataFrame:
    """One row per ``jitq train`` record; columns :data:`COLUMNS`.

    ``val_loss_gap_to_fp32`` = final_val_loss − the FP32 run's final_val_loss within the same study
    (``STUDY_KEYS``), in nats/byte (positive = worse than FP32); ``val_loss_gap_pct`` the same as a
    percentage of the FP32 loss.  NaN where the study has no FP32 run or the run diverged.
    """
    import pandas as pd

    rows = []
    for path in paths:
        r = _read(path)
        rows.append({
            "format": r["format"],
            "backward_format": r.get("backward_format"),
            "mode": r.get("mode"),
            "preset": r.get("preset", ""),
            "steps": int(r["steps"]),
            "steps_done": int(r.get("steps_done", len(r["train_loss"]))),
            "seed": int(r["seed"]),
            "final_val_loss": r["final_val_loss"],
            "final_train_loss": r.get("final_train_loss"),
            "diverged": bool(r.get("diverged", r["final_val_loss"] is None)),
            "bits_per_element": _bits(r["format"]),
            "n_params": r.get("n_params"),
            "tokens_per_step": r.get("tokens_per_step"),
            "wall_s": r.get("wall_s"),
            "tokens_per_s": r.get("tokens_per_s"),
            "threads": r.get("threads"),
            "corpus_sha256": r.get("corpus_sha256", ""),
            "torch_version": (r.get("versions") or {}).get("torch"),
            "val_steps": [int(s) for s in r["val_steps"]],
            "val_loss": [None if v is None else float(v) for v in r["val_loss"]],
            "train_loss": [None if v is None else float(v) for v in r["train_loss"]],
            "path": str(path),
        })
    df = pd.DataFrame(rows, columns=[c for c in COLUMNS if c not in (
        "val_loss_gap_to_fp32", "val_loss_gap_pct", "val_loss_gap_to_bf16")])
    for col in ("final_val_loss", "final_train_loss", "bits_per_element", "wall_s", "tokens_per_s"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    df["val_loss_gap_to_fp32"] = _gap(df, "fp32")
    df["val_loss_gap_pct"] = 100.0 * df["val_loss_gap_to_fp32"] / (df["final_val_loss"] - df["val_loss_gap_to_fp32"])
    df["val_loss_gap_to_bf16"] = _gap(df, "bf16")
    df = df.assign(_o=df["format"].map(_order)).sort_values(["_o", "format", "backward_format", "preset"],
                                                            kind="stable", na_position="first")
    return df.drop(columns="_o").reset_index(drop=True)[list(COLUMNS)]


def _gap(df: pd.DataFrame, baseline: str) -> pd.Series:
    import pandas as pd

    if df.empty:
        return pd.Series(dtype="float64")
    base = df[df["format"] == baseline].drop_duplicates(list(STUDY_KEYS), keep="last")
    ref = df[list(STUDY_KEYS)].merge(
        base[[*STUDY_KEYS, "final_val_loss"]].rename(columns={"final_val_loss": "_ref"}),
        on=list(STUDY_KEYS), how="left",
    )["_ref"].set_axis(df.index)
    return (df["final_val_loss"] - ref).astype("float64")


def write_table(df: pd.DataFrame, parquet: str | os.PathLike[str], csv: str | os.PathLike[str] | None = None) -> None:
    """Parquet with the curves (list columns); CSV without them. Both written via a temporary file."""
    for path, scalar in ((parquet, False), (csv, True)):
        if path is None:
            continue
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.tmp")
        if scalar:
            df.drop(columns=["val_steps", "val_loss", "train_loss"]).to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)
        os.replace(tmp, p)


def plot_loss_curves(df: pd.DataFrame, out_png: str | os.PathLike[str], out_svg: str | os.PathLike[str] | None = None) -> None:
    """Validation loss against step for every run (left) and the final gap to FP32 in % (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if df.empty:
        raise AccuracyError("no accuracy records to plot")
    plt.rcParams["svg.hashsalt"] = "jitq"
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    cmap = plt.get_cmap("tab20")
    for i, row in enumerate(df.itertuples(index=False)):
        label = row.format if row.backward_format in (None, row.format) or _isnan(row.backward_format) \
            else f"{row.format} / {row.backward_format}"
        style = {"fp32": ("black", "-", 2.0), "bf16": ("0.45", "--", 1.6)}.get(row.format)
        color, ls, lw = style if style else (cmap(i % 20), "-", 1.2)
        ys = [float("nan") if v is None else v for v in row.val_loss]
        ax.plot(list(row.val_steps), ys, ls, color=color, lw=lw, label=label + (" (diverged)" if row.diverged else ""))
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("validation loss (nats/byte)")
    ax.set_title("Byte-level GPT on Python stdlib sources")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    mx = df[~df["format"].isin(["fp32"])]
    bx.barh(mx["format"].astype(str), mx["val_loss_gap_pct"].fillna(0.0),
            color=["0.45" if f == "bf16" else "tab:blue" for f in mx["format"]])
    for y, (v, div) in enumerate(zip(mx["val_loss_gap_pct"], mx["diverged"])):
        bx.annotate("diverged" if div else ("n/a" if v != v else f"{v:+.2f}%"), (0, y), fontsize=7,
                    xytext=(3, 0), textcoords="offset points", va="center")
    bx.axvline(0, color="black", lw=0.8)
    bx.invert_yaxis()
    bx.set_xlabel("final validation loss vs FP32 (%)")
    bx.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    for path, fmt, meta in ((out_png, "png", {"Software": None}), (out_svg, "svg", {"Date": None})):
        if path is None:
            continue
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.tmp")
        fig.savefig(tmp, format=fmt, dpi=110, bbox_inches="tight", metadata=meta)
        os.replace(tmp, p)
    plt.close(fig)


def _isnan(v: object) -> bool:
    return isinstance(v, float) and v != v


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m harness.report.accuracy table|figure --out ... RECORD.json...`` (used by the workflow)."""
    p = argparse.ArgumentParser(prog="python -m harness.report.accuracy", description=main.__doc__)
    p.add_argument("what", choices=("table", "figure"))
    p.add_argument("records", nargs="+", help="jitq train JSON records")
    p.add_argument("--out", required=True, help="table: .parquet; figure: .png")
    p.add_argument("--csv", help="table: also write this CSV (without the curves)")
    p.add_argument("--svg", help="figure: also write this SVG")
    args = p.parse_args(argv)
    try:
        df = load_accuracy(args.records)
        if args.what == "table":
            write_table(df, args.out, args.csv)
        else:
            plot_loss_curves(df, args.out, args.svg)
    except AccuracyError as e:
        print(f"accuracy: {e}", file=sys.stderr)
        return 2
    print(f"accuracy {args.what}: {len(df)} runs -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
