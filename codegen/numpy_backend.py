"""The NumPy backend: emits readable Python source calling NumPy, one line per node. Owns NUMPY_TEMPLATES.
(Over 300 lines: the templates of every op beside the one emitter that prints them; they split next.)

The memory plan (``codegen.memory``) decides what the code keeps: each value is deleted after its last use,
and a fused kernel's temporaries share buffers through ufunc ``out=``. Checks on the data (``codegen.checks``)
are a line before their node. `f.source` shows the code. Every identifier in it is one we make (in0, d0, v1,
t2, c3, f4, and the RUNTIME helpers); user names (of inputs, sizes, functions) appear only in comments,
escaped with repr, so no name can run code, shadow another or clash with one after Python's NFKC
normalisation of identifiers. Size expressions are printed as exact integer arithmetic (dims.to_python).
"""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Callable

import numpy as np

from graphc.bodies import nested_nodes, sizes_used
from graphc.codegen.checks import NumericsCheck, checks_of, first_too_big, kernel_checks
from graphc.codegen.memory import plan, plan_graph
from graphc.dims import Dim, Size, to_python
from graphc.elementwise import ScalarFunction
from graphc.errors import BackendError, GraphcError
from graphc.graph import Constant
from graphc.ops import IMPL, Op, expit, index_to_python
from graphc.types import broadcast_shapes

from .numpy_indexing import INDEXING_RUNTIME, INDEXING_TEMPLATES
from .numpy_math import MATH_RUNTIME, MATH_UFUNCS

# Elementwise ops as ufunc-like callables that accept out=: the fused block can then reuse buffers.
UFUNCS: dict[Op, str] = {
    Op.NEG: "np.negative", Op.ABS: "np.abs", Op.SIGN: "np.sign", Op.EXP: "np.exp", Op.LOG: "np.log",
    Op.LOG1P: "np.log1p", Op.EXPM1: "np.expm1", Op.SQRT: "np.sqrt", Op.SIN: "np.sin", Op.COS: "np.cos",
    Op.TANH: "np.tanh", Op.SIGMOID: "expit", Op.SOFTPLUS: "softplus", Op.RELU: "relu",
    Op.NOT: "np.invert", Op.ADD: "np.add", Op.SUB: "np.subtract", Op.MUL: "np.multiply",
    Op.DIV: "np.true_divide",
    Op.POW: "power", Op.MAXIMUM: "np.maximum", Op.MINIMUM: "np.minimum", Op.LT: "np.less",
    Op.LE: "np.less_equal", Op.GT: "np.greater", Op.GE: "np.greater_equal", Op.EQ: "np.equal",
    Op.NE: "np.not_equal", Op.AND: "np.bitwise_and", Op.OR: "np.bitwise_or",  # logical on bools
    **MATH_UFUNCS,
}  # fmt: skip


def _call(name: str) -> Callable:
    return lambda a, p: f"{name}({', '.join(a)})"


def _count(array: str, axes: tuple[int, ...]) -> str:
    return " * ".join(f"{array}.shape[{a}]" for a in axes) or "1"


def _reduce(fn: str) -> Callable:
    return lambda a, p: f"np.{fn}({a[0]}, axis={p['axis']}, keepdims={p['keepdims']})"


