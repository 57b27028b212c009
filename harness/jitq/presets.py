"""Precision recipes, GPU presets, dtype sizes and MX format sizes, each validated with errors that
name the file and the key, because a typo in a preset should never silently change a result."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.jitq.errors import JitqError
from harness.mx import FORMATS

DTYPE_BYTES: dict[str, float] = {
    "fp64": 8, "float64": 8, "fp32": 4, "float32": 4, "tf32": 4, "bf16": 2, "bfloat16": 2,
    "fp16": 2, "float16": 2, "fp8": 1, "int64": 8, "int32": 4, "int16": 2, "int8": 1, "uint8": 1,
    "bool": 1,
}
"""Bytes per element by dtype name; trace dtypes like ``torch.float32`` are normalised first."""


def dtype_bytes(name: str) -> float:
    """Size of one element of ``name`` (``"fp32"``, ``"torch.bfloat16"``, ...)."""
    key = str(name).strip().lower().removeprefix("torch.")
    if key not in DTYPE_BYTES:
        raise JitqError(f"unknown dtype {name!r}; known: {', '.join(sorted(DTYPE_BYTES))}")
    return DTYPE_BYTES[key]


@dataclass(frozen=True)
class MxSize:
    """What the capacity and traffic models need of an MX format: bytes per block of elements."""

    name: str
    block_size: int
    bytes_per_block: int
    elem_bits: int

    @property
    def bits_per_element(self) -> float:
        return 8.0 * self.bytes_per_block / self.block_size

    def copy_bytes(self, rows: int, cols: int, axis: int) -> int:
        """Bytes of an MX copy of a (rows, cols) matrix blocked along ``axis`` (padding counted)."""
        along, other = (cols, rows) if axis == 1 else (rows, cols)
        return other * math.ceil(along / self.block_size) * self.bytes_per_block


def mx_size(fmt: str) -> MxSize:
    """Sizes of MX format ``fmt`` from ``harness.mx.FORMATS`` (contract C, the one source of format facts)."""
    if fmt not in FORMATS:
        raise JitqError(f"unknown MX format {fmt!r}; known: {', '.join(sorted(FORMATS))}")
    spec = FORMATS[fmt]
    return MxSize(fmt, int(spec.block_size), int(spec.bytes_per_block), int(spec.elem_bits))


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def _load_yaml(kind: str, name_or_path: str | Path) -> tuple[Path, dict[str, Any]]:
    from harness.paths import preset_path

    try:
        path = preset_path(kind, name_or_path)
    except FileNotFoundError as exc:
        raise JitqError(str(exc)) from None
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise JitqError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise JitqError(f"{path}: expected a mapping at the top level")
    return path, data


def _check_keys(path: Path, data: dict[str, Any], required: set[str], optional: set[str]) -> None:
    unknown = set(data) - required - optional
    if unknown:
        raise JitqError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; "
                        f"allowed: {', '.join(sorted(required | optional))}")
    missing = required - set(data)
    if missing:
        raise JitqError(f"{path}: missing key(s) {', '.join(sorted(missing))}")


# --------------------------------------------------------------------------------------------- recipes
@dataclass(frozen=True)
class Recipe:
    """Precision recipe: which dtypes training keeps for each category of model state."""

    name: str
    source: str
    master_dtype: str
    grad_dtype: str
    optimizer: str
    optimizer_states: dict[str, str]
    working_copy: str | None
    jitq_drops_working_copy: bool
    activation_dtype: str
    mx_forward: str | None
    mx_backward: str | None
    allowed_formats: tuple[str, ...] | None  # None = any known format
    activation_checkpointing: bool
    # "iteration": gradients occupy their full size for the whole iteration (a gradient buffer allocated
    # once, as ZeRO's 16 bytes/parameter count it and as gradient accumulation over micro-batches needs);
    # "trace": each gradient lives as the captured step shows (PyTorch's zero_grad(set_to_none=True) with
    # one micro-batch: absent until its backward op, so an early-backward peak holds few or none).
    gradient_lifetime: str = "iteration"
    path: str = ""
    sha256: str = ""

    @property
    def optimizer_state_bytes(self) -> float:
        """Bytes per parameter of all optimizer states together."""
        return float(sum(dtype_bytes(d) for d in self.optimizer_states.values()))

    def with_formats(self, forward: str | None, backward: str | None) -> "Recipe":
        """The recipe with the cell's formats; raises if the recipe cannot use them."""
        fwd = forward if forward is not None else self.mx_forward
        bwd = backward if backward is not None else (forward if forward is not None else self.mx_backward)
        for role, fmt in (("forward", fwd), ("backward", bwd)):
            if fmt is None:
                continue
            mx_size(fmt)  # unknown format -> JitqError
            if self.allowed_formats is not None and fmt not in self.allowed_formats:
                raise JitqError(f"recipe {self.name!r} ({self.path}) cannot use {role} format {fmt!r}; "
                                f"allowed_formats: {', '.join(self.allowed_formats) or 'none'}")
        d = dict(self.__dict__)
        d.update(mx_forward=fwd, mx_backward=bwd)
        return Recipe(**d)


