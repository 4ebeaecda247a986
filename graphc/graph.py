"""The graph IR: Variable, Node, apply(), iterative walks. Knows no passes and no backends.
(Over 300 lines: the IR's classes and their iterative walks, which the whole project reads.)

Nodes are immutable once built: a rewrite builds new nodes instead of editing old ones, so a user's graph is
never changed by compiling it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import count

import numpy as np

from .errors import DTypeError, GraphcError, GraphError, ShapeError, where_built
from .operators import Operators
from .ops import Op, describe
from .origin import Origin, here, user_origin
from .shape_rules import infer_types
from .types import Type, as_dtype

_ids = count()


# How a notebook shows a graph: the facade installs graphc.notebook's drawing here, so the core draws nothing
# itself and imports nothing above it.
DISPLAY_HOOKS: dict[str, Callable] = {}


class Displayed:
    """Jupyter shows a graph object as a drawing (through DISPLAY_HOOKS) and as its repr everywhere else."""

    __slots__ = ()

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        hook = DISPLAY_HOOKS.get("mimebundle")
        return hook(self) if hook is not None else {"text/plain": repr(self)}


class Variable(Displayed, Operators):
    """A value in the graph: an input, a constant, a shared (persistent) value, or the output of a Node.

    Its operators and methods (x + y, x @ W, x[1:], x.T, x.sum(), ...) come from graphc.operators.Operators.

    >>> x = gc.vector("x")
    >>> y = x * 2 + 1
    >>> y.type, y.owner.op
    (Type(dtype=dtype('float64'), shape=(x.0,)), <Op.ADD: 'add'>)
    """

    __slots__ = ("type", "name", "owner", "index", "id", "__weakref__")

    def __init__(self, type: Type, name: str | None = None, owner: Node | None = None, index: int = 0):
        self.type = type
        self.name = name
        self.owner = owner
        self.index = index
        self.id = next(_ids)

    # -- introspection ---------------------------------------------------------------------------------------
    @property
    def dtype(self) -> np.dtype:
        return self.type.dtype

    @property
    def shape(self) -> tuple:
        return self.type.shape

    @property
    def ndim(self) -> int:
        return self.type.ndim

    @property
    def origin(self) -> Origin | None:
        return self.owner.origin if self.owner is not None else None

    def __repr__(self) -> str:
        label = self.name or (f"{self.owner.op.value}.out" if self.owner else "?")
        return f"<{type(self).__name__} {label}: {self.type}>"

    def __bool__(self):
        raise GraphcError(
            f"{self!r} is symbolic and has no truth value; use gc.where(cond, a, b) inside the graph"
        )

    def __hash__(self) -> int:
        return id(self)

    def __iter__(self):
        raise GraphcError(f"{self!r} is symbolic and cannot be iterated; index it with x[i] instead")

    def __len__(self):
        raise GraphcError(f"{self!r} is symbolic; use x.shape[0] for its (possibly symbolic) length")

    def _apply(self, op: Op, *operands, **params):
        """The operators' hook: Python scalars and arrays among `operands` become constants (a scalar takes
        this Variable's dtype, NEP 50), then one `op` node is built."""
        return apply(op, [as_variable(v, like=self) for v in operands], **params)


class Constant(Variable):
    """A fixed value baked into the graph (read-only).

    >>> gc.constant([1, 2])
    <Constant [1,2]: int64(2,)>
    """

    __slots__ = ("value",)

    def __init__(self, value: np.ndarray, name: str | None = None):
        value = np.asarray(value)
        super().__init__(Type(value.dtype, value.shape), name)
        value = np.array(value, dtype=self.type.dtype, order="C")  # a copy, in native byte order
        value.setflags(write=False)
        self.value = value

    def __repr__(self) -> str:
        if self.value.size <= 4:
            return f"<Constant {self.name or np.array2string(self.value, separator=',')}: {self.type}>"
        return super().__repr__()


class SharedVariable(Variable):
    """A persistent value that compiled functions read and update (parameters, optimiser state).

    A call of a function that updates it holds ``_lock`` from reading the shared values to storing the new
    ones (locks taken in the order of ``id``), and so does ``set_value``: updates from several threads are
    never lost.

    >>> W = gc.shared(np.ones(2), name="W")
    >>> W.set_value([3.0, 4.0])
    >>> W.get_value()
    array([3., 4.])
    """

    __slots__ = ("_value", "_lock")

    def __init__(self, value: np.ndarray, name: str | None = None):
        value = np.asarray(value)
        super().__init__(Type(value.dtype, value.shape), name)
        self._value = np.array(value, dtype=self.type.dtype, order="C")  # a copy, in native byte order
        self._lock = threading.RLock()  # reentrant: a user function run inside a step may set the value

    def get_value(self, copy: bool = True) -> np.ndarray:
        return self._value.copy() if copy else self._value

    def set_value(self, value, copy: bool = True) -> None:
        value = np.asarray(value)
        if value.shape != self._value.shape:
            raise ShapeError(
                f"set_value of {self.name or 'a shared variable'}: expected shape {self._value.shape}, "
                f"got {value.shape}"
            )
        if value.dtype != self._value.dtype:
            if not np.can_cast(value.dtype, self._value.dtype, casting="same_kind"):
                raise DTypeError(
                    f"set_value of {self.name or 'a shared variable'}: expected {self._value.dtype}, "
                    f"got {value.dtype}"
                )
            value = value.astype(self._value.dtype)
            copy = False
        value = np.array(value, copy=True, order="C") if copy else np.asarray(value, order="C")  # keeps 0-d
        with self._lock:  # not between a step's read of the value and its update
            self._value = value


