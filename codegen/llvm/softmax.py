"""The softmax family for the llvm backend: SOFTMAX, LOG_SOFTMAX and LOGSUMEXP as three loops (a max pass, a
sum-of-exp pass, an output pass) sharing the backend's vectorised kernels. Knows views and ops, not graphs.
"""

from __future__ import annotations

import numpy as np

from graphc.ops import Op

from . import views
from .kernels import const_instr, instr
from .reduce import axes_of, run_kernel
from .views import View


def _max_shift(ctx, x: View, axes, finite_only: bool) -> View:
    """m = max(x over axes, keepdims) (with -inf/inf/NaN maxima replaced by 0 for logsumexp)."""
    mshape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
    m = ctx.temp(x.dtype, mshape)
    run_kernel(ctx, (), [x], [(0, m, (Op.MAX, axes, True))], x.shape, empty_ok=True)
    if finite_only:  # m = where(|m| < inf, m, 0)
        d = x.dtype.name
        body = (
            instr(Op.ABS, (0,), d),
            const_instr(np.inf, d),
            instr(Op.LT, (1, 2), "bool"),
            const_instr(0, d),
            instr(Op.WHERE, (3, 0, 4), d),
        )
        m2 = ctx.temp(x.dtype, mshape)
        ctx.loop(body, [m], [(5, m2, None)], mshape)
        m = m2
    return m


def _sum_exp(ctx, x: View, m: View, axes) -> View:
    s = ctx.temp(x.dtype, m.shape)
    d = x.dtype.name
    body = (instr(Op.SUB, (0, 1), d), instr(Op.EXP, (2,), d))
    run_kernel(ctx, body, [x, m], [(3, s, (Op.SUM, axes, True))], x.shape)
    return s


def _softmax(ctx, node, ins):
    (x,), out = ins, node.outputs[0]
    axes = (node.params["axis"],) if x.ndim else ()
    m = _max_shift(ctx, x, axes, finite_only=False)
    s = _sum_exp(ctx, x, m, axes)
    d = x.dtype.name
    dest = ctx.out(out)
    if node.op is Op.SOFTMAX:  # exp(x - m) / s
        body = (instr(Op.SUB, (0, 1), d), instr(Op.EXP, (3,), d), instr(Op.DIV, (4, 2), d))
    else:  # (x - m) - log(s)
        body = (instr(Op.SUB, (0, 1), d), instr(Op.LOG, (2,), d), instr(Op.SUB, (3, 4), d))
    ctx.loop(body, [x, m, s], [(5, dest, None)], x.shape)
    return [dest]


def _logsumexp(ctx, node, ins):
    (x,), out = ins, node.outputs[0]
    axes, keepdims = axes_of(node, x.ndim), node.params["keepdims"]
    m = _max_shift(ctx, x, axes, finite_only=True)
    s = _sum_exp(ctx, x, m, axes)
    d = x.dtype.name
    dest = ctx.out(out)
    # log(s) + m, computed on the keepdims shape and written through a view with the reduced axes dropped
    target = dest if keepdims else views.insert_axes(dest, axes)
    body = (instr(Op.LOG, (0,), d), instr(Op.ADD, (2, 1), d))
    ctx.loop(body, [s, m], [(3, target, None)], m.shape)
    return [dest]


RULES = {Op.SOFTMAX: _softmax, Op.LOG_SOFTMAX: _softmax, Op.LOGSUMEXP: _logsumexp}

__all__ = ["RULES"]
