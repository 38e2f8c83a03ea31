"""The ``task_runner`` option: where a flow's tasks run (threads, processes, Dask).

``threads`` (the default) is Prefect's ThreadPoolTaskRunner; ``processes`` its
ProcessPoolTaskRunner; ``dask://HOST:PORT`` a running Dask cluster (its scheduler),
and ``dask-local:N`` a LocalCluster of N worker processes started for the run, both
through ``prefect-dask`` (the optional extra ``yuebao[dask]``). What is submitted to
the runner is the work that grows with the company: each export file's reading,
the metrics of the communities in parts (one per worker, the portfolio combined
exactly from them) and each scope's rendering. The files are the same bytes
whichever runner made them.

The spec is checked when the config is read (``config.py``) and by the CLI; the
runner itself is made only when a flow starts, so Dask is imported only when used.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from yuebao.errors import UsageError

DEFAULT = "threads"
_SPEC = re.compile(r"^(threads|processes|dask://[^\s/:]+:\d{1,5}|dask-local:[1-9]\d{0,2})$")
HELP = ("threads (default), processes, dask://HOST:PORT (a running Dask scheduler) or "
        "dask-local:N (a local Dask cluster of N worker processes)")


def check_spec(spec: str) -> str:
    """The spec as given, or a :class:`UsageError` saying what the choices are."""
    if not _SPEC.match(spec):
        raise UsageError(f"task_runner {spec!r} is not one of: {HELP}")
    return spec


def task_runner(spec: str) -> Any:
    """A new, unstarted Prefect task runner for ``spec``."""
    check_spec(spec)
    if spec == "threads":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner()
    if spec == "processes":
        from prefect.task_runners import ProcessPoolTaskRunner

        return ProcessPoolTaskRunner()
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as error:
        raise UsageError(f"task_runner {spec!r} needs prefect-dask: pip install "
                         "'yuebao[dask]'") from error
    if spec.startswith("dask://"):
        return DaskTaskRunner(address="tcp://" + spec.removeprefix("dask://"))
    workers = int(spec.removeprefix("dask-local:"))
    return DaskTaskRunner(cluster_class="distributed.LocalCluster",
                          cluster_kwargs={"n_workers": workers, "threads_per_worker": 1,
                                          "processes": True, "dashboard_address": None})


class Workers:
    """A flow run's scale-out runner (started) and how many tasks it runs at once.

    Handed to a task that submits work to it (ingest), it travels as that task's
    parameter: Prefect sends the parameters of the submitting task run along with
    the work it submits to another process or a Dask worker, where a runner (its
    queues, its cluster client) cannot go and is of no use, so it pickles as None.
    """

    __slots__ = ("count", "runner")

    def __init__(self, runner: Any, count: int) -> None:
        self.runner, self.count = runner, count

    def __reduce__(self) -> tuple:
        return (type(None), ())

    def __repr__(self) -> str:
        return f"<Workers {self.count}>"


@contextmanager
def work_runner(spec: str, running: Any) -> Iterator[Workers]:
    """The workers of a flow run's scale-out work: each export file's reading, the
    metrics in parts, each scope's rendering.

    The flows themselves always run on threads (``running``, the flow's own
    runner, started): their other tasks are light, and a deployment runs the flow
    as it is defined. Any other ``spec`` (a flow parameter, else the config's
    ``task_runner``) is started here for the run and shut down at its end, so a
    run from a deployment uses the runner its config names, as the CLI does.
    """
    check_spec(spec)
    if spec == DEFAULT:
        yield Workers(running, 1)
        return
    with task_runner(spec) as runner:
        yield Workers(runner, _parallelism(runner, spec))


def child_spec(started: Any, spec: str) -> str:
    """The spec a backfill gives its months: the address (``dask://…``) of the
    ``dask-local`` cluster it started, so that every month connects to that one,
    or any other spec as it is (each month starts its own process pool)."""
    if not spec.startswith("dask-local:"):
        return spec
    started.client  # noqa: B018 - the cluster starts with its client
    return "dask://" + started._cluster.scheduler_address.removeprefix("tcp://")


def _parallelism(started: Any, spec: str) -> int:
    """How many tasks a started runner (not threads) runs at once, for work split
    into parts: processes count their pool, a local Dask cluster its workers, a
    running one the threads its workers have now.

    Threads count as one (:func:`work_runner`): the metrics are numpy passes over
    every row, which one process does fastest in one part (threads would share one
    interpreter and split nothing but the memory).
    """
    if spec == "processes":
        return max(1, int(started._max_workers))
    if spec.startswith("dask-local:"):
        return int(spec.removeprefix("dask-local:"))
    return max(1, sum(started.client.nthreads().values()))  # dask://
