"""The llvm backend: lowers a whole FunctionGraph into ONE native entry point. Owns the Lowerer; imports only
the core.

The entry ``i32 graphc_entry(PyObject* arrays_tuple, i64 nthreads, i64 size...)`` reads each array's data
pointer (inputs, shared values, large constants, then the output buffers Python allocated), computes every
intermediate in a single malloc'd arena (buffers of equal size are reused once dead), and returns 0 or an
error code that Python turns into an exception. Kernels depend on rank, dtype and broadcast pattern only;
sizes are run-time values, so a new batch size never recompiles. Node lowerings live in ``nodes`` (table
``lower.LLVM_RULES``).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import sympy
from llvmlite import ir

from graphc.errors import BackendError, ShapeError
from graphc.graph import Constant
from graphc.kernel import Instr
from graphc.ops import ELEMENTWISE, Op

from . import kernels, views
from .lower import LLVM_RULES
from .scalar import I8, I32, I64, constant, memory_type
from .views import View, const

I8P = I8.as_pointer()
ALIGN = 64
SEPARATE_ENTRY_NODES = 64  # graphs with this many nodes get an entry module compiled without optimisation


class Buffer:
    """Memory views alias: an arena slot (reusable once no live variable views it) or an external array."""

    def __init__(self, offset=None, key=None):
        self.offset, self.key, self.live = offset, key, 0


class Lowerer:
    """Builds the module: the entry block computes sizes and arena offsets, then checks, then the body."""

    def __init__(self, fgraph):
        self.fg = fgraph
        self.module = ir.Module(name="graphc")
        self.kernel_memo: dict = {}
        self.main = ir.Function(
            self.module, ir.FunctionType(I32, [I8P.as_pointer(), I64.as_pointer()]), "graphc.main"
        )
        self.main.linkage = "internal"
        # A big graph's entry is a long straight line of calls (kernels, BLAS): optimising it gains nothing
        # and dominated compile time, so it goes into a module of its own compiled without optimisation.
        self.entry_module: ir.Module | None = None
        self.split = len(fgraph.nodes) >= SEPARATE_ENTRY_NODES
        self.ptrs_arg, self.dims_arg = self.main.args
        entry = self.main.append_basic_block("entry")
        self.first_check = self.main.append_basic_block("checks")
        self.body_block = self.main.append_basic_block("body")
        self.eb, self.cb, self.b = (
            ir.IRBuilder(entry),
            ir.IRBuilder(self.first_check),
            ir.IRBuilder(self.body_block),
        )
        self.arena_slot = self.eb.alloca(I8P, name="arena")
        self.arena = self.b.load(self.arena_slot, name="arena.base")  # stored by the alloc block
        self.arena_total = const(0)
        self.pool: dict = defaultdict(list)
        self.size_memo: dict = {}
        self.byte_sizes: dict = {}
        self.scratch: dict = {}  # (type, size) -> alloca shared by all kernel calls (they run one by one)
        self.elements: dict = {}  # (id(scratch array), k) -> its element's address
        self.symbols: list = []  # dims slots 1.. (slot 0 is the thread count)
        self.derived: list = []  # sympy expressions Python evaluates (non-polynomial sizes)
        self.dim_memo: dict = {}
        self.messages: list[tuple[type, str]] = []
        self.env: dict[int, View] = {}
        self.nthreads = self.eb.load(self.eb.gep(self.dims_arg, [const(0)]), name="nthreads")
        self._layout_pointers()

    # --- sizes
    # ------------------------------------------------------------------------------------------------
    def dim(self, d) -> ir.Value:
        """The run-time value of a dimension (int, symbol, or expression of symbols), computed once."""
        if isinstance(d, int | np.integer):
            return const(int(d))
        d = sympy.sympify(d)
        if d.is_Integer:
            return const(int(d))
        if d in self.dim_memo:
            return self.dim_memo[d]
        value = self._polynomial(d)
        if value is None:
            self.derived.append(d)
            value = self._slot(len(self.symbols) + len(self.derived))
        if not isinstance(d, sympy.Symbol):  # e.g. n - 2 with n = 1: refuse before any loop or BLAS call
            self.check(
                lambda b, v=value: b.icmp_signed(">=", v, const(0)),
                ShapeError,
                f"the size {d} is negative for these inputs",
            )
        self.dim_memo[d] = value
        return value

    def _slot(self, k: int) -> ir.Value:
        return self.eb.load(self.eb.gep(self.dims_arg, [const(k)]))

    def _polynomial(self, expr):
        """Integer polynomials of the symbols are computed in IR; anything else (floor, ...) by Python."""
        values: dict = {}
        for e in sympy.postorder_traversal(expr):
            if e in values:
                continue
            if isinstance(e, sympy.Symbol):
                if e not in self.symbols:
                    self.symbols.append(e)
                values[e] = self._slot(1 + self.symbols.index(e))
            elif e.is_Integer:
                values[e] = const(int(e))
            elif isinstance(e, sympy.Add | sympy.Mul):
                op = self.eb.add if isinstance(e, sympy.Add) else self.eb.mul
                acc = values[e.args[0]]
                for a in e.args[1:]:
                    acc = op(acc, values[a])
                values[e] = acc
            elif isinstance(e, sympy.Pow) and e.args[1].is_Integer and 0 < int(e.args[1]) <= 8:
                acc = values[e.args[0]]
                for _ in range(int(e.args[1]) - 1):
                    acc = self.eb.mul(acc, values[e.args[0]])
                values[e] = acc
            else:
                return None
        return values[expr]

    def product(self, dims) -> ir.Value:
        acc = const(1)
        for d in dims:
            acc = views._mul(self.eb, acc, d)
        return acc

    # --- buffers
    # ----------------------------------------------------------------------------------------------
    def _layout_pointers(self) -> None:
        fg = self.fg
        self.big_constants = [c for c in fg.constants if c.value.ndim > 0]
        external = list(fg.inputs) + list(fg.shared) + self.big_constants
        for k, var in enumerate(external):
            self.env[id(var)] = self._external_view(k, var)
        for c in fg.constants:
            if c.value.ndim == 0:
                self.env[id(c)] = self._scalar_constant(c)
        self.roots = fg.roots
        self.root_base = len(external)
        self.n_pointers = self.root_base + len(self.roots)
        self.root_of: dict[int, int] = {}
        for k, var in enumerate(self.roots):
            self.root_of.setdefault(id(var), k)
        self.root_written: set[int] = set()

    def _external_view(self, k: int, var) -> View:
        raw = self.eb.load(self.eb.gep(self.ptrs_arg, [const(k)]))
        ptr = self.eb.bitcast(raw, memory_type(var.type.dtype).as_pointer())
        dims = [self.dim(d) for d in var.type.shape]
        return views.contiguous(self.eb, ptr, var.type.dtype, var.type.shape, dims, Buffer())

    def _scalar_constant(self, c: Constant) -> View:
        g = ir.GlobalVariable(
            self.module, memory_type(c.value.dtype), name=f"graphc.const.{len(self.module.globals)}"
        )
        g.linkage, g.global_constant = "internal", True
        value = c.value[()]
        g.initializer = (
            constant(c.value.dtype, value) if c.value.dtype.kind != "b" else ir.Constant(I8, int(bool(value)))
        )
        return views.contiguous(self.eb, g, c.value.dtype, (), (), Buffer())

    def temp(self, dtype, shape) -> View:
        """An arena buffer for use inside one lowering; give it back with `release`."""
        view = self._arena(dtype, shape)
        view.buffer.live = 1
        return view

    def release(self, view: View) -> None:
        self._unref(view.buffer)

    def output_buffer(self, var) -> View:
        """Where a node writes ``var``: the caller's output array if ``var`` is an output, else the arena."""
        k = self.root_of.get(id(var))
        if k is not None and k not in self.root_written:
            self.root_written.add(k)
            return self._external_view(self.root_base + k, var)
        return self._arena(var.type.dtype, var.type.shape)

    def _arena(self, dtype, shape) -> View:
        dtype = np.dtype(dtype)
        key = self._byte_size(dtype.itemsize, tuple(shape))
        dims = [self.dim(d) for d in shape]
        if self.pool[key]:
            offset = self.pool[key].pop()
        else:
            if key not in self.size_memo:
                size = views._mul(self.eb, self.product(dims), const(dtype.itemsize))
                self.size_memo[key] = self.eb.and_(self.eb.add(size, const(ALIGN - 1)), const(-ALIGN))
            aligned = self.size_memo[key]
            offset = self.arena_total
            self.arena_total = self.eb.add(self.arena_total, aligned)
        ptr = self.b.bitcast(self.b.gep(self.arena, [offset]), memory_type(dtype).as_pointer())
        return views.contiguous(self.eb, ptr, dtype, shape, dims, Buffer(offset, key))

    def _byte_size(self, itemsize: int, shape: tuple):
        """The size in bytes as a sympy expression (equal sizes are equal keys), memoised per shape."""
        memo_key = (itemsize, shape)
        if memo_key not in self.byte_sizes:
            nbytes = sympy.Integer(itemsize)
            for d in shape:
                nbytes = nbytes * d
            self.byte_sizes[memo_key] = nbytes
        return self.byte_sizes[memo_key]

    def _unref(self, buffer) -> None:
        if buffer is None:
            return
        buffer.live -= 1
        if buffer.live <= 0 and buffer.key is not None:
            self.pool[buffer.key].append(buffer.offset)
            buffer.key = None  # released once

    # --- checks
    # -----------------------------------------------------------------------------------------------
    def check(self, condition, exc: type, message: str) -> None:
        """Before any work: ``condition(builder)`` (i1, true = fine), else error code -> ``exc(message)``."""
        code = 2 + len(self.messages)
        self.messages.append((exc, message))
        ok = condition(self.cb)
        nxt = self.main.append_basic_block("check")
        fail = self.main.append_basic_block("fail")
        self.cb.cbranch(ok, nxt, fail)
        ir.IRBuilder(fail).ret(ir.Constant(I32, code))
        self.cb.position_at_end(nxt)

    # --- loops
    # ------------------------------------------------------------------------------------------------
    def loop(self, instrs, inputs: list[View], outputs: list[tuple[int, View, Op | None]], shape) -> None:
        """Run a scalar body over ``shape``: inputs broadcast; outputs (of that shape) stored or reduced."""
        shape = tuple(shape)
        dims = [self.dim(d) for d in shape]
        inputs = [views.broadcast(v, shape, dims) for v in inputs]
        operands = inputs + [v for _, v, _ in outputs]
        flat = all((v.contig and v.shape == shape) or all(s == 0 for s in v.sstrides) for v in operands)
        flat = flat and all(red is None for _, _, red in outputs)
        if flat or not shape:
            rank, loop_dims = 1, [self.product(dims)]
            # flat: contiguous operands of the full shape walk with the index, the rest are broadcast scalars
            strides = [(1,) if shape and v.contig and v.shape == shape else (0,) for v in operands]
            runtime = []
        else:
            rank, loop_dims = len(shape), dims
            strides = [tuple(s if s is None or s in (0, 1) else None for s in v.sstrides) for v in operands]
            runtime = [
                v.strides[a]
                for v, st in zip(operands, strides, strict=True)
                for a in range(rank)
                if st[a] is None
            ]
        spec = kernels.LoopSpec(
            tuple(v.dtype.name for v in inputs),
            tuple(instrs),
            tuple(vid for vid, _, _ in outputs),
            tuple(v.dtype.name for _, v, _ in outputs),
            tuple(red for _, _, red in outputs),
            rank,
            tuple(strides),
        )
        fn = kernels.get_kernel(self.module, spec, self.kernel_memo)
        ptr_array = self._scratch(I8P, len(operands))
        info = self._scratch(I64, rank + len(runtime))
        b = self.b
        for k, v in enumerate(operands):
            b.store(_as_i8p(b, v.ptr), self._element(ptr_array, k))
        for k, value in enumerate(list(loop_dims) + runtime):
            b.store(value, self._element(info, k))
        outer = loop_dims[0]
        splittable = all(red is None or (v.sstrides and v.sstrides[0] != 0) for _, v, red in outputs)
        total = self.product(loop_dims)
        small = isinstance(total, ir.Constant) and total.constant * spec.cost < kernels.PARALLEL_WORK
        if small or not splittable or spec.memory_bound:  # no thread machinery in the module at all
            b.call(fn, [ptr_array, info, const(0), outer])
            return
        work = b.mul(total, const(spec.cost))
        b.call(kernels.get_runner(self.module), [fn, ptr_array, info, outer, work, self.nthreads])

    def _scratch(self, ty: ir.Type, count: int) -> ir.Value:
        """An entry-block array of at least ``count`` elements, shared by kernel calls of that size class."""
        size = 8 if count <= 8 else 64 if count <= 64 else count
        if (str(ty), size) not in self.scratch:
            with self.eb.goto_entry_block():
                self.scratch[str(ty), size] = self.eb.alloca(ty, size=const(size))
        return self.scratch[str(ty), size]

    def _element(self, array: ir.Value, k: int) -> ir.Value:
        """&array[k] for a scratch array, computed once in the entry block (kernel calls all store there)."""
        key = (id(array), k)
        if key not in self.elements:
            self.elements[key] = self.eb.gep(array, [const(k)])
        return self.elements[key]

    def copy(self, src: View, dest: View) -> None:
        """dest[...] = src (broadcast to dest's shape, converted to dest's dtype)."""
        self.loop((), [src], [(0, dest, None)], dest.shape)

    def fill(self, dest: View, value) -> None:
        self.loop((Instr(None, (), (("value", value),), dest.dtype.name),), [], [(0, dest, None)], dest.shape)

    # --- the walk
    # ---------------------------------------------------------------------------------------------
    def lower(self) -> None:
        fg = self.fg
        uses: dict[int, int] = defaultdict(int)
        for node in fg.nodes:
            for v in node.inputs:
                uses[id(v)] += 1
        for v in fg.roots:
            uses[id(v)] += 1 << 40
        for node in fg.nodes:
            rule = LLVM_RULES.get(node.op)
            if rule is None:
                raise NotImplementedError(f"the llvm backend has no lowering for op {node.op.name}")
            in_views = [self.env[id(v)] for v in node.inputs]
            if node.op in ELEMENTWISE:
                from .nodes import elementwise_node

                outs = elementwise_node(self, node, in_views)
            else:
                outs = rule(self, node, in_views)
            for var, view in zip(node.outputs, outs, strict=True):
                self.env[id(var)] = view
                if view.buffer is not None:
                    view.buffer.live += 1
                if uses[id(var)] == 0:
                    self._unref(view.buffer)
            for v in node.inputs:
                uses[id(v)] -= 1
                if uses[id(v)] == 0:
                    self._unref(self.env[id(v)].buffer)
        for k, var in enumerate(self.roots):
            if k not in self.root_written or self.root_of[id(var)] != k:
                self.copy(self.env[id(var)], self._external_view(self.root_base + k, var))
        self._finish()

    def _finish(self) -> None:
        malloc = ir.Function(self.module, ir.FunctionType(I8P, [I64]), "malloc")
        free = ir.Function(self.module, ir.FunctionType(ir.VoidType(), [I8P]), "free")
        self.eb.position_at_end(self.eb.block)  # BLAS helpers append allocas to this block behind our back
        self.eb.branch(self.first_check)
        alloc = self.main.append_basic_block("alloc")
        self.cb.branch(alloc)
        ab = ir.IRBuilder(alloc)
        arena = ab.call(malloc, [ab.add(self.arena_total, const(ALIGN))])
        ab.store(arena, self.arena_slot)
        out_of_memory = self.main.append_basic_block("oom")
        ab.cbranch(ab.icmp_unsigned("==", arena, ir.Constant(I8P, None)), out_of_memory, self.body_block)
        ir.IRBuilder(out_of_memory).ret(ir.Constant(I32, 1))
        self.b.call(free, [self.b.load(self.arena_slot)])
        self.b.ret(ir.Constant(I32, 0))
        self._python_entry()

    def _python_entry(self) -> None:
        """``graphc_entry(tuple, extra sizes...)``: data pointers, and the sizes the inputs' shapes give, are
        read from the tuple's arrays (layouts checked in runtime); Python passes only sizes no input holds."""
        from .runtime import ARRAY_DATA_OFFSET, ARRAY_DIMS_OFFSET, TUPLE_ITEMS_OFFSET

        self.binding: dict = {}
        for pos, var in enumerate(self.fg.inputs):
            for axis, d in enumerate(var.type.shape):
                if isinstance(d, sympy.Symbol):
                    self.binding.setdefault(d, (pos, axis))
        self.arg_exprs = [s for s in self.symbols if s not in self.binding] + list(self.derived)
        fn = ir.Function(
            self.module, ir.FunctionType(I32, [I8P] + [I64] * len(self.arg_exprs)), "graphc_entry"
        )
        threads = ir.GlobalVariable(self.module, I64, name="graphc_nthreads")
        threads.initializer = const(1)
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        ptrs = b.alloca(I8P, size=const(max(1, self.n_pointers)))
        dims = b.alloca(I64, size=const(1 + len(self.symbols) + len(self.derived)))

        def item(k: int, offset: int) -> ir.Value:
            obj = b.load(b.bitcast(b.gep(fn.args[0], [const(TUPLE_ITEMS_OFFSET + 8 * k)]), I8P.as_pointer()))
            return b.load(b.bitcast(b.gep(obj, [const(offset)]), I8P.as_pointer()))

        for k in range(self.n_pointers):
            b.store(item(k, ARRAY_DATA_OFFSET), b.gep(ptrs, [const(k)]))
        values = [b.load(threads)]
        args = iter(fn.args[1:])
        for sym in self.symbols:
            if sym in self.binding:
                pos, axis = self.binding[sym]
                shape = b.bitcast(item(pos, ARRAY_DIMS_OFFSET), I64.as_pointer())
                values.append(b.load(b.gep(shape, [const(axis)])))
            else:
                values.append(next(args))
        values.extend(args)
        for k, value in enumerate(values):
            b.store(value, b.gep(dims, [const(k)]))
        b.ret(b.call(self.main, [ptrs, dims]))
        if self.split:
            self.entry_module = split_off(self.module, [self.main, fn, threads])


