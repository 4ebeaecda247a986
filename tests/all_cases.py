"""Every forward CASES row of the op tests in one list, for the tests that sweep every op (completeness,
files, ONNX). A new test_ops_* module adds its CASES here."""

from __future__ import annotations

import test_ops_control
import test_ops_elementwise
import test_ops_indexing
import test_ops_linalg
import test_ops_math
import test_ops_reductions
import test_ops_shapes

CASES = [
    *test_ops_elementwise.CASES,
    *test_ops_reductions.CASES,
    *test_ops_shapes.CASES,
    *test_ops_math.CASES,
    *test_ops_linalg.CASES,
    *test_ops_indexing.CASES,
    *test_ops_control.CASES,
]
