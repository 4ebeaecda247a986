"""The ops of the fuzzer's programs, and the APIs that evaluate them: graphc's own module, and adapters that
give NumPy (the reference) and JAX graphc's function names. Each op is one function of an API,
op(api, *values, **params), so the three evaluators run the same code.
"""

from __future__ import annotations

import numpy as np
import scipy.special


# --- the APIs: graphc itself, and adapters giving NumPy and JAX graphc's function names ---------------------
class NumpyAPI:
    """graphc's functions over NumPy arrays (the reference)."""

    xp = np
    sigmoid = staticmethod(scipy.special.expit)
    logsumexp = staticmethod(scipy.special.logsumexp)

    # The softmax family as JAX and PyTorch define it (shifted by the maximum): with +inf in an axis every
    # entry is NaN, where SciPy gives -inf; and an empty axis gives an empty result (SciPy refuses it).
    @staticmethod
    def softmax(x, axis):
        e = np.exp(x - np.max(x, axis=axis, keepdims=True, initial=-np.inf))
        return e / np.sum(e, axis=axis, keepdims=True)

    @staticmethod
    def log_softmax(x, axis):
        shifted = x - np.max(x, axis=axis, keepdims=True, initial=-np.inf)
        return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def softplus(x):
        return np.logaddexp(x, np.zeros((), x.dtype))

    @staticmethod
    def relu(x):
        return np.maximum(x, np.zeros((), x.dtype))

    @staticmethod
    def cast(x, dtype):
        return np.asarray(x).astype(dtype)


class JaxAPI:
    def __init__(self):
        import jax
        import jax.numpy as jnp
        import jax.scipy.special

        self.jax, self.xp = jax, jnp
        self.sigmoid, self.softplus, self.relu = jax.nn.sigmoid, jax.nn.softplus, jax.nn.relu
        self.softmax, self.log_softmax = jax.nn.softmax, jax.nn.log_softmax
        self.logsumexp = jax.scipy.special.logsumexp

    def __getattr__(self, name):
        return getattr(self.xp, name)

    def cast(self, x, dtype):
        return self.xp.asarray(x).astype(dtype)


# --- the ops: each builds its value with an API's functions: op(api, *values, **params) ---------------------
UNARY = {
    "neg": lambda m, x: -x,
    "exp": lambda m, x: m.exp(x),
    "log": lambda m, x: m.log(x),
    "log_abs1": lambda m, x: m.log(m.abs(x) + 1.0),
    "tanh": lambda m, x: m.tanh(x),
    "sigmoid": lambda m, x: m.sigmoid(x),
    "softplus": lambda m, x: m.softplus(x),
    "relu": lambda m, x: m.relu(x),
    "sqrt": lambda m, x: m.sqrt(x),
    "sqrt_abs": lambda m, x: m.sqrt(m.abs(x) + 0.25),
    "square": lambda m, x: x * x,
    "abs": lambda m, x: m.abs(x),
    "sign": lambda m, x: m.sign(x),
    "sin": lambda m, x: m.sin(x),
    "cos": lambda m, x: m.cos(x),
    "expm1": lambda m, x: m.expm1(x),
    "log1p_abs": lambda m, x: m.log1p(m.abs(x)),
    "clip": lambda m, x: m.clip(x, -1.0, 1.0),
    "pow_const": lambda m, x, p: (m.abs(x) + 0.5) ** p,
    "pow_raw": lambda m, x, p: x**p,  # negative and infinite bases
}
BINARY = {
    "add": lambda m, a, b: a + b,
    "sub": lambda m, a, b: a - b,
    "mul": lambda m, a, b: a * b,
    "div": lambda m, a, b: a / b,
    "div_safe": lambda m, a, b: a / (m.abs(b) + 1.0),
    "maximum": lambda m, a, b: m.maximum(a, b),
    "minimum": lambda m, a, b: m.minimum(a, b),
    "where": lambda m, a, b: m.where(a > b, a, b * 2.0),
    "power": lambda m, a, b: (m.abs(a) + 0.5) ** m.tanh(b),
}
REDUCE = {
    "sum": lambda m, x, axis, keepdims: m.sum(x, axis=axis, keepdims=keepdims),
    "mean": lambda m, x, axis, keepdims: m.mean(x, axis=axis, keepdims=keepdims),
    "max": lambda m, x, axis, keepdims: m.max(x, axis=axis, keepdims=keepdims),
    "min": lambda m, x, axis, keepdims: m.min(x, axis=axis, keepdims=keepdims),
    "prod": lambda m, x, axis, keepdims: m.prod(x, axis=axis, keepdims=keepdims),
    "logsumexp": lambda m, x, axis, keepdims: m.logsumexp(x, axis=axis, keepdims=keepdims),
}
SHAPE = {
    "transpose": lambda m, x: m.transpose(x),
    "flatten": lambda m, x: m.reshape(x, (-1,)),
    "expand_dims": lambda m, x, axis: m.expand_dims(x, axis),
    "squeeze": lambda m, x, axis: m.squeeze(x, axis),
    "slice": lambda m, x, start, stop, step: x[start:stop:step],
    "concat_self": lambda m, x: m.concatenate([x, x * 0.5], axis=0),
    "stack": lambda m, a, b: m.stack([a, b], axis=0),
    "softmax": lambda m, x, axis: m.softmax(x, axis=axis),
    "log_softmax": lambda m, x, axis: m.log_softmax(x, axis=axis),
    "matmul": lambda m, a, b: m.matmul(a, b),
    "const": lambda m, x, c, op: {"add": x + c, "mul": x * c, "rsub": c - x, "div": x / c}[op],
    "cast": lambda m, x, dtype: m.cast(x, dtype),
    "argmax_where": lambda m, x, axis: m.where(m.argmax(x, axis=axis) > 0, m.max(x, axis=axis), 1.5),
}
INTEGER = {  # on round(clip(x, -9, 9)) as an int: exact arithmetic, comparisons back to float
    "add": lambda m, i: i + i * 2,
    "mul": lambda m, i: i * (i - 1),
    "maximum": lambda m, i: m.maximum(i, 1 - i),
    "power": lambda m, i: i**2,
    "negative_power": lambda m, i: i ** (-1),  # NumPy refuses: every backend must too, with a GraphcError
    "sum": lambda m, i: m.sum(i, axis=None, keepdims=False),
    "where": lambda m, i: m.where(i > 0, i * 1.5, -1.0),
}
SHAPE["integer"] = lambda m, x, op, dtype: INTEGER[op](m, m.cast(m.clip(x * 3.0, -9.0, 9.0), dtype))
OPS = {**UNARY, **BINARY, **REDUCE, **SHAPE}
GRAD_UNSAFE = {
    "abs",
    "sign",
    "log",
    "sqrt",
    "div",
    "log1p_abs",
    "pow_raw",
}  # kinks or poles where conventions differ
