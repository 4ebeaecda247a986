"""How a loop kernel reports bad data, and the explain function that finds it again. Knows kernel bodies and
IR, not ops or graphs.

The API, for an op whose elements can be bad data (an integer power's negative exponent, a gather's index, a
zero integer divisor, a NaN a guard refuses):

1. a row in ``graphc.codegen.checks.RUNTIME_CHECKS`` gives the node's check: ``arg`` (the argument it
   reads), ``verify(*args)`` (interp and numpy run it) and ``error(value, bound, position)``;
2. the op's scalar rule calls ``s.fail_if(bad, value, arg, bound=None)``: where the i1 ``bad`` holds, the call
   stops with that check's error, given ``value`` (an int, or a float passed as its float64 bits: decode it
   with ``struct``), ``bound`` (an i64, or None: the check's own) and the position of the element in the
   rule's argument ``arg`` (flat, C order, in that argument's own shape however it broadcasts). Node rules
   pass the specs on: ``ctx.loop(..., checks=[specs of instruction 0, ...])``; the elementwise and fused rows
   do (``checks_of(node)``, ``kernel_checks(kernel)``). In a fused kernel the first failure reported is that
   of the first instruction (in order) that fails anywhere, at its first element: what interp finds.

The element is still computed after ``fail_if``: an operation that traps (integer division by 0 or of the
minimum by -1) must be made safe first (a divisor replaced by 1) and then reported.

Cost: a kernel without checks is emitted exactly as before (``LoopSpec.checked`` is False). A checked kernel's
hot loop only ORs the ``bad`` bits (it still vectorises: no early exit, no stores) and, at the end of its
chunk, sets a byte flag passed as ``ptrs[n_operands]`` (threads share it: an atomic store). The caller tests
the flag after the call (``loopcall``); only on failure does it run the kernel's explain function
``i64 explain(i8** ptrs, i64* info, i64 n, i64* record, i64 c)`` (in the kernel's module, named by
``kernels.explain_name``), once per local check c in order: over the whole range [0, n) it stops at the first
point where check c fails, writes ``record = {value, bound, position}`` and returns 1 (0: none failed).
``LoopSpec.checks`` counts each instruction's checks, so the caller knows them without the kernel's IR (a
cached kernel has none): ``LoopSpec.check_slots[c]`` is (instruction, k), the k-th ``fail_if`` of that
instruction's rule. A rule may skip a ``fail_if`` it can prove never holds (a constant exponent >= 0): that
check then never fails.
"""

from __future__ import annotations

from llvmlite import ir

from .failure import as_i64
from .scalar import I1, I8, I64

I8P = I8.as_pointer()
EXPLAIN_TYPE = ir.FunctionType(I64, [I8P.as_pointer(), I64.as_pointer(), I64, I64.as_pointer(), I64])
EXPLAIN_RECORD = 3  # value, bound, position (in the checked argument, flat C order)
NO_BOUND = -(2**63)  # the record's bound when the rule gave none: the check's own


class PointChecks:
    """What ``s.fail_if`` emits in a checked kernel: in the kernel, OR the bad bits and set the flag at the
    end; in its explain function, stop at the first point where check ``c`` fails and fill the record."""

    def __init__(self, b: ir.IRBuilder, spec, dims, explain: bool, extra):
        self.b, self.dims, self.explain = b, dims, explain
        self.slots = {slot: c for c, slot in enumerate(spec.check_slots)}
        self.indices: list = []
        self.varies = varying_axes(spec)
        if explain:
            self.record, self.wanted = extra
        else:
            (self.flag,) = extra
            self.any_bad = b.alloca(I1, name="failed")
            b.store(ir.Constant(I1, 0), self.any_bad)

    def scalar_hook(self, instr_index: int, ins):
        """``fail_if`` for the Scalar of instruction ``instr_index`` (``ins``)."""
        count = [0]

        def fail_if(bad, value, arg, bound=None):
            c = self.slots.get((instr_index, count[0]))
            count[0] += 1
            if c is None:
                raise NotImplementedError(
                    f"the llvm rule of {ins.op} checks the data more often than "
                    "graphc.codegen.checks.RUNTIME_CHECKS says"
                )
            if self.explain:
                self._explain(c, bad, value, self.varies[ins.args[arg]], bound)
            else:
                self.b.store(self.b.or_(self.b.load(self.any_bad), bad), self.any_bad)

        return fail_if

    def _explain(self, c: int, bad, value, varies, bound) -> None:
        b = self.b
        hit = b.and_(bad, b.icmp_signed("==", self.wanted, ir.Constant(I64, c)))
        found, cont = b.append_basic_block("found"), b.append_basic_block("next")
        b.cbranch(hit, found, cont)
        fb = ir.IRBuilder(found)
        position = ir.Constant(I64, 0)  # C order in the argument: the axes it varies along (it broadcasts)
        for index, dim, v in zip(self.indices, self.dims, varies, strict=True):
            if v:
                position = fb.add(fb.mul(position, dim), index)
        bound = ir.Constant(I64, NO_BOUND) if bound is None else bound
        for k, field in enumerate((as_i64(fb, value), as_i64(fb, bound), position)):
            fb.store(field, fb.gep(self.record, [ir.Constant(I64, k)]))
        fb.ret(ir.Constant(I64, 1))
        b.position_at_end(cont)

    def finish(self) -> None:
        b = self.b
        if self.explain:
            b.ret(ir.Constant(I64, 0))
            return
        with b.if_then(b.load(self.any_bad)):
            b.store_atomic(ir.Constant(I8, 1), self.flag, "monotonic", 1)  # chunks on other threads too
        b.ret_void()


def varying_axes(spec) -> list[tuple[bool, ...]]:
    """Per value id, the axes of the iteration space along which it changes (a broadcast value: fewer)."""
    varies = [tuple(s != 0 for s in spec.strides[k]) for k in range(len(spec.input_dtypes))]
    for ins in spec.instrs:
        axes = [False] * spec.rank
        for a in ins.args:
            axes = [x or y for x, y in zip(axes, varies[a], strict=True)]
        varies.append(tuple(axes))
    return varies


__all__ = ["EXPLAIN_RECORD", "EXPLAIN_TYPE", "NO_BOUND", "PointChecks", "varying_axes"]
