"""The ``task_runner`` option: where a flow's tasks run (threads, processes, Dask).

``threads`` (the default) is Prefect's ThreadPoolTaskRunner; ``processes`` its
ProcessPoolTaskRunner; ``dask://HOST:PORT`` a running Dask cluster (its scheduler),
and ``dask-local:N`` a LocalCluster of N worker processes started for the run, both
through ``prefect-dask`` (the optional extra ``yuebao[dask]``). What is submitted to
the runner is the work that grows with the company: each scope's rendering. The
files are the same bytes whichever runner made them.

The spec is checked when the config is read (``config.py``) and by the CLI; the
runner itself is made only when a flow starts, so Dask is imported only when used.
"""

from __future__ import annotations

import re
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


def child_runner(started: Any) -> Any:
    """The runner a backfill gives its months: the same kind, on the same Dask cluster.

    A ``dask-local`` cluster is started once by the backfill and shared by its
    months (each month connects to it by address); any other runner is copied.
    """
    cluster = getattr(started, "_cluster", None)
    if cluster is not None:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=cluster.scheduler_address)
    return started.duplicate()
