"""gc.function: the driver (user layer), the one place that ties graphc, graphc.passes and graphc.codegen.
(Over 300 lines: the driver: Function, its call path (checks, updates, outputs) and gc.function's options.)

inputs/outputs/updates -> FunctionGraph -> passes pipeline -> backend program -> Function (checks + calls).
"""

from __future__ import annotations

import functools
import gc as python_gc  # `gc` is graphc everywhere else
import weakref
from collections.abc import Mapping, Sequence

import numpy as np

from graphc.codegen import compile_program
from graphc.passes import run_pipeline

from . import settings
from .bodies import nested_nodes
from .call_checks import InputCheck, fast_checker, owned
from .dims import Size
from .errors import (
    GraphError,
    InputError,
    NumericsError,
    ShapeError,
    where_built,
)
from .fgraph import FunctionGraph
from .graph import Constant, Displayed, SharedVariable, Variable, graph_inputs
from .notebook import Report
from .ops import describe
from .sizes import SizeCheck, size_checks
from .tensor import as_variable
from .types import shape_str, shapes_unify


def _without_cyclic_gc(build):
    """Run ``build`` with Python's cyclic garbage collector paused: compiling allocates many small objects
    (graph nodes, IR), and the collections it triggered took 10-20% of a compile (47-88 ms of the 100-layer
    MLP's). The collector resumes afterwards and frees the compile's cycles then."""

    @functools.wraps(build)
    def paused(*args, **kwargs):
        was_enabled = python_gc.isenabled()
        python_gc.disable()
        try:
            return build(*args, **kwargs)
        finally:
            if was_enabled:
                python_gc.enable()

    return paused


@_without_cyclic_gc
def function(
    inputs: Sequence[Variable],
    outputs: Variable | Sequence[Variable],
    updates: Mapping[SharedVariable, Variable] | Sequence[tuple[SharedVariable, Variable]] | None = None,
    backend: str = "numpy",
    optimize: str | Sequence = "fast",
    name: str | None = None,
    check_numerics: bool | None = None,
):
    """Compile a graph into a Python callable.

    >>> import graphc as gc
    >>> x = gc.vector("x"); f = gc.function([x], (x * 2).sum())
    >>> float(f([1.0, 2.0]))
    6.0

    `updates` maps shared variables to their new values, all computed from the old ones and applied after the
    outputs. `optimize` is "fast" (the default pipeline), "none", or a list of passes. `backend` is "interp",
    "numpy" or "llvm".

    `check_numerics=True` (default: the GRAPHC_CHECK_NUMERICS setting) makes a call raise a NumericsError
    at the first operation whose output has a NaN or an infinity its inputs did not have, naming it, its
    line and its inputs' ranges; the call then changes no shared variable. Elementwise ops are then not fused,
    so that each is checked on its own. Off, the compiled code is the same as without the option.
    """
    inputs = [inputs] if isinstance(inputs, Variable) else list(inputs)  # gc.function(x, y) works too
    single = not isinstance(outputs, list | tuple)  # one output (a Variable, or a number: a constant)
    outputs = [as_variable(o) for o in ([outputs] if single else outputs)]
    updates, update_assumes = _check_updates(updates)
    fgraph = FunctionGraph(inputs, outputs, updates)
    _check_inputs(fgraph)
    numerics = settings.current().check_numerics if check_numerics is None else bool(check_numerics)
    optimized, reports = run_pipeline(fgraph, _without_fusion(optimize) if numerics else optimize)
    program = compile_program(optimized, backend, check_numerics=numerics)
    checks = size_checks(nested_nodes(fgraph)) + update_assumes
    compiled = Function(
        fgraph,
        optimized,
        program,
        reports,
        backend,
        single,
        name,
        size_checks=checks,
        check_numerics=numerics,
    )
    compiled.optimize = _optimize_by_name(optimize)
    return compiled


def _without_fusion(optimize):
    """The pipeline `optimize` names, less the fusion pass (check_numerics looks at every op's output)."""
    from graphc.passes.manager import fast_pipeline

    if optimize == "fast":
        return [name for name, _ in fast_pipeline() if name != "fusion"]
    if isinstance(optimize, str):
        return optimize
    fusion = dict(fast_pipeline())["fusion"]
    return [
        p for p in optimize if p not in ("fusion", fusion) and not (isinstance(p, tuple) and p[0] == "fusion")
    ]


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