NUMPY_TEMPLATES: dict[Op, Callable[[list[str], dict], str]] = {
    **{op: _call(name) for op, name in UFUNCS.items()},
    Op.CAST: lambda a, p: f"np.asarray({a[0]}).astype(np.{p['dtype'].name})",
    Op.WHERE: lambda a, p: f"np.where({a[0]}, {a[1]}, {a[2]})",
    Op.SCALAR_FN: lambda a, p: f"{p['fn']}({', '.join(a)})",  # p['fn']: the function's name in the code
    Op.SUM: _reduce("sum"),
    Op.MEAN: lambda a, p: f"mean({a[0]}, axis={p['axis']}, keepdims={p['keepdims']})",
    Op.MAX: _reduce("max"),
    Op.MIN: _reduce("min"),
    Op.PROD: _reduce("prod"),
    Op.ARGMAX: lambda a, p: f"np.argmax({a[0]}, axis={p['axis']}, keepdims={p['keepdims']})",
    Op.MATMUL: lambda a, p: f"np.matmul({a[0]}, {a[1]})",
    Op.TRANSPOSE: lambda a, p: f"np.transpose({a[0]}, {p['perm']})",
    Op.RESHAPE: lambda a, p: f"np.reshape({a[0]}, {_shape(p['shape'])})",
    Op.BROADCAST_TO: lambda a, p: f"np.broadcast_to({a[0]}, {_shape(p['shape'])})",
    Op.GETITEM: lambda a, p: f"{a[0]}[{_index(p['index'])}]",
    Op.CONCATENATE: lambda a, p: f"np.concatenate(({', '.join(a)},), axis={p['axis']})",
    Op.SOFTMAX: lambda a, p: f"softmax({a[0]}, axis={p['axis']})",
    Op.LOG_SOFTMAX: lambda a, p: f"log_softmax({a[0]}, axis={p['axis']})",
    Op.LOGSUMEXP: lambda a, p: f"logsumexp({a[0]}, axis={p['axis']}, keepdims={p['keepdims']})",
    Op.SIZE: lambda a, p: f"np.asarray({_count(a[0], p['axis'])}, dtype=np.{p['dtype'].name})",
    Op.ONE_HOT: lambda a, p: f"(({a[0]})[..., None] == np.arange({p['depth']})).astype(np.{p['dtype'].name})",
    Op.ARANGE: lambda a, p: (
        f"np.arange({p['start']!r}, {_number(p['stop'])}, {p['step']!r}, np.{np.dtype(p['dtype']).name})"
    ),
    Op.RANDOM_UNIFORM: lambda a, p: (
        f"random_uniform({a[0]}, {_shape(p['shape'])}, {int(p['seed'])}, np.{np.dtype(p['dtype']).name})"
    ),
    **INDEXING_TEMPLATES,
}
"""NUMPY_TEMPLATES[op](argument expressions, params) -> a Python expression. FUSED is emitted as a block."""


class Code(str):
    """A param made printable (a size expression, a function's name in the code): written as it is."""


def _dim(d) -> str:
    if isinstance(d, (int, Code)):
        return str(d)
    raise BackendError(f"internal error: the size {d!r} reached the numpy templates unprinted")


def _number(v) -> str:
    """A param that is a number or a size (printed by Emitter.printable)."""
    return repr(v) if isinstance(v, (int, float)) else _dim(v)


