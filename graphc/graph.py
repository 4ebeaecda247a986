"""The graph IR: Variable, Node, apply(), iterative walks. Knows no passes and no backends.

Nodes are immutable once built: a rewrite builds new nodes instead of editing old ones, so a user's graph is
never changed by compiling it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import count

import numpy as np

from .errors import GraphcError, GraphError, where_built
from .ops import Op, infer_types
from .types import Type

Origin = tuple[str, int]
_ids = count()
_inherited_origin: list[Origin | None] = []


def _user_origin() -> Origin | None:
    """The file:line of the first frame outside graphc: where the user built this node."""
    if _inherited_origin:
        return _inherited_origin[-1]
    frame = sys._getframe(2)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module != "graphc" and not module.startswith("graphc."):
            return (frame.f_code.co_filename, frame.f_lineno)
        frame = frame.f_back
    return None


@contextmanager
def origin_scope(origin: Origin | None):
    """Nodes built inside take this origin: a rewrite's replacement points at the user code it replaced."""
    _inherited_origin.append(origin)
    try:
        yield
    finally:
        _inherited_origin.pop()


# How a notebook shows a graph: the facade installs graphc.notebook's drawing here, so the core draws nothing
# itself and imports nothing above it.
DISPLAY_HOOKS: dict[str, Callable] = {}


class Displayed:
    """Jupyter shows a graph object as a drawing (through DISPLAY_HOOKS) and as its repr everywhere else."""

    __slots__ = ()

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        hook = DISPLAY_HOOKS.get("mimebundle")
        return hook(self) if hook is not None else {"text/plain": repr(self)}


class Variable(Displayed):
    """A value in the graph: an input, a constant, a shared (persistent) value, or the output of a Node."""

    __slots__ = ("type", "name", "owner", "index", "id", "__weakref__")
    __array_ufunc__ = None  # NumPy defers to our reflected operators: np_array * x builds a node

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

    # Operators (x + y, x @ W, x[1:], x.T, x.sum(), ...) are attached by graphc.tensor (it owns the builders).


class Constant(Variable):
    """A fixed value baked into the graph."""

    __slots__ = ("value",)

    def __init__(self, value: np.ndarray, name: str | None = None):
        value = np.asarray(value)
        super().__init__(Type(value.dtype, value.shape), name)
        value = value.copy()
        value.setflags(write=False)
        self.value = value

    def __repr__(self) -> str:
        if self.value.size <= 4:
            return f"<Constant {self.name or np.array2string(self.value, separator=',')}: {self.type}>"
        return super().__repr__()


class SharedVariable(Variable):
    """A persistent value that compiled functions read and update (parameters, optimiser state)."""

    __slots__ = ("_value",)

    def __init__(self, value: np.ndarray, name: str | None = None):
        value = np.array(value, copy=True, order="C")
        super().__init__(Type(value.dtype, value.shape), name)
        self._value = value

    def get_value(self, copy: bool = True) -> np.ndarray:
        return self._value.copy() if copy else self._value

    def set_value(self, value, copy: bool = True) -> None:
        from .errors import DTypeError, ShapeError

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
        self._value = (
            np.array(value, copy=True, order="C") if copy else np.asarray(value, order="C")
        )  # keeps 0-d


class Node:
    """One application of an Op to input Variables, giving output Variables."""

    __slots__ = ("op", "inputs", "params", "outputs", "origin", "__weakref__")

    def __init__(self, op: Op, inputs: Sequence[Variable], params: dict, out_types: Sequence[Type], origin):
        self.op = op
        self.inputs = tuple(inputs)
        self.params = params
        self.origin = origin
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
        origin = _user_origin()
    try:
        out_types = infer_types(op, inputs, params)
    except GraphcError as exc:
        raise type(exc)(f"{exc}{where_built(origin)}") from None
    node = Node(op, inputs, params, out_types, origin)
    return node.outputs[0] if len(node.outputs) == 1 else node.outputs


# --- iterative walks ----------------------------------------------------------------------------------------
def toposort(outputs: Iterable[Variable], stop: Iterable[Variable] = ()) -> list[Node]:
    """Nodes needed for `outputs`, each after its inputs' nodes (iterative DFS: no recursion limit).

    Walking stops at variables in `stop` (they are treated as given).
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
