"""What runs on a Dask worker: compiled functions received in graphc's safe format and compiled once per
worker process, a shard's gradient, the pairwise sum of the tree reduction, a block of map_blocks. Knows the
driver (graphc.compile) and graphc.io; imports Dask only to name the worker in an error.

A function travels as a `Compiled` handle: the graphc file of the function (graphc.io, read by the validating
reader that never runs code from the data) and its SHA-256. The first task on a worker compiles it (from the
worker's object cache, GRAPHC_CACHE_DIR, when warm); later tasks find it by its digest.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict

import numpy as np

from graphc.compile import _function_from_bytes
from graphc.errors import GraphcError
from graphc.io.document import to_bytes

KEEP = 16  # compiled functions kept per worker process (least recently used dropped first)

_compiled: OrderedDict[str, object] = OrderedDict()
_lock = threading.Lock()  # a worker with several threads compiles a function once


class Compiled:
    """A compiled graphc function as it travels to workers: its graphc file, compiled there once."""

    def __init__(self, function):
        self.blob = to_bytes(function)
        self.digest = hashlib.sha256(self.blob).hexdigest()

    def __dask_tokenize__(self) -> str:
        return self.digest

    def function(self):
        """The compiled function, compiled in this process on first use."""
        with _lock:
            f = _compiled.get(self.digest)
            if f is None:
                f = _compiled[self.digest] = _function_from_bytes(self.blob)
                while len(_compiled) > KEEP:
                    _compiled.popitem(last=False)
            _compiled.move_to_end(self.digest)
        return f


def shard_gradient(handle: Compiled, values, sources, rows, weight: float, label: str):
    """(weight·cost, [weight·gradient], seconds) of one shard: `sources` are the shard's inputs (or whole
    chunks, of which `rows` is taken), `values` those of the parameters and other shared state."""
    start = time.perf_counter()
    f = handle.function()
    arrays = [np.asarray(s) if rows is None else np.asarray(s)[rows] for s in sources]
    try:
        cost, *grads = f(*arrays, *values)
    except GraphcError as exc:
        raise relabel(exc, label) from None
    return weight * cost, [weight * g for g in grads], time.perf_counter() - start


def add_partials(a, b):
    """One node of the tree reduction: costs and gradients summed, the slower shard's time kept."""
    return a[0] + b[0], [x + y for x, y in zip(a[1], b[1], strict=True)], max(a[2], b[2])


def run_block(handle: Compiled, label: str, *blocks):
    """A compiled function on one block of each input (map_blocks)."""
    try:
        return handle.function()(*blocks)
    except GraphcError as exc:
        raise relabel(exc, label) from None


def relabel(exc: GraphcError, label: str) -> GraphcError:
    """The same error, saying which shard or block on which worker it came from."""
    message = f"{label} on {worker_name()}: {exc}"
    try:
        return type(exc)(message)
    except Exception:  # noqa: BLE001 - an error class taking other arguments: keep the message
        return GraphcError(message)


def worker_name() -> str:
    try:
        from distributed import get_worker

        return f"worker {get_worker().address}"
    except (ImportError, ValueError):  # not inside a Dask worker (e.g. dask's local threads)
        return "the local process"
