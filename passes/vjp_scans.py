"""The VJPs of the cumulative scans (CUMSUM, CUMPROD, CUMMAX, CUMMIN, LOGCUMSUMEXP): rows of VJP_RULES
(passes/vjp_rules.py). Imports only the graphc core.

Each gradient is a scan the other way: output j depends on the inputs scanned before it, so input i collects
from the outputs scanned after it. Written for any direction: `ahead` scans as the forward op did, `back`
scans the other way.
"""

from __future__ import annotations

import numpy as np

from graphc.graph import Constant, apply
from graphc.indexing import cummax, cummin, cumprod, cumsum, logcumsumexp
from graphc.ops import Op
from graphc.tensor import broadcast_to, cast, eq, exp, gt, log, logical_and, lt, where

from .vjp_indexing import zeros


def cumsum_vjp(g, out, x, axis, reverse):
    """∂out_j/∂x_i = 1 for every i scanned up to j: the sum of g over the outputs from i on."""
    return (cumsum(g, axis, reverse=not reverse),)


def cumprod_vjp(g, out, x, axis, reverse):
    """∂out_j/∂x_i = Π_{k ≤ j, k ≠ i} x_k, exact with zeros (as PyTorch). Let z be the first zero:
    - before z, x_i ≠ 0: Σ_{j ≥ i} g_j out_j / x_i (the outputs from z on are 0 and add nothing);
    - at z: (Π_{k < z} x_k) · Σ_{j ≥ z} g_j Π_{z < k ≤ j} x_k;
    - after z: 0 (every output that depends on x_i has the factor x_z = 0)."""
    zero = eq(x, 0.0)
    seen = cumsum(cast(zero, "int64"), axis, reverse)  # zeros scanned so far, this one included
    before = eq(seen, 0)
    x_before = where(before, x, 1.0)
    grad_before = cumsum(g * out, axis, not reverse) / x_before
    head = cumprod(x_before, axis, reverse)  # at z: the product of the entries before it
    tail = cumprod(where(eq(seen - cast(zero, "int64"), 0), 1.0, x), axis, reverse)  # from after z up to j
    grad_first = head * cumsum(g * tail, axis, not reverse)
    return (where(before, grad_before, where(logical_and(zero, eq(seen, 1)), grad_first, 0.0)),)


def extreme_scan_vjp(g, out, x, axis, reverse):
    """cummax/cummin: each output's gradient goes to the entry it holds, the latest scanned among ties (as
    PyTorch's cummax)."""
    ones = broadcast_to(Constant(np.ones((), np.int64)), x.type.shape)
    position = cumsum(ones, axis) - 1  # 0, 1, 2, ... along the axis
    hit = eq(x, out)  # the entry is the running extreme: the latest such entry is where out comes from
    if reverse:
        source = cummin(where(hit, position, np.iinfo(np.int64).max), axis, reverse=True)
    else:
        source = cummax(where(hit, position, -1), axis)
    return (apply(Op.SCATTER_ADD_ALONG, (zeros(x.type.shape, g.type.dtype), source, g), axis=axis),)


def logcumsumexp_vjp(g, out, x, axis, reverse):
    """Σ_{j ≥ i} g_j exp(x_i - out_j), in log space to stay finite: the positive and the negative parts of g
    each as exp(x_i + logcumsumexp_{j ≥ i}(log|g_j| - out_j)) (PyTorch's formula)."""

    def part(mask, magnitude):
        log_g = where(mask, log(where(mask, magnitude, 1.0)), -np.inf)
        return exp(x + logcumsumexp(log_g - out, axis, reverse=not reverse))

    return (part(gt(g, 0.0), g) - part(lt(g, 0.0), -g),)


SCAN_RULES = {
    Op.CUMSUM: cumsum_vjp,
    Op.CUMPROD: cumprod_vjp,
    Op.CUMMAX: extreme_scan_vjp,
    Op.CUMMIN: extreme_scan_vjp,
    Op.LOGCUMSUMEXP: logcumsumexp_vjp,
}
"""VJP_RULES rows of the scans."""
