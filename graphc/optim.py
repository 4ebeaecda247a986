"""Optimisers of chapter 8 as graph builders: each returns the `updates` dict for gc.function, with its state
in named shared variables. User layer: the core, graphc.passes.autodiff (grad, hessian) and the driver.
(Over 300 lines: one table of exact forms below and a runnable example on each optimiser.)

    >>> import numpy as np, graphc as gc
    >>> w = gc.shared(np.zeros(3), name="w")
    >>> x, y = gc.matrix("x", ("n", 3)), gc.vector("y")
    >>> J = gc.nn.mse(x @ w, y)
    >>> step = gc.function([x, y], J, updates=gc.optim.adam(J, [w], lr=0.01))

The first argument is the cost (gradients are taken with gc.grad) or a list of gradients, one per parameter
(to clip them first: `gc.optim.sgd(gc.optim.clip_by_norm(gc.grad(J, params), 1.0), params)`).

Exact forms (the book's pseudocode; g the minibatch gradient):
- sgd:      θ ← θ − ε_k g, ε_k = (1 − k/τ)ε₀ + (k/τ)ε_τ for k ≤ τ, ε_τ after (k counts steps from 0)
- momentum: v ← αv − εg; θ ← θ + v
- nesterov: v ← αv − ε∇J(θ + αv); θ ← θ + v. The gradient really is taken at the shifted point: the cost
            graph is rebuilt with every θ replaced by θ + αv (a graph substitution) and differentiated
            there, so the stored parameters are the book's θ (not the look-ahead reparametrisation
            φ = θ + αv, φ ← φ + αv' − εg(φ), that most libraries store)
- adagrad:  r ← r + g⊙g; θ ← θ − ε/(δ + √r)⊙g, δ = 1e−7
- rmsprop:  r ← ρr + (1−ρ)g⊙g; θ ← θ − ε/(δ + √r)⊙g, δ = 1e−6. The book writes √(δ + r); we use δ + √r,
            like AdaGrad and Adam (the two differ only while r ≲ δ)
- adam:     t ← t+1; s ← ρ₁s + (1−ρ₁)g; r ← ρ₂r + (1−ρ₂)g⊙g; θ ← θ − ε (s/(1−ρ₁ᵗ)) / (δ + √(r/(1−ρ₂ᵗ)))
Newton's method and nonlinear conjugate gradients need a linear solve or a line search: they are small
drivers (`Newton`, `ConjugateGradient`) around compiled functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from graphc.passes.autodiff import grad
from graphc.passes.jacobians import hessian

from .compile import function
from .errors import GraphError, InputError
from .fgraph import FunctionGraph
from .graph import SharedVariable, Variable
from .origin import here
from .tensor import as_variable, cast, clip, minimum, shared, sqrt, sum_

__all__ = [
    "gradients", "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "clip_by_norm", "clip_by_value",
    "Newton", "ConjugateGradient",
]  # fmt: skip


def __dir__() -> list[str]:  # tab completion shows the public names only
    return sorted(__all__)


CostOrGrads = Variable | Sequence[Variable]


def gradients(cost_or_grads: CostOrGrads, params: Sequence[Variable]) -> list[Variable]:
    """gc.grad(cost, params), or the given list of gradients (checked to match params).

    >>> w = gc.shared(np.zeros(2), name="w")
    >>> (g,) = gc.optim.gradients(gc.sum((w - 3.0) ** 2), [w])
    >>> gc.evaluate(g)
    array([-6., -6.])
    """
    if isinstance(cost_or_grads, Variable):
        return grad(cost_or_grads, list(params))
    grads = list(cost_or_grads)
    if len(grads) != len(params):
        raise InputError(
            f"optimiser: expected one gradient per parameter ({len(params)}), got {len(grads)}{here()}"
        )
    return grads


def _state(p: Variable, what: str, value: float = 0.0) -> SharedVariable:
    """A shared state slot shaped and typed like p, named after it ('W.velocity')."""
    current = p.get_value() if isinstance(p, SharedVariable) else None
    if current is None:
        raise GraphError(f"optimiser: params must be shared variables (gc.shared), got {p!r}{here()}")
    return shared(np.full_like(current, value), name=f"{p.name or 'param'}.{what}")


def _counter(name: str, dtype) -> SharedVariable:
    return shared(np.zeros((), dtype), name=name)


def _like(v, p: Variable) -> Variable:
    """A scalar hyperparameter as p's dtype (float32 parameters stay float32)."""
    return cast(as_variable(v), p.type.dtype) if isinstance(v, Variable) else as_variable(v, like=p)


