"""Jacobians, Hessians and Hessian-vector products, built from gc.grad's backward walk (symbol to symbol: each
is more graph, like a gradient). Imports only the graphc core and passes/autodiff; knows nothing of codegen.

    >>> import graphc as gc
    >>> x = gc.tensor("x", (3,))
    >>> H = gc.hessian(gc.sum(gc.tanh(x) ** 2), x)      # shape (3, 3)
"""

from __future__ import annotations

import numpy as np

from graphc.dims import AnonymousSize, sizes_in, substitute
from graphc.errors import DTypeError, GraphcError, ShapeError, where_built
from graphc.graph import Constant, Variable
from graphc.ops import describe
from graphc.sizes import known_sizes
from graphc.tensor import add, as_variable, concatenate, mul, reshape, sum_
from graphc.types import is_static, shapes_unify

from .autodiff import Wrt, as_wrt_list, backprop, finish, grad


def jacobian(y, wrt: Wrt, disconnected: str = "raise", what: str = "jacobian") -> Variable | list[Variable]:
    """∂y/∂x, of shape y.shape + x.shape: one backward pass per element of y, so y's number of elements must
    be known when the graph is built (a number in its shape, or a size the graph ties to a number, as
    x @ gc.shared(W) ties x's last size to W's first).

    Row i is the vector-Jacobian product with the i-th basis vector (`known_grads={y: eᵢ}`), so no getitem of
    y is built; the graph grows with y.size times the backward graph.

    >>> import graphc as gc
    >>> x = gc.vector("x", 3)
    >>> gc.jacobian(gc.tanh(x), x).shape
    (3, 3)
    """
    y = as_variable(y)
    single, wrt_list = as_wrt_list(wrt, what)
    if not y.type.is_float:  # as gc.grad says of an integer cost, whatever y's shape
        raise DTypeError(f"{what}: {describe(y)} is not a float value, so it has no derivative")
    if y.type.ndim == 0:
        return grad(y, wrt, disconnected)
    known = known_sizes([y, *wrt_list])
    y_shape = _static_shape(y, known, what)
    size = int(np.prod(y_shape))
    rows_found = []
    for i in range(size):
        basis = np.zeros(size, y.type.dtype)
        basis[i] = 1
        rows_found.append(backprop([(y, Constant(basis.reshape(y_shape)))], wrt_list))
    results = []
    for k, w in enumerate(wrt_list):
        if all(row[k] is None for row in rows_found):  # disconnected as a whole: the user's choice applies
            finish(w, None, disconnected, [y])
        rows = [finish(w, row[k], "zero", [y]) for row in rows_found]
        w_shape = tuple(_resolve(d, known) for d in w.type.shape)
        flat = concatenate([reshape(r, (1,) + w_shape) for r in rows], axis=0)
        results.append(reshape(flat, y_shape + w_shape))
    return results[0] if single else results


def _resolve(d, known: dict):
    """A size as a number where the graph ties it to one."""
    if isinstance(d, int):
        return d
    return substitute(d, known)


def _static_shape(y: Variable, known: dict, what: str) -> tuple[int, ...]:
    """y's shape in numbers, or an error that says how to give the sizes known only at call time."""
    shape = tuple(_resolve(d, known) for d in y.type.shape)
    if is_static(shape):
        return shape
    unknown = [d for d in shape if not isinstance(d, int)]
    fixes = []
    for size in sorted({s for d in unknown for s in sizes_in(d)}, key=str):
        if isinstance(size, AnonymousSize):
            owner, axis = str(size).rsplit(".", 1)
            fixes.append(
                f"{size} is axis {axis} of {owner}: give it a number, e.g. gc.vector({owner!r}, 3) or "
                f"gc.tensor({owner!r}, shape) with a number at axis {axis}"
            )
        else:
            fixes.append(
                f"{size} is a named size: put its number in the inputs' shapes instead of {str(size)!r}"
            )
    raise ShapeError(
        f"{what}: {describe(y)} has sizes known only when the function is called; a Jacobian takes one "
        f"backward pass per element, so their number must be known when the graph is built. Fix: "
        + "; ".join(fixes)
        + ". For a Hessian times a vector, gc.hessian_vector_product works at any size."
        + where_built(y.origin)
    )


def hessian(cost: Variable, wrt: Wrt, disconnected: str = "raise"):
    """∂²cost/∂x² with shape x.shape + x.shape, as the Jacobian of the gradient (symbol to symbol, twice).

    For a list [x₁, …] the result is the block list [[∂²c/∂xᵢ∂xⱼ for j] for i]. x's size must be known when
    the graph is built (see gc.jacobian); gc.hessian_vector_product works at any size.

    >>> v = gc.vector("v", 2)
    >>> gc.evaluate(gc.hessian(gc.sum(v**3), v), {v: [1.0, 2.0]})
    array([[ 6.,  0.],
           [ 0., 12.]])
    """
    single, wrt_list = as_wrt_list(wrt, "hessian")
    grads = grad(cost, wrt_list, disconnected=disconnected)
    blocks = [jacobian(g, wrt_list, disconnected="zero", what="hessian") for g in grads]
    return blocks[0][0] if single else blocks


def hessian_vector_product(cost: Variable, wrt: Wrt, v) -> Variable | list[Variable]:
    """H·v without building H: the gradient of (∇cost · v), one more backward pass (Pearlmutter's trick).
    Works for sizes known only at call time.

    >>> x, d = gc.vector("x"), gc.vector("d")
    >>> gc.evaluate(gc.hessian_vector_product(gc.sum(x**3), x, d), {x: [1.0, 2.0], d: [1.0, 0.0]})
    array([6., 0.])
    """
    single, wrt_list = as_wrt_list(wrt, "hessian_vector_product")
    v_list = [v] if single else list(v)
    if len(v_list) != len(wrt_list):
        raise GraphcError(f"hessian_vector_product: {len(wrt_list)} variables but {len(v_list)} vectors")
    grads = grad(cost, wrt_list)
    total = None
    for g, w, vec in zip(grads, wrt_list, v_list, strict=True):
        vec = as_variable(vec, like=w)
        if not shapes_unify(vec.type.shape, w.type.shape):  # sizes that differ by name: checked at call time
            raise ShapeError(
                f"hessian_vector_product: v {describe(vec)} must have the shape of {describe(w)}"
            )
        term = sum_(mul(g, vec))
        total = term if total is None else add(total, term)
    return grad(total, wrt, disconnected="zero")  # a gradient linear in x has H = 0: zero, not an error


__all__ = ["jacobian", "hessian", "hessian_vector_product"]
