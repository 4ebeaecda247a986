"""gc.function: the driver (user layer), the one place that ties graphc, graphc.passes and graphc.codegen.

inputs/outputs/updates -> FunctionGraph -> passes pipeline -> backend program -> Function (checks + calls).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence

import numpy as np
import sympy

from graphc.codegen import compile_program
from graphc.passes import run_pipeline

from .errors import DTypeError, GraphError, IndexOutOfBounds, InputError, ShapeError, where_built
from .fgraph import FunctionGraph
from .graph import Constant, Displayed, SharedVariable, Variable, graph_inputs
from .notebook import Report
from .ops import Op, describe
from .tensor import as_variable
from .types import concrete_dim, shape_str


def function(
    inputs: Sequence[Variable],
    outputs: Variable | Sequence[Variable],
    updates: Mapping[SharedVariable, Variable] | Sequence[tuple[SharedVariable, Variable]] | None = None,
    backend: str = "numpy",
    optimize: str | Sequence = "fast",
    name: str | None = None,
):
    """Compile a graph into a Python callable.

    >>> import graphc as gc
    >>> x = gc.vector("x"); f = gc.function([x], (x * 2).sum())
    >>> float(f([1.0, 2.0]))
    6.0

    `updates` maps shared variables to their new values, all computed from the old ones and applied after the
    outputs. `optimize` is "fast" (the default pipeline), "none", or a list of passes. `backend` is "interp",
    "numpy" or "llvm".
    """
    inputs = [inputs] if isinstance(inputs, Variable) else list(inputs)  # gc.function(x, y) works too
    single = isinstance(outputs, Variable)
    outputs = [outputs] if single else [as_variable(o) for o in outputs]
    fgraph = FunctionGraph(inputs, outputs, _check_updates(updates))
    _check_inputs(fgraph)
    optimized, reports = run_pipeline(fgraph, optimize)
    program = compile_program(optimized, backend)
    compiled = Function(fgraph, optimized, program, reports, backend, single, name)
    compiled.optimize = _optimize_by_name(optimize)
    return compiled


def _optimize_by_name(optimize) -> str | list[str] | None:
    """`optimize` as a saved function records it: "fast", "none" or pass names; None for a pass of the
    user's own (a file names passes, it cannot hold code)."""
    if isinstance(optimize, str):
        return optimize
    from graphc.passes.manager import fast_pipeline

    known = dict(fast_pipeline())
    names = []
    for p in optimize:
        if isinstance(p, str):
            name, run = p, known.get(p)
        else:
            name, run = tuple(p) if isinstance(p, tuple) else (getattr(p, "__name__", ""), p)
        if known.get(name) is not run:
            return None
        names.append(name)
    return names


def compile_spec(spec, backend: str | None = None) -> Function:
    """gc.function for a recipe read from a graphc file (graphc.io.graphs.FunctionSpec)."""
    graph = spec.graph
    outputs = graph.outputs[0] if spec.single else graph.outputs
    return function(graph.inputs, outputs, graph.updates, backend or spec.backend, spec.optimize, spec.name)


def _function_from_bytes(blob: bytes) -> Function:
    """What unpickling a Function runs: read graphc's safe format (no code from the data) and compile."""
    from graphc.io.document import read_bytes

    return read_bytes(blob, compile_spec)


def evaluate(outputs, givens: dict | None = None):
    """Evaluate variables directly with the interpreter, no passes (handy for teaching and tests).

    >>> import graphc as gc
    >>> x = gc.vector("x"); float(gc.evaluate((x * x).sum(), {x: [1.0, 2.0]}))
    5.0
    """
    givens = givens or {}
    f = function(list(givens), outputs, backend="interp", optimize="none")
    return f(*givens.values())