def sgd(
    cost_or_grads: CostOrGrads, params, lr: float = 0.01, lr_end: float | None = None, tau: int = 0
) -> dict:
    """θ ← θ − ε_k g with ε_k decaying linearly from lr to lr_end over tau steps (constant without tau).

    >>> w = gc.shared(np.zeros(2), name="w")
    >>> J = gc.sum((w - 3.0) ** 2)
    >>> step = gc.function([], J, updates=gc.optim.sgd(J, [w], lr=0.1))
    >>> _ = step()
    >>> w.get_value()  # 0 - 0.1 * 2(0 - 3)
    array([0.6, 0.6])
    """
    params = list(params)
    grads = gradients(cost_or_grads, params)
    if not tau or lr_end is None:
        return {p: p - _like(lr, p) * g for p, g in zip(params, grads, strict=True)}
    k = _counter("sgd.k", "float64")
    alpha = minimum(k / float(tau), 1.0)
    eps = (1 - alpha) * lr + alpha * lr_end
    updates = {p: p - _like(eps, p) * g for p, g in zip(params, grads, strict=True)}
    updates[k] = k + 1
    return updates


def momentum(cost_or_grads: CostOrGrads, params, lr: float = 0.01, alpha: float = 0.9) -> dict:
    """v ← αv − εg; θ ← θ + v (with constant g the step tends to εg/(1−α)).

    >>> w = gc.shared(np.zeros(2), name="w")
    >>> J = gc.sum((w - 3.0) ** 2)
    >>> step = gc.function([], J, updates=gc.optim.momentum(J, [w], lr=0.1))
    >>> _ = step(), step()
    >>> w.get_value()  # v = 0.6, then 0.9·0.6 + 0.1·4.8
    array([1.62, 1.62])
    """
    params = list(params)
    grads = gradients(cost_or_grads, params)
    updates = {}
    for p, g in zip(params, grads, strict=True):
        v = _state(p, "velocity")
        v_new = alpha * v - _like(lr, p) * g
        updates[v] = v_new
        updates[p] = p + v_new
    return updates


def nesterov(cost: Variable, params, lr: float = 0.01, alpha: float = 0.9) -> dict:
    """Nesterov momentum exactly as the book writes it: the gradient at θ + αv (see the module docstring).

    >>> w = gc.shared(np.zeros(2), name="w")
    >>> J = gc.sum((w - 3.0) ** 2)
    >>> step = gc.function([], J, updates=gc.optim.nesterov(J, [w], lr=0.1))
    >>> _ = step(), step()
    >>> w.get_value()  # the second gradient is taken at 0.6 + 0.9·0.6
    array([1.512, 1.512])
    """
    if not isinstance(cost, Variable):
        raise InputError(
            "nesterov: expected the cost (its gradient is taken at shifted parameters), got "
            f"{type(cost).__name__} {cost!r}{here()}"
        )
    params = list(params)
    velocities = [_state(p, "velocity") for p in params]
    shifted = {p: p + alpha * v for p, v in zip(params, velocities, strict=True)}
    (cost_at_shift,) = FunctionGraph([], [cost]).replace(shifted).outputs
    grads = grad(cost_at_shift, params)  # ∂J(θ + αv)/∂θ = ∇J at θ + αv
    updates = {}
    for p, v, g in zip(params, velocities, grads, strict=True):
        v_new = alpha * v - _like(lr, p) * g
        updates[v] = v_new
        updates[p] = p + v_new
    return updates


def adagrad(cost_or_grads: CostOrGrads, params, lr: float = 0.01, delta: float = 1e-7) -> dict:
    """r ← r + g⊙g; θ ← θ − ε/(δ + √r)⊙g.

    >>> w = gc.shared(np.zeros(2), name="w")
    >>> J = gc.sum((w - 3.0) ** 2)
    >>> step = gc.function([], J, updates=gc.optim.adagrad(J, [w], lr=0.1))
    >>> _ = step()
    >>> w.get_value()  # the first step is ε in every coordinate
    array([0.1, 0.1])
    """
    params = list(params)
    grads = gradients(cost_or_grads, params)
    updates = {}
    for p, g in zip(params, grads, strict=True):
        r = _state(p, "sq_grad_sum")
        r_new = r + g * g
        updates[r] = r_new
        updates[p] = p - (_like(lr, p) / (delta + sqrt(r_new))) * g
    return updates


