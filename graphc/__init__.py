"""graphc: a define-and-compile compiler for deep-learning graphs.

    >>> import numpy as np, graphc as gc
    >>> x = gc.tensor("x", shape=("n", 3), dtype="float32")
    >>> f = gc.function([x], gc.tanh(x).sum())
    >>> float(f(np.zeros((2, 3), np.float32)))
    0.0

This facade imports the core eagerly and `grad`, `function`, `viz`, `nn`, `optim`, ... lazily (PEP 562), so no
import order makes a cycle between graphc, graphc.passes and graphc.codegen.
"""

import copyreg as _copyreg
import importlib as _importlib
from types import ModuleType as _ModuleType

from . import graph as _graph
from . import settings
from .arrays import arange, array_split, eye, flip, linspace, repeat, roll, split, tile, tril, triu
from .control import cond, scan
from .elementwise import ScalarFunction, elementwise
from .errors import (
    BackendError,
    DTypeError,
    FormatError,
    GraphcError,
    GraphError,
    InputError,
    NumericsError,
    ShapeError,
    TypeError_,
)
from .fgraph import FunctionGraph as _FunctionGraph
from .graph import Constant, Node, SharedVariable, Variable, toposort
from .indexing import (
    argsort,
    cummax,
    cummin,
    cumprod,
    cumsum,
    logcumsumexp,
    scatter_add,
    scatter_add_along_axis,
    sort,
    take,
    take_along_axis,
    topk,
)
from .linalg import einsum, norm, std, tensordot, var
from .mathfuncs import (
    acos,
    acosh,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    around,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    bitwise_and,
    bitwise_not,
    bitwise_or,
    bitwise_xor,
    ceil,
    copysign,
    erf,
    erfc,
    floor,
    floor_divide,
    invert,
    left_shift,
    logical_xor,
    mod,
    remainder,
    right_shift,
    round,
    trunc,
)
from .ops import Op
from .padding import pad
from .printing import debugprint
from .tensor import (
    abs_ as abs,
)
from .tensor import (
    add,
    argmax,
    as_variable,
    broadcast_to,
    cast,
    clip,
    concatenate,
    constant,
    cos,
    divide,
    dot,
    eq,
    exp,
    expand_dims,
    expm1,
    flatten,
    ge,
    getitem,
    gt,
    le,
    log,
    log1p,
    log_softmax,
    logical_and,
    logical_not,
    logical_or,
    logsumexp,
    lt,
    matmul,
    matrix,
    maximum,
    mean,
    minimum,
    mul,
    neg,
    neq,
    one_hot,
    power,
    prod,
    relu,
    reshape,
    scalar,
    shared,
    sigmoid,
    sign,
    sin,
    size,
    softmax,
    softplus,
    sqrt,
    square,
    squeeze,
    stack,
    sub,
    tanh,
    tensor,
    transpose,
    true_divide,
    vector,
    where,
)
from .tensor import (
    max_ as max,
)
from .tensor import (
    min_ as min,
)
from .tensor import (
    sum_ as sum,
)
from .types import Type

__version__ = "0.1.0"

_LAZY = {
    "function": ("graphc.compile", "function"),
    "Function": ("graphc.compile", "Function"),
    "grad": ("graphc.passes.autodiff", "grad"),
    "jacobian": ("graphc.passes.jacobians", "jacobian"),
    "hessian": ("graphc.passes.jacobians", "hessian"),
    "hessian_vector_product": ("graphc.passes.jacobians", "hessian_vector_product"),
    "stop_gradient": ("graphc.passes.autodiff", "stop_gradient"),
    "symbol_to_number": ("graphc.passes.eager", "symbol_to_number"),
    "viz": ("graphc.viz", None),
    "nn": ("graphc.nn", None),
    "optim": ("graphc.optim", None),
    "testing": ("graphc.testing", None),
    "train": ("graphc.training", "train"),
    "training": ("graphc.training", None),
    "evaluate": ("graphc.compile", "evaluate"),
    "to_networkx": ("graphc.analysis", "to_networkx"),
    "save": ("graphc.io.api", "save"),
    "load": ("graphc.io.api", "load"),
    "save_params": ("graphc.io.params", "save_params"),
    "load_params": ("graphc.io.params", "load_params"),
    "io": ("graphc.io", None),
    "onnx": ("graphc.onnx", None),
    "distributed": ("graphc.distributed", None),
}
# The public names: what the imports above bind (not the submodules they load), the lazy ones, and settings.
__all__ = sorted(
    [
        name
        for name, value in globals().items()
        if not name.startswith("_") and not isinstance(value, _ModuleType)
    ]
    + list(_LAZY)
    + ["settings"]
)


def _notebook_display(obj) -> dict:
    from .notebook import mimebundle

    return mimebundle(obj)


_graph.DISPLAY_HOOKS["mimebundle"] = _notebook_display


def _pickle_safely(obj):
    """Variables and graphs pickle as graphc files (graphc.io): unpickling only reads that format."""
    from graphc.io.document import read_bytes, to_bytes

    return read_bytes, (to_bytes(obj),)


for _cls in (Variable, Constant, SharedVariable, _FunctionGraph):
    _copyreg.pickle(_cls, _pickle_safely)


def __getattr__(name: str):
    if name in _LAZY:
        module_name, attr = _LAZY[name]
        module = _importlib.import_module(module_name)
        value = module if attr is None else getattr(module, attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'graphc' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