_RECIPE_REQUIRED = {"name", "source", "master_dtype", "grad_dtype", "optimizer", "optimizer_states",
                    "working_copy", "mx_forward", "mx_backward"}
_RECIPE_OPTIONAL = {"jitq_drops_working_copy", "activation_dtype", "allowed_formats",
                    "activation_checkpointing", "gradient_lifetime"}
GRADIENT_LIFETIMES = ("iteration", "trace")
_OPTIMIZERS = {"adam": 2, "adamw": 2, "sgd": 0, "sgd-momentum": 1}


def load_recipe(name_or_path: str | Path) -> Recipe:
    """Load and validate a recipe preset (``configs/recipes/<name>.yaml`` or a path)."""
    path, d = _load_yaml("recipes", name_or_path)
    _check_keys(path, d, _RECIPE_REQUIRED, _RECIPE_OPTIONAL)

    def dtype_key(key: str, allow_none: bool = False) -> str | None:
        v = d.get(key)
        if v is None or (allow_none and str(v).lower() == "none"):
            if allow_none:
                return None
            raise JitqError(f"{path}: key {key!r} must name a dtype")
        try:
            dtype_bytes(str(v))
        except JitqError as exc:
            raise JitqError(f"{path}: key {key!r}: {exc}") from None
        return str(v)

    opt = str(d["optimizer"]).lower()
    if opt not in _OPTIMIZERS:
        raise JitqError(f"{path}: key 'optimizer': unknown {opt!r}; known: {', '.join(_OPTIMIZERS)}")
    states = d["optimizer_states"] or {}
    if not isinstance(states, dict):
        raise JitqError(f"{path}: key 'optimizer_states' must map state name -> dtype")
    for k, v in states.items():
        try:
            dtype_bytes(str(v))
        except JitqError as exc:
            raise JitqError(f"{path}: key 'optimizer_states.{k}': {exc}") from None
    if len(states) != _OPTIMIZERS[opt]:
        raise JitqError(f"{path}: key 'optimizer_states': {opt} keeps {_OPTIMIZERS[opt]} state(s), got {len(states)}")
    fmts: list[str | None] = []
    for key in ("mx_forward", "mx_backward"):
        v = d.get(key)
        if v is None or str(v).lower() == "none":
            fmts.append(None)
            continue
        try:
            mx_size(str(v))
        except JitqError as exc:
            raise JitqError(f"{path}: key {key!r}: {exc}") from None
        fmts.append(str(v))
    allowed = d.get("allowed_formats", "all")
    if allowed == "all" or allowed is None:
        allowed_t = None
    elif isinstance(allowed, list):
        allowed_t = tuple(str(x) for x in allowed)
    else:
        raise JitqError(f"{path}: key 'allowed_formats' must be 'all' or a list of format names")
    for key in ("jitq_drops_working_copy", "activation_checkpointing"):
        if key in d and not isinstance(d[key], bool):
            raise JitqError(f"{path}: key {key!r} must be true or false")
    glife = str(d.get("gradient_lifetime", "iteration"))
    if glife not in GRADIENT_LIFETIMES:
        raise JitqError(f"{path}: key 'gradient_lifetime': {glife!r} is not one of {', '.join(GRADIENT_LIFETIMES)}")
    return Recipe(
        name=str(d["name"]), source=str(d["source"]),
        master_dtype=dtype_key("master_dtype"), grad_dtype=dtype_key("grad_dtype"),  # type: ignore[arg-type]
        optimizer=opt, optimizer_states={str(k): str(v) for k, v in states.items()},
        working_copy=dtype_key("working_copy", allow_none=True),
        jitq_drops_working_copy=bool(d.get("jitq_drops_working_copy", True)),
        activation_dtype=str(dtype_key("activation_dtype") if "activation_dtype" in d else "bf16"),
        mx_forward=fmts[0], mx_backward=fmts[1], allowed_formats=allowed_t,
        activation_checkpointing=bool(d.get("activation_checkpointing", False)), gradient_lifetime=glife,
        path=str(path), sha256=file_sha256(path),
    )


