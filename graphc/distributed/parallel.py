"""Synchronous data-parallel training on Dask: DataParallel. User layer: the driver, gc.grad, gc.optim's
rules, gc.train; Dask through graphc.distributed.cluster.

One step: the parameters (and any other shared value the cost reads) are broadcast to the workers once;
each worker runs the compiled gradient function on its shard of the batch; the shards' costs and gradients,
each weighted by its share of the batch's rows, are summed by a tree reduction in Dask; the optimiser's
update runs once, on the driver (a compiled function of the summed gradients), and only then: a step that
failed changes nothing. The gradient is the full batch's, up to the order of the float additions.
"""

from __future__ import annotations

import functools
import itertools
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from graphc.compile import function
from graphc.errors import GraphError, InputError
from graphc.fgraph import FunctionGraph
from graphc.graph import Constant, SharedVariable, Variable, graph_inputs
from graphc.optim import sgd
from graphc.origin import here
from graphc.passes.autodiff import grad
from graphc.tensor import tensor
from graphc.training import History, train

from .cluster import Connection, default_client
from .shards import Shard, ShardedData, batch_shards, check_rows
from .worker import Compiled, shard_gradient

_trainers = itertools.count()


@dataclass
class StepTimes:
    """Where the last step's time went, in seconds: `compute` is the slowest shard's gradient on its worker,
    `update` the optimiser on the driver; the rest (broadcast, scheduling, reduction, transfers) is
    `communication`. DataParallel keeps the last step's in `trainer.last_step`.

    >>> gc.distributed.StepTimes(total=1.0, compute=0.5, update=0.25).communication
    0.25
    """

    total: float
    compute: float
    update: float

    @property
    def communication(self) -> float:
        return max(self.total - self.compute - self.update, 0.0)