def rmsprop(
    cost_or_grads: CostOrGrads, params, lr: float = 0.001, rho: float = 0.9, delta: float = 1e-6
) -> dict:
    """r ← ρr + (1−ρ)g⊙g; θ ← θ − ε/(δ + √r)⊙g (δ + √r, not the book's √(δ + r): see the module docstring).

    >>> w = gc.shared(np.zeros(2), name="w")
    >>> J = gc.sum((w - 3.0) ** 2)
    >>> step = gc.function([], J, updates=gc.optim.rmsprop(J, [w], lr=0.1))
    >>> _ = step()
    >>> w.get_value()  # 0.1 · 6 / √(0.1 · 36)
    array([0.3162276, 0.3162276])
    """
    params = list(params)
    grads = gradients(cost_or_grads, params)
    updates = {}
    for p, g in zip(params, grads, strict=True):
        r = _state(p, "sq_grad_avg")
        r_new = rho * r + (1 - rho) * (g * g)
        updates[r] = r_new
        updates[p] = p - (_like(lr, p) / (delta + sqrt(r_new))) * g
    return updates


def adam(cost_or_grads: CostOrGrads, params, lr: float = 0.001, rho1: float = 0.9, rho2: float = 0.999,
         delta: float = 1e-8) -> dict:  # fmt: skip
    """Adam with bias correction (the first step with a constant gradient moves each θᵢ by ≈ ε).

    >>> w = gc.shared(np.zeros(2), name="w")
    >>> J = gc.sum((w - 3.0) ** 2)
    >>> step = gc.function([], J, updates=gc.optim.adam(J, [w], lr=0.1))
    >>> _ = step()
    >>> w.get_value()
    array([0.1, 0.1])
    """
    params = list(params)
    grads = gradients(cost_or_grads, params)
    t = _counter("adam.t", "float64")
    t_new = t + 1
    c1, c2 = 1 - rho1**t_new, 1 - rho2**t_new
    updates = {t: t_new}
    for p, g in zip(params, grads, strict=True):
        s, r = _state(p, "adam_s"), _state(p, "adam_r")
        s_new = rho1 * s + (1 - rho1) * g
        r_new = rho2 * r + (1 - rho2) * (g * g)
        updates[s], updates[r] = s_new, r_new
        s_hat, r_hat = s_new / _like(c1, p), r_new / _like(c2, p)
        updates[p] = p - _like(lr, p) * s_hat / (delta + sqrt(r_hat))
    return updates


def clip_by_norm(grads: Sequence[Variable], max_norm: float = 1.0) -> list[Variable]:
    """Rescale all gradients together so that their global L2 norm is at most max_norm: g ← g·max_norm/‖g‖.

    >>> g = gc.vector("g")
    >>> gc.evaluate(gc.optim.clip_by_norm([g], 1.0)[0], {g: [3.0, 4.0]})
    array([0.6, 0.8])
    """
    grads = list(grads)
    sq = None
    for g in grads:
        term = cast(sum_(g * g), "float64")
        sq = term if sq is None else sq + term
    norm = sqrt(sq)
    scale = max_norm / (norm + 1e-12)
    scale = minimum(scale, 1.0)
    return [g * _like(scale, g) for g in grads]


def clip_by_value(grads: Sequence[Variable], low: float, high: float | None = None) -> list[Variable]:
    """Clamp every gradient element to [low, high] (high = −low when only one bound is given).

    >>> g = gc.vector("g")
    >>> gc.evaluate(gc.optim.clip_by_value([g], 1.0)[0], {g: [-5.0, 0.5, 5.0]})
    array([-1. ,  0.5,  1. ])
    """
    low, high = (-abs(low), abs(low)) if high is None else (low, high)
    return [clip(g, low, high) for g in grads]


