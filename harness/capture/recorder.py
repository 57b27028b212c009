"""The op recorder: a ``TorchDispatchMode`` that logs every aten op of a training step with its
operands. It keeps only integers and small tuples per op (rows are turned into DataFrames once, at the
end) and never holds a reference to a tensor, so it does not change when storages are freed.

Storage identity: the ``UntypedStorage`` Python object of a storage is preserved by PyTorch for the
storage's whole life, so a weak reference to it fires exactly when the storage is freed; that event
ends the storage's lifetime in the trace (and frees its block in the fake-mode allocator model)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from harness.capture.allocator import AllocatorModel
from harness.capture.flops import FLOP_FUNCS

READ, WRITE, VIEW, RW = 0, 1, 2, 3
ROLE_NAMES = ("read", "write", "view")
PHASES = ("forward", "backward", "optimizer")
FWD, BWD, OPT = 0, 1, 2
_NO_SEQ = 2**64 - 1
# profiler markers (optimizer.step's record_function) and prim metadata queries (``prim.device``,
# dispatched only for fake tensors) are not work: leaving them out keeps real and fake streams equal
_SKIP_NAMESPACES = frozenset({"profiler", "prim"})
_LIFT_FRESH = torch.ops.aten.lift_fresh.default
_get_sequence_nr = torch._C._autograd._get_sequence_nr
_current_node = torch._C._current_autograd_node
Tensor = torch.Tensor

# in-place ops that overwrite their target without reading it
_OVERWRITE = {"zero_", "fill_", "copy_", "normal_", "uniform_", "random_", "bernoulli_", "exponential_",
              "geometric_", "log_normal_", "cauchy_", "_foreach_zero_", "_foreach_copy_", "index_fill_",
              "masked_fill_"}
# in-place ops that change only metadata (shape/strides/storage pointer), not data
_METADATA = {"detach_", "t_", "transpose_", "squeeze_", "unsqueeze_", "as_strided_", "resize_",
             "resize_as_", "set_", "swapdims_", "swapaxes_", "_resize_output_"}


# Per-overload plans (see Recorder._plan_for), shared by all recorders: a plan depends on the overload
# only, and overloads live for the whole process, so their id() is a stable key.
_PLANS: dict[int, tuple] = {}


def _plan(func: Any) -> tuple[tuple[tuple[int, str, int], ...], tuple[int, ...]]:
    """From the op schema: (arg index, arg name, role) for each tensor argument and a role per return
    (-1 = skip: it is an in-place return already logged as the mutated argument)."""
    schema = func._schema
    base = schema.name.split("::")[-1]
    args = []
    for i, a in enumerate(schema.arguments):
        if "Tensor" not in str(a.type):
            continue
        ai = a.alias_info
        if ai is None:
            role = READ
        elif ai.is_write:
            if base in _METADATA:
                role = VIEW
            elif a.kwarg_only or base in _OVERWRITE:
                role = WRITE
            else:
                role = RW
        else:
            role = VIEW
        args.append((i, a.name, role))
    rets = []
    for r in schema.returns:
        ai = r.alias_info
        rets.append(WRITE if ai is None else (-1 if ai.is_write else VIEW))
    return tuple(args), tuple(rets)


class Recorder(TorchDispatchMode):
    """Records ops while active. Set ``phase``/``step`` through ``in_phase``; register pre-existing
    tensors (parameters, inputs) with ``register`` before the step so they get their categories."""

    def __init__(self, fake: bool = False, model: torch.nn.Module | None = None, progress: Any = None) -> None:
        super().__init__()
        self.fake = fake
        self.alloc = AllocatorModel() if fake else None
        self.n = 0
        self.step = 0
        self.phase = FWD
        self.ops: list[tuple[int, int, Any, int, str, int]] = []  # op_id, step, func, phase, module, flops
        self.acc: list[tuple] = []  # op_id, tensor_id, role, offset (elements), dtype, shape, strides
        # per storage (index = tensor_id)
        self.t_nbytes: list[int] = []
        self.t_base: list[int] = []
        self.t_first: list[int] = []
        self.t_last: list[int] = []
        self.t_phase: list[int] = []
        self.t_category: dict[int, str] = {}
        self.t_param: dict[int, str] = {}
        self._live: dict[int, int] = {}  # id() of the live storage's Python object -> tensor_id
        self._refs: dict[int, weakref.ref] = {}
        self._seq_module: dict[int, str] = {}
        self._stack: list[str] = [""]
        self._mod_names: dict[int, str] = {}
        self._param_module: dict[int, str] = {}
        self._hooks: list[Any] = []
        self.active = True
        self.progress = progress
        if model is not None:
            self._mod_names = {id(m): n for n, m in model.named_modules()}
            for n, p in model.named_parameters():
                self._param_module[id(p)] = n.rpartition(".")[0]

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        """Do not let ``TorchDispatchMode.__init_subclass__`` wrap ``__torch_dispatch__`` in
        ``torch._disable_dynamo``: that wrapper swaps the eval-frame callback on every op (two extra
        Python frames, a few microseconds per op, a sizeable part of the recorder's overhead). The
        recorded step runs eagerly, never under ``torch.compile``, so there is nothing to disable."""
        return False

    # ---- module path tracking -------------------------------------------------------------------
    def _pre(self, module: Any, inputs: Any) -> None:
        name = self._mod_names.get(id(module))
        if name is not None:
            self._stack.append(name)

    def _post(self, module: Any, inputs: Any, output: Any) -> None:
        if id(module) in self._mod_names and len(self._stack) > 1:
            self._stack.pop()

    def __enter__(self) -> "Recorder":
        from torch.nn.modules import module as nnm

        self._hooks = [nnm.register_module_forward_pre_hook(self._pre), nnm.register_module_forward_hook(self._post)]
        # The recorder allocates a few small objects per op; with the default threshold (700) the
        # cyclic GC would run every few dozen ops and traverse the growing row lists. Tensors are
        # freed by reference counting, so collecting less often changes no lifetime in practice.
        self._gc_threshold = gc.get_threshold()
        gc.set_threshold(max(self._gc_threshold[0], 50_000), *self._gc_threshold[1:])
        return super().__enter__()

    def __exit__(self, *exc: Any) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks = []
        gc.set_threshold(*self._gc_threshold)
        super().__exit__(*exc)

    @contextmanager
    def in_phase(self, phase: int, step: int) -> Iterator[None]:
        self.phase, self.step = phase, step
        self._stack[:] = [""]
        try:
            yield
        finally:
            self._stack[:] = [""]
            if self.progress is not None:
                self.progress(self)

    # ---- storages --------------------------------------------------------------------------------
    def _new_storage(self, st: Any, key: int, op_id: int) -> int:
        tid = len(self.t_nbytes)
        nb = st.nbytes()
        self._live[key] = tid
        self.t_nbytes.append(nb)
        self.t_base.append(self.alloc.malloc(nb) if self.alloc is not None else st.data_ptr())
        self.t_first.append(op_id)
        self.t_last.append(-1)
        self.t_phase.append(self.phase)
        self._refs[tid] = weakref.ref(st, lambda _r, key=key, tid=tid: self._died(key, tid))
        return tid

    def _died(self, key: int, tid: int) -> None:
        self._refs.pop(tid, None)
        if not self.active:
            return
        if self._live.get(key) == tid:
            del self._live[key]
        self.t_last[tid] = self.n - 1
        if self.alloc is not None:
            self.alloc.free(self.t_base[tid])

    def tensor_id(self, t: torch.Tensor, op_id: int | None = None) -> int:
        """The tensor_id of ``t``'s storage (registering it if new)."""
        st = t.untyped_storage()
        key = id(st)
        tid = self._live.get(key)
        if tid is None:
            tid = self._new_storage(st, key, self.n if op_id is None else op_id)
        return tid

    def register(self, t: torch.Tensor, category: str, name: str = "") -> int:
        tid = self.tensor_id(t)
        self.t_category[tid] = category
        if name:
            self.t_param.setdefault(tid, name)
        return tid

    def finish(self) -> None:
        """Stop tracking frees; storages still alive are persistent (last_op = last op)."""
        self.active = False
        self._refs.clear()

    def _alias_lifted(self, src: torch.Tensor, out: torch.Tensor) -> None:
        """FakeTensorMode's ``lift_fresh`` turns a real constant (e.g. AdamW's step counter) into a
        fake tensor with a storage of its own; on a real run the result aliases the constant. Make the
        trace agree with the real run: the fake storage takes over the constant's tensor_id."""
        src_st, out_st = src.untyped_storage(), out.untyped_storage()
        if id(out_st) in self._live:
            return
        tid = self._live.get(id(src_st))
        if tid is None:
            tid = self._new_storage(src_st, id(src_st), self.n - 1)
        del self._live[id(src_st)]
        key = id(out_st)
        self._live[key] = tid
        self._refs[tid] = weakref.ref(out_st, lambda _r, key=key, tid=tid: self._died(key, tid))

    # ---- the op hook -----------------------------------------------------------------------------
    def _log(self, t: Tensor, role: int, op_id: int) -> None:
        """Log one operand (multi-result ops; the hot path inlines the same steps)."""
        st = t.untyped_storage()
        key = id(st)  # the storage's Python object lives exactly as long as the storage
        tid = self._live.get(key)
        if tid is None:
            tid = self._new_storage(st, key, op_id)
        if role == RW:
            off, dt, sh, sd = t.storage_offset(), t.dtype, t.shape, t.stride()
            self.acc.append((op_id, tid, READ, off, dt, sh, sd))
            self.acc.append((op_id, tid, WRITE, off, dt, sh, sd))
        else:
            self.acc.append((op_id, tid, role, t.storage_offset(), t.dtype, t.shape, t.stride()))

    def _plan_for(self, func: Any) -> tuple:
        """Per-op-overload plan, cached by identity (overloads are never freed): (skip, tensor
        arguments with roles, return roles, FLOP function, is lift_fresh, the callable that runs the
        op). The callable is the overload's underlying C++ op (``OpOverload._op``): calling it
        directly skips ``OpOverload.__call__``, a Python frame that only forwards to it."""
        skip = func.namespace in _SKIP_NAMESPACES
        arg_plan, ret_plan = ((), ()) if skip else _plan(func)
        # the common return shape, one fresh tensor, gets a fast path in __torch_dispatch__
        single = 1 if ret_plan == (WRITE,) else 0
        plan = (skip, arg_plan, ret_plan, FLOP_FUNCS.get(func), func is _LIFT_FRESH, getattr(func, "_op", func), single)
        _PLANS[id(func)] = plan
        return plan

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        # Hot path: one call per aten op, and its cost is the recorder's overhead on a real training
        # step. Kept flat on purpose: operands are logged inline (no helper call, no intermediate
        # list), attributes are read once into locals.
        plan = _PLANS.get(id(func))
        if plan is None:
            plan = self._plan_for(func)
        skip, arg_plan, ret_plan, flop_fn, is_lift, run_op, single = plan
        if kwargs is None:
            kwargs = {}
        if skip:
            return run_op(*args, **kwargs)
        op_id = self.n
        self.n = op_id + 1
        phase = self.phase
        if phase == FWD:
            module = self._stack[-1]
            # the autograd node this op creates (if any) gets the next sequence number; the first op
            # that sees a number names its module (backward ops find their module through it)
            self._seq_module.setdefault(_get_sequence_nr() - 1, module)
        elif phase == BWD:
            node = _current_node()
            module = ""
            if node is not None:
                sq = node._sequence_nr()
                if sq == _NO_SEQ:  # AccumulateGrad: the parameter's module
                    var = getattr(node, "variable", None)
                    module = self._param_module.get(id(var), "") if var is not None else ""
                else:
                    module = self._seq_module.get(sq, "")
        else:
            module = ""
        out = run_op(*args, **kwargs)
        live = self._live
        acc_append = self.acc.append
        nargs = len(args)
        for i, name, role in arg_plan:
            v = args[i] if i < nargs else kwargs.get(name)
            if isinstance(v, Tensor):  # the common case, inlined: no 1-tuple, no inner loop, no call
                st = v.untyped_storage()
                key = id(st)  # the storage's Python object lives exactly as long as the storage
                tid = live.get(key)
                if tid is None:
                    tid = self._new_storage(st, key, op_id)
                if role == RW:
                    off, dt, sh, sd = v.storage_offset(), v.dtype, v.shape, v.stride()
                    acc_append((op_id, tid, READ, off, dt, sh, sd))
                    acc_append((op_id, tid, WRITE, off, dt, sh, sd))
                else:
                    acc_append((op_id, tid, role, v.storage_offset(), v.dtype, v.shape, v.stride()))
            elif isinstance(v, (list, tuple)):  # Tensor[] / Tensor?[] arguments (cat, stack, foreach)
                for t in v:
                    if isinstance(t, Tensor):
                        self._log(t, role, op_id)
        if is_lift and self.fake and isinstance(out, Tensor):
            self._alias_lifted(args[0], out)  # before the result is logged: it takes the constant's id
        if single and isinstance(out, Tensor):
            st = out.untyped_storage()
            key = id(st)
            tid = live.get(key)
            if tid is None:
                tid = self._new_storage(st, key, op_id)
            acc_append((op_id, tid, WRITE, out.storage_offset(), out.dtype, out.shape, out.stride()))
        elif ret_plan:
            outs = out if len(ret_plan) > 1 else (out,)
            for role, o in zip(ret_plan, outs):
                if role < 0:
                    continue
                if isinstance(o, Tensor):
                    self._log(o, role, op_id)
                elif isinstance(o, (list, tuple)):
                    for x in o:
                        if isinstance(x, Tensor):
                            self._log(x, role, op_id)
        self.ops.append((op_id, self.step, func, phase, module, flop_fn(args, kwargs, out) if flop_fn is not None else 0))
        return out