def _shape(shape) -> str:
    inner = ", ".join(_dim(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def _index(index) -> str:
    parts = []
    for item in index_to_python(index):
        if item is None:
            parts.append("None")
        elif isinstance(item, slice):
            # start:stop, plus :step only when given (stripping colons would turn `1:` into the int `1`)
            text = ("" if item.start is None else str(item.start)) + ":"
            text += "" if item.stop is None else str(item.stop)
            parts.append(text if item.step is None else f"{text}:{item.step}")
        else:
            parts.append(str(item))
    return ", ".join(parts) + ("," if len(parts) == 1 else "")


# Helpers the generated code calls; their NumPy semantics match graphc.ops.IMPL.
def softplus(x, out=None):
    """log(1 + e^x) as max(x, 0) + log1p(e^-|x|): as exact as np.logaddexp(x, 0) and 5-8x faster."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    tail = np.log1p(np.exp(-np.abs(x)))
    return np.add(np.maximum(x, np.zeros((), x.dtype)), tail, out=out)


def relu(x, out=None):
    return np.maximum(x, np.zeros((), x.dtype), out=out)


RUNTIME = {
    "np": np,
    "expit": expit,
    "softplus": softplus,
    "relu": relu,
    "power": IMPL[Op.POW],
    "softmax": IMPL[Op.SOFTMAX],
    "log_softmax": IMPL[Op.LOG_SOFTMAX],
    "logsumexp": IMPL[Op.LOGSUMEXP],
    "mean": IMPL[Op.MEAN],
    "random_uniform": IMPL[Op.RANDOM_UNIFORM],
    **MATH_RUNTIME,
    **INDEXING_RUNTIME,
}


class Emitter:
    """Names every value and writes one line per node into the body of `compiled(...)`. A loop's or a branch's
    body becomes a function of its own (`parent` is the emitter that calls it), defined before `compiled`."""

    def __init__(
        self, fgraph, check_numerics: bool = False, parent: Emitter | None = None, name: str = "compiled"
    ):
        self.fg = fgraph
        self.name = name
        self.check_numerics = check_numerics
        self.names: dict[int, str] = {}
        self.lines: list[str] = []
        # a graph and its bodies' functions share one namespace, one counter (names never clash) and names
        self.namespace = parent.namespace if parent else dict(RUNTIME)
        self._counter = parent._counter if parent else itertools.count(1)
        self.sizes: dict[Size, str] = parent.sizes if parent else {}  # a size -> its identifier in the code
        self.functions: dict[int, str] = (
            parent.functions if parent else {}
        )  # id(ScalarFunction) -> identifier
        self.body_sources: list[str] = parent.body_sources if parent else []  # bodies' functions, in order

    def fresh(self, prefix: str = "v") -> str:
        return f"{prefix}{next(self._counter)}"

    def name_of(self, var) -> str:
        if id(var) not in self.names:
            if isinstance(var, Constant):
                self.names[id(var)] = self._constant(var)
            else:
                raise KeyError(var)
        return self.names[id(var)]

    def _constant(self, const: Constant) -> str:
        if const.value.ndim == 0:
            value = const.value[()]
            finite = value.dtype.kind != "f" or np.isfinite(value)
            text = str(value) if finite else f"float('{value}')"  # str() of a NumPy scalar round-trips
            return f"np.{const.value.dtype.name}({text})"
        name = self.fresh("c")
        self.namespace[name] = const.value
        return name

    def emit(self) -> str:
        """The source of this function; a body's function takes the named sizes it uses first."""
        fg = self.fg
        self.plan = plan_graph(fg)
        # a body's function takes the sizes it uses first, as its caller names them
        self.size_params = [] if self.name == "compiled" else sorted(self.sizes[d] for d in sizes_used(fg))
        params = list(self.size_params)
        for i, v in enumerate(list(fg.inputs) + list(fg.shared)):
            self.names[id(v)] = name = f"in{i}"
            params.append(name)
            kind = "input" if i < len(fg.inputs) else "shared"
            self.lines.append(f"# {name}: {kind} {_comment(v.name)} {_comment(v.type)}")
        if self.name == "compiled":
            self._bind_sizes()
        made: set[int] = set()
        for step, node in enumerate(fg.nodes):
            if node.origin is not None:
                self.lines.append(f"# {node.op.value}  built at {_comment(_short(node.origin))}")
            self._emit_checks(checks_of(node), [self.name_of(v) for v in node.inputs])
            if node.op in BLOCKS:
                BLOCKS[node.op](self, node)
            else:
                args = [self.name_of(v) for v in node.inputs]
                out = self.fresh()
                self.names[id(node.outputs[0])] = out
                self.lines.append(f"{out} = {NUMPY_TEMPLATES[node.op](args, self.printable(node.params))}")
            if self.check_numerics:
                self._check_numerics(node)
            made.update(map(id, node.outputs))
            dead = [self.names[v] for v in self.plan.dying[step] if v in made]
            if dead:
                self.lines.append(f"del {', '.join(dead)}")
        outs = ", ".join(self.name_of(v) for v in fg.outputs)
        ups = ", ".join(self.name_of(v) for _, v in fg.updates)
        self.lines.append(f"return [{outs}], [{ups}]" if self.name == "compiled" else f"return [{outs}]")
        body = "\n".join("        " + line for line in self.lines)
        signature = f"def {self.name}({', '.join(params)}):"
        return f"{signature}\n    with np.errstate(all='ignore'):\n{body}\n"

    def call_body(self, body, kind: str, args: list[str]) -> str:
        """Emit `body` as a function of its own; the expression calling it on `args` (a list of arrays)."""
        sub = Emitter(body, parent=self, name=self.fresh(kind))
        self.body_sources.append(sub.emit())
        return f"{sub.name}({', '.join(sub.size_params + args)})"

    def _emit_checks(self, checks, args: list[str], guard: str = "") -> None:
        """One line per check on the data, before the node or instruction it guards (``args``: the names of
        its arguments; a check reads those ``check.reads`` says)."""
        for check in checks:
            name = self.fresh("c")
            self.namespace[name] = check.verify
            arrays = ", ".join(args[i] for i in check.reads)
            self.lines.append(f"{guard}{name}({arrays})  # {check.rule}")

    def _check_numerics(self, node) -> None:
        """check_numerics: each float output, right after its node, against the node's inputs."""
        name = self.fresh("c")
        self.namespace[name] = NumericsCheck(node).verify
        inputs = ", ".join(self.name_of(v) for v in node.inputs)
        for out in node.outputs:
            if out.type.is_float:
                self.lines.append(f"{name}({self.name_of(out)}, ({inputs},))  # no new NaN or inf")

    def _bind_sizes(self) -> None:
        """Each size (named n, or anonymous x.0) is read from the first input that has it (`d0 =
        in0.shape[0]`); every size of the graph is one of these (gc.function checks that)."""
        for v in self.fg.inputs:
            for axis, d in enumerate(v.type.shape):
                if isinstance(d, Size) and d not in self.sizes:
                    self.sizes[d] = name = f"d{len(self.sizes)}"
                    self.lines.append(f"{name} = {self.names[id(v)]}.shape[{axis}]  # {_comment(d)}")

    def printable(self, params: dict) -> dict:
        """`params` with size expressions as code over our size names (in shapes and index items, one tuple
        deep) and a ScalarFunction as the name we gave it in the namespace."""
        out = {}
        for key, value in params.items():
            if isinstance(value, ScalarFunction):
                value = Code(self.function_name(value))
            elif isinstance(value, Dim):  # a size alone (arange's stop)
                value = self.size(value)
            elif isinstance(value, tuple):
                value = tuple(
                    tuple(self.size(d) for d in item) if isinstance(item, tuple) else self.size(item)
                    for item in value
                )
            out[key] = value
        return out

    def size(self, d):
        return Code(to_python(d, self.sizes.__getitem__)) if isinstance(d, Dim) else d

    def function_name(self, fn: ScalarFunction) -> str:
        if id(fn) not in self.functions:
            self.functions[id(fn)] = name = self.fresh("f")
            self.namespace[name] = fn.impl
            self.lines.append(f"# {name}: elementwise {_comment(fn.name)}")
        return self.functions[id(fn)]

    def _emit_fused(self, node) -> None:
        """One block per kernel. Its temporaries of the full shape share buffers, as the memory plan of its
        instructions says: a ufunc writes into a dead temporary's buffer (out=), even one it reads."""
        kernel = node.params["kernel"]
        n_in = kernel.n_inputs
        names = [self.name_of(v) for v in node.inputs]
        shapes = [v.type.shape for v in node.inputs]
        full = broadcast_shapes(*shapes)
        for ins in kernel.instrs:
            shapes.append(() if ins.op is None else _broadcast([shapes[a] for a in ins.args]))
        instrs = list(enumerate(kernel.instrs, start=n_in))
        # temporaries of the full shape can share a buffer (by dtype); only ufuncs can write into one (out=)
        keys = {pos: (full, ins.dtype) for pos, ins in instrs if ins.op and full and shapes[pos] == full}
        ufuncs = {pos for pos, ins in instrs if ins.op in UFUNCS}
        steps = [(ins.args, (pos,)) for pos, ins in instrs]
        memory = plan(steps, kernel.outputs, keys.get, reusable=ufuncs.__contains__, in_place=True)
        holder: dict[int, str] = {}  # slot -> the name of the buffer it holds
        checks = kernel_checks(kernel)
        guard = ""  # checks inside a kernel apply when it computes some element (as in native code)
        if any(checks):
            guard = "if not empty: "
            self.lines.append(f"empty = {' or '.join(f'{n}.size == 0' for n in names) or 'False'}")
        for pos, ins in instrs:
            if ins.op is None:
                names.append(f"np.{ins.dtype}({ins.param_dict['value']!r})")
                continue
            self._emit_checks(checks[pos - n_in], [names[a] for a in ins.args], guard)
            call = NUMPY_TEMPLATES[ins.op]([names[a] for a in ins.args], self.printable(ins.param_dict))
            slot = memory.slot.get(pos)
            if slot in holder:  # a dead temporary's buffer
                name = holder[slot]
                self.lines.append(f"{call[:-1]}, out={name})")
            else:
                name = self.fresh("t")
                if slot is not None:
                    holder[slot] = name
                self.lines.append(f"{name} = {call}")
            names.append(name)
        for out_var, value_id, red in zip(node.outputs, kernel.outputs, kernel.reductions, strict=True):
            value = names[value_id]
            if shapes[value_id] != full:
                value = f"np.broadcast_to({value}, {_shape(tuple(map(self.size, full)))})"
            if red is not None:
                op, axes, keepdims = red
                value = NUMPY_TEMPLATES[op]([value], {"axis": axes, "keepdims": keepdims})
            out = self.fresh()
            self.lines.append(f"{out} = {value}")
            self.names[id(out_var)] = out


def _comment(text) -> str:
    """User text for a comment of the generated code: repr-escaped, so no character can end the line."""
    return repr(str(text))


@functools.lru_cache(maxsize=4096)
def _short(origin) -> str:
    return f"{os.path.basename(origin[0])}:{origin[1]}"


def _broadcast(shapes: list) -> tuple:
    """broadcast_shapes, without its work in the common case of one shape object for every argument."""
    first = shapes[0]
    return first if all(s is first for s in shapes) else broadcast_shapes(*shapes)


def _emit_scan(em: Emitter, node) -> None:
    """A Python loop over the steps calling the body's function; ys and saved carries are written in place."""
    p = node.params
    n_carry, n_seq = p["n_carry"], p["n_seq"]
    args = [em.name_of(v) for v in node.inputs]
    carries = [em.fresh("c") for _ in range(n_carry)]
    em.lines += [f"{c} = {a}" for c, a in zip(carries, args, strict=False)]
    stacked = []
    for out in node.outputs[n_carry:]:
        name = em.fresh()
        shape = _shape(tuple(map(em.size, out.type.shape)))
        em.lines.append(f"{name} = np.empty({shape}, np.{out.type.dtype.name})")
        stacked.append(name)
    n_y = len(node.outputs) - n_carry - len(p["save"])
    ys, saved = stacked[:n_y], stacked[n_y:]
    t, steps = em.fresh("t"), _dim(em.size(p["length"]))
    em.lines.append(f"for {t} in {f'range({steps} - 1, -1, -1)' if p['reverse'] else f'range({steps})'}:")
    em.lines += [f"    {s}[{t}] = {carries[k]}" for s, k in zip(saved, p["save"], strict=True)]
    step_args = carries + [f"{a}[{t}]" for a in args[n_carry : n_carry + n_seq]] + args[n_carry + n_seq :]
    results = carries + [em.fresh("y") for _ in ys]
    em.lines.append(f"    {', '.join(results)}, = {em.call_body(p['body'], 'scan_body', step_args)}")
    em.lines += [f"    {y}[{t}] = {r}" for y, r in zip(ys, results[n_carry:], strict=True)]
    for var, name in zip(node.outputs, carries + stacked, strict=True):
        em.names[id(var)] = name


def _emit_cond(em: Emitter, node) -> None:
    """An if/else calling the branch taken (the other one never runs)."""
    pred, *args = [em.name_of(v) for v in node.inputs]
    outs = [em.fresh() for _ in node.outputs]
    for branch, test in (("true_body", f"if {pred}:"), ("false_body", "else:")):
        call = em.call_body(node.params[branch], branch.split("_")[0], args)
        em.lines += [test, f"    {', '.join(outs)}, = {call}"]
    for var, name in zip(node.outputs, outs, strict=True):
        em.names[id(var)] = name


BLOCKS = {Op.FUSED: Emitter._emit_fused, Op.SCAN: _emit_scan, Op.COND: _emit_cond}
"""Ops emitted as several lines (a block) rather than one NUMPY_TEMPLATES expression."""


class NumpyProgram:
    def __init__(self, fgraph, check_numerics: bool = False):
        emitter = Emitter(fgraph, check_numerics)
        main = emitter.emit()
        self.source = "\n\n".join([*emitter.body_sources, main])
        namespace = emitter.namespace
        exec(compile(self.source, "<graphc numpy>", "exec"), namespace)  # noqa: S102 - our own generated code
        self._fn = namespace["compiled"]
        self.memory_plan = emitter.plan
        self._nodes = nested_nodes(fgraph)  # a body's values too

    def run(self, arrays, shared_values, sizes):
        try:
            return self._fn(*arrays, *shared_values)
        except (ValueError, OverflowError) as exc:  # NumPy's "array is too big": name the value
            values = [out for node in self._nodes for out in node.outputs]
            error = None if isinstance(exc, GraphcError) else first_too_big(values, sizes)
            if error is None:
                raise
            raise error from exc


def compile_graph(fgraph, check_numerics: bool = False) -> NumpyProgram:
    return NumpyProgram(fgraph, check_numerics)
