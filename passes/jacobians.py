"""Jacobians, Hessians and Hessian-vector products, built from gc.grad's backward walk (symbol to symbol: each
is more graph, like a gradient). Imports only the graphc core and passes/autodiff; knows nothing of codegen.

    >>> import graphc as gc
    >>> x = gc.tensor("x", (3,))
    >>> H = gc.hessian(gc.sum(gc.tanh(x) ** 2), x)      # shape (3, 3)
"""

from __future__ import annotations

import numpy as np

from graphc.errors import DTypeError, GraphcError, ShapeError
from graphc.graph import Constant, Variable
from graphc.ops import describe
from graphc.tensor import add, as_variable, concatenate, mul, reshape, sum_
from graphc.types import is_static, same_shape

from .autodiff import Wrt, as_wrt_list, backprop, finish, grad


def jacobian(y, wrt: Wrt, disconnected: str = "raise") -> Variable | list[Variable]:
    """∂y/∂x, of shape y.shape + x.shape: one backward pass per element of y (y's shape must be static).

    Row i is the vector-Jacobian product with the i-th basis vector (`known_grads={y: eᵢ}`), so no getitem of
    y is built; the graph grows with y.size times the backward graph.
    """
    y = as_variable(y)
    single, wrt_list = as_wrt_list(wrt, "jacobian")
    if not y.type.is_float:  # as gc.grad says of an integer cost, whatever y's shape
        raise DTypeError(f"jacobian: {describe(y)} is not a float value, so it has no derivative")
    if y.type.ndim == 0:
        return grad(y, wrt, disconnected)
    if not is_static(y.type.shape):
        raise ShapeError(f"jacobian: the shape of {describe(y)} must be known when the graph is built")
    size = int(np.prod(y.type.shape))
    rows_found = []
    for i in range(size):
        basis = np.zeros(size, y.type.dtype)
        basis[i] = 1
        rows_found.append(backprop([(y, Constant(basis.reshape(y.type.shape)))], wrt_list))
    results = []
    for k, w in enumerate(wrt_list):
        if all(row[k] is None for row in rows_found):  # disconnected as a whole: the user's choice applies
            finish(w, None, disconnected, [y])
        rows = [finish(w, row[k], "zero", [y]) for row in rows_found]
        flat = concatenate([reshape(r, (1,) + tuple(w.type.shape)) for r in rows], axis=0)
        results.append(reshape(flat, tuple(y.type.shape) + tuple(w.type.shape)))
    return results[0] if single else results


def hessian(cost: Variable, wrt: Wrt, disconnected: str = "raise"):
    """∂²cost/∂x² with shape x.shape + x.shape, as the Jacobian of the gradient (symbol to symbol, twice).

    For a list [x₁, …] the result is the block list [[∂²c/∂xᵢ∂xⱼ for j] for i].
    """
    single, wrt_list = as_wrt_list(wrt, "hessian")
    grads = grad(cost, wrt_list, disconnected=disconnected)
    blocks = [jacobian(g, wrt_list, disconnected="zero") for g in grads]
    return blocks[0][0] if single else blocks


def hessian_vector_product(cost: Variable, wrt: Wrt, v) -> Variable | list[Variable]:
    """H·v without building H: the gradient of (∇cost · v), one more backward pass (Pearlmutter's trick)."""
    single, wrt_list = as_wrt_list(wrt, "hessian_vector_product")
    v_list = [v] if single else list(v)
    if len(v_list) != len(wrt_list):
        raise GraphcError(f"hessian_vector_product: {len(wrt_list)} variables but {len(v_list)} vectors")
    grads = grad(cost, wrt_list)
    total = None
    for g, w, vec in zip(grads, wrt_list, v_list, strict=True):
        vec = as_variable(vec, like=w)
        if not same_shape(vec.type.shape, w.type.shape):
            raise ShapeError(
                f"hessian_vector_product: v {describe(vec)} must have the shape of {describe(w)}"
            )
        term = sum_(mul(g, vec))
        total = term if total is None else add(total, term)
    return grad(total, wrt, disconnected="zero")  # a gradient linear in x has H = 0: zero, not an error


__all__ = ["jacobian", "hessian", "hessian_vector_product"]
