"""The onnx package (an optional extra) and the dtypes both sides share. Knows no graphs."""

from __future__ import annotations

import importlib

import numpy as np

from graphc.errors import GraphcError

# TensorProto's element types (FLOAT=1, INT32=6, INT64=7, BOOL=9, DOUBLE=11): fixed by the ONNX standard
ONNX_DTYPES = {np.dtype("float32"): 1, np.dtype("int32"): 6, np.dtype("int64"): 7, np.dtype("bool"): 9,
               np.dtype("float64"): 11}  # fmt: skip
GRAPHC_DTYPES = {code: dtype for dtype, code in ONNX_DTYPES.items()}


def onnx_module():
    """The onnx package, or a clear error saying how to get it."""
    try:
        return importlib.import_module("onnx")
    except ImportError:
        raise GraphcError("gc.onnx needs the onnx package: pip install 'graphc[onnx]'") from None
