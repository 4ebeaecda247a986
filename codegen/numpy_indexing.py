"""The NumPy backend's rows for the data-dependent ops (gathers, scatter-adds, scans, argsort): templates and
the helpers the generated code calls (graphc.ops_indexing's reference functions). Merged into
numpy_backend.NUMPY_TEMPLATES and RUNTIME.
"""

from __future__ import annotations

from collections.abc import Callable

from graphc.ops import IMPL, SCANS, Op


def _helper(op: Op) -> Callable:
    """A call of the reference function, params in order: cumsum(x, 1, False)."""
    return lambda a, p: f"{op.value}({', '.join(a)}, {', '.join(repr(v) for v in p.values())})"


INDEXING_TEMPLATES: dict[Op, Callable[[list[str], dict], str]] = {
    Op.GATHER: lambda a, p: f"np.take({a[0]}, {a[1]}, axis={p['axis']})",
    Op.GATHER_ALONG: lambda a, p: f"np.take_along_axis({a[0]}, {a[1]}, axis={p['axis']})",
    **{op: _helper(op) for op in (Op.SCATTER_ADD, Op.SCATTER_ADD_ALONG, Op.ARGSORT, *SCANS)},
}
"""INDEXING_TEMPLATES[op](argument expressions, params) -> a Python expression."""

INDEXING_RUNTIME = {op.value: IMPL[op] for op in (Op.SCATTER_ADD, Op.SCATTER_ADD_ALONG, Op.ARGSORT, *SCANS)}
"""The helpers the templates call, by name."""

__all__ = ["INDEXING_RUNTIME", "INDEXING_TEMPLATES"]
