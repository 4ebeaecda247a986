"""Hidden and output units (chapter 6.3) as graph builders. Knows the graphc core only: no passes, codegen.

    >>> import graphc as gc
    >>> h = gc.nn.leaky_relu(gc.vector("z"), alpha=0.1)

Non-differentiable points follow the course: the derivative of a rectifier at 0 is its left-hand one (relu'(0)
= 0, leaky'(0) = alpha); ties inside max (maxout) share the gradient evenly (the autodiff driver's documented
choice).
"""

from __future__ import annotations

import math

from graphc.errors import InputError, ShapeError
from graphc.graph import Variable
from graphc.mathfuncs import erf
from graphc.ops import describe
from graphc.origin import here
from graphc.tensor import (
    abs_,
    as_variable,
    clip,
    exp,
    expm1,
    gt,
    log_softmax,
    max_,
    minimum,
    relu,
    reshape,
    sigmoid,
    sign,
    softmax,
    softplus,
    sum_,
    tanh,
    where,
)

__all__ = [
    "sigmoid", "tanh", "relu", "leaky_relu", "generalized_relu", "prelu", "abs_rectify", "elu", "softplus",
    "hard_tanh", "softsign", "maxout", "rbf", "softmax", "log_softmax", "step", "linear", "gelu", "silu",
    "swish", "mish",
]  # fmt: skip


def linear(x) -> Variable:
    """The identity unit (a linear output layer).

    >>> x = gc.vector("x")
    >>> gc.evaluate(gc.nn.linear(x), {x: [-2.0, 3.0]})
    array([-2.,  3.])
    """
    return as_variable(x)


def generalized_relu(x, alpha) -> Variable:
    """max(0, x) + alpha·min(0, x); `alpha` a number or a (learned) Variable broadcasting against x.

    >>> x = gc.vector("x")
    >>> gc.evaluate(gc.nn.generalized_relu(x, 0.5), {x: [-2.0, 0.0, 3.0]})
    array([-1.,  0.,  3.])
    """
    x = as_variable(x)
    return where(gt(x, 0), x, alpha * x)


def leaky_relu(x, alpha: float = 0.01) -> Variable:
    """Leaky ReLU: x for x > 0, alpha·x otherwise (the course uses both 0.01 and 0.1).

    >>> x = gc.vector("x")
    >>> gc.evaluate(gc.nn.leaky_relu(x, 0.1), {x: [-2.0, 0.0, 3.0]})
    array([-0.2,  0. ,  3. ])
    """
    return generalized_relu(x, alpha)


def prelu(x, alpha: Variable) -> Variable:
    """Parametric ReLU: alpha is a shared variable (e.g. one per unit) learned with the other parameters.

    >>> x, alpha = gc.vector("x"), gc.shared(np.array([0.25]), name="alpha")
    >>> gc.evaluate(gc.nn.prelu(x, alpha), {x: [-2.0, 3.0]})
    array([-0.5,  3. ])
    """
    return generalized_relu(x, alpha)


def abs_rectify(x) -> Variable:
    """Absolute-value rectification |x| (generalised ReLU with alpha = -1; |x|'(0) = 0).

    >>> x = gc.vector("x")
    >>> gc.evaluate(gc.nn.abs_rectify(x), {x: [-2.0, 3.0]})
    array([2., 3.])
    """
    return abs_(as_variable(x))


def elu(x, alpha: float = 1.0) -> Variable:
    """x if x ≥ 0 else alpha·(eˣ − 1). expm1 sees min(x, 0), so the unused branch never overflows.

    >>> x = gc.vector("x")
    >>> gc.evaluate(gc.nn.elu(x), {x: [-2.0, 3.0]})
    array([-0.86466472,  3.        ])
    """
    x = as_variable(x)
    return where(gt(x, 0), x, alpha * expm1(minimum(x, 0)))


def hard_tanh(x) -> Variable:
    """max(−1, min(1, x)).

    >>> x = gc.vector("x")
    >>> gc.evaluate(gc.nn.hard_tanh(x), {x: [-2.0, 0.5, 3.0]})
    array([-1. ,  0.5,  1. ])
    """
    return clip(as_variable(x), -1, 1)


def softsign(x) -> Variable:
    """x / (1 + |x|), derivative 1 / (1 + |x|)².

    >>> x = gc.vector("x")
    >>> gc.evaluate(gc.nn.softsign(x), {x: [-2.0, 3.0]})
    array([-0.66666667,  0.75      ])
    """
    x = as_variable(x)
    return x / (1 + abs_(x))


