"""Testing helpers for graphc users: `check_grad`, symbolic gradients against central differences.

User layer: the core, graphc.passes.autodiff (grad) and the driver (function).

    >>> import numpy as np, graphc as gc
    >>> from graphc.testing import check_grad
    >>> result = check_grad(lambda x: gc.sum(gc.tanh(x) ** 2), [np.array([0.1, -0.4, 0.7])])

The check is PyTensor's verify_grad idea (compare the directional derivative along random directions, which
tests every entry at once), plus, for inputs of moderate size, every entry on its own, so that a failure names
the worst entry: the input, its index, the symbolic and the numeric value.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from graphc.passes.autodiff import grad

from .compile import function
from .errors import GraphcError
from .graph import SharedVariable, Variable
from .tensor import tensor


class GradientCheckError(GraphcError, AssertionError):
    """A symbolic gradient disagrees with central finite differences.

    >>> from graphc.testing import check_grad
    >>> check_grad(lambda x: gc.sum(x * gc.stop_gradient(x)), [np.array([1.0, 2.0])])  # grad says x, not 2x
    Traceback (most recent call last):
      ...
    graphc.testing.GradientCheckError: ...
    """


@dataclass
class GradCheckResult:
    """What check_grad measured when the gradient passed: the worst relative error, how many entries and
    random directions it compared.

    >>> from graphc.testing import check_grad
    >>> result = check_grad(lambda x: gc.sum(x**2), [np.array([1.0, 2.0])])
    >>> result.entries_checked, result.directions_checked, result.max_error < 1e-6
    (2, 3, True)
    """

    max_error: float  # the worst |symbolic - numeric| / (1 + |numeric|) seen
    entries_checked: int
    directions_checked: int


def check_grad(
    fn_or_graph: Callable[..., Variable] | tuple[Variable, Sequence[Variable]],
    inputs: Sequence | Mapping,
    eps: float | None = None,
    tol: float | None = None,
    *,
    backend: str = "numpy",
    optimize: str = "fast",
    n_directions: int = 3,
    max_entries: int = 512,
    seed: int = 0,
) -> GradCheckResult:
    """Check gc.grad against central differences; raise GradientCheckError naming the worst entry.

    `fn_or_graph` is either a Python function building a scalar cost from Variables (one per input array;
    float inputs become float64 Variables, integer/bool ones stay as they are and are not differentiated), or
    a pair (cost, wrt) of an existing graph; then `inputs` gives the values of `wrt` in order, or is a dict
    from Variables (wrt and any other inputs) to values (shared variables default to their current value).

    eps: the finite-difference step (default 1e-6 in float64, 1e-3 for float32 graphs).
    tol: the tolerance on |symbolic - numeric| / (1 + |numeric|) (default 1e-5 in float64, 1e-2 in float32).
    Entries are checked one by one when the wrt values have at most `max_entries` elements in all.

    >>> from graphc.testing import check_grad
    >>> check_grad(lambda x: gc.sum(gc.tanh(x) ** 2), [np.array([0.5, -1.0])]).max_error < 1e-8
    True
    """
    cost, wrt, values = _graph(fn_or_graph, inputs)
    grads = grad(cost, wrt)
    plain = [v for v in values if not isinstance(v, SharedVariable)]
    shared = [v for v in values if isinstance(v, SharedVariable)]
    compiled = function(plain, [cost, *grads], backend=backend, optimize=optimize)
    low = any(w.type.dtype == np.float32 for w in wrt) or cost.type.dtype == np.float32
    eps = eps if eps is not None else (1e-3 if low else 1e-6)
    tol = tol if tol is not None else (1e-2 if low else 1e-5)

    def run(point: dict) -> list[np.ndarray]:
        saved = {s: s.get_value() for s in shared}
        try:
            for s in shared:
                s.set_value(point[s])
            return [np.asarray(r, dtype=np.float64) for r in compiled(*(point[v] for v in plain))]
        finally:
            for s, value in saved.items():
                s.set_value(value)

    def cost_at(point: dict) -> float:
        return float(run(point)[0])

    base = {v: np.asarray(a) for v, a in values.items()}
    symbolic = run(base)[1:]
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(n_directions):
        direction = {w: rng.normal(size=np.shape(base[w])) for w in wrt}
        numeric = (cost_at(_moved(base, direction, eps)) - cost_at(_moved(base, direction, -eps))) / (2 * eps)
        predicted = sum(float(np.sum(g * direction[w])) for g, w in zip(symbolic, wrt, strict=True))
        error = abs(predicted - numeric) / (1.0 + abs(numeric))
        worst = max(worst, error)
        if error > tol:  # locate the culprit entry, whatever the size
            _check_entries(wrt, base, symbolic, cost_at, eps, tol, limit=None)
            raise GradientCheckError(
                f"check_grad: the gradient is wrong along a random direction: symbolic {predicted:.8g}, "
                f"numeric {numeric:.8g} (error {error:.3g} > tol {tol:.3g}; "
                f"no single entry is off by that much)"
            )
    entries = sum(int(np.size(base[w])) for w in wrt)
    if entries <= max_entries:
        worst = max(worst, _check_entries(wrt, base, symbolic, cost_at, eps, tol, limit=max_entries))
    return GradCheckResult(worst, entries if entries <= max_entries else 0, n_directions)


def _graph(fn_or_graph, inputs):
    """(cost, wrt, {variable: value}) from either calling convention."""
    if callable(fn_or_graph):
        arrays = [np.asarray(a) for a in inputs]
        names = _param_names(fn_or_graph, len(arrays))
        variables = []
        for name, a in zip(names, arrays, strict=True):
            dtype = np.float64 if a.dtype.kind == "f" else a.dtype
            variables.append(tensor(name, a.shape, dtype))
        cost = fn_or_graph(*variables)
        values = {v: a.astype(v.type.dtype) for v, a in zip(variables, arrays, strict=True)}
        wrt = [v for v in variables if v.type.is_float]
        return cost, wrt, values
    cost, wrt = fn_or_graph
    wrt = [wrt] if isinstance(wrt, Variable) else list(wrt)
    if isinstance(inputs, Mapping):
        values = {v: np.asarray(a) for v, a in inputs.items()}
    else:
        if len(inputs) != len(wrt):
            raise GraphcError(f"check_grad: {len(wrt)} variables in wrt but {len(inputs)} input values")
        values = {v: np.asarray(a) for v, a in zip(wrt, inputs, strict=True)}
    for w in wrt:
        if w not in values:
            if not isinstance(w, SharedVariable):
                raise GraphcError(f"check_grad: no value given for {w.name or w!r}")
            values[w] = w.get_value()
    values = {v: a.astype(v.type.dtype) for v, a in values.items()}
    return cost, wrt, values


def _param_names(fn, n: int) -> list[str]:
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        params = []
    if len(params) == n and all(p.isidentifier() for p in params):
        return params
    return [f"x{i}" for i in range(n)]


def _moved(base: dict, direction: dict, step: float) -> dict:
    point = dict(base)
    for w, d in direction.items():
        point[w] = (base[w] + step * d).astype(base[w].dtype)
    return point


def _check_entries(wrt, base, symbolic, cost_at, eps, tol, limit) -> float:
    """Every entry's central difference; raise on the worst one beyond tol. Returns the worst error."""
    worst = (0.0, None)
    for w, g in zip(wrt, symbolic, strict=True):
        for index in np.ndindex(*np.shape(base[w])):
            step = np.zeros(np.shape(base[w]))
            step[index] = 1.0
            numeric = (cost_at(_moved(base, {w: step}, eps)) - cost_at(_moved(base, {w: step}, -eps))) / (
                2 * eps
            )
            error = abs(float(g[index]) - numeric) / (1.0 + abs(numeric))
            if error > worst[0] or worst[1] is None:
                worst = (error, (w, index, float(g[index]), numeric))
    error, where = worst
    if where is not None and error > tol:
        w, index, sym, num = where
        name = w.name or "an unnamed input"
        at = f"[{', '.join(map(str, index))}]" if index else ""
        raise GradientCheckError(
            f"check_grad: the gradient of {name}{at} is wrong: symbolic {sym:.8g}, numeric {num:.8g} "
            f"(error {error:.3g} > tol {tol:.3g}, the worst of {sum(np.size(base[v]) for v in wrt)} entries)"
        )
    return error


__all__ = ["check_grad", "GradientCheckError", "GradCheckResult"]


def __dir__() -> list[str]:  # tab completion shows the public names only
    return sorted(__all__)
