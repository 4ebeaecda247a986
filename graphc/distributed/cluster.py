"""The driver's side of Dask: finding it, waiting for results while watching the scheduler, Dask's failures
as graphc errors, the tree reduction. Knows graphc.errors and Dask (imported when first needed, so graphc
imports without the optional extra).
"""

from __future__ import annotations

from concurrent.futures import CancelledError

from graphc.errors import GraphcError

from .worker import add_partials

POLL_SECONDS = 0.5  # how often a wait checks that the scheduler is still there


class ClusterError(GraphcError):
    """The Dask cluster failed the computation: the scheduler went away, or data was lost with no copy left."""


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
    return str(getattr(client.scheduler, "address", None) or "(unknown address)")


def check_running(client, what: str) -> None:
    """A ClusterError naming the scheduler when the client has lost it (before anything is sent)."""
    if client.status != "running":
        raise ClusterError(
            f"{what}: the Dask scheduler at {scheduler_address(client)} is not reachable (client status "
            f"'{client.status}'); nothing was changed"
        )


def result(client, future, what: str):
    """The future's value. If the scheduler goes away meanwhile, or Dask lost data it cannot recompute
    (scattered data whose every holder died), a ClusterError naming the scheduler; an error the task itself
    raised (a graphc error naming the shard) is raised as it is."""
    distributed = dask_distributed()
    while True:
        try:
            return future.result(timeout=POLL_SECONDS)
        except TimeoutError:
            check_running(client, what)
        except (CancelledError, distributed.client.FutureCancelledError) as exc:
            check_running(client, what)
            raise ClusterError(f"{what}: Dask lost the data it needed ({exc}); nothing was changed") from None
        except distributed.KilledWorker as exc:
            raise ClusterError(
                f"{what}: a task killed every worker it ran on ({exc}); nothing was changed"
            ) from None
        except OSError as exc:  # the connection to the scheduler broke
            raise ClusterError(
                f"{what}: lost the Dask scheduler at {scheduler_address(client)} ({exc}); nothing was changed"
            ) from None


def tree_sum(client, partials: list, key: str):
    """Dask's tree reduction of shard results: ⌈log₂ N⌉ rounds of pairwise add_partials tasks, each running
    where its inputs are; the same pairs whichever workers run them, so the sum's order is fixed."""
    level, depth = list(partials), 0
    while len(level) > 1:
        pairs = [
            client.submit(add_partials, level[i], level[i + 1], key=f"{key}-sum{depth}.{i // 2}")
            for i in range(0, len(level) - 1, 2)
        ]
        level = pairs + ([level[-1]] if len(level) % 2 else [])
        depth += 1
    return level[0]