# --- leaves from Python values ------------------------------------------------------------------------------
PyScalar = (bool, int, float, np.bool_, np.integer, np.floating)


def constant(value, dtype=None, name: str | None = None) -> Constant:
    """A constant baked into the graph; its dtype must be one graphc supports.

    >>> gc.constant(2.0)
    <Constant 2.: float64()>
    """
    array = np.asarray(value, dtype=None if dtype is None else as_dtype(dtype))
    if array.dtype.name not in ("float32", "float64", "int32", "int64", "bool"):
        if array.dtype.kind == "i":
            array = array.astype("int64")
        elif array.dtype.kind == "f":
            array = array.astype("float64")
        else:
            raise DTypeError(f"constant: unsupported dtype {array.dtype}")
    return Constant(array, name)


def as_variable(x, like: Variable | None = None) -> Variable:
    """A Variable for x: Python scalars take `like`'s dtype where NumPy 2 would (NEP 50 weak scalars).

    >>> gc.as_variable(1.5, like=gc.scalar("s", "float32"))
    <Constant 1.5: float32()>
    """
    if isinstance(x, Variable):
        return x
    if isinstance(x, PyScalar) and not isinstance(x, (np.generic)) and like is not None:
        try:
            dtype = np.result_type(like.type.dtype, x)
            keep = dtype.name != "bool" or isinstance(x, bool)  # a number never becomes a bool constant
            return Constant(np.asarray(x, dtype=dtype if keep else None))
        except OverflowError as exc:
            raise DTypeError(f"the Python scalar {x!r} does not fit {describe(like)}{here()}") from exc
    if isinstance(x, (list, tuple, np.ndarray, np.generic, *PyScalar)):
        return constant(x)
    raise GraphcError(f"cannot use {type(x).__name__} {x!r} as a graph value{here()}")


class Node:
    """One application of an Op to input Variables, giving output Variables.

    >>> x = gc.vector("x")
    >>> node = gc.exp(x).owner
    >>> node.op, node.inputs == (x,)
    (<Op.EXP: 'exp'>, True)
    """

    __slots__ = ("op", "inputs", "params", "outputs", "origin", "assumes", "__weakref__")

    def __init__(
        self,
        op: Op,
        inputs: Sequence[Variable],
        params: dict,
        out_types: Sequence[Type],
        origin,
        assumes: tuple = (),
    ):
        self.op = op
        self.inputs = tuple(inputs)
        self.params = params
        self.origin = origin
        # Pairs of sizes this node needs equal that its inputs' types do not make equal (x.1 and W.0 for
        # x @ W): gc.function checks each at call time (graphc.shape_rules).
        self.assumes = assumes
        self.outputs = tuple(Variable(t, None, self, i) for i, t in enumerate(out_types))

    @property
    def param_key(self) -> tuple:
        """The params as a hashable, ordered tuple (used by CSE and caches)."""
        return tuple(sorted(self.params.items()))

    def __repr__(self) -> str:
        return f"<Node {self.op.value} {self.param_key or ''}>"


def apply(op: Op, inputs: Sequence[Variable], origin: Origin | None = None, **params) -> Variable | tuple:
    """Build one node: check and infer types now, so bad shapes are reported at the user's line."""
    if origin is None:
        origin = user_origin()
    try:
        out_types, assumes = infer_types(op, inputs, params)
    except GraphcError as exc:
        raise type(exc)(f"{exc}{where_built(origin)}") from None
    node = Node(op, inputs, params, out_types, origin, assumes)
    return node.outputs[0] if len(node.outputs) == 1 else node.outputs


# --- iterative walks ----------------------------------------------------------------------------------------
def toposort(outputs: Iterable[Variable], stop: Iterable[Variable] = ()) -> list[Node]:
    """Nodes needed for `outputs`, each after its inputs' nodes (iterative DFS: no recursion limit).

    Walking stops at variables in `stop` (they are treated as given).

    >>> x = gc.vector("x")
    >>> [node.op.value for node in gc.toposort([gc.exp(x) + 1])]
    ['exp', 'add']
    """
    order: list[Node] = []
    done: set[int] = set()
    on_path: set[int] = set()
    stopped = {id(v) for v in stop}
    stack: list[tuple[Node, Iterator[Variable]]] = []
    for out in outputs:
        if out.owner is None or id(out) in stopped or id(out.owner) in done:
            continue
        stack.append((out.owner, iter(out.owner.inputs)))
        on_path.add(id(out.owner))
        while stack:
            node, pending = stack[-1]
            for inp in pending:
                parent = inp.owner
                if parent is None or id(inp) in stopped or id(parent) in done:
                    continue
                if id(parent) in on_path:
                    raise GraphError(f"the graph has a cycle through {parent!r}{where_built(parent.origin)}")
                stack.append((parent, iter(parent.inputs)))
                on_path.add(id(parent))
                break
            else:
                stack.pop()
                on_path.discard(id(node))
                done.add(id(node))
                order.append(node)
    return order


def graph_inputs(outputs: Iterable[Variable]) -> list[Variable]:
    """The leaves the outputs depend on (inputs, constants, shared variables), in first-use order."""
    outputs = list(outputs)
    seen: set[int] = set()
    leaves: list[Variable] = []
    for node in toposort(outputs):
        for v in node.inputs:
            if v.owner is None and id(v) not in seen:
                seen.add(id(v))
                leaves.append(v)
    for out in outputs:
        if out.owner is None and id(out) not in seen:
            seen.add(id(out))
            leaves.append(out)
    return leaves
