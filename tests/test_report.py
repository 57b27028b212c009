"""The report steps on synthetic records: tidy tables, clear errors on bad records, headline arithmetic,
figures written as PNG and SVG."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from harness.report import figures
from harness.report.aggregate import CELL_KEYS, RecordError, aggregate, build_tables, flatten_record
from harness.report.dashboard import HEADLINE_COLUMNS, headline_table
from harness.report.synthetic import synthetic_record, synthetic_records


def test_flatten_splits_scalars_nested_and_layers() -> None:
    scalars, layers = flatten_record(
        {"a": 1, "dram": {"bw": 2.0, "commands": {"ACT": 3}}, "layers": [{"gemm_s": 1.0}, {"gemm_s": 2.0}],
         "layer_pim_s": [0.5, 0.7], "argv": ["x", "y"]}
    )
    assert scalars == {"a": 1, "dram_bw": 2.0, "dram_commands_ACT": 3, "argv": '["x", "y"]'}
    by_table = {(r["table"], r["layer_index"]): r for r in layers}
    assert by_table[("layers", 1)]["gemm_s"] == 2.0
    assert by_table[("layer", 0)]["pim_s"] == 0.5


def test_grid_table_is_tidy(tmp_path: Path) -> None:
    recs = synthetic_records()
    paths = []
    for i, r in enumerate(recs):
        p = tmp_path / f"{i}.json"
        p.write_text(json.dumps(r))
        paths.append(p)
    grid = aggregate(paths, tmp_path / "g.parquet", tmp_path / "g.csv", tmp_path / "l.parquet")
    assert len(grid) == len(recs)
    assert list(grid.columns[: len(CELL_KEYS)]) == list(CELL_KEYS)
    assert not grid.duplicated(list(CELL_KEYS)).any()
    back = pd.read_parquet(tmp_path / "g.parquet")
    assert back.shape == grid.shape
    layers = pd.read_parquet(tmp_path / "l.parquet")
    assert len(layers) == 4 * len(recs)  # four layers per synthetic cell
    assert not list(tmp_path.glob(".*.tmp"))


def test_missing_required_key_names_file_and_key(tmp_path: Path) -> None:
    rec = synthetic_record("gpt2-tiny", "MX6", "stored")
    del rec["throughput_loss_pct"]
    p = tmp_path / "cell.json"
    p.write_text(json.dumps(rec))
    with pytest.raises(RecordError, match=r"cell\.json.*throughput_loss_pct"):
        aggregate([p], tmp_path / "g.parquet")
    assert not (tmp_path / "g.parquet").exists()


def test_truncated_record_and_duplicate_cell_are_errors(tmp_path: Path) -> None:
    p = tmp_path / "half.json"
    p.write_text('{"model": "gpt2-tiny", "fo')
    with pytest.raises(RecordError, match="half.json.*not valid JSON"):
        aggregate([p], tmp_path / "g.parquet")
    rec = synthetic_record("gpt2-tiny", "MX6", "stored")
    with pytest.raises(RecordError, match="same cell"):
        build_tables([rec, dict(rec)], ["a.json", "b.json"])


def test_headline_table_pairs_schemes_and_accuracy() -> None:
    grid, _ = build_tables(synthetic_records(models=("gpt2-124m",), formats=("MXFP8_E4M3", "MX6")))
    acc = pd.DataFrame({"format": ["fp32", "MXFP8_E4M3", "MX6"], "final_val_loss": [2.0, 2.1, 2.5]})
    head = headline_table(grid, "jitq-pim", acc)
    assert len(head) == 2
    row = head.set_index("format").loc["MX6"]
    cell = grid[(grid["format"] == "MX6") & (grid["scheme"] == "jitq-pim")].iloc[0]
    assert row[HEADLINE_COLUMNS["saving"].format(scheme="jitq-pim")] == pytest.approx(cell["capacity_saving_pct"])
    assert row[HEADLINE_COLUMNS["val_gap"]] == pytest.approx(0.5)
    assert row[HEADLINE_COLUMNS["keeps_up"]] is False  # synthetic MX6 PIM time exceeds GEMM time


def test_figures_write_png_and_svg(tmp_path: Path) -> None:
    grid, layers = build_tables(synthetic_records())
    for name in ("capacity_saving_heatmap", "largest_model"):
        figures.draw(name, grid, tmp_path / f"{name}.png", tmp_path / f"{name}.svg", layers=layers)
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"<svg" in (tmp_path / f"{name}.svg").read_bytes()[:2000]


def test_figure_errors_name_what_is_missing(tmp_path: Path) -> None:
    grid, _ = build_tables(synthetic_records(schemes=("stored",)))
    with pytest.raises(figures.FigureError, match="no jitq-gpu or jitq-pim cells"):
        figures.draw("throughput_loss_heatmap", grid, tmp_path / "a.png", tmp_path / "a.svg")
    with pytest.raises(figures.FigureError, match="per-layer table"):
        figures.draw("pim_keeps_up", grid, tmp_path / "b.png", tmp_path / "b.svg")
