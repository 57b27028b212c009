"""Training loop of the accuracy study: one deterministic run -> one JSON-ready record (contract G).

Determinism is the point of this module: the same config gives the same loss curve bit for bit (fixed
seed for the initial weights and for the batch sampler, fixed validation windows, a fixed number of
intra-op threads), so format-to-format differences are the formats' and nothing else's, and JIT and
stored quantization can be compared with ``torch.equal``.
"""

from __future__ import annotations

import contextlib
import math
import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
from torch import nn

from harness.train.corpus import Corpus, load_corpus
from harness.train.model import ByteGPT, GPTConfig

BASELINES = ("fp32", "bf16")
RECORD_TYPE = "jitq-train"
RECORD_VERSION = 1


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a run (and nothing that does not: output paths live elsewhere)."""

    format: str = "fp32"  # "fp32" | "bf16" | an MX format name (harness.mx.FORMATS)
    backward_format: str | None = None  # MX only; None = same as format
    steps: int = 200
    seed: int = 0
    eval_every: int = 50
    batch: int = 16
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup: int = 20
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    eval_batches: int = 4
    corpus_bytes: int = 1_000_000
    val_fraction: float = 0.1
    mode: str = "jit"  # MX weight copies: "jit" (quantize at each use) | "stored" (refresh after step)
    threads: int = 1
    model: GPTConfig = field(default_factory=GPTConfig)

    def validate(self) -> None:
        if self.format not in BASELINES:
            from harness.mx import FORMATS

            if self.format not in FORMATS:
                known = ", ".join([*BASELINES, *sorted(FORMATS)])
                raise ValueError(f"unknown format {self.format!r}; known: {known}")
            if self.backward_format is not None and self.backward_format not in FORMATS:
                raise ValueError(f"unknown backward format {self.backward_format!r}")
        elif self.backward_format is not None:
            raise ValueError(f"--backward-format applies to MX formats, not to {self.format}")
        if self.steps < 1 or self.eval_every < 1 or self.batch < 1 or self.eval_batches < 1:
            raise ValueError("steps, eval_every, batch and eval_batches must be positive")
        if self.mode not in ("jit", "stored"):
            raise ValueError(f"mode must be 'jit' or 'stored', got {self.mode!r}")
        if self.threads < 1:
            raise ValueError("threads must be at least 1")

    @property
    def effective_backward_format(self) -> str | None:
        if self.format in BASELINES:
            return None
        return self.backward_format or self.format

    def as_dict(self) -> dict:
        return asdict(self)


#: Named sizes. "tiny": tests (seconds); "short": the default grid study (<= ~1 min per format on one
#: core); "full": the separate, longer study (docs/accuracy.md gives its time).
PRESETS: dict[str, TrainConfig] = {
    "tiny": TrainConfig(
        steps=60, eval_every=20, batch=8, corpus_bytes=200_000, eval_batches=2,
        model=GPTConfig(seq=32, n_layer=1, d_model=32, n_head=2, d_ff=64),
    ),
    "short": TrainConfig(
        steps=300, eval_every=50, batch=16, corpus_bytes=1_000_000,
        model=GPTConfig(seq=64, n_layer=2, d_model=64, n_head=4, d_ff=256),
    ),
    "full": TrainConfig(
        steps=2000, eval_every=200, batch=16, lr=2e-3, warmup=100, corpus_bytes=4_000_000,
        eval_batches=8, model=GPTConfig(seq=128, n_layer=4, d_model=128, n_head=4, d_ff=512),
    ),
}


def preset(name: str, **overrides: object) -> TrainConfig:
    """A preset with fields replaced (``None`` values are ignored so CLI defaults fall through)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    return replace(PRESETS[name], **{k: v for k, v in overrides.items() if v is not None})


@dataclass
class TrainResult:
    record: dict
    model: nn.Module


#: progress(step, steps, train_loss, val_loss_or_None, elapsed_s)
Progress = Callable[[int, int, float, "float | None", float], None]


def build_model(cfg: TrainConfig) -> nn.Module:
    """The seeded model with MX applied per ``cfg`` (the same initial weights for every format)."""
    torch.manual_seed(cfg.seed)
    model = ByteGPT(cfg.model)
    if cfg.format not in BASELINES:
        from harness.mx.torch import swap_linear_to_mx

        swap_linear_to_mx(model, cfg.format, cfg.backward_format, mode=cfg.mode)
    return model


def versions() -> dict:
    import harness

    out = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "jitq": harness.__version__,
        "machine": platform.machine(),
    }
    return out


