"""The body of a FUSED node: a small scalar SSA program run at every element. Owns its reference semantics.

Contract shared by the fusion pass (which builds kernels) and every backend (which lowers them):

- value ids 0..n_inputs-1 are the node's inputs; each instruction appends one value id;
- every input broadcasts (NumPy rules) to the iteration shape = the broadcast of all input shapes;
- every output has the iteration shape, then optionally one trailing reduction (SUM or MAX over `axes`,
  with `keepdims`) — `reductions[i]` is None for a plain elementwise output i;
- an instruction with op None is a scalar constant (params: value); dtypes are explicit per value.

What the fusion pass (graphc.passes.fusion) guarantees on top (clarifications, not changes):
- a constant's value is a finite Python bool/int/float of its dtype (non-finite or non-scalar constants
  come in as kernel inputs); other instructions carry their node's `param_key` (CAST: dtype, SCALAR_FN: fn);
- intermediate values may have a smaller shape than the iteration shape (a (4,) value broadcast against an
  (n, 4) one inside the kernel), but no such value is ever an output;
- the same value id may be an output twice: once plain, once with a trailing reduction;
- a reduced output's dtype is the reduced value's dtype (only float SUM/MAX are fused).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .ops import IMPL, Op
from .types import Type, broadcast_shapes


@dataclass(frozen=True)
class Instr:
    op: Op | None  # None: a scalar constant
    args: tuple[int, ...]  # value ids
    params: tuple  # sorted (name, value) pairs; for constants (("value", v),)
    dtype: str
    # The node this instruction was fused from (None for a constant or an instruction a backend made): where
    # checks on the data find their op's operands and the user's line. Not part of what the code computes.
    node: object = field(default=None, compare=False, repr=False)

    @property
    def param_dict(self) -> dict:
        return dict(self.params)


@dataclass(frozen=True)
class Kernel:
    input_dtypes: tuple[str, ...]
    instrs: tuple[Instr, ...]
    outputs: tuple[int, ...]
    reductions: tuple[
        tuple[Op, tuple[int, ...], bool] | None, ...
    ]  # per output: (op, axes, keepdims) or None

    @property
    def n_inputs(self) -> int:
        return len(self.input_dtypes)

    def dtype_of(self, value_id: int) -> str:
        if value_id < self.n_inputs:
            return self.input_dtypes[value_id]
        return self.instrs[value_id - self.n_inputs].dtype

    def output_types(self, inputs) -> tuple[Type, ...]:
        shape = broadcast_shapes(*(v.type.shape for v in inputs), what="the inputs of a fused kernel")
        types = []
        for out, red in zip(self.outputs, self.reductions, strict=True):
            out_shape = shape
            if red is not None:
                _, axes, keepdims = red
                out_shape = tuple(
                    1 if i in axes else d for i, d in enumerate(shape) if keepdims or i not in axes
                )
            types.append(Type(self.dtype_of(out), out_shape))
        return tuple(types)

    def evaluate(self, arrays, before: Callable | None = None) -> tuple[np.ndarray, ...]:
        """Reference semantics: each instruction with its op's NumPy IMPL, on whole arrays.
        ``before(k, args)``, if given, sees instruction k's arguments first (checks on the data)."""
        shape = np.broadcast_shapes(*(np.shape(a) for a in arrays))
        values = list(arrays)
        for k, ins in enumerate(self.instrs):
            if ins.op is None:
                values.append(np.asarray(ins.param_dict["value"], dtype=ins.dtype))
            else:
                if before is not None:
                    before(k, [values[a] for a in ins.args])
                values.append(np.asarray(IMPL[ins.op](*(values[a] for a in ins.args), **ins.param_dict)))
        results = []
        for out, red in zip(self.outputs, self.reductions, strict=True):
            value = np.broadcast_to(values[out], shape).astype(self.dtype_of(out), copy=True)
            if red is not None:
                op, axes, keepdims = red
                value = np.asarray(IMPL[op](value, axis=axes, keepdims=keepdims))
            results.append(value)
        return tuple(results)

    def describe(self) -> list[str]:
        """One line per instruction: 'v3 = exp(v2)'; how debugprint and drawings show the body."""
        lines = []
        for i, ins in enumerate(self.instrs, start=self.n_inputs):
            if ins.op is None:
                lines.append(f"v{i} = {ins.param_dict['value']!r}")
            else:
                args = ", ".join(f"v{a}" for a in ins.args)
                extra = "".join(f", {k}={getattr(v, 'name', v)}" for k, v in ins.params)
                lines.append(f"v{i} = {ins.op.value}({args}{extra})")
        outs = []
        for out, red in zip(self.outputs, self.reductions, strict=True):
            outs.append(f"v{out}" if red is None else f"{red[0].value}(v{out}, axis={red[1]})")
        lines.append("return " + ", ".join(outs))
        return lines