def _check_updates(updates) -> list[tuple[SharedVariable, Variable]]:
    if updates is None:
        return []
    pairs = list(updates.items()) if isinstance(updates, Mapping) else list(updates)
    checked, seen = [], set()
    for var, value in pairs:
        if not isinstance(var, SharedVariable):
            raise GraphError(f"updates: only shared variables can be updated, not {var!r} (use gc.shared)")
        if id(var) in seen:
            raise GraphError(f"updates: {var.name or var!r} is updated twice")
        seen.add(id(var))
        value = as_variable(value, like=var)
        if value.type.dtype != var.type.dtype or value.type.shape != var.type.shape:
            raise GraphError(
                f"updates: the new value of {describe(var)} has type {value.type}; it must keep "
                f"{var.type} (cast with gc.cast or fix the expression){where_built(value.origin)}"
            )
        checked.append((var, value))
    return checked


def _check_inputs(fgraph: FunctionGraph) -> None:
    seen: set[int] = set()
    for v in fgraph.inputs:
        if not isinstance(v, Variable):
            raise InputError(f"inputs must be symbolic Variables (gc.tensor), got {v!r}")
        if v.owner is not None or isinstance(v, (Constant, SharedVariable)):
            raise InputError(
                f"{v!r} cannot be an input: inputs are gc.tensor/scalar/vector/matrix variables "
                "(shared variables are read implicitly)"
            )
        if id(v) in seen:
            raise InputError(f"{v!r} appears twice in the inputs")
        seen.add(id(v))
    for leaf in graph_inputs(fgraph.roots):
        if not isinstance(leaf, (Constant, SharedVariable)) and id(leaf) not in seen:
            names = ", ".join(repr(v.name) for v in fgraph.inputs)
            raise InputError(f"the outputs depend on input {leaf!r}, which is not among the inputs [{names}]")
    # Every named size a value uses must be read off some input's shape at call time.
    bound = {d for v in fgraph.inputs for d in v.type.shape if isinstance(d, sympy.Symbol)}
    for node in fgraph.nodes:
        for out in node.outputs:
            unknown = out.type.symbols - bound
            if unknown:
                names = ", ".join(sorted(map(str, unknown)))
                given = ", ".join(describe(v) for v in fgraph.inputs) or "none"
                raise ShapeError(
                    f"{node.op.value} makes a value of shape {shape_str(out.type.shape)}, but no input's "
                    f"shape gives the size {names} (inputs: {given}){where_built(node.origin)}"
                )