# ------------------------------------------------------------------------------------------------ GPUs
EFFICIENCY_DEFAULTS: dict[str, float] = {
    # Fraction of peak a large GEMM reaches (cuBLAS/hipBLASLt on big transformer GEMMs typically reach
    # 60-80% of dense peak; 0.7 is the middle).
    "gemm": 0.7,
    # Fraction of peak HBM bandwidth a streaming kernel reaches (STREAM-like kernels: 80-90%); the
    # simulator's streaming efficiency multiplies this for the stored quantization pass.
    "memory": 0.85,
    # Fraction of FP32 vector peak for element-wise FLOPs (rarely binding; element-wise ops are memory bound).
    "vector": 0.5,
    # Fixed cost per kernel launch in seconds (launch + tail; a few microseconds on current GPUs).
    "launch_s": 4e-6,
}


@dataclass(frozen=True)
class GpuSpec:
    """A GPU preset: peak rates, memory, HBM organisation, and roofline efficiency factors."""

    name: str
    peak_bf16_flops: float
    peak_mx_flops: float | None
    peak_vector_flops: float
    memory_bytes: int
    hbm_generation: str
    hbm_stacks: int
    bandwidth_Bps: float
    efficiency: dict[str, float] = field(default_factory=lambda: dict(EFFICIENCY_DEFAULTS))
    path: str = ""
    sha256: str = ""

    def gemm_flops(self, mx: bool) -> float:
        peak = self.peak_mx_flops if (mx and self.peak_mx_flops) else self.peak_bf16_flops
        return peak * self.efficiency["gemm"]


_GPU_REQUIRED = {"name", "peak_bf16_tflops", "peak_mx_tflops", "peak_vector_fp32_tflops", "memory_bytes",
                 "hbm_generation", "hbm_stacks", "bandwidth_GBps"}
_GPU_OPTIONAL = {"vendor", "efficiency"}


def load_gpu(name_or_path: str | Path, efficiency: dict[str, float] | None = None) -> GpuSpec:
    """Load and validate a GPU preset; ``efficiency`` overrides entries of :data:`EFFICIENCY_DEFAULTS`."""
    path, d = _load_yaml("gpus", name_or_path)
    _check_keys(path, d, _GPU_REQUIRED, _GPU_OPTIONAL)

    def num(key: str, allow_none: bool = False) -> float | None:
        v = d[key]
        if v is None and allow_none:
            return None
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v <= 0:
            raise JitqError(f"{path}: key {key!r} must be a positive number, got {v!r}")
        return float(v)

    eff = dict(EFFICIENCY_DEFAULTS)
    for src, label in ((d.get("efficiency") or {}, str(path)), (efficiency or {}, "efficiency override")):
        for k, v in src.items():
            if k not in EFFICIENCY_DEFAULTS:
                raise JitqError(f"{label}: unknown efficiency key {k!r}; known: {', '.join(EFFICIENCY_DEFAULTS)}")
            if not isinstance(v, (int, float)) or v < 0 or (k != "launch_s" and not 0 < v <= 1):
                raise JitqError(f"{label}: efficiency {k!r} out of range: {v!r}")
            eff[k] = float(v)
    mx = num("peak_mx_tflops", allow_none=True)
    return GpuSpec(
        name=str(d["name"]), peak_bf16_flops=num("peak_bf16_tflops") * 1e12,  # type: ignore[operator]
        peak_mx_flops=None if mx is None else mx * 1e12,
        peak_vector_flops=num("peak_vector_fp32_tflops") * 1e12,  # type: ignore[operator]
        memory_bytes=int(num("memory_bytes")),  # type: ignore[arg-type]
        hbm_generation=str(d["hbm_generation"]), hbm_stacks=int(num("hbm_stacks")),  # type: ignore[arg-type]
        bandwidth_Bps=num("bandwidth_GBps") * 1e9,  # type: ignore[operator]
        efficiency=eff, path=str(path), sha256=file_sha256(path),
    )
