"""Where a node was built: the user's file:line, found by walking the stack, or inherited inside a rewrite.
Core layer; knows only graphc.errors.

Inheritance is per thread and per asyncio task (a `contextvars.ContextVar`), so graphs built on several
threads at once never take each other's origins.
"""

from __future__ import annotations

import sys
from contextvars import ContextVar

from .errors import where_built

Origin = tuple[str, int]

# () outside any origin_scope; (origin,) inside one (the origin itself may be None: "no user line").
_inherited: ContextVar[tuple[Origin | None, ...]] = ContextVar("graphc_inherited_origin", default=())


def user_origin() -> Origin | None:
    """The file:line of the first frame outside graphc: where the user built this node."""
    inherited = _inherited.get()
    if inherited:
        return inherited[0]
    frame = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module != "graphc" and not module.startswith("graphc."):
            return (frame.f_code.co_filename, frame.f_lineno)
        frame = frame.f_back
    return None


def here() -> str:
    """The "built at file:line" suffix for errors raised before a node exists (bad axes, indices, values)."""
    return where_built(user_origin())


class origin_scope:  # a class, not @contextmanager: rebuilds enter one per node, and this costs less
    """Nodes built inside take this origin: a rewrite's replacement points at the user code it replaced."""

    __slots__ = ("origin", "token")

    def __init__(self, origin: Origin | None):
        self.origin = origin

    def __enter__(self) -> None:
        self.token = _inherited.set((self.origin,))

    def __exit__(self, *exc) -> None:
        _inherited.reset(self.token)
