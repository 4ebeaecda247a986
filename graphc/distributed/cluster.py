"""The driver's side of Dask: finding it, waiting for results while watching the scheduler, Dask's failures
as graphc errors, the tree reduction. Knows graphc.errors and Dask (imported when first needed, so graphc
imports without the optional extra).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time

from graphc.errors import GraphcError

from .worker import add_partials

POLL_SECONDS = 0.5  # how often a wait checks that the scheduler is still there
SETTLE_SECONDS = 2.0  # how long a broken connection may take to show in the client's status
# Before Python 3.11 asyncio's TimeoutError (what Dask raises) is not the builtin one.
TIMEOUT = (TimeoutError, asyncio.TimeoutError)
# what Dask raises when the scheduler goes away (a closed comm is an OSError) or a future is cancelled
LOST = (OSError, *TIMEOUT, concurrent.futures.CancelledError, asyncio.CancelledError)


class ClusterError(GraphcError):
    """The Dask cluster failed a computation: the scheduler went away, or data was lost with no copy left.

    >>> issubclass(gc.distributed.ClusterError, gc.GraphcError)  # caught with graphc's other errors
    True
    """


def dask_distributed():
    """The `distributed` module, or a clear error saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise GraphcError(
            "gc.distributed needs Dask's distributed scheduler: pip install 'graphc-dl[distributed]'"
        ) from None
    return distributed


def default_client():
    """The Dask client made most recently in this process (distributed.Client(...)), or a clear error."""
    try:
        return dask_distributed().default_client()
    except ValueError:
        raise GraphcError(
            "gc.distributed: no Dask client: pass client=distributed.Client(address) (or make one first: "
            "distributed.Client(distributed.LocalCluster()) for this machine)"
        ) from None


def scheduler_address(client) -> str:
    return str(getattr(getattr(client, "scheduler", None), "address", None) or "(unknown address)")


class Connection:
    """A Dask client as graphc uses it: every failure of the cluster becomes a ClusterError naming the
    scheduler (its address kept from the start: a lost client forgets it)."""

    def __init__(self, client):
        if not isinstance(client, dask_distributed().Client):
            raise GraphcError(f"gc.distributed: client must be a distributed.Client, not {client!r:.60}")
        self.client = client
        self.address = scheduler_address(client)

    def check(self, what: str) -> None:
        """A ClusterError when the client has lost the scheduler (before anything is sent)."""
        if self.client.status != "running":
            raise self.lost(what, f"the client's status is '{self.client.status}'")

    def lost(self, what: str, why) -> ClusterError:
        if isinstance(why, BaseException):
            # A broken comm can be seen before the client's own stream notices: wait until it has (the next
            # check then fails at once, instead of a connection attempt waiting for its timeout).
            deadline = time.monotonic() + SETTLE_SECONDS
            while self.client.status == "running" and time.monotonic() < deadline:
                time.sleep(0.02)
            why = f"{type(why).__name__}: {why}"
        return ClusterError(f"{what}: lost the Dask scheduler at {self.address} ({why}); nothing was changed")

    def scatter(self, value, what: str):
        """One future for `value`, a copy of it on every worker (sent once per worker)."""
        try:
            return self.client.scatter([value], broadcast=True, hash=False)[0]
        except LOST as exc:  # the scheduler went away meanwhile
            raise self.lost(what, exc) from None

    def result(self, future, what: str):
        """The future's value, waited for while watching the scheduler. An error the task raised (a graphc
        error naming the shard) is raised as it is; Dask's failures become ClusterErrors."""
        distributed = dask_distributed()
        while True:
            try:
                return future.result(timeout=POLL_SECONDS)
            except TIMEOUT:
                self.check(what)
            except (concurrent.futures.CancelledError, asyncio.CancelledError) as exc:
                self.check(what)
                raise ClusterError(
                    f"{what}: Dask lost data it cannot compute again ({exc}); nothing was changed"
                ) from None
            except distributed.KilledWorker as exc:
                raise ClusterError(
                    f"{what}: a task killed every worker it ran on ({exc}); nothing was changed"
                ) from None
            except OSError as exc:  # the connection to the scheduler broke
                raise self.lost(what, exc) from None

    def tree_sum(self, partials: list, key: str):
        """Dask's tree reduction of shard results: ⌈log₂ N⌉ rounds of pairwise add_partials tasks, each
        running where its inputs are; the pairs do not depend on which workers ran what, so neither does the
        order of the sum."""
        level, depth = list(partials), 0
        while len(level) > 1:
            pairs = [
                self.client.submit(add_partials, level[i], level[i + 1], key=f"{key}-sum{depth}.{i // 2}")
                for i in range(0, len(level) - 1, 2)
            ]
            level = pairs + ([level[-1]] if len(level) % 2 else [])
            depth += 1
        return level[0]
