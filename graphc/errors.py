"""Owns the error hierarchy and the 'built at file:line' suffix; knows no ops."""

from __future__ import annotations


class GraphcError(Exception):
    """Base class of every error graphc raises on purpose: `except gc.GraphcError` catches them all.

    >>> try:
    ...     gc.tensor("a", (2, 3)) @ gc.tensor("b", (4, 2))
    ... except gc.GraphcError as error:
    ...     print(type(error).__name__)
    ShapeError
    """


class GraphcWarning(UserWarning):
    """Base class of the warnings graphc gives (a setting it cannot honour, say); the program goes on."""


class ShapeError(GraphcError, ValueError):
    """Shapes that do not fit: at build time (broadcasting, matmul) or at call time (sizes the graph assumed
    equal, named sizes two inputs disagree on).

    >>> gc.tensor("a", (3,)) + gc.tensor("b", (4,))
    Traceback (most recent call last):
      ...
    graphc.errors.ShapeError: cannot broadcast add: combine a (float64 (3,)) and b ...: dimension -1 is 3 vs 4
      built at ...
    """


class IndexOutOfBounds(ShapeError, IndexError):
    """An int index past a named size's call-time value: a ShapeError that is also NumPy's IndexError."""


class DataError(GraphcError):
    """A value read from the data during a call that its op cannot take; the call changed no shared variable.
    ``value``, ``bound``, ``position`` (flat, C order, in the checked value) and ``name`` (the checked
    value's) say which."""

    def __init__(self, message: str, value=None, bound=None, position=None, name=None):
        super().__init__(message)
        self.value, self.bound, self.position, self.name = value, bound, position, name


class IndexOutOfRange(DataError, IndexError):
    """A value read from the data during a call (a label, an index) outside the range its op allows."""


class DomainError(DataError, ValueError):
    """A value outside the domain of its op, found during a call: an integer to a negative integer power."""


class NumericsError(GraphcError, FloatingPointError):
    """With check_numerics (gc.function(..., check_numerics=True), or GRAPHC_CHECK_NUMERICS=1): the first
    operation whose output has a NaN or an infinity its inputs did not have, with its user line and the ranges
    of its inputs. The call changed no shared variable. ``op`` names the operation, ``kinds`` says "NaN",
    "inf" or both.

    >>> x = gc.vector("x")
    >>> f = gc.function([x], gc.log(x) * 2, check_numerics=True)
    >>> f([1.0, 0.0])
    Traceback (most recent call last):
      ...
    graphc.errors.NumericsError: log made an infinity (first at index 1 of its output) from inputs without:
    x (float64 (x.0,)) in [0, 1]; nothing was updated
      built at ...
    """

    def __init__(self, message: str, op: str | None = None, kinds: str = ""):
        super().__init__(message)
        self.op, self.kinds = op, kinds


class DTypeError(GraphcError, TypeError):
    """A dtype that an op or a compiled function cannot take (also importable as gc.TypeError_).

    >>> f = gc.function([gc.vector("x")], 1.0)
    >>> f(np.zeros(2, complex))
    Traceback (most recent call last):
      ...
    graphc.errors.DTypeError: x: expected float64, got complex128; converting would lose precision ...
    """


# The issue text names it `TypeError_`; keep both spellings importable.
TypeError_ = DTypeError


class InputError(GraphcError, ValueError):
    """Bad arguments: to a compiled function (arity, unknown inputs, values that cannot be converted) or to a
    builder of gc.nn, gc.optim or gc.train (a value out of range, an unknown option).

    >>> f = gc.function([gc.vector("x")], 1.0)
    >>> f()
    Traceback (most recent call last):
      ...
    graphc.errors.InputError: expected 1 inputs (x), got 0
    """


class GraphError(GraphcError, ValueError):
    """A malformed graph: cycles, updates of non-shared variables, disconnected gradients.

    >>> x, y = gc.vector("x"), gc.vector("y")
    >>> gc.grad(gc.sum(x), y)
    Traceback (most recent call last):
      ...
    graphc.errors.GraphError: grad: y (float64 (y.0,)) is disconnected from ...: the cost does not ...
    """


class BackendError(GraphcError, ValueError):
    """An unknown backend or one that cannot run here.

    >>> gc.function([gc.vector("x")], 1.0, backend="cuda")
    Traceback (most recent call last):
      ...
    graphc.errors.BackendError: unknown backend 'cuda'; choose one of 'interp', 'numpy', 'llvm'
    """


class FormatError(GraphcError, ValueError):
    """A file graphc will not read: not a graphc file, damaged, hostile, or from a newer format version.

    >>> gc.load(b"not a graphc file")
    Traceback (most recent call last):
      ...
    graphc.errors.FormatError: ...
    """


def where_built(origin: tuple[str, int] | None) -> str:
    """The suffix every error about a node carries: where the user built it."""
    if origin is None:
        return ""
    return f"\n  built at {origin[0]}:{origin[1]}"
