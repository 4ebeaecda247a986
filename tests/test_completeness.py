"""Every op has a row in every table: the shape rule and reference impl (core), its gradient (passes) and
each backend's lowering (codegen). A missing row is listed by name, per table; a table whose module does not
import is a failure, never a skip."""

from __future__ import annotations

import importlib

import pytest
from all_cases import CASES
from cases import ops_built

from graphc.ops import IMPL, Op
from graphc.shape_rules import ARITY, SHAPE_RULES

# (module, table name, ops that legitimately have no row, and why)
TABLES = [
    ("graphc.ops", "IMPL", {}),
    ("graphc.shape_rules", "SHAPE_RULES", {}),
    ("graphc.shape_rules", "ARITY", {}),
    ("graphc.passes.vjp_rules", "VJP_RULES", {Op.FUSED: "fusion runs after differentiation"}),
    (
        "graphc.codegen.numpy_backend",
        "NUMPY_TEMPLATES",
        {
            Op.FUSED: "emitted by Emitter._emit_fused",
            Op.SCAN: "emitted as a loop (numpy_backend.BLOCKS)",
            Op.COND: "emitted as if/else (numpy_backend.BLOCKS)",
        },
    ),
    ("graphc.codegen.llvm.lower", "LLVM_RULES", {}),
    ("graphc.io.schema", "OP_PARAMS", {Op.FUSED: "files hold the user's graph, before fusion"}),
    ("graphc.onnx.export_rules", "EXPORT_RULES", {}),
]


@pytest.mark.parametrize("module, table, exempt", TABLES, ids=[f"{m}.{t}" for m, t, _ in TABLES])
def test_every_op_has_a_row(module, table, exempt):
    rows = getattr(importlib.import_module(module), table)  # a module that does not import fails the test
    missing = sorted(op.name for op in Op if op not in rows and op not in exempt)
    assert not missing, f"{module}.{table} has no rule for {missing}"


def test_core_tables_agree():
    assert set(IMPL) == set(SHAPE_RULES) == set(ARITY) == set(Op)


# Ops whose forward rows live elsewhere: FUSED is built by the fusion pass (and test_fused_kernel_parity),
# SCALAR_FN by gc.elementwise (test_scalar_fn_parity).
NOT_IN_CASES = {Op.FUSED, Op.SCALAR_FN}


def test_forward_cases_cover_every_op():
    missing = sorted(op.name for op in Op if op not in ops_built(CASES) and op not in NOT_IN_CASES)
    assert not missing, f"no CASES row builds {missing}"