@contextlib.contextmanager
def _threads(n: int) -> Iterator[None]:
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _lr_at(cfg: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to ``min_lr_ratio * lr`` at the last step."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    span = max(1, cfg.steps - cfg.warmup)
    frac = min(1.0, (step - cfg.warmup) / span)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * frac)))


def _windows(data: torch.Tensor, starts: torch.Tensor, seq: int) -> tuple[torch.Tensor, torch.Tensor]:
    idx = starts[:, None] + torch.arange(seq + 1)[None, :]
    chunk = data[idx]
    return chunk[:, :-1], chunk[:, 1:]


def _finite_or_none(v: float) -> float | None:
    return v if math.isfinite(v) else None


def run_training(
    cfg: TrainConfig, progress: Progress | None = None, corpus: Corpus | None = None
) -> TrainResult:
    """Train per ``cfg`` and return the record (contract G) and the trained model."""
    cfg.validate()
    corpus = corpus or load_corpus(cfg.corpus_bytes, cfg.val_fraction)
    seq = cfg.model.seq
    train_data = torch.from_numpy(corpus.train.astype(np.int64))
    val_data = torch.from_numpy(corpus.val.astype(np.int64))
    if len(val_data) < seq + 2:
        raise ValueError("validation split is shorter than one sequence")
    n_val = cfg.eval_batches * cfg.batch
    val_starts = torch.from_numpy(np.linspace(0, len(val_data) - seq - 1, n_val).astype(np.int64))

    with _threads(cfg.threads):
        model = build_model(cfg)
        from harness.mx.torch import refresh_mx_copies

        decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
        no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
        opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=cfg.lr, betas=(0.9, 0.95), foreach=False,
        )
        autocast = (
            (lambda: torch.autocast("cpu", dtype=torch.bfloat16))
            if cfg.format == "bf16" else contextlib.nullcontext
        )
        gen = torch.Generator().manual_seed(cfg.seed)

        def evaluate() -> float:
            model.eval()
            total = 0.0
            with torch.no_grad(), autocast():
                for i in range(cfg.eval_batches):
                    x, y = _windows(val_data, val_starts[i * cfg.batch : (i + 1) * cfg.batch], seq)
                    total += float(model(x, y))
            model.train()
            return total / cfg.eval_batches

        train_loss: list[float | None] = []
        val_steps: list[int] = []
        val_loss: list[float | None] = []
        diverged = False
        t0 = time.perf_counter()
        for step in range(cfg.steps):
            for group in opt.param_groups:
                group["lr"] = _lr_at(cfg, step)
            starts = torch.randint(0, len(train_data) - seq - 1, (cfg.batch,), generator=gen)
            x, y = _windows(train_data, starts, seq)
            with autocast():
                loss = model(x, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip, foreach=False)
            opt.step()
            refresh_mx_copies(model)  # stored mode: the copies JIT-Q would not keep
            lv = float(loss.detach())
            train_loss.append(_finite_or_none(lv))
            vl = None
            done = step + 1
            if done % cfg.eval_every == 0 or done == cfg.steps or not math.isfinite(lv):
                vl = evaluate()
                val_steps.append(done)
                val_loss.append(_finite_or_none(vl))
            if progress is not None:
                progress(done, cfg.steps, lv, vl, time.perf_counter() - t0)
            if not math.isfinite(lv) or (vl is not None and not math.isfinite(vl)):
                diverged = True
                break
        wall = time.perf_counter() - t0

    tail = [v for v in train_loss[-max(1, len(train_loss) // 10) :] if v is not None]
    record = {
        "record_type": RECORD_TYPE,
        "record_version": RECORD_VERSION,
        "format": cfg.format,
        "backward_format": cfg.effective_backward_format,
        "mode": cfg.mode if cfg.format not in BASELINES else None,
        "steps": cfg.steps,
        "steps_done": len(train_loss),
        "seed": cfg.seed,
        **corpus.describe(),
        "versions": versions(),
        "config": cfg.as_dict(),
        "n_params": sum(p.numel() for p in model.parameters()),
        "tokens_per_step": cfg.batch * seq,
        "train_loss": train_loss,
        "val_steps": val_steps,
        "val_loss": val_loss,
        "final_val_loss": None if diverged else val_loss[-1],
        "final_train_loss": None if diverged or not tail else float(np.mean(tail)),
        "diverged": diverged,
        "loss_unit": "nats/byte",
        "threads": cfg.threads,
        "wall_s": round(wall, 3),
        "tokens_per_s": round(cfg.batch * seq * len(train_loss) / wall, 1) if wall > 0 else None,
    }
    return TrainResult(record, model)
