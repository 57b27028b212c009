"""Trace files: atomic writing, reading back, the committed samples, and clear errors on bad input
(unknown models, impossible shapes, unwritable destinations, corrupt or newer traces)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from harness.capture import SCHEMA_VERSION, TraceError, read_trace
from harness.capture.schema import ACCESSES_COLUMNS, OPS_COLUMNS, TENSORS_COLUMNS

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "traces" / "samples"


def test_samples_read_and_validate() -> None:
    dirs = sorted(p for p in SAMPLES.iterdir() if p.is_dir())
    assert any(p.name == "gpt2-tiny" for p in dirs)
    for d in dirs:
        tr = read_trace(d)
        assert tr.header["schema_version"] == SCHEMA_VERSION
        assert list(tr.ops.columns[: len(OPS_COLUMNS)]) == list(OPS_COLUMNS)
        assert list(tr.accesses.columns[: len(ACCESSES_COLUMNS)]) == list(ACCESSES_COLUMNS)
        assert list(tr.tensors.columns[: len(TENSORS_COLUMNS)]) == list(TENSORS_COLUMNS)
        assert set(tr.ops.phase) == {"forward", "backward", "optimizer"}
    total = sum(f.stat().st_size for f in SAMPLES.rglob("*") if f.is_file())
    assert total < 2_500_000


@pytest.fixture()
def sample(tmp_path: Path) -> Path:
    d = tmp_path / "t"
    shutil.copytree(SAMPLES / "gpt2-tiny", d)
    return d


def _edit_header(d: Path, **kv: object) -> None:
    h = json.loads((d / "header.json").read_text())
    h.update(kv)
    (d / "header.json").write_text(json.dumps(h))


def test_reader_rejects_newer_version(sample: Path) -> None:
    _edit_header(sample, schema_version=SCHEMA_VERSION + 1)
    with pytest.raises(TraceError, match=r"header.json: schema_version 2 is newer"):
        read_trace(sample)


def test_reader_rejects_bad_header(sample: Path) -> None:
    (sample / "header.json").write_text("{not json")
    with pytest.raises(TraceError, match="header.json: not valid JSON"):
        read_trace(sample)
    (sample / "header.json").write_text(json.dumps({"schema_version": 1}))
    with pytest.raises(TraceError, match="header.json: missing key 'model'"):
        read_trace(sample)


def test_reader_names_missing_column(sample: Path) -> None:
    df = pd.read_parquet(sample / "accesses.parquet").drop(columns=["nbytes"])
    df.to_parquet(sample / "accesses.parquet")
    with pytest.raises(TraceError, match=r"accesses.parquet: missing column 'nbytes'"):
        read_trace(sample)


def test_reader_names_wrong_dtype(sample: Path) -> None:
    df = pd.read_parquet(sample / "ops.parquet")
    df["flops"] = df["flops"].astype("float64")
    df.to_parquet(sample / "ops.parquet")
    with pytest.raises(TraceError, match=r"ops.parquet: column 'flops' has dtype float64, expected int64"):
        read_trace(sample)


def test_reader_rejects_unknown_values_and_dangling_ids(sample: Path) -> None:
    df = pd.read_parquet(sample / "tensors.parquet")
    df.loc[0, "category"] = "banana"
    df.to_parquet(sample / "tensors.parquet")
    with pytest.raises(TraceError, match=r"tensors.parquet: column 'category' has unknown values \['banana'\]"):
        read_trace(sample)
    df.loc[0, "category"] = "parameter"
    df.iloc[1:].to_parquet(sample / "tensors.parquet")
    with pytest.raises(TraceError, match="accesses.parquet: column 'tensor_id' refers to tensors missing"):
        read_trace(sample)


def test_reader_rejects_corrupt_and_missing_files(sample: Path, tmp_path: Path) -> None:
    (sample / "ops.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(TraceError, match="ops.parquet: cannot be read as parquet"):
        read_trace(sample)
    (sample / "ops.parquet").unlink()
    with pytest.raises(TraceError, match="ops.parquet: missing"):
        read_trace(sample)
    with pytest.raises(TraceError, match="not a trace directory"):
        read_trace(tmp_path / "nowhere")
    assert issubclass(TraceError, ValueError)


# ---- capture (needs torch) -------------------------------------------------------------------------

def _no_leftovers(parent: Path) -> None:
    assert not [p.name for p in parent.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


def test_capture_writes_atomically_and_deterministically(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from harness.capture import capture

    a = capture(tmp_path / "a", "llama-tiny", 1, 8, mode="fake", command_line="x")
    b = capture(tmp_path / "b", "llama-tiny", 1, 8, mode="fake", command_line="x")
    for f in ("header.json", "ops.parquet", "accesses.parquet", "tensors.parquet"):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    # replacing an existing trace directory works and leaves nothing behind
    capture(tmp_path / "a", "gpt2-tiny", 1, 8, mode="fake", command_line="x")
    assert read_trace(tmp_path / "a").header["model"] == "gpt2-tiny"
    _no_leftovers(tmp_path)


@pytest.mark.parametrize("model,batch,seq,msg", [
    ("gpt9", 1, 8, "unknown model 'gpt9'; known models: gpt2-124m"),
    ("gpt2-tiny", 0, 8, "batch must be a positive integer"),
    ("gpt2-tiny", 1, 4096, "exceeds gpt2-tiny's maximum sequence length 128"),
])
def test_capture_bad_requests(tmp_path: Path, model: str, batch: int, seq: int, msg: str) -> None:
    pytest.importorskip("torch")
    from harness.capture import capture

    with pytest.raises(ValueError, match=msg):
        capture(tmp_path / "out", model, batch, seq)
    assert not (tmp_path / "out").exists()
    _no_leftovers(tmp_path)


def test_capture_unwritable_destination(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from harness.capture import capture

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(TraceError, match="cannot write the trace there"):
        capture(blocker / "out", "gpt2-tiny", 1, 8)
    keep = tmp_path / "notatrace"
    keep.mkdir()
    (keep / "precious.txt").write_text("x")
    with pytest.raises(TraceError, match="not a trace directory; refusing"):
        capture(keep, "gpt2-tiny", 1, 8)
    assert (keep / "precious.txt").exists()


def test_capture_failure_leaves_no_partial_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    import harness.capture.run as run

    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("simulated failure mid-capture")

    monkeypatch.setattr(run, "record", boom)
    with pytest.raises(RuntimeError, match="simulated"):
        run.capture(tmp_path / "out", "gpt2-tiny", 1, 8)
    assert not (tmp_path / "out").exists()
    _no_leftovers(tmp_path)


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    from harness.cli import main

    out = tmp_path / "trace"
    assert main(["capture", "--model", "bert-tiny", "--batch", "1", "--seq", "8", "--mode", "fake", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "step 1 optimizer done" in err and "wrote" in err
    tr = read_trace(out)
    assert tr.header["mode"] == "fake" and tr.header["command_line"].startswith("jitq capture")
    assert main(["capture", "--model", "nope", "--out", str(tmp_path / "x")]) == 2
    assert "known models" in capsys.readouterr().err
    assert main(["capture", "--model", "gpt2-tiny", "--seq", "999", "--out", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()
    _no_leftovers(tmp_path)


def test_allocator_model_rules() -> None:
    from harness.capture.allocator import AllocatorModel, round_size

    assert round_size(0) == 512 and round_size(1) == 512 and round_size(513) == 1024
    a = AllocatorModel()
    x = a.malloc(1000)  # 1024 at 0
    y = a.malloc(5000)  # 5120 at 1024
    z = a.malloc(100)  # 512 at 6144
    assert (x, y, z) == (0, 1024, 6144) and a.heap_top == 6656
    a.free(y)
    assert a.malloc(512) == 1024  # best fit splits the freed 5120 block
    assert a.malloc(4096) == 1536  # the remainder (4608) is the best fit for 4096
    a.free(x)
    assert a.malloc(600) == 0  # 1024-byte hole fits 1024 exactly
    a.free(z)
    a.free(1024)
    a.free(1536)
    # 1024..6656 coalesced into one free block: a request of 5632 fits without growing the heap
    assert a.malloc(5632) == 1024 and a.heap_top == 6656
    assert a.peak_live_bytes == 1024 + 5120 + 512
