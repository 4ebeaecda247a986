"""User-declared elementwise functions from a sympy expression: gradient, fusion and codegen for free.

    >>> import sympy, graphc as gc
    >>> swish = gc.elementwise("swish", lambda x: x / (1 + sympy.exp(-x)))
    >>> y = swish(gc.vector("x"))

The derivative is derived with sympy (`partial`), itself a ScalarFunction, so it can be differentiated again.
As in every autodiff system, the derivative of a step is 0 where it is defined: sympy's DiracDelta (from
Heaviside, sign, or Abs and Piecewise at their kinks) is replaced by 0.

Definitions are sympy expressions or Python functions building one; a string is refused, never parsed:
sympy's parsers (sympify, parse_expr) evaluate it with Python's eval. sympy is imported when the first such
function is made, not with graphc.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import reduce
from itertools import count
from typing import TYPE_CHECKING

import numpy as np

from .errors import GraphcError
from .graph import apply, as_variable
from .ops import Op

if TYPE_CHECKING:
    import sympy

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
    "erf", "erfc", "erfi", "erfinv", "erfcinv", "gamma", "loggamma", "digamma", "polygamma", "beta",
    "besselj", "bessely", "besseli", "besselk",
)  # fmt: skip


def derivative(expr: sympy.Expr, symbol: sympy.Symbol) -> sympy.Expr:
    """d expr / d symbol, with DiracDelta (and its derivatives) as 0: the derivative of a step almost
    everywhere, which is what a gradient of Heaviside, sign or a Piecewise jump is taken to be."""
    import sympy

    return sympy.diff(expr, symbol).replace(sympy.DiracDelta, lambda *args: sympy.S.Zero)


def _as_expression(name: str, expr) -> sympy.Expr:
    """A sympy expression, or a clear refusal: a string is never handed to sympify (it runs eval)."""
    import sympy

    if isinstance(expr, sympy.Basic):
        return expr
    if isinstance(expr, (bool, np.bool_)) or not isinstance(expr, (int, float, np.integer, np.floating)):
        raise GraphcError(
            f"elementwise {name!r}: the definition must be a sympy expression or a Python function "
            f"building one (lambda x: x * sympy.tanh(x)), not {type(expr).__name__} {expr!r}"
            + (
                " (strings are not parsed: sympy's parser runs Python's eval on them)"
                if isinstance(expr, str)
                else ""
            )
        )
    return sympy.Float(float(expr)) if isinstance(expr, (float, np.floating)) else sympy.Integer(int(expr))


class ScalarFunction:
    """An elementwise function defined by a sympy expression of its scalar arguments (real numbers;
    gc.elementwise makes one).

    >>> import sympy
    >>> swish = gc.elementwise("swish", lambda x: x / (1 + sympy.exp(-x)))
    >>> swish
    <elementwise swish(x) = x/(1 + exp(-x))>
    >>> x = gc.vector("x")
    >>> gc.evaluate(swish(x), {x: [0.0, 1.0]})
    array([0.        , 0.73105858])
    """

    def __init__(self, name: str, symbols: tuple[sympy.Symbol, ...], expr: sympy.Expr):
        import sympy

        self.name = name
        if not all(isinstance(s, sympy.Symbol) for s in symbols):
            raise GraphcError(f"elementwise {name!r}: the arguments must be sympy Symbols, got {symbols!r}")
        # Arguments are real numbers: sympy then differentiates Abs as sign, not through re() and im().
        real = {s: sympy.Symbol(s.name, real=True) for s in symbols if not s.is_real}
        self.symbols = tuple(real.get(s, s) for s in symbols)
        self.expr = _as_expression(name, expr).xreplace(real)
        stray = self.expr.free_symbols - set(self.symbols)
        if stray:
            raise GraphcError(
                f"elementwise {name!r}: the expression uses unknown symbols {sorted(map(str, stray))}"
            )
        self.key = f"{re.sub(r'[^0-9a-zA-Z_]', '_', name)}_{next(_keys)}"
        modules = _NUMPY_FUNCS
        if self.expr.has(*(getattr(sympy, name) for name in _SCIPY_FUNCTIONS)):
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
            d = derivative(self.expr, self.symbols[i])
            self._partials[i] = ScalarFunction(f"d{self.name}_d{self.symbols[i]}", self.symbols, d)
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
    expression, pass `args` (the sympy symbols, in call order). Its gradient, fusion and native code come from
    the expression. A string is refused (sympy would parse it with Python's eval). The gradient is sympy's
    derivative, with the derivative of a step (DiracDelta, from Heaviside, sign, or a Piecewise jump) taken
    as 0, as every autodiff system does: check gradients away from the kinks.

    >>> cube = gc.elementwise("cube", lambda x: x**3)
    >>> x = gc.vector("x")
    >>> gc.evaluate(gc.grad(gc.sum(cube(x)), x), {x: [1.0, 2.0]})
    array([ 3., 12.])
    >>> import sympy
    >>> ramp = gc.elementwise("ramp", lambda x: x * sympy.Heaviside(x))
    >>> gc.evaluate(gc.grad(gc.sum(ramp(x)), x), {x: [-1.0, 2.0]})
    array([0., 1.])
    """
    import sympy

    if callable(definition) and not isinstance(definition, sympy.Basic):
        import inspect  # here: it costs a few ms to import, and only gc.elementwise needs it

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