def _as_i8p(b: ir.IRBuilder, ptr: ir.Value) -> ir.Value:
    """``ptr`` as an i8*: the pointer it was cast from when it is a bitcast of one (arena slots are)."""
    if isinstance(ptr, ir.CastInstr) and ptr.opname == "bitcast" and ptr.operands[0].type == I8P:
        return ptr.operands[0]
    return ptr if ptr.type == I8P else b.bitcast(ptr, I8P)


def split_off(module: ir.Module, values: list[ir.GlobalValue]) -> ir.Module:
    """Move ``values`` (functions and globals of ``module``) into a new module. What they use of ``module``
    is declared there, and made external in ``module`` so that the two objects link."""
    moved = {id(v) for v in values}
    used: dict[str, ir.GlobalValue] = {}
    for fn in values:
        for block in getattr(fn, "blocks", ()):
            for instr in block.instructions:
                for op in instr.operands:
                    if isinstance(op, ir.GlobalValue) and id(op) not in moved:
                        used[op.name] = op
    new = ir.Module(name=f"{module.name}.entry")
    for name, value in used.items():
        if isinstance(value, ir.Function):
            ir.Function(new, value.ftype, name)
        else:
            decl = ir.GlobalVariable(new, value.value_type, name)
            decl.global_constant = value.global_constant
        if value.linkage in ("internal", "private"):
            value.linkage = ""
    for value in values:
        del module.globals[value.name]
        value.parent = new
        new.add_global(value)
    return new


def compile_graph(fgraph):
    """Lower, optimise (one module, one O3 run; cached on disk by IR + llvmlite version + CPU), link."""
    from .runtime import LlvmProgram

    lowerer = Lowerer(fgraph)
    lowerer.lower()
    try:
        return LlvmProgram(fgraph, lowerer)
    except RuntimeError as exc:  # LLVM rejected our IR: a bug here, reported as such
        raise BackendError(f"llvm backend: internal error while compiling: {exc}") from exc


__all__ = ["Lowerer", "compile_graph"]
