"""Turn a finished ``Recorder`` into the three trace tables (built once, column by column)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.capture.recorder import OPT, PHASES, ROLE_NAMES, Recorder


def _dims(t: tuple) -> str:
    return "x".join(str(int(x)) for x in t)


def build_tables(rec: Recorder) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    n_ops = rec.n
    # ---- tensors
    n_t = len(rec.t_nbytes)
    last = np.asarray(rec.t_last, dtype=np.int64) if n_t else np.zeros(0, np.int64)
    persistent = last < 0
    last = np.where(persistent, max(n_ops - 1, 0), last)
    first = np.asarray(rec.t_first, dtype=np.int64) if n_t else np.zeros(0, np.int64)
    first = np.minimum(first, max(n_ops - 1, 0))
    cats = []
    for tid in range(n_t):
        c = rec.t_category.get(tid)
        if c is None:
            c = "other" if rec.t_phase[tid] == OPT else "activation"
        cats.append(c)
    tensors = pd.DataFrame({
        "tensor_id": np.arange(n_t, dtype=np.int64),
        "nbytes": np.asarray(rec.t_nbytes, dtype=np.int64),
        "base_address": np.asarray(rec.t_base, dtype=np.int64),
        "category": pd.array(cats, dtype="str"),
        "param_name": pd.array([rec.t_param.get(t, "") for t in range(n_t)], dtype="str"),
        "first_op": first,
        "last_op": last,
        "persistent": persistent,
    })
    # ---- accesses
    if rec.acc:
        op_id, tid, role, off, dtypes, shapes, strides = zip(*rec.acc)
    else:
        op_id = tid = role = off = dtypes = shapes = strides = ()
    isz_cache: dict = {}
    name_cache: dict = {}
    for d in set(dtypes):
        isz_cache[d] = d.itemsize
        name_cache[d] = str(d).removeprefix("torch.")
    span_cache: dict = {}
    dim_cache: dict = {}
    nbytes = np.empty(len(op_id), dtype=np.int64)
    isz = np.empty(len(op_id), dtype=np.int64)
    shape_s = []
    stride_s = []
    for i, (d, sh, stv) in enumerate(zip(dtypes, shapes, strides)):
        k = (sh, stv, d)
        sp = span_cache.get(k)
        if sp is None:
            it = isz_cache[d]
            if any(int(s) == 0 for s in sh):
                sp = 0
            else:
                sp = (1 + sum((int(s) - 1) * int(st) for s, st in zip(sh, stv))) * it
            span_cache[k] = sp
        nbytes[i] = sp
        isz[i] = isz_cache[d]
        s1 = dim_cache.get(sh)
        if s1 is None:
            s1 = dim_cache[sh] = _dims(sh)
        s2 = dim_cache.get(stv)
        if s2 is None:
            s2 = dim_cache[stv] = _dims(stv)
        shape_s.append(s1)
        stride_s.append(s2)
    tid_a = np.asarray(tid, dtype=np.int64)
    offset = np.asarray(off, dtype=np.int64) * isz
    base = np.asarray(rec.t_base, dtype=np.int64)
    accesses = pd.DataFrame({
        "op_id": np.asarray(op_id, dtype=np.int64),
        "tensor_id": tid_a,
        "role": pd.Categorical.from_codes(np.asarray(role, dtype=np.int8), categories=list(ROLE_NAMES)).astype("str"),
        "offset": offset,
        "nbytes": nbytes,
        "address": (base[tid_a] if len(tid_a) else np.zeros(0, np.int64)) + offset,
        "dtype": pd.array([name_cache[d] for d in dtypes], dtype="str"),
        "shape": pd.array(shape_s, dtype="str"),
        "strides": pd.array(stride_s, dtype="str"),
    })
    # ---- ops
    fname: dict = {}
    names, modules, phases, steps, flops = [], [], [], [], []
    for _oid, step, func, phase, module, fl in rec.ops:
        s = fname.get(func)
        if s is None:
            s = fname[func] = str(func)
        names.append(s)
        modules.append(module)
        phases.append(phase)
        steps.append(step)
        flops.append(fl)
    ops = pd.DataFrame({
        "op_id": np.arange(len(rec.ops), dtype=np.int64),
        "step": np.asarray(steps, dtype=np.int64),
        "name": pd.array(names, dtype="str"),
        "phase": pd.Categorical.from_codes(np.asarray(phases, dtype=np.int8), categories=list(PHASES)).astype("str"),
        "module": pd.array(modules, dtype="str"),
        "flops": np.asarray(flops, dtype=np.int64),
    })
    _attribute_optimizer_ops(ops, accesses, tensors)
    _mark_mx_copies(ops, accesses, tensors)
    return ops, accesses, tensors


MX_QDQ = "jitq.mx_qdq.default"


def _mark_mx_copies(ops: pd.DataFrame, accesses: pd.DataFrame, tensors: pd.DataFrame) -> None:
    """The output of an MX quantize op whose input is a parameter is a directional weight copy:
    category ``mx_copy``, named after the parameter (just-in-time copies are temporaries; stored
    copies are registered as ``mx_copy`` buffers and written by ``copy_`` from these)."""
    q = ops["op_id"][ops["name"] == MX_QDQ]
    if not len(q):
        return
    a = accesses[accesses["op_id"].isin(q)]
    cat = tensors["category"].to_numpy()
    pname = tensors["param_name"].to_numpy()
    reads = a[a["role"] == "read"].groupby("op_id")["tensor_id"].first()
    writes = a[a["role"] == "write"].groupby("op_id")["tensor_id"].first()
    both = pd.concat([reads.rename("src"), writes.rename("dst")], axis=1).dropna().astype("int64")
    both = both[cat[both["src"].to_numpy()] == "parameter"]
    dst = both["dst"].to_numpy()
    keep = np.isin(cat[dst], ["activation", "other"])
    dst, src = dst[keep], both["src"].to_numpy()[keep]
    cat[dst] = "mx_copy"
    pname[dst] = pname[src]
    tensors["category"] = pd.array(cat, dtype="str")
    tensors["param_name"] = pd.array(pname, dtype="str")


def _attribute_optimizer_ops(ops: pd.DataFrame, accesses: pd.DataFrame, tensors: pd.DataFrame) -> None:
    """Optimizer ops run outside any module; give each the module of the parameter it updates (the
    first operand that belongs to a named parameter, its gradient or its optimizer state). Ops on
    temporaries only (AdamW's denominator) take the module of the op before them: the per-tensor
    optimizer works through one parameter at a time."""
    if not len(ops) or not len(accesses):
        return
    pmod = tensors["param_name"].str.rpartition(".")[0]
    named = tensors["param_name"] != ""
    mod_of = pd.Series(pmod[named].to_numpy(), index=tensors["tensor_id"][named].to_numpy())
    opt_ids = ops["op_id"][(ops["phase"] == "optimizer") & (ops["module"] == "")]
    a = accesses[accesses["op_id"].isin(opt_ids) & accesses["tensor_id"].isin(mod_of.index)]
    if not len(a):
        return
    first = a.groupby("op_id", sort=False)["tensor_id"].first()
    mods = mod_of.reindex(first.to_numpy()).to_numpy()
    ops.loc[first.index.to_numpy(), "module"] = mods
    opt = ops["phase"] == "optimizer"
    m = ops.loc[opt, "module"].where(ops.loc[opt, "module"] != "")
    ops.loc[opt, "module"] = m.groupby(ops.loc[opt, "step"]).ffill().fillna("").astype("str")