class Function(Displayed):
    """A compiled graph: call it with one array per input; get an array back (a tuple for several outputs).

    A call that fails (bad input, a check on the data) changes no shared variable: updates are applied only
    once the whole call has succeeded, all of them or none.
    """

    def __new__(cls, fgraph, optimized, program, *args):
        """A call that is only checks + the program makes a `DirectFunction` (no per-instance classes); a
        function that updates shared variables is an `UpdatingFunction`."""
        direct = not optimized.shared and getattr(program, "fresh_outputs", False)
        direct = direct and not _symbolic_index_checks(fgraph)
        return super().__new__(DirectFunction if direct else UpdatingFunction if optimized.updates else cls)

    def __init__(self, fgraph, optimized, program, reports, backend, single, name):
        self.fgraph = fgraph
        self.optimized = optimized
        self.program = program
        self.reports = reports
        self.backend = backend
        self.name = name
        self._single = single
        self._checks = [_InputCheck(v, i) for i, v in enumerate(fgraph.inputs)]
        self._shared = optimized.shared
        self._updated = [var for var, _ in optimized.updates]
        self._n_inputs = len(self._checks)
        self._fast_check = _fast_checker(self._checks)
        # A backend that allocates every output and update afresh on each call says so; others get copies
        # where a result would alias an input, a shared value or a constant.
        self._fresh = bool(getattr(program, "fresh_outputs", False))
        self._index_checks = _symbolic_index_checks(fgraph)

    @property
    def stages(self) -> list[tuple[str, FunctionGraph]]:
        """The graph as given, then after each pass: [("input", g), ("canonicalize", g), ..., ("dce", g)]."""
        after = [(r.name, r.graph) for r in self.reports if getattr(r, "graph", None) is not None]
        return [("input", self.fgraph), *after]

    @property
    def source(self) -> str | None:
        """The generated source (Python for the numpy backend, LLVM IR for llvm); None for interp."""
        return getattr(self.program, "source", None)

    @property
    def llvm_ir(self) -> str | None:
        """The optimised LLVM IR of the llvm backend's native code; None for other backends."""
        return getattr(self.program, "llvm_ir", None)

    @property
    def asm(self) -> str | None:
        """The host assembly of the llvm backend's native code; None for other backends."""
        return getattr(self.program, "asm", None)

    def report(self, file=None) -> Report:
        """What each pass did: nodes before/after, the rewrites that fired (text; a table in a notebook)."""
        text = Report(self.reports)
        if file is not None:
            print(text, file=file)
        return text

    def __reduce__(self):
        """Pickles as a graphc file (graphc.io): the unpickler only reads that format and compiles again."""
        from graphc.io.document import to_bytes

        return _function_from_bytes, (to_bytes(self),)

    def __repr__(self) -> str:
        names = ", ".join(v.name or "?" for v in self.fgraph.inputs)
        return f"<graphc.Function{' ' + self.name if self.name else ''}({names}) backend={self.backend}>"

    def __call__(self, *args):
        sizes = self._fast_check(*args) if len(args) == self._n_inputs else None
        if sizes is None:
            args, sizes = self._check_slowly(args)
        if self._index_checks:
            _check_symbolic_indexing(self._index_checks, sizes)
        outputs, new_values = self.program.run(args, [s._value for s in self._shared], sizes)
        if not self._fresh:
            shared_values = [s._value for s in self._shared]
            taken: list[np.ndarray] = []  # results handed out so far: no two may share a buffer
            outputs = [_owned(o, args, shared_values, taken) for o in outputs]
            new_values = [_owned(v, args, shared_values, taken) for v in new_values]
        if new_values:
            self._apply_updates(new_values)
        return outputs[0] if self._single else tuple(outputs)

    def _check_slowly(self, args) -> tuple[list[np.ndarray], dict]:
        if len(args) != self._n_inputs:
            names = ", ".join(c.name for c in self._checks)
            raise InputError(f"expected {len(self._checks)} inputs ({names}), got {len(args)}")
        sizes: dict[sympy.Symbol, int] = {}
        return [check(arg, sizes) for check, arg in zip(self._checks, args, strict=True)], sizes

    def _apply_updates(self, new_values) -> None:
        """All or nothing: every new value is checked before the first is stored."""
        for var, value in zip(self._updated, new_values, strict=True):
            if value.shape != var._value.shape:
                raise ShapeError(
                    f"update of {describe(var)} produced shape {value.shape}; nothing was updated"
                )
        for var, value in zip(self._updated, new_values, strict=True):
            var._value = value


class UpdatingFunction(Function):
    """A Function with updates. A call holds the lock of each shared variable it updates, all taken in one
    order (their ids: no deadlock), from reading the shared values to storing the new ones: calls from
    several threads that update the same variables run one after the other and lose no update. Functions
    without updates take no lock."""

    def __init__(self, *args):
        super().__init__(*args)
        self._locks = tuple(var._lock for var in sorted(self._updated, key=lambda var: var.id))

    def __call__(self, *args):
        locks = self._locks
        for lock in locks:
            lock.acquire()
        try:
            return Function.__call__(self, *args)
        finally:
            for lock in reversed(locks):
                lock.release()


