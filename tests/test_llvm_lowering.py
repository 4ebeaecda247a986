"""The llvm backend's structure: LLVM_RULES is the one table the walk and the kernels run (elementwise rows
generated from the scalar rules), a rule reaches native failure through ctx.fail_if, and compiled functions
keep their own classes."""

from __future__ import annotations

import weakref

import numpy as np
import pytest

import graphc as gc
from graphc.codegen.checks import RangeCheck
from graphc.compile import DirectFunction, Function, UpdatingFunction
from graphc.errors import IndexOutOfRange
from graphc.ops import Op

pytest.importorskip("llvmlite")

from graphc.codegen.llvm import loops  # noqa: E402
from graphc.codegen.llvm.elementwise import Elementwise  # noqa: E402
from graphc.codegen.llvm.lower import LLVM_RULES, RuleTable, lower  # noqa: E402
from graphc.codegen.llvm.runtime import LlvmProgram  # noqa: E402
from graphc.codegen.llvm.scalar import load_value  # noqa: E402
from graphc.codegen.llvm.scalar_rules import SCALAR_RULES  # noqa: E402


def _program(inputs, output, rules, optimize="fast"):
    """The graph of ``output`` lowered with ``rules`` instead of LLVM_RULES."""
    fgraph = gc.function(inputs, output, backend="interp", optimize=optimize).optimized
    return LlvmProgram(fgraph, lower(fgraph, rules))


def test_elementwise_rows_are_generated_from_the_scalar_rules():
    for op, scalar in SCALAR_RULES.items():
        assert isinstance(LLVM_RULES[op], Elementwise) and LLVM_RULES[op].scalar is scalar
    assert not any(isinstance(LLVM_RULES[op], Elementwise) for op in set(Op) - set(SCALAR_RULES))


def test_fused_kernels_read_the_table_they_are_given():
    x, y = gc.vector("x"), gc.vector("y")
    rules = RuleTable(LLVM_RULES)
    rules[Op.ADD] = Elementwise(SCALAR_RULES[Op.SUB])  # planted: every + inside a kernel becomes -
    program = _program([x, y], gc.exp(x) + y * 2, rules)
    a, b = np.array([0.0, 1.0]), np.array([1.0, 2.0])
    (out,), _ = program.run((a, b), (), {})
    np.testing.assert_allclose(out, np.exp(a) - b * 2)


def test_a_missing_row_names_the_op():
    x = gc.matrix("x", (2, 2))
    rules = RuleTable({op: rule for op, rule in LLVM_RULES.items() if op is not Op.MATMUL})
    with pytest.raises(NotImplementedError, match="no lowering for op MATMUL"):
        _program([x], x @ x, rules)


class _RefuseLarge(Elementwise):
    """A planted row: an elementwise op on int64 vectors that stops the call at the first value >= 10."""

    def __call__(self, ctx, node, ins):
        (x,) = ins
        check = RangeCheck(node, 0, 10, what="value", measures="the limit")
        b = ctx.b
        with loops.for_range(b, x.dims[0]) as i:
            value = load_value(b, loops.gep(b, x.ptr, i), x.dtype)
            ctx.fail_if(b.icmp_signed(">=", value, ctx.dim(10)), check, value, i)
        return super().__call__(ctx, node, ins)


def test_a_rule_stops_native_code_with_fail_if():
    x = gc.tensor("x", ("n",), "int64")
    rules = RuleTable(LLVM_RULES)
    rules[Op.NEG] = _RefuseLarge(SCALAR_RULES[Op.NEG])
    program = _program([x], -x * 3, rules, optimize="none")  # not fused: NEG is a node of its own
    (out,), _ = program.run((np.array([1, 2]),), (), {})
    np.testing.assert_array_equal(out, [-3, -6])
    with pytest.raises(
        IndexOutOfRange, match=r"neg: value 12 at index 2 of x \(int64 \(n,\)\) is out of range "
    ):
        program.run((np.array([1, 2, 12, 40]),), (), {})
    assert "the limit 10" in str(pytest.raises(IndexOutOfRange, program.run, (np.array([10]),), (), {}).value)


def _use_and_forget(backend: str) -> list:
    """Compile and call a direct and a general function; return weak references to them and their programs."""
    x, W = gc.vector("x"), gc.shared(np.ones(1), name="W")
    direct = gc.function([x], x * 2, backend=backend)  # on llvm: checks + the program in one closure
    general = gc.function([x], [x, x + W], updates={W: W + 1}, backend=backend)
    assert type(direct) is (DirectFunction if backend == "llvm" else Function)
    assert type(general) is UpdatingFunction
    np.testing.assert_array_equal(direct(np.array([1.0])), [2.0])
    np.testing.assert_array_equal(direct([3]), [6.0])  # converted on the general path
    np.testing.assert_array_equal(general(np.array([1.0]))[1], [2.0])
    return [weakref.ref(obj) for f in (direct, general) for obj in (f, f.program)]


def test_compiled_functions_are_plain_objects_freed_at_once(backend):
    # no per-instance classes, no reference cycles: the last reference frees a function and its program
    assert all(ref() is None for ref in _use_and_forget(backend))