def step(x) -> Variable:
    """The perceptron's step: 1 where x > 0 else 0 (no gradient).

    >>> x = gc.vector("x")
    >>> gc.evaluate(gc.nn.step(x), {x: [0.0, 3.0]})
    array([0., 1.])
    """
    x = as_variable(x)
    return where(gt(x, 0), 1 + 0 * x, 0 * x) if x.type.is_float else gt(x, 0)


def maxout(z, k: int) -> Variable:
    """g(z)ᵢ = max over group i of k consecutive pieces of the last axis (a known multiple of k).

    >>> z = gc.tensor("z", (None, 4))
    >>> gc.evaluate(gc.nn.maxout(z, 2), {z: [[1.0, 5.0, 2.0, 0.0]]})
    array([[5., 2.]])
    """
    z = as_variable(z)
    if not isinstance(k, int) or k < 1:
        raise InputError(f"maxout: k (pieces per unit) must be a positive int, got {k!r}{here()}")
    units = z.type.shape[-1] if z.type.ndim else None
    if not isinstance(units, int) or units % k:
        raise ShapeError(
            f"maxout of {describe(z)}: the last axis must be a known multiple of k = {k}, got {units}{here()}"
        )
    grouped = reshape(z, tuple(z.type.shape[:-1]) + (units // k, k))
    return max_(grouped, axis=-1)


def rbf(x, W, sigma) -> Variable:
    """Radial basis units hᵢ = exp(−‖W[:, i] − x‖² / σᵢ²) for x of shape (n, d), W (d, units), σ (units,).

    >>> x, W = gc.matrix("x"), gc.shared(np.array([[0.0, 1.0]]), name="W")
    >>> gc.evaluate(gc.nn.rbf(x, W, 1.0), {x: [[0.0]]})
    array([[1.        , 0.36787944]])
    """
    x, W = as_variable(x), as_variable(W)
    diff = reshape(x, tuple(x.type.shape) + (1,)) - W  # (n, d, units)
    return exp(-sum_(diff * diff, axis=-2) / (sigma * sigma))


def gelu(x, approximate=False) -> Variable:
    """Gaussian error linear unit x·Φ(x) = x·(1 + erf(x/√2))/2 (Hendrycks & Gimpel); approximate="tanh" is
    their x·(1 + tanh(√(2/π)(x + 0.044715x³)))/2, as torch.nn.functional.gelu(approximate="tanh").

        >>> import numpy as np, graphc as gc
        >>> x = gc.vector("x")
        >>> gc.function([x], gc.nn.gelu(x))(np.array([0.0, 1.0])).round(6).tolist()
        [0.0, 0.841345]
    """
    x = as_variable(x)
    if approximate in (False, None, "none"):
        return 0.5 * x * (1.0 + erf(x * (1.0 / math.sqrt(2.0))))
    if approximate in (True, "tanh"):
        inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)
        return 0.5 * x * (1.0 + tanh(inner))
    raise InputError(f"gelu: approximate must be False or 'tanh', got {approximate!r}{here()}")


def swish(x, beta=1.0) -> Variable:
    """Swish x·σ(βx) (Ramachandran et al.); β may be a learned Variable. β = 1 is silu.

    >>> import numpy as np, graphc as gc
    >>> x = gc.vector("x")
    >>> gc.function([x], gc.nn.swish(x, 2.0))(np.array([0.0, 1.0])).round(6).tolist()
    [0.0, 0.880797]
    """
    x = as_variable(x)
    return x * sigmoid(x if isinstance(beta, (int, float)) and beta == 1 else beta * x)


def silu(x) -> Variable:
    """Sigmoid linear unit x·σ(x) (swish with β = 1).

    >>> import numpy as np, graphc as gc
    >>> x = gc.vector("x")
    >>> gc.function([x], gc.nn.silu(x))(np.array([0.0, 1.0])).round(6).tolist()
    [0.0, 0.731059]
    """
    return swish(x)


def mish(x) -> Variable:
    """Mish x·tanh(softplus(x)) (Misra); softplus never overflows.

    >>> import numpy as np, graphc as gc
    >>> x = gc.vector("x")
    >>> gc.function([x], gc.nn.mish(x))(np.array([0.0, 1.0])).round(6).tolist()
    [0.0, 0.865098]
    """
    x = as_variable(x)
    return x * tanh(softplus(x))


# re-exported core units: sigmoid, tanh, relu, softplus, softmax, log_softmax, sign
_ = (sigmoid, tanh, relu, softplus, softmax, log_softmax, sign)
