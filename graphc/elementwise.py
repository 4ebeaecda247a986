"""User-declared elementwise functions from a sympy expression: gradient, fusion and codegen for free.

    >>> import sympy, graphc as gc
    >>> swish = gc.elementwise("swish", lambda x: x / (1 + sympy.exp(-x)))
    >>> y = swish(gc.vector("x"))

The derivative is derived with sympy (`partial`), itself a ScalarFunction, so it can be differentiated again.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from functools import reduce
from itertools import count

import numpy as np
import sympy

from .errors import GraphcError
from .graph import apply, as_variable
from .ops import Op

_keys = count()
_NUMPY_FUNCS = [
    {
        "Max": lambda *a: reduce(np.maximum, a),
        "Min": lambda *a: reduce(np.minimum, a),
        "Heaviside": lambda x, h0=0.5: np.heaviside(x, h0),
    },
    "numpy",
]
# sympy functions NumPy lacks: lambdify's NumPy printer falls back to math.erf & co, which fail on arrays.
# An expression with one of them is lambdified with scipy.special first (imported only then).
_SCIPY_FUNCTIONS = (
    sympy.erf, sympy.erfc, sympy.erfi, sympy.erfinv, sympy.erfcinv, sympy.gamma, sympy.loggamma,
    sympy.digamma, sympy.polygamma, sympy.beta, sympy.besselj, sympy.bessely, sympy.besseli, sympy.besselk,
)  # fmt: skip


class ScalarFunction:
    """An elementwise function defined by a sympy expression of its scalar arguments."""

    def __init__(self, name: str, symbols: tuple[sympy.Symbol, ...], expr: sympy.Expr):
        self.name = name
        self.symbols = tuple(symbols)
        self.expr = sympy.sympify(expr)
        stray = self.expr.free_symbols - set(self.symbols)
        if stray:
            raise GraphcError(
                f"elementwise {name!r}: the expression uses unknown symbols {sorted(map(str, stray))}"
            )
        self.key = f"{re.sub(r'[^0-9a-zA-Z_]', '_', name)}_{next(_keys)}"
        modules = _NUMPY_FUNCS
        if self.expr.has(*_SCIPY_FUNCTIONS):
            modules = [_NUMPY_FUNCS[0], "scipy", "numpy"]
        self._fn = sympy.lambdify(self.symbols, self.expr, modules=modules)
        self._partials: dict[int, ScalarFunction] = {}

    @property
    def nargs(self) -> int:
        return len(self.symbols)

    def result_dtype(self, dtypes: tuple[str, ...]) -> np.dtype:
        dtype = np.result_type(*dtypes)
        return dtype if dtype.kind == "f" else np.dtype("float64")

    def impl(self, *arrays) -> np.ndarray:
        dtype = self.result_dtype(tuple(np.asarray(a).dtype.name for a in arrays))
        arrays = [np.asarray(a, dtype=dtype) for a in arrays]
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
        out = np.asarray(self._fn(*arrays))
        if out.shape != shape or out.dtype != dtype:
            out = np.broadcast_to(out, shape).astype(dtype)
        return out

    def partial(self, i: int) -> ScalarFunction:
        """∂f/∂(argument i), derived by sympy once and cached."""
        if i not in self._partials:
            derivative = sympy.diff(self.expr, self.symbols[i])
            self._partials[i] = ScalarFunction(f"d{self.name}_d{self.symbols[i]}", self.symbols, derivative)
        return self._partials[i]

    def __call__(self, *args):
        if len(args) != self.nargs:
            raise GraphcError(f"{self.name} takes {self.nargs} arguments, got {len(args)}")
        like = next((a for a in args if hasattr(a, "type")), None)
        return apply(Op.SCALAR_FN, [as_variable(a, like=like) for a in args], fn=self)

    def __eq__(self, other) -> bool:  # the symbols' order matters: f(x, y) = x - y is not g(y, x) = x - y
        return isinstance(other, ScalarFunction) and (self.name, self.symbols, self.expr) == (
            other.name,
            other.symbols,
            other.expr,
        )

    def __hash__(self) -> int:
        return hash((self.name, self.symbols, self.expr))

    def __repr__(self) -> str:
        return f"<elementwise {self.name}({', '.join(map(str, self.symbols))}) = {self.expr}>"


def elementwise(name: str, definition: Callable[..., sympy.Expr] | sympy.Expr, args=None) -> ScalarFunction:
    """Declare an elementwise function from a sympy expression (or a Python function building one).

    `definition` may be `lambda x: x * sympy.tanh(x)`; its parameter names become the symbols. With a bare
    expression, pass `args` (the sympy symbols, in call order).
    """
    if callable(definition) and not isinstance(definition, sympy.Basic):
        names = list(inspect.signature(definition).parameters)
        symbols = tuple(sympy.Symbol(n, real=True) for n in names)
        expr = definition(*symbols)
    else:
        if args is None:
            raise GraphcError(
                f"elementwise {name!r}: give `args`, the symbols of the expression in call order"
            )
        symbols, expr = tuple(args), definition
    return ScalarFunction(name, symbols, expr)
