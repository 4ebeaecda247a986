"""Owns the error hierarchy and the 'built at file:line' suffix; knows no ops."""

from __future__ import annotations


class GraphcError(Exception):
    """Base class of every error graphc raises on purpose."""


class ShapeError(GraphcError, ValueError):
    """Shapes that do not fit: at build time (broadcasting, matmul) or at call time (symbolic sizes)."""


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


class DTypeError(GraphcError, TypeError):
    """A dtype that an op or a compiled function cannot take."""


# The issue text names it `TypeError_`; keep both spellings importable.
TypeError_ = DTypeError


class InputError(GraphcError, ValueError):
    """Bad arguments: to a compiled function (arity, unknown inputs, values that cannot be converted) or to a
    builder of gc.nn, gc.optim or gc.train (a value out of range, an unknown option)."""


class GraphError(GraphcError, ValueError):
    """A malformed graph: cycles, updates of non-shared variables, disconnected gradients."""


class BackendError(GraphcError, ValueError):
    """An unknown backend or one that cannot run here."""


class FormatError(GraphcError, ValueError):
    """A file graphc will not read: not a graphc file, damaged, hostile, or from a newer format version."""


def where_built(origin: tuple[str, int] | None) -> str:
    """The suffix every error about a node carries: where the user built it."""
    if origin is None:
        return ""
    return f"\n  built at {origin[0]}:{origin[1]}"