class DirectFunction(Function):
    """A Function whose call is only checks + the program (no shared values, no per-call index checks, outputs
    the backend allocated afresh): ``f(...)`` goes straight to one closure, ~0.2 µs less on a tiny function.
    Anything the fast input check does not accept takes the general path, with its full checks."""

    # The closure sits in a slot: a C-level descriptor, so a call costs no Python frame of its own. A method
    # wrapping the closure added 0.25 µs and a property 0.08 µs to a 1.7 µs call (bench_call_overhead's
    # function, same run); a class made per instance cost as little but made every function cyclic garbage.
    __slots__ = ("__call__",)

    def __init__(self, *args):
        super().__init__(*args)
        fast, run, n_inputs, single = self._fast_check, self.program.run, self._n_inputs, self._single
        this = weakref.ref(self)  # not the function itself: a closure holding it would be a reference cycle

        def direct_call(*args):
            sizes = fast(*args) if len(args) == n_inputs else None
            if sizes is None:
                return Function.__call__(this(), *args)
            outputs = run(args, (), sizes)[0]
            return outputs[0] if single else tuple(outputs)

        self.__call__ = direct_call


def _fast_checker(checks: list[_InputCheck]):
    """One generated function that accepts the common case in a single expression (~0.1 µs per input):
    C-contiguous ndarrays of the exact dtype, rank and sizes. It returns the bound sizes, or None to send the
    call through the detailed checks, which convert what they safely can and explain the rest."""
    env: dict = {"ndarray": np.ndarray}
    conds, first_seen, binds = [], {}, []
    params = [f"a{i}" for i in range(len(checks))]
    for i, check in enumerate(checks):
        env[f"DT{i}"] = check.dtype
        conds.append(f"type(a{i}) is ndarray and a{i}.dtype is DT{i} and a{i}.ndim == {check.ndim}")
        conds.append(f"a{i}.flags.c_contiguous")
        if check.derived:
            return lambda *args: None
        for axis, want in check.fixed:
            conds.append(f"a{i}.shape[{axis}] == {want}")
        for axis, sym in check.named:
            here = f"a{i}.shape[{axis}]"
            if sym in first_seen:
                conds.append(f"{here} == {first_seen[sym]}")
            else:
                first_seen[sym] = here
                env[f"S{len(binds)}"] = sym
                binds.append(f"S{len(binds)}: {here}")
    body = " and ".join(conds) or "True"
    src = f"def fast_check({', '.join(params)}):\n    if {body}:\n        return {{{', '.join(binds)}}}\n"
    exec(compile(src, "<graphc input check>", "exec"), env)  # noqa: S102 - generated from our own types
    return env["fast_check"]


def _symbolic_index_checks(fgraph: FunctionGraph) -> list[tuple]:
    """(node, axis, index item, result dim) for each int or slice applied to a named size. The types assume
    the size is large enough (x[:3] has 3 rows, x[2:] has n - 2); each call checks that it is, so no backend
    ever reads out of bounds."""
    checks = []
    for node in fgraph.nodes:
        if node.op is not Op.GETITEM:
            continue
        axis, out_axis = 0, 0
        out_shape = node.outputs[0].type.shape
        for item in node.params["index"]:
            if item[0] == "newaxis":
                out_axis += 1
                continue
            if not isinstance(node.inputs[0].type.shape[axis], int):
                checks.append((node, axis, item, out_shape[out_axis] if item[0] == "slice" else None))
            axis += 1
            out_axis += item[0] == "slice"
    return checks


def _check_symbolic_indexing(checks: list[tuple], sizes: dict) -> None:
    for node, axis, item, out_dim in checks:
        dim = node.inputs[0].type.shape[axis]
        size = concrete_dim(dim, sizes)
        if item[0] == "int":
            ok, got = -size <= item[1] < size, f"index {item[1]} is out of bounds"
        else:
            length = len(range(size)[slice(*item[1:])])
            ok, got = length == concrete_dim(out_dim, sizes), f"the slice has {length}, not {out_dim}"
        if not ok:
            raise (IndexOutOfBounds if item[0] == "int" else ShapeError)(
                f"getitem of {describe(node.inputs[0])}: axis {axis} has {dim} = {size}, so {got} "
                f"(the graph was built for larger sizes){where_built(node.origin)}"
            )


