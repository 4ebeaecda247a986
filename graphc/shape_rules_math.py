"""Type rules of the creation ops (ARANGE), rows of graphc.shape_rules.SHAPE_RULES and ARITY. Core layer.

The new elementwise ops (rounding, integer, bitwise, special functions) need no rows here: graphc.shape_rules
gives every elementwise op NumPy's result dtype and broadcast shape.
"""

from __future__ import annotations

import math

import numpy as np

from .dims import Dim, divide
from .errors import DTypeError, ShapeError
from .ops import Op
from .types import Type, as_shape


def arange_length(start, stop, step):
    """How many values np.arange(start, stop, step) has: ⌈(stop - start)/step⌉, at least 0; `stop` may be a
    named size (then start and step are ints and the size is assumed large enough)."""
    if isinstance(stop, Dim):
        return divide(stop - start, step, ceil=True)
    return max(0, math.ceil((stop - start) / step))


def _arange_types(op, inputs, params):
    start, stop, step, dtype = params["start"], params["stop"], params["step"], np.dtype(params["dtype"])
    if step == 0:
        raise ShapeError("arange: step cannot be zero")
    if isinstance(stop, Dim) and not (isinstance(start, int) and isinstance(step, int) and step > 0):
        raise ShapeError(f"arange up to the named size {stop} takes an int start and a positive int step")
    if dtype.kind not in "iuf":
        raise DTypeError(f"arange: dtype must be an integer or float dtype, not {dtype.name}")
    return (Type(dtype, as_shape((arange_length(start, stop, step),))),)


MATH_SHAPE_RULES = {Op.ARANGE: _arange_types}
MATH_ARITY = {Op.ARANGE: 0}

__all__ = ["MATH_ARITY", "MATH_SHAPE_RULES", "arange_length"]
