"""The accuracy study (issue 8): corpus, JIT == stored training, fp32 vs MXFP8, reproducible records."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from harness.train import cli as train_cli  # noqa: E402
from harness.train.corpus import load_corpus, stdlib_sources  # noqa: E402
from harness.train.loop import preset, run_training  # noqa: E402
from harness.train.record import REQUIRED_KEYS, read_record, write_record  # noqa: E402

#: Stated tolerance of the fp32-vs-MXFP8 check: after 40 steps of the tiny model the two final
#: validation losses (about 3.4 nats/byte) differ by less than this (measured: ~0.005).
FP32_MXFP8_TOL_NATS = 0.05


# ------------------------------------------------------------------------------------------- corpus
def test_corpus_is_fixed_and_split(tmp_path: Path) -> None:
    a, b = load_corpus(100_000), load_corpus(100_000)
    assert a.sha256 == b.sha256 and len(a.data) == 100_000
    assert len(a.train) + len(a.val) == len(a.data) and len(a.val) == 10_000
    assert a.describe()["corpus_sha256"] == a.sha256


def test_corpus_file_order_and_skips(tmp_path: Path) -> None:
    for rel in ["b.py", "a/z.py", "a/test/skip.py", "site-packages/x.py", "c.txt"]:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(("# %s\n" % rel) * 2000)
    names = [p.relative_to(tmp_path).as_posix() for p in stdlib_sources(tmp_path)]
    assert names == ["a/z.py", "b.py"]
    c = load_corpus(8192, root=tmp_path)
    assert bytes(c.data[:40]).startswith(b"\n# ==== a/z.py ====\n")
    with pytest.raises(ValueError, match="holds only"):
        load_corpus(10_000_000, root=tmp_path)
    with pytest.raises(ValueError, match="max_bytes"):
        load_corpus(100)


# --------------------------------------------------------------------------- JIT-Q's numerical claim
@pytest.mark.parametrize("fmt,bwd", [("MXFP8_E4M3", "MX9"), ("MXFP4_E2M1", "MX6")])
def test_jit_and_stored_training_are_bit_identical(fmt: str, bwd: str) -> None:
    """Re-quantizing at every use (JIT) and refreshing stored copies after each step give the same
    weights and losses, bit for bit, because the quantizer is one function of the same master weights."""
    runs = [
        run_training(preset("tiny", format=fmt, backward_format=bwd, steps=20, eval_every=10, mode=m))
        for m in ("jit", "stored")
    ]
    jit, stored = runs
    assert jit.record["train_loss"] == stored.record["train_loss"]
    assert jit.record["val_loss"] == stored.record["val_loss"]
    sj, ss = jit.model.state_dict(), stored.model.state_dict()
    assert list(sj) == list(ss)
    for k in sj:
        assert torch.equal(sj[k], ss[k]), k
    assert stored.record["mode"] == "stored" and jit.record["mode"] == "jit"


# ------------------------------------------------------------------------------- fp32 vs MXFP8, bf16
def test_fp32_and_mxfp8_both_learn_and_agree() -> None:
    recs = {
        f: run_training(preset("tiny", format=f, steps=40, eval_every=20)).record
        for f in ("fp32", "MXFP8_E4M3")
    }
    for rec in recs.values():
        assert rec["final_train_loss"] < rec["train_loss"][0] - 1.0
        assert rec["val_loss"][-1] < rec["val_loss"][0]
        assert not rec["diverged"]
    gap = abs(recs["fp32"]["final_val_loss"] - recs["MXFP8_E4M3"]["final_val_loss"])
    assert gap < FP32_MXFP8_TOL_NATS
    assert recs["MXFP8_E4M3"]["backward_format"] == "MXFP8_E4M3"  # default: same as forward
    assert recs["fp32"]["backward_format"] is None


def test_bf16_baseline_runs() -> None:
    rec = run_training(preset("tiny", format="bf16", steps=15, eval_every=15)).record
    assert rec["final_train_loss"] < rec["train_loss"][0]


def test_bad_config() -> None:
    with pytest.raises(ValueError, match="unknown format"):
        run_training(preset("tiny", format="fp8"))
    with pytest.raises(ValueError, match="backward"):
        run_training(preset("tiny", format="fp32", backward_format="MX9"))
    with pytest.raises(ValueError, match="preset"):
        preset("huge")


# ------------------------------------------------------------------------------ CLI and the record
def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="jitq")
    train_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_twice_gives_identical_curves(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["train", "--format", "MXFP6_E2M3", "--backward-format", "MX9", "--preset", "tiny",
            "--steps", "12", "--eval-every", "4", "--seed", "7"]
    recs = []
    for i in range(2):
        out = tmp_path / f"r{i}" / "format=MXFP6_E2M3.json"
        assert _cli([*argv, "--out", str(out)]) == 0
        recs.append(read_record(out))
    assert "step" in capsys.readouterr().err  # the progress display
    a, b = recs
    for key in ("train_loss", "val_steps", "val_loss", "final_val_loss", "corpus_sha256", "config"):
        assert a[key] == b[key], key
    assert a["val_steps"] == [4, 8, 12] and len(a["train_loss"]) == 12
    assert a["seed"] == 7 and a["format"] == "MXFP6_E2M3" and a["backward_format"] == "MX9"
    assert a["corpus_sha256"] == load_corpus(a["corpus_bytes"]).sha256
    assert {"python", "torch", "numpy", "jitq"} <= set(a["versions"])
    assert set(REQUIRED_KEYS) <= set(a)
    assert not list(tmp_path.rglob("*.tmp"))  # atomic write leaves no temporary file


def test_cli_bad_format_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert _cli(["train", "--format", "MXFP3", "--out", str(tmp_path / "x.json")]) == 2
    assert "unknown format 'MXFP3'" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_record_io_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="lacks keys"):
        write_record({"format": "fp32"}, tmp_path / "a.json")
    bad = tmp_path / "b.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="b.json"):
        read_record(bad)
    bad.write_text(json.dumps({"format": "fp32"}))
    with pytest.raises(ValueError, match="not a jitq train record"):
        read_record(bad)


def test_train_is_a_jitq_subcommand() -> None:
    from harness.cli import build_parser

    args = build_parser().parse_args(["train", "--format", "MX9", "--steps", "3", "--out", "x.json"])
    assert args.func is train_cli.run and args.format == "MX9" and args.preset == "short"
