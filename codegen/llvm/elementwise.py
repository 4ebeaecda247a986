"""Elementwise and fused nodes for the llvm backend: the generated rows of LLVM_RULES and the FUSED rule.
Knows views and ops, not graphs.

An elementwise op's row is an `Elementwise` built from its scalar rule (``scalar_rules.SCALAR_RULES``): run as
a node rule it loops that one instruction over the output; inside a fused kernel, the kernel emitter calls
its ``scalar`` for each instruction. So one table serves both, and the completeness test checks it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from graphc.codegen.checks import checks_of, kernel_checks
from graphc.kernel import Instr
from graphc.ops import Op
from graphc.types import broadcast_shapes

from .reduce import run_kernel
from .scalar_rules import SCALAR_RULES


@dataclass(frozen=True)
class Elementwise:
    """The row of an elementwise op: ``scalar(s, *args, **params)`` is one element's IR."""

    scalar: Callable

    def __call__(self, ctx, node, ins):
        out = node.outputs[0]
        body = (Instr(node.op, tuple(range(len(ins))), node.param_key, out.type.dtype.name),)
        dest = ctx.out(out)
        ctx.loop(body, ins, [(len(ins), dest, None)], out.type.shape, (checks_of(node),))
        return [dest]


def _fused(ctx, node, ins):
    kernel = node.params["kernel"]
    shape = broadcast_shapes(*(v.type.shape for v in node.inputs))
    outs = [
        (vid, ctx.out(var), red)
        for var, vid, red in zip(node.outputs, kernel.outputs, kernel.reductions, strict=True)
    ]
    return run_kernel(ctx, kernel.instrs, ins, outs, shape, checks=kernel_checks(kernel))


RULES = {**{op: Elementwise(rule) for op, rule in SCALAR_RULES.items()}, Op.FUSED: _fused}

__all__ = ["RULES", "Elementwise"]