def _owned(value, arrays, shared_values, taken: list) -> np.ndarray:
    """A result the caller may keep and mutate: never a view of an input, a shared value, a constant or
    another result (the same variable as two outputs, or as an output and an update, gives two arrays)."""
    value = np.asarray(value)
    if not value.flags.owndata or not value.flags.writeable or any(value is a for a in arrays):
        value = value.copy()
    elif any(value is s for s in shared_values) or any(value is t for t in taken):
        value = value.copy()
    taken.append(value)
    return value


class _InputCheck:
    """Converts one argument and checks it against its input's type, binding symbolic sizes."""

    def __init__(self, var: Variable, position: int):
        self.var = var
        self.name = var.name or f"input {position}"
        self.dtype = var.type.dtype
        self.shape = var.type.shape
        self.ndim = var.type.ndim
        self.fixed = [(axis, d) for axis, d in enumerate(self.shape) if isinstance(d, int)]
        self.named = [(axis, d) for axis, d in enumerate(self.shape) if isinstance(d, sympy.Symbol)]
        self.derived = [
            (axis, d) for axis, d in enumerate(self.shape) if not isinstance(d, int | sympy.Symbol)
        ]

    def __call__(self, arg, sizes: dict) -> np.ndarray:
        """Converts what can be converted safely and says exactly what is wrong otherwise."""
        if isinstance(arg, np.ndarray):
            if arg.dtype != self.dtype:
                if not np.can_cast(arg.dtype, self.dtype, casting="safe"):
                    raise DTypeError(
                        f"{self.name}: expected {self.dtype.name}, got {arg.dtype.name}; converting would "
                        f"lose precision (use arr.astype({self.dtype.name!r}))"
                    )
                arg = arg.astype(self.dtype)
        else:
            try:
                raw = np.asarray(arg)
            except Exception as exc:
                raise InputError(f"{self.name}: cannot convert {type(arg).__name__} to an array") from exc
            if raw.dtype.kind not in "biuf" or not np.can_cast(raw.dtype, self.dtype, casting="same_kind"):
                raise DTypeError(f"{self.name}: expected {self.dtype.name}, got {raw.dtype.name} values")
            if raw.dtype.kind in "iu" and self.dtype.kind in "iu" and raw.size:  # Python ints: no silent wrap
                info = np.iinfo(self.dtype)
                low, high = raw.min(), raw.max()
                if low < info.min or high > info.max:
                    bad = low if low < info.min else high
                    raise DTypeError(f"{self.name}: the value {bad} does not fit in {self.dtype.name}")
            arg = raw.astype(self.dtype)
        # Backends may assume C-contiguous, aligned, native-endian data (native code indexes it directly).
        arg = np.require(arg, requirements=("C", "A"))
        if arg.ndim != self.ndim:
            raise ShapeError(
                f"{self.name}: expected {self.ndim} dimensions with shape {shape_str(self.shape)}, got shape "
                f"{arg.shape}"
            )
        for axis, (want, got) in enumerate(zip(self.shape, arg.shape, strict=True)):
            if isinstance(want, int):
                if want != got:
                    raise ShapeError(
                        f"{self.name}: expected shape {shape_str(self.shape)}, got {arg.shape} "
                        f"(dimension {axis} is {got}, not {want})"
                    )
            elif isinstance(want, sympy.Symbol):
                bound = sizes.setdefault(want, got)
                if bound != got:
                    raise ShapeError(
                        f"{self.name}: dimension {axis} is '{want}' = {got}, but '{want}' = {bound} from an "
                        "earlier input"
                    )
            else:
                value = want.subs(sizes)
                if value.is_Integer and int(value) != got:
                    raise ShapeError(f"{self.name}: dimension {axis} must be {want} = {value}, got {got}")
        return arg