class DataParallel:
    """Data-parallel training of `cost` over `params` on a Dask cluster (see the module docstring).

        trainer = gc.distributed.DataParallel(J, params, inputs=[x, t], client=client,
                                              optimizer=functools.partial(gc.optim.adam, lr=1e-3))
        loss = trainer.step(X, T)                              # the batch split across the workers
        history = gc.train(trainer.step, gc.training.minibatches(X, T, batch_size=256), epochs=10)
        history = trainer.fit(dask_X, dask_T, epochs=10, batch_size=256)   # data already on the cluster

    optimizer: any gc.optim rule, called as optimizer(grads, params) on the batch's gradient (default SGD,
    lr 0.01). reduction: "mean" when the cost is a mean over the batch's rows (shards weighted by their
    share of the rows, so a mean stays a mean), "sum" when it is a sum. n_shards: pieces per batch (default:
    the number of workers). updates: other updates to apply with the optimiser's, on the driver; their new
    values may read shared variables only (a gc.nn.Mode's random counter; not batch statistics).

    >>> from distributed import Client
    >>> client = Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None)
    >>> x, y, w = gc.matrix("x", ("n", 2)), gc.vector("y"), gc.shared(np.zeros(2), name="w")
    >>> trainer = gc.distributed.DataParallel(gc.nn.mse(x @ w, y), [w], inputs=[x, y], client=client)
    >>> trainer.step(np.eye(2), np.array([1.0, 2.0]))  # the loss before the step
    2.5
    >>> w.get_value()  # w - 0.01 · ∇mse
    array([0.01, 0.02])
    >>> client.close()
    """

    def __init__(
        self,
        cost: Variable,
        params: Sequence[SharedVariable],
        inputs: Sequence[Variable],
        optimizer: Callable | None = None,
        client=None,
        backend: str = "numpy",
        n_shards: int | None = None,
        reduction: str = "mean",
        updates: Mapping[SharedVariable, Variable] | None = None,
    ):
        self.cluster = Connection(client if client is not None else default_client())
        self.client = self.cluster.client
        self.params, self.inputs = list(params), list(inputs)
        if not self.params or not all(isinstance(p, SharedVariable) for p in self.params):
            raise InputError(f"DataParallel: params must be a non-empty list of gc.shared variables{here()}")
        if reduction not in ("mean", "sum"):
            raise InputError(f"DataParallel: reduction must be 'mean' or 'sum', not {reduction!r}{here()}")
        workers = len(self.client.scheduler_info().get("workers", ())) or 1
        self.n_shards = n_shards if n_shards is not None else workers
        if type(self.n_shards) is not int or self.n_shards < 1:
            raise InputError(f"DataParallel: n_shards must be a positive int, not {n_shards!r}{here()}")
        self.reduction = reduction
        self.names = [v.name or f"input {i}" for i, v in enumerate(self.inputs)]

        gradient_fn, self.sent = _gradient_function(cost, self.params, self.inputs, backend)
        self._gradient = Compiled(gradient_fn)
        optimizer = optimizer if optimizer is not None else functools.partial(sgd, lr=0.01)
        self._update = _update_function(optimizer, self.params, updates, backend)
        # what gc.train's checkpoints save: every shared value the step reads or updates
        self.fgraph = FunctionGraph(self._update.fgraph.inputs, list(self.sent), self._update.fgraph.updates)
        self._key = f"graphc-{next(_trainers)}-{uuid.uuid4().hex[:8]}"
        self._steps = itertools.count()
        self._data: ShardedData | None = None
        self.last_step: StepTimes | None = None

    def step(self, *batch) -> float:
        """One step on a batch held here: its rows are split in n_shards pieces, one per task. Returns the
        batch's cost (before the update)."""
        arrays = [np.asarray(a) for a in batch]
        n = check_rows(arrays, self.names, "DataParallel.step")
        return self._run(batch_shards(arrays, self.n_shards), n)

    def fit(self, *arrays, epochs: int = 1, batch_size: int = 256, rng: np.random.Generator | None = None,
            **train_options) -> History:  # fmt: skip
        """Train on Dask arrays (one per input), kept on the workers in n_shards row shards for the whole
        fit (graphc.distributed.shards says how the steps take from them); `rng` shuffles each shard's rows
        every epoch. The other options are gc.train's (validate, early_stopping, progress, checkpoint...)."""
        self._data = ShardedData(self.client, arrays, self.n_shards, self.names)
        try:
            return train(self._data_step, self._data.batches(batch_size, rng), epochs=epochs, **train_options)
        finally:
            self._data.release()
            self._data = None

    def _data_step(self, pieces) -> float:
        """One step of fit: piece k of each shard (rows of the shard held on its worker)."""
        return self._run(self._data.shards(pieces), sum(count for _, count in pieces))

    def _run(self, shards: list[Shard], n: int) -> float:
        """Broadcast the values, one gradient task per shard, the tree sum, then the update here."""
        start = time.perf_counter()
        step = next(self._steps)
        what = f"DataParallel step {step}"
        self.cluster.check(what)
        key = f"{self._key}-{step}"
        values = self.cluster.scatter([v.get_value() for v in self.sent], what)
        partials = []
        for i, shard in enumerate(shards):
            weight = shard.count / n if self.reduction == "mean" else 1.0  # a mean stays a mean
            args = (self._gradient, values, shard.sources, shard.rows, weight, shard.label)
            partials.append(self.client.submit(shard_gradient, *args, key=f"{key}-shard{i}"))
        cost, grads, compute = self.cluster.result(self.cluster.tree_sum(partials, key), what)
        before_update = time.perf_counter()
        self._update(*grads)
        now = time.perf_counter()
        self.last_step = StepTimes(now - start, compute, now - before_update)
        return float(cost)


def _gradient_function(cost: Variable, params: list, inputs: list, backend: str):
    """f(*inputs, *values) -> (cost, *gradients), with every shared variable the cost reads (the params
    first) replaced by an input, so that workers get their values each step; and those variables."""
    graph = FunctionGraph([], [cost, *grad(cost, params)])
    ids = {id(p) for p in params}
    sent = params + [v for v in graph.shared if id(v) not in ids]
    standins = {v: tensor(v.name or "shared", v.type.shape, v.type.dtype) for v in sent}
    replaced = graph.replace(standins)
    return function([*inputs, *standins.values()], replaced.outputs, backend=backend), sent


def _update_function(optimizer: Callable, params: list, updates, backend: str):
    """The optimiser's rule on gradients given as inputs (plus the extra updates), compiled for the driver."""
    grads = [tensor(f"grad_{p.name or i}", p.type.shape, p.type.dtype) for i, p in enumerate(params)]
    extra = dict(updates or {})
    for var, value in extra.items():
        batch = [v for v in graph_inputs([value]) if not isinstance(v, (Constant, SharedVariable))]
        if batch:
            raise GraphError(
                f"DataParallel: the update of {var.name or repr(var)} reads the batch "
                f"({batch[0].name or repr(batch[0])}); updates run on the driver, which has no batch (batch "
                f"statistics cannot be kept){here()}"
            )
    return function(grads, [], updates=[*optimizer(grads, params).items(), *extra.items()], backend=backend)
