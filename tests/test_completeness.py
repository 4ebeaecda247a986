"""Every op has a row in every table: the shape rule and reference impl (core), its gradient (passes) and
each backend's lowering (codegen). A missing row is listed by name, per table."""

from __future__ import annotations

import importlib

import pytest

from graphc.ops import ARITY, IMPL, SHAPE_RULES, Op

# (module, table name, ops that legitimately have no row, and why)
TABLES = [
    ("graphc.ops", "IMPL", {}),
    ("graphc.ops", "SHAPE_RULES", {}),
    ("graphc.ops", "ARITY", {}),
    ("graphc.passes.vjp_rules", "VJP_RULES", {Op.FUSED: "fusion runs after differentiation"}),
    ("graphc.codegen.numpy_backend", "NUMPY_TEMPLATES", {Op.FUSED: "emitted by Emitter._emit_fused"}),
    ("graphc.codegen.llvm.lower", "LLVM_RULES", {}),
    ("graphc.io.schema", "OP_PARAMS", {Op.FUSED: "files hold the user's graph, before fusion"}),
    ("graphc.onnx.export_rules", "EXPORT_RULES", {}),
]


@pytest.mark.parametrize("module, table, exempt", TABLES, ids=[f"{m}.{t}" for m, t, _ in TABLES])
def test_every_op_has_a_row(module, table, exempt):
    try:
        rows = getattr(importlib.import_module(module), table)
    except ImportError as exc:  # pragma: no cover - only while a backend is optional
        pytest.skip(f"{module} unavailable: {exc}")
    missing = sorted(op.name for op in Op if op not in rows and op not in exempt)
    assert not missing, f"{module}.{table} has no rule for {missing}"


def test_core_tables_agree():
    assert set(IMPL) == set(SHAPE_RULES) == set(ARITY) == set(Op)
