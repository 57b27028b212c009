"""A captured trace turned into what the models need: per-tensor element counts and shapes, which
parameters are GEMM weights (these get MX copies), and the iteration cut into layer windows.

A *window* is a maximal run of ops of one phase that belong to one layer (``transformer.h.3``, or a
top-level module such as ``lm_head``). Windows are the unit of the PIM pipeline (PIM prepares window
k+1's weights during window k) and of the per-layer DRAM simulation; windows whose ops have identical
names and operand shapes share a ``key`` so that repeated transformer layers are simulated once.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.jitq.errors import JitqError
from harness.jitq.presets import dtype_bytes

SUPPORTED_SCHEMA_VERSION = 1
GEMM_RE = re.compile(r"^(aten\.)?(mm|addmm|bmm|baddbmm|addbmm|matmul|linear|_scaled_mm|convolution|"
                     r"_scaled_dot_product_\w+|_flash_attention_\w+|_efficient_attention_\w+)(\.|$)")


def is_gemm(op_name: str) -> bool:
    return bool(GEMM_RE.match(op_name))


def load_trace(trace_dir: str | Path) -> Any:
    """Read a trace directory with ``harness.capture.read_trace`` (contract E).

    A schema newer than :data:`SUPPORTED_SCHEMA_VERSION` is refused first, with an error naming the file.
    """
    d = Path(trace_dir)
    header_path = d / "header.json"
    if not header_path.is_file():
        raise JitqError(f"trace directory {d}: no header.json")
    import json

    try:
        header = json.loads(header_path.read_text())
    except json.JSONDecodeError as exc:
        raise JitqError(f"{header_path}: not valid JSON: {exc}") from None
    ver = header.get("schema_version")
    if not isinstance(ver, int) or ver > SUPPORTED_SCHEMA_VERSION:
        raise JitqError(f"{header_path}: schema_version {ver!r} is not supported by harness.jitq "
                        f"(supports <= {SUPPORTED_SCHEMA_VERSION}); update the harness or re-capture")
    from harness.capture import read_trace

    try:
        return read_trace(d)
    except ValueError as exc:  # TraceError subclasses ValueError
        raise JitqError(str(exc)) from None


def trace_sha256(trace: Any) -> str:
    """A content hash of a trace (header + tables), independent of where it lives on disk."""
    import json

    h = hashlib.sha256(json.dumps(trace.header, sort_keys=True, default=str).encode())
    for df in (trace.ops, trace.accesses, trace.tensors):
        h.update(pd.util.hash_pandas_object(df, index=False).values.tobytes())
    return h.hexdigest()[:16]


def layer_key(module: str) -> str:
    """``transformer.h.3.attn.c_attn`` -> ``transformer.h.3``; modules without an index keep their path."""
    parts = [p for p in str(module).split(".") if p]
    for i, p in enumerate(parts):
        if p.isdigit():
            return ".".join(parts[: i + 1])
    return ".".join(parts)


def _parse_shape(s: Any) -> tuple[int, ...]:
    s = str(s)
    if not s:
        return ()
    try:
        return tuple(int(x) for x in s.split("x"))
    except ValueError:
        return ()


@dataclass
class Window:
    index: int
    phase: str
    layer: str
    start: int  # first op_id
    stop: int  # one past the last op_id
    key: str  # memo key: same ops and shapes -> same key
    weights: list[int] = field(default_factory=list)  # GEMM-weight tensor ids used in this window

    @property
    def direction(self) -> str:
        return "backward" if self.phase == "backward" else "forward"


@dataclass
class Workload:
    """Derived tables of one trace (all op ids are positions 0..n_ops-1)."""

    header: dict[str, Any]
    ops: pd.DataFrame  # + columns: layer, window, gemm
    accesses: pd.DataFrame  # + columns: elem_bytes, category
    tensors: pd.DataFrame  # + columns: elem_bytes, numel, rows, cols, gemm_weight, layer
    windows: list[Window]
    n_ops: int

    @property
    def params(self) -> pd.DataFrame:
        return self.tensors[self.tensors.category == "parameter"]

    @property
    def n_params(self) -> int:
        return int(self.params.numel.sum())

    @property
    def tokens(self) -> int:
        r = self.header.get("recipe") or {}
        return int(r.get("batch", 1)) * int(r.get("seq", 1))


def build_workload(trace: Any) -> Workload:
    """Validate the columns this package uses and derive windows, shapes and GEMM weights."""
    ops = trace.ops.copy()
    acc = trace.accesses.copy()
    ten = trace.tensors.copy()
    for label, df, cols in (("ops", ops, ("op_id", "name", "phase", "module", "flops")),
                            ("accesses", acc, ("op_id", "tensor_id", "role", "nbytes", "address", "dtype", "shape")),
                            ("tensors", ten, ("tensor_id", "nbytes", "category", "param_name", "first_op",
                                              "last_op", "persistent"))):
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise JitqError(f"trace table {label}: missing column(s) {', '.join(missing)}")
    ops = ops.sort_values("op_id").reset_index(drop=True)
    n_ops = len(ops)
    if n_ops == 0:
        raise JitqError("trace has no ops")
    if not np.array_equal(ops.op_id.to_numpy(), np.arange(n_ops)):
        raise JitqError("trace table ops: op_id must be 0..n-1")
    # only one step is modelled: keep the last captured step (steady state, optimizer states exist)
    if "step" in ops.columns and ops.step.nunique() > 1:
        last = ops.step.max()
        keep = ops.step == last
        first_id = int(ops.op_id[keep].min())
        ops = ops[keep].reset_index(drop=True)
        ops["op_id"] = ops.op_id - first_id
        acc = acc[acc.op_id >= first_id].copy()
        acc["op_id"] = acc.op_id - first_id
        ten["first_op"] = (ten.first_op - first_id).clip(lower=0)
        ten["last_op"] = ten.last_op - first_id
        ten = ten[(ten.last_op >= 0) | ten.persistent].copy()
        ten.loc[ten.last_op < 0, "last_op"] = len(ops) - 1
        n_ops = len(ops)
    ten["last_op"] = ten.last_op.clip(upper=n_ops - 1)

    # element size of each storage as captured (first access dtype); shapes from 2-D accesses
    acc_dtype = acc.drop_duplicates("tensor_id")[["tensor_id", "dtype"]]
    elem = {int(t): float(dtype_bytes(d)) for t, d in zip(acc_dtype.tensor_id, acc_dtype.dtype)}
    ten["elem_bytes"] = [elem.get(int(t), 4.0) for t in ten.tensor_id]
    ten["numel"] = (ten.nbytes / ten.elem_bytes).round().astype("int64")
    acc["elem_bytes"] = [float(dtype_bytes(d)) for d in acc["dtype"]] if len(acc) else []
    cat = dict(zip(ten.tensor_id.astype(int), ten.category))
    acc["category"] = [cat.get(int(t), "other") for t in acc.tensor_id]
    ops["gemm"] = [is_gemm(n) for n in ops.name]

    # GEMM weights: parameters read directly by a GEMM op; their (rows, cols) from a full-size 2-D access
    is_param = acc.category == "parameter"
    gemm_ops = set(ops.op_id[ops.gemm].astype(int))
    gemm_reads = acc[is_param & acc.op_id.isin(gemm_ops) & (acc.role != "write")]
    gemm_w = set(gemm_reads.tensor_id.astype(int))
    rows = np.zeros(len(ten), dtype=np.int64)
    cols = np.zeros(len(ten), dtype=np.int64)
    shapes: dict[int, tuple[int, int]] = {}
    for t, s, nb in zip(acc.tensor_id[is_param], acc["shape"][is_param], acc.nbytes[is_param]):
        t = int(t)
        if t in shapes:
            continue
        sh = _parse_shape(s)
        if len(sh) == 2:
            shapes[t] = (sh[0], sh[1])
    for i, (t, n) in enumerate(zip(ten.tensor_id.astype(int), ten.numel)):
        r, c = shapes.get(t, (0, 0))
        if r * c != n:  # view of part of the storage, or unknown: treat as one row (no padding assumed)
            r, c = 1, int(n)
        rows[i], cols[i] = r, c
    ten["rows"], ten["cols"] = rows, cols
    ten["gemm_weight"] = [int(t) in gemm_w and int(t) in shapes and c > 1 for t, c in zip(ten.tensor_id, cols)]
    fdt = acc.drop_duplicates("tensor_id").set_index("tensor_id")["dtype"].astype(str).str.lower()
    is_float = {int(t): ("float" in d or "half" in d or d.startswith(("fp", "bf"))) for t, d in fdt.items()}
    ten["is_float"] = [is_float.get(int(t), True) for t in ten.tensor_id]
    ten["layer"] = [layer_key(".".join(str(p).split(".")[:-1])) if p else "" for p in ten.param_name]

    # layer of every op: module path, else the layer of a parameter it touches, else the previous op's
    param_layer = dict(zip(ten.tensor_id.astype(int), ten.layer))
    op_param_layer: dict[int, str] = {}
    for o, t, c in zip(acc.op_id, acc.tensor_id, acc.category):
        if c in ("parameter", "gradient") and int(o) not in op_param_layer and param_layer.get(int(t)):
            op_param_layer[int(o)] = param_layer[int(t)]
    layers: list[str] = []
    prev: dict[str, str] = {}
    for o, m, ph in zip(ops.op_id, ops.module, ops.phase):
        if ph == "optimizer":
            lk = "optimizer"
        else:
            lk = layer_key(m) if m else op_param_layer.get(int(o), prev.get(ph, ""))
        prev[ph] = lk
        layers.append(lk)
    ops["layer"] = layers

    # windows: maximal runs of (phase, layer); memo key from op names and operand shapes
    sig = (acc.op_id.astype(str) + ":" + acc.role.astype(str) + ":" + acc["shape"].astype(str) + ":"
           + acc["dtype"].astype(str))
    op_sig = sig.groupby(acc.op_id).agg("|".join).to_dict()
    wid = np.zeros(n_ops, dtype=np.int64)
    windows: list[Window] = []
    ph_arr, ly_arr, nm_arr = ops.phase.to_numpy(), ops.layer.to_numpy(), ops.name.to_numpy()
    start = 0
    for i in range(1, n_ops + 1):
        if i == n_ops or ph_arr[i] != ph_arr[start] or ly_arr[i] != ly_arr[start]:
            h = hashlib.sha256(str(ph_arr[start]).encode())
            for o in range(start, i):
                s = op_sig.get(o, "")
                # drop the op id prefix of each operand so identical layers hash alike
                h.update(nm_arr[o].encode())
                h.update(re.sub(r"(^|\|)\d+:", r"\1", s).encode())
            windows.append(Window(len(windows), str(ph_arr[start]), str(ly_arr[start]), start, i, h.hexdigest()[:16]))
            wid[start:i] = len(windows) - 1
            start = i
    ops["window"] = wid
    gw = gemm_reads[gemm_reads.tensor_id.isin(ten.tensor_id[ten.gemm_weight])]
    for o, t in zip(gw.op_id, gw.tensor_id):
        w = windows[int(wid[int(o)])]
        if w.phase != "optimizer" and int(t) not in w.weights:
            w.weights.append(int(t))
    return Workload(dict(trace.header), ops, acc, ten.reset_index(drop=True), windows, n_ops)
