"""Data-parallel training and batched evaluation on Dask (the optional extra `pip install
'graphc-dl[distributed]'`): `DataParallel` trains over a cluster's workers (a LocalCluster on this machine,
or a scheduler's address), `map_blocks` evaluates a compiled function over the blocks of a Dask array.
Compiled functions travel to the workers as graphc files (graphc.io: read without running code from the
data) and each worker compiles them once, from its own object cache (GRAPHC_CACHE_DIR). Scheduling,
transport and recovery from lost workers are Dask's. See the README's "More than one process" section.

    >>> import numpy as np, dask.array as da, graphc as gc
    >>> x = gc.matrix("x", ("n", 2))
    >>> norms = gc.function([x], gc.sqrt((x * x).sum(axis=1, keepdims=True)))
    >>> gc.distributed.map_blocks(norms, da.full((6, 2), 3.0, chunks=(2, 2))).compute()[:2, 0]
    array([4.24264069, 4.24264069])
"""

from __future__ import annotations

from .blocks import map_blocks
from .cluster import ClusterError
from .parallel import DataParallel, StepTimes

__all__ = ["DataParallel", "StepTimes", "map_blocks", "ClusterError"]


def __dir__() -> list[str]:  # tab completion shows the public names only
    return sorted(__all__)
