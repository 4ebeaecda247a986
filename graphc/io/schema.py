"""Which params each op takes and what each may hold. Owns OP_PARAMS; knows the core only.

A file's params are checked against this table before any node is built: the shape rules then see only
values of the right kind, and no backend ever receives a param a hostile file chose (a string where a bool
belongs would otherwise reach generated source). Saving checks the same table, so an op that lacks a row is
refused at save time, by name, and tests/test_completeness.py lists it.

Extension point: a new op adds one row, `Op.GATHER: {"axis": INT}`; an op with a body uses GRAPH (as SCAN
and COND do). A new kind is one Kind(name, test) line below.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from graphc.dims import Dim
from graphc.elementwise import ScalarFunction
from graphc.fgraph import FunctionGraph
from graphc.ops import BINARY, ELEMENTWISE, REDUCTIONS, SCANS, UNARY, Op
from graphc.types import DTYPES


@dataclass(frozen=True)
class Kind:
    """What one param may hold, as a test of the decoded Python value."""

    name: str
    test: Callable[[object], bool]


def _is_int(v) -> bool:
    return type(v) is int


def _is_dim(v) -> bool:
    return (_is_int(v) and v >= 0) or isinstance(v, Dim)


def _index_item(item) -> bool:
    if type(item) is not tuple or not item:
        return False
    if item[0] == "int":
        return len(item) == 2 and _is_int(item[1])
    if item[0] == "slice":  # start and stop may be size expressions (gc.grad slices by named sizes)
        bounds_ok = all(v is None or _is_int(v) or _is_dim(v) for v in item[1:3])
        return len(item) == 4 and bounds_ok and (item[3] is None or _is_int(item[3])) and item[3] != 0
    return item == ("newaxis",)


BOOL = Kind("a bool", lambda v: type(v) is bool)
INT = Kind("an int", _is_int)
INT64 = Kind("a 64-bit int", lambda v: _is_int(v) and -(2**63) <= v < 2**63)
NUMBER = Kind("a finite number", lambda v: type(v) in (int, float) and math.isfinite(v))
NUMBER_OR_DIM = Kind("a number or a size", lambda v: NUMBER.test(v) or _is_dim(v))
COUNT = Kind("a non-negative int", lambda v: _is_int(v) and v >= 0)
OPTIONAL_INT = Kind("an int or None", lambda v: v is None or _is_int(v))
INTS = Kind("a tuple of ints", lambda v: type(v) is tuple and all(map(_is_int, v)))
DIM = Kind("a size", _is_dim)
SHAPE = Kind("a shape (sizes)", lambda v: type(v) is tuple and all(map(_is_dim, v)))
DTYPE = Kind("a dtype", lambda v: isinstance(v, np.dtype) and v.name in DTYPES)
INDEX = Kind("a basic index", lambda v: type(v) is tuple and all(map(_index_item, v)))
FUNCTION = Kind("an elementwise function", lambda v: isinstance(v, ScalarFunction))
GRAPH = Kind("a sub-graph", lambda v: isinstance(v, FunctionGraph))

_REDUCE = {"axis": INTS, "keepdims": BOOL}

OP_PARAMS: dict[Op, dict[str, Kind]] = {
    **{op: {} for op in (UNARY | BINARY | ELEMENTWISE) - {Op.CAST, Op.SCALAR_FN}},
    Op.CAST: {"dtype": DTYPE},
    Op.SCALAR_FN: {"fn": FUNCTION},
    **{op: _REDUCE for op in REDUCTIONS | {Op.LOGSUMEXP}},
    Op.ARGMAX: {"axis": OPTIONAL_INT, "keepdims": BOOL},
    Op.MATMUL: {},
    Op.TRANSPOSE: {"perm": INTS},
    Op.RESHAPE: {"shape": SHAPE},
    Op.BROADCAST_TO: {"shape": SHAPE},
    Op.GETITEM: {"index": INDEX},
    Op.CONCATENATE: {"axis": INT},
    Op.SOFTMAX: {"axis": INT},
    Op.LOG_SOFTMAX: {"axis": INT},
    Op.ONE_HOT: {"depth": COUNT, "dtype": DTYPE},
    Op.SIZE: {"axis": INTS, "dtype": DTYPE},
    Op.RANDOM_UNIFORM: {"shape": SHAPE, "seed": INT64, "dtype": DTYPE},
    Op.ARANGE: {"start": NUMBER, "stop": NUMBER_OR_DIM, "step": NUMBER, "dtype": DTYPE},
    **{op: {"axis": INT} for op in (Op.GATHER, Op.SCATTER_ADD, Op.GATHER_ALONG, Op.SCATTER_ADD_ALONG)},
    **{op: {"axis": INT, "reverse": BOOL} for op in SCANS},
    Op.ARGSORT: {"axis": INT, "descending": BOOL},
    Op.SCAN: {"body": GRAPH, "n_carry": COUNT, "n_seq": COUNT, "length": DIM, "reverse": BOOL, "save": INTS},
    Op.COND: {"true_body": GRAPH, "false_body": GRAPH},
}
"""OP_PARAMS[op] = {param name: Kind}: exactly the params a node of `op` has. FUSED has no row: files hold
the user's graph, before fusion."""


def params_problem(op: Op, params: dict) -> str | None:
    """What is wrong with `params` for `op` (None when they fit its row)."""
    if op not in OP_PARAMS:
        return f"the op {op.value} has no row in graphc.io.schema.OP_PARAMS, so it cannot be saved"
    expected = OP_PARAMS[op]
    if set(params) != set(expected):
        want = ", ".join(sorted(expected)) or "none"
        return f"{op.value} takes the params ({want}), not ({', '.join(sorted(params)) or 'none'})"
    for name, kind in expected.items():
        if not kind.test(params[name]):
            return f"the param {name} of {op.value} must be {kind.name}, not {params[name]!r:.80}"
    return None
