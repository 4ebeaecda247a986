"""gc.save and gc.load: graphs and compiled functions in graphc's safe file format. The one module of
graphc.io that compiles (through graphc.compile); the format itself is in docs/FORMAT.md.

    >>> import numpy as np, graphc as gc, tempfile, os
    >>> x = gc.tensor("x", ("n", 2)); W = gc.shared(np.ones((2, 3)), name="W")
    >>> f = gc.function([x], gc.tanh(x @ W))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = gc.save(os.path.join(folder, "f.gcz"), f)
    ...     g = gc.load(path)                 # compiled again, from the object cache when warm
    >>> g(np.ones((5, 2))).shape              # named sizes survive: any batch size
    (5, 3)
"""

from __future__ import annotations

import os
from pathlib import Path

from graphc.compile import compile_spec

from . import document


def save(path: str | os.PathLike, obj, params: bool = True) -> Path:
    """Write `obj` to `path` (atomically): a compiled function (its graph as the user built it, before
    optimisation, and how it was compiled), Variables or a FunctionGraph (a graph, e.g. before
    differentiation), or a dict of these sharing their shared variables. `params=False` leaves out the
    shared variables' values (they load as zeros, for gc.load_params to fill). Returns the path.

    >>> import os, tempfile
    >>> x = gc.vector("x")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     f = gc.load(gc.save(os.path.join(folder, "f.gcz"), gc.function([x], x * 2)))
    >>> f([1.0, 2.0])
    array([2., 4.])
    """
    return document.write(path, obj, values=params)


def load(path: str | os.PathLike | bytes, backend: str | None = None):
    """What gc.save wrote: a compiled Function (compiled again, on `backend` if given, else the saved one), a
    FunctionGraph (inputs, outputs, updates; differentiate it with gc.grad), or a dict of them.

    Loading never runs code from the file: no pickle, no eval, no sympify; every field is checked, every
    node rebuilt through its op's shape rule, every array checked against its declared type. A file graphc
    will not read raises gc.FormatError saying why, before anything is compiled.

    >>> import os, tempfile
    >>> x = gc.vector("x")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     graph = gc.load(gc.save(os.path.join(folder, "g.gcz"), [gc.tanh(x)]))
    >>> [node.op.value for node in graph.nodes], [v.name for v in graph.inputs]
    (['tanh'], ['x'])
    """
    return document.read(path, compile_spec, backend)
