"""harness.report.accuracy: the accuracy table (gap to FP32 within a study) and the loss-curve figure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pd = pytest.importorskip("pandas")

from harness.report.accuracy import COLUMNS, AccuracyError, load_accuracy, main, plot_loss_curves  # noqa: E402


def _record(tmp: Path, fmt: str, final: float | None, *, bwd: str | None = None, seed: int = 0,
            preset: str = "short", diverged: bool = False) -> Path:
    curve = [5.0, 3.0, final]
    rec = {
        "format": fmt, "backward_format": bwd if bwd else (None if fmt in ("fp32", "bf16") else fmt),
        "mode": None if fmt in ("fp32", "bf16") else "jit", "preset": preset, "steps": 30, "steps_done": 30,
        "seed": seed, "corpus_sha256": "abc", "versions": {"torch": "2.x"},
        "train_loss": [5.5] * 29 + [final], "val_steps": [10, 20, 30], "val_loss": curve,
        "final_val_loss": None if diverged else final, "final_train_loss": final, "diverged": diverged,
        "n_params": 100, "tokens_per_step": 64, "wall_s": 1.0, "tokens_per_s": 10.0, "threads": 1,
    }
    path = tmp / f"{preset}-{seed}-{fmt}-{bwd}.json"
    path.write_text(json.dumps(rec))
    return path


def test_table_gaps_and_order(tmp_path: Path) -> None:
    paths = [
        _record(tmp_path, "MX4", 2.2),
        _record(tmp_path, "MXFP8_E4M3", 2.02),
        _record(tmp_path, "fp32", 2.0),
        _record(tmp_path, "bf16", 2.01),
        _record(tmp_path, "MXFP8_E4M3", 2.5, seed=1),  # another study: no fp32 run there
        _record(tmp_path, "MXFP4_E2M1", None, diverged=True),
    ]
    df = load_accuracy(paths)
    assert list(df.columns) == list(COLUMNS)
    assert list(df["format"])[:3] == ["fp32", "bf16", "MXFP8_E4M3"]
    row = df[(df["format"] == "MXFP8_E4M3") & (df["seed"] == 0)].iloc[0]
    assert row["val_loss_gap_to_fp32"] == pytest.approx(0.02)
    assert row["val_loss_gap_pct"] == pytest.approx(1.0)
    assert row["val_loss_gap_to_bf16"] == pytest.approx(0.01)
    assert row["bits_per_element"] == pytest.approx(8.25)
    assert pd.isna(df[(df["format"] == "MXFP8_E4M3") & (df["seed"] == 1)].iloc[0]["val_loss_gap_to_fp32"])
    div = df[df["format"] == "MXFP4_E2M1"].iloc[0]
    assert bool(div["diverged"]) and pd.isna(div["val_loss_gap_to_fp32"])
    assert df[df["format"] == "fp32"].iloc[0]["val_loss_gap_to_fp32"] == 0.0


def test_figure_and_cli(tmp_path: Path) -> None:
    paths = [_record(tmp_path, f, v) for f, v in (("fp32", 2.0), ("MX9", 2.01), ("MX6", 2.1))]
    plot_loss_curves(load_accuracy(paths), tmp_path / "fig" / "loss.png", tmp_path / "fig" / "loss.svg")
    assert (tmp_path / "fig" / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "fig" / "loss.svg").stat().st_size > 0
    out = tmp_path / "acc.parquet"
    assert main(["table", "--out", str(out), "--csv", str(tmp_path / "acc.csv"), *map(str, paths)]) == 0
    back = pd.read_parquet(out)
    assert list(back["val_loss"].iloc[0]) == [5.0, 3.0, 2.0]
    assert "val_loss" not in pd.read_csv(tmp_path / "acc.csv").columns


def test_bad_records(tmp_path: Path) -> None:
    with pytest.raises(AccuracyError, match="no such"):
        load_accuracy([tmp_path / "missing.json"])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "fp32"}))
    with pytest.raises(AccuracyError, match="bad.json"):
        load_accuracy([bad])
    assert main(["figure", "--out", str(tmp_path / "x.png"), str(bad)]) == 2