class Newton:
    """Newton's method for small problems: θ ← θ − [H + αI]⁻¹g (α = damping; α = 0 is the plain step, which
    solves a quadratic in one step). g and H come from one compiled function (gc.grad, gc.hessian); the solve
    is NumPy's. Parameters are flattened into one vector for H; `inputs` are the cost's, given to step().

    >>> w = gc.shared(np.zeros(2), name="w")
    >>> J = gc.sum((w - np.array([1.0, 2.0])) ** 2) + w[0] * w[1]
    >>> opt = gc.optim.Newton(J, [w])
    >>> opt.step(), w.get_value()  # the cost before the step; the minimum after one
    (5.0, array([0., 2.]))
    """

    def __init__(self, cost: Variable, params, inputs: Sequence[Variable] = (), damping: float = 0.0,
                 backend: str = "numpy"):  # fmt: skip
        self.params, self.damping = list(params), damping
        grads = grad(cost, self.params)
        blocks = hessian(cost, self.params)
        self.fn = function(list(inputs), [cost, *grads, *(b for row in blocks for b in row)], backend=backend)

    def step(self, *inputs) -> float:
        """One Newton step; returns the cost before it."""
        results = self.fn(*inputs)
        results = results if isinstance(results, (list, tuple)) else [results]
        n = len(self.params)
        sizes = [p.get_value().size for p in self.params]
        g = np.concatenate([np.ravel(r) for r in results[1 : 1 + n]])
        blocks = results[1 + n :]
        H = np.block(
            [[np.reshape(blocks[i * n + j], (sizes[i], sizes[j])) for j in range(n)] for i in range(n)]
        )
        try:
            delta = np.linalg.solve(H + self.damping * np.eye(len(g)), g)
        except np.linalg.LinAlgError:
            raise InputError(
                f"Newton.step: H + damping·I is singular (damping = {self.damping}); give damping > 0{here()}"
            ) from None
        offset = 0
        for p, size in zip(self.params, sizes, strict=True):
            value = p.get_value()
            p.set_value((value - delta[offset : offset + size].reshape(value.shape)).astype(value.dtype))
            offset += size
        return float(results[0])


class ConjugateGradient:
    """Nonlinear conjugate gradients (book Alg. 8.9): ρ = −g + βρ_prev with β₁ = 0 and
    Fletcher–Reeves β = gᵀg / g_prevᵀg_prev or Polak–Ribière β = (g − g_prev)ᵀg / g_prevᵀg_prev;
    ε* = argmin_ε J(θ + ερ) by a 1-D line search (scipy's Brent), θ ← θ + ε*ρ.
    A Python loop over two compiled functions (cost with gradients; cost alone for the line search).

    >>> w = gc.shared(np.zeros(2), name="w")
    >>> J = gc.sum((w - np.array([1.0, 2.0])) ** 2) + w[0] * w[1]
    >>> cg = gc.optim.ConjugateGradient(J, [w])
    >>> _ = cg.step(), cg.step()  # a quadratic in two dimensions: two steps
    >>> w.get_value().round(6)
    array([0., 2.])
    """

    def __init__(self, cost: Variable, params, inputs: Sequence[Variable] = (), beta: str = "fletcher-reeves",
                 backend: str = "numpy", line_search: Callable | None = None):  # fmt: skip
        if beta not in ("fletcher-reeves", "polak-ribiere"):
            raise InputError(
                f"ConjugateGradient: beta must be 'fletcher-reeves' or 'polak-ribiere', got {beta!r}{here()}"
            )
        self.params, self.beta = list(params), beta
        self.grad_fn = function(list(inputs), [cost, *grad(cost, self.params)], backend=backend)
        self.cost_fn = function(list(inputs), cost, backend=backend)
        self.line_search = line_search
        self.g_prev: np.ndarray | None = None
        self.rho: np.ndarray | None = None

    def _get(self) -> np.ndarray:
        return np.concatenate([np.ravel(p.get_value()) for p in self.params]).astype(np.float64)

    def _set(self, flat: np.ndarray) -> None:
        offset = 0
        for p in self.params:
            value = p.get_value()
            p.set_value(flat[offset : offset + value.size].reshape(value.shape).astype(value.dtype))
            offset += value.size

    def step(self, *inputs) -> float:
        """One CG iteration; returns the cost before it."""
        import scipy.optimize

        cost, *grads = self.grad_fn(*inputs)
        g = np.concatenate([np.ravel(x) for x in grads]).astype(np.float64)
        if self.g_prev is None:
            beta = 0.0
        elif self.beta == "fletcher-reeves":
            beta = float(g @ g) / float(self.g_prev @ self.g_prev)
        else:
            beta = float((g - self.g_prev) @ g) / float(self.g_prev @ self.g_prev)
        self.rho = -g if self.rho is None else -g + beta * self.rho
        theta = self._get()

        def along(eps: float) -> float:
            self._set(theta + eps * self.rho)
            return float(self.cost_fn(*inputs))

        if self.line_search is not None:
            eps = self.line_search(along)
        else:
            eps = scipy.optimize.minimize_scalar(along, bracket=(0.0, 1e-3)).x
        self._set(theta + eps * self.rho)
        self.g_prev = g
        return float(cost)