def _check_updates(updates) -> tuple[list[tuple[SharedVariable, Variable]], list[SizeCheck]]:
    """The (shared variable, new value) pairs, and the size checks that the new values keep their shapes."""
    if updates is None:
        return [], []
    pairs = list(updates.items()) if isinstance(updates, Mapping) else list(updates)
    checked, seen, assumes = [], set(), []
    for var, value in pairs:
        if not isinstance(var, SharedVariable):
            raise GraphError(f"updates: only shared variables can be updated, not {var!r} (use gc.shared)")
        if id(var) in seen:
            raise GraphError(f"updates: {var.name or var!r} is updated twice")
        seen.add(id(var))
        value = as_variable(value, like=var)
        found: list = []
        if value.type.dtype != var.type.dtype or not shapes_unify(value.type.shape, var.type.shape, found):
            raise GraphError(
                f"updates: the new value of {describe(var)} has type {value.type}; it must keep "
                f"{var.type} (cast with gc.cast or fix the expression){where_built(value.origin)}"
            )
        assumes += [SizeCheck(f"the update of {describe(var)}", a, b, value.origin) for a, b in found]
        checked.append((var, value))
    return checked, assumes


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
    bound = {d for v in fgraph.inputs for d in v.type.shape if isinstance(d, Size)}
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

    Sizes the graph assumed equal (the inner sizes of x @ W, broadcast partners) are checked at each call,
    before any work: an error names the node's inputs and the user's line. A call that fails (bad input, a
    check on the data) changes no shared variable: updates are applied only once the whole call has
    succeeded, all of them or none. `f.report()` says what each pass did, `f.stages` holds the graph after
    each, `f.source` the generated code.

    >>> x = gc.vector("x")
    >>> f = gc.function([x], [x + 1, (x * x).sum()])
    >>> f([1.0, 2.0])
    (array([2., 3.]), array(5.))
    >>> f
    <graphc.Function(x) backend=numpy>
    """

    def __new__(cls, fgraph, optimized, program, *args, size_checks=(), check_numerics=False):
        """A call that is only checks + the program makes a `DirectFunction` (no per-instance classes); a
        function that updates shared variables is an `UpdatingFunction`."""
        direct = not optimized.shared and getattr(program, "fresh_outputs", False) and not check_numerics
        direct = direct and all(c.simple for c in size_checks)
        return super().__new__(DirectFunction if direct else UpdatingFunction if optimized.updates else cls)

    def __init__(
        self, fgraph, optimized, program, reports, backend, single, name, size_checks=(), check_numerics=False
    ):
        self.fgraph = fgraph
        self.optimized = optimized
        self.program = program
        self.reports = reports
        self.backend = backend
        self.name = name
        self._single = single
        self._checks = [InputCheck(v, i) for i, v in enumerate(fgraph.inputs)]
        self._shared = optimized.shared
        self._updated = [var for var, _ in optimized.updates]
        self._n_inputs = len(self._checks)
        self._all_size_checks = list(size_checks)
        # The fast input check compares the simple ones itself; the others (derived sizes, indices into
        # symbolic sizes, reductions without identity) run on every call.
        self._size_checks = [c for c in size_checks if not c.simple]
        self._fast_check = fast_checker(self._checks, [c for c in size_checks if c.simple])
        # A backend that allocates every output and update afresh on each call says so; others get copies
        # where a result would alias an input, a shared value or a constant.
        self._fresh = bool(getattr(program, "fresh_outputs", False))
        self.check_numerics = check_numerics

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
        for check in self._size_checks:
            check.verify(sizes)
        try:
            outputs, new_values = self.program.run(args, [s._value for s in self._shared], sizes)
        except NumericsError as error:  # only with check_numerics: name the user's own operation
            raise self._first_to_make(error, args, sizes) from None
        if not self._fresh:
            shared_values = [s._value for s in self._shared]
            taken: list[np.ndarray] = []  # results handed out so far: no two may share a buffer
            outputs = [owned(o, args, shared_values, taken) for o in outputs]
            new_values = [owned(v, args, shared_values, taken) for v in new_values]
        if new_values:
            self._apply_updates(new_values)
        return outputs[0] if self._single else tuple(outputs)

    def _check_slowly(self, args) -> tuple[list[np.ndarray], dict]:
        if len(args) != self._n_inputs:
            names = ", ".join(c.name for c in self._checks)
            raise InputError(f"expected {len(self._checks)} inputs ({names}), got {len(args)}")
        sizes: dict[Size, int] = {}
        arrays = [check(arg, sizes) for check, arg in zip(self._checks, args, strict=True)]
        for check in self._all_size_checks:
            check.verify(sizes)
        return arrays, sizes

    def _first_to_make(self, error: NumericsError, args, sizes) -> NumericsError:
        """The backend stopped at a node of the optimised graph (perhaps a fused kernel): the graph as the
        user built it, run again by the interpreter with the same values, names the user's operation and its
        inputs' ranges. Where that run makes no NaN or infinity (the backends' arithmetic differs), the
        backend's own error stands."""
        reference = compile_program(self.fgraph, "interp", check_numerics=True)
        try:
            reference.run(args, [s._value for s in reference.shared], sizes)
        except NumericsError as found:
            return found
        return error

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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
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

    def __init__(self, *args, **options):
        super().__init__(*args, **options)
        fast, run, n_inputs, single = self._fast_check, self.program.run, self._n_inputs, self._single
        this = weakref.ref(self)  # not the function itself: a closure holding it would be a reference cycle

        def direct_call(*args):
            sizes = fast(*args) if len(args) == n_inputs else None
            if sizes is None:
                return Function.__call__(this(), *args)
            outputs = run(args, (), sizes)[0]
            return outputs[0] if single else tuple(outputs)

        self.__call__ = direct_call
