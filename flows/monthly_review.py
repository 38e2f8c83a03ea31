"""The review flows: exports -> metrics -> draft -> files -> emails.

``monthly_review`` does one month (the scheduled and the manual run);
``backfill`` does a range of months from one reading of the exports, keeps
going when a month fails, and never touches another month's outputs.

Whatever runs a month holds its lock first (one writer per month), and a run
ends ``Failed`` (exit 1) whenever something it owed did not happen: a month the
exports do not cover, a review not rendered, an email failed or uncertain.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.states import State

from yuebao.config import Config, load_config
from yuebao.errors import RunFailed, UsageError, one_line
from yuebao.months import Month
from yuebao.runners import Workers, check_spec, child_spec, work_runner
from yuebao.tasks.artifacts import artifacts_task, backfill_table_task
from yuebao.tasks.bookkeeping import (
    Reprocess,
    RunStatus,
    finish_month_task,
    lock_month_task,
    months_to_run,
    record_failure_task,
    run_status,
    scopes_to_redo,
    unlock_month_task,
)
from yuebao.tasks.deliver import deliver_task as _deliver_task
from yuebao.tasks.draft import draft_task as _draft_task
from yuebao.tasks.draft.records import last_reviews_task
from yuebao.tasks.fetch import fetch_task as _fetch_task
from yuebao.tasks.ingest import Ingested, prune_cache_task
from yuebao.tasks.ingest import ingest_task as _ingest_task
from yuebao.tasks.metrics import coverage_task as _coverage_task
from yuebao.tasks.metrics import history_task as _history_task
from yuebao.tasks.metrics import metrics_in_parts
from yuebao.tasks.render import quality_files, render_scopes, validation_report


def _transient(task: object, task_run: object, state: State) -> bool:
    """Retry a task only for what may pass by itself: I/O and network errors.

    A bad file, a bad config or a refused recipient is the same on the next try.
    """
    try:
        state.result()
    except (OSError, TimeoutError):
        return True
    except Exception:
        return False
    return False


# The retry policy, in one place. Tasks that touch the outside retry with a delay on
# transient errors: pulling the exports (each remote file is retried inside the task,
# with tenacity and the storage's retry_* settings, so a Prefect retry would only
# multiply the attempts), reading them (a network share that hiccups) and sending
# (SMTP's own temporary replies are retried per recipient inside the task, with
# tenacity; a Prefect retry re-runs the task, and the send ledger skips what was
# sent). Pure computation never retries: the same input fails the same way.
fetch_task = _fetch_task.with_options(retries=0)
ingest_task = _ingest_task.with_options(retries=2, retry_delay_seconds=[10, 60],
                                        retry_condition_fn=_transient)
deliver_task = _deliver_task.with_options(retries=2, retry_delay_seconds=[30, 120],
                                          retry_condition_fn=_transient)
coverage_task = _coverage_task.with_options(retries=0)
history_task = _history_task.with_options(retries=0)
draft_task = _draft_task.with_options(retries=0)


def read_exports(config: Config, workers: Workers) -> Ingested:
    """The exports pulled from where they live, then read into the canonical tables,
    the files at once when there is more than one worker; then the cache's entries no
    run has used for a while removed."""
    ingested = ingest_task(config, fetch_task(config).exports,
                           workers if workers.count > 1 else None)
    prune_cache_task(config)
    return ingested


def report_month(month: str | None, timezone: str) -> Month:
    """The month asked for, or the one before the run's *scheduled* start.

    A run scheduled for 1 October 02:00 that starts late still reports September.
    """
    if month:
        return Month.parse(month)
    scheduled = flow_run.scheduled_start_time or datetime.now(UTC)
    return Month.last_complete(scheduled, timezone)


def _review_run_name() -> str:
    """``review-2025-09``: the month a run reports, so the UI lists runs by month."""
    parameters = flow_run.parameters
    try:
        config = load_config(parameters["config_path"])
        return f"review-{report_month(parameters.get('month'), config.timezone)}"
    except Exception:  # a bad config fails the run itself, with its own message
        return "review"


def review_month(ingested: Ingested, config: Config, month: Month,
                 communities: list[str] | None, send: bool, resend: bool,
                 workers: Workers, shared: SharedIngest | None = None) -> dict:
    """The tasks of one month, from canonical tables to delivered emails.

    The caller holds the month's lock; ``workers`` run the work that grows with the
    company: the metrics in parts, each scope's rendering.
    In a backfill whose months run in parallel, the draft waits for the month before
    to be published, so that its follow-up reads last month's record whatever the
    parallelism (the metrics do not wait).
    A failure before any review is rendered is recorded for the whole month; after
    that, ``finish_month_task`` records each scope and delivery and raises
    :class:`RunFailed` if any of them failed.
    """
    output_dir = config.resolve(config.output_dir)
    try:
        spans = coverage_task(ingested, month, config.language)
        metrics = metrics_in_parts(ingested, config, month, spans, workers)
        history = history_task(ingested, config, month)
        if shared is not None:
            shared.wait_for(month.shift(-1))
        drafts = draft_task(metrics, history, config, month,
                            last_reviews_task(output_dir, month))
        rendered = render_scopes(drafts, metrics.documents, ingested, config, month,
                                 workers.runner, communities)
        artifacts_task(str(month), rendered, metrics.documents, ingested.files, config.language)
        deliveries = (deliver_task(rendered.reviews, rendered.month_dir, config, str(month),
                                   resend) if send and rendered.reviews else [])
    except Exception as error:
        record_failure_task(output_dir, str(month), error)
        raise
    return finish_month_task(output_dir, str(month), rendered, deliveries,
                             partial=communities is not None, language=config.language)


class SharedIngest:
    """A backfill's one reading of the exports, handed to each month's child flow run.

    Prefect records a child flow run's parameters in its API as JSON. This wrapper
    has no ``__dict__`` and is not iterable, so Prefect's encoder gives up at once
    and records the placeholder ``<SharedIngest>``, instead of walking (or copying)
    every row of the tables; the child gets the very same object, in memory.
    """

    __slots__ = ("ingested", "published")

    def __init__(self, ingested: Ingested, months: list[Month]) -> None:
        self.ingested = ingested
        self.published = {str(month): threading.Event() for month in months}

    def wait_for(self, month: Month) -> None:
        """Until ``month``'s child has ended, if it is one of this backfill's months."""
        event = self.published.get(str(month))
        if event is not None:
            event.wait()

    def ended(self, month: Month) -> None:
        event = self.published.get(str(month))
        if event is not None:
            event.set()

    def __repr__(self) -> str:
        return "<SharedIngest>"

    def __reduce__(self) -> tuple:
        """Pickled, it is the placeholder: Prefect sends a flow run's parameters with
        every task it runs in another process or on a Dask worker, and the tables (and
        the events, which cannot be pickled) are of no use there."""
        return (str, (repr(self),))


@flow(name="monthly_review", flow_run_name=_review_run_name)
def monthly_review(config_path: str, month: str | None = None,
                   communities: list[str] | None = None, send: bool = True,
                   resend: bool = False, reprocess: str | None = None,
                   shared: SharedIngest | None = None, task_runner: str | None = None) -> dict:
    """One month of one company: every community's review and the portfolio's.

    ``task_runner`` (else the config's) is where the scale-out work runs
    (``yuebao.runners``). A backfill runs each month as a child run of this flow,
    passing ``reprocess`` (so the month is judged again under its lock: another run
    may have done it while this one waited), ``shared``, the exports it read once
    for all months, and its own runner.
    """
    config = load_config(config_path)
    target = report_month(month, config.timezone)
    spec = check_spec(task_runner or config.task_runner)
    get_run_logger().info("Reviewing %s for %d communities", target, len(config.communities))
    output_dir = config.resolve(config.output_dir)
    with work_runner(spec, _flow_task_runner()) as workers:
        ingested = shared.ingested if shared is not None else read_exports(config, workers)
        lock = lock_month_task(output_dir, str(target), config.lock_wait_seconds)
        try:
            if reprocess is not None:
                how = Reprocess(reprocess)
                record = run_status(output_dir).get(str(target))
                if not months_to_run({str(target): record} if record else {}, [target], how):
                    return {"month": str(target), "skipped": True}
                if how == Reprocess.FAILED:
                    communities = scopes_to_redo(record)
            return review_month(ingested, config, target, communities, send, resend, workers,
                                shared)
        finally:
            unlock_month_task(lock)


def _month_rows(month: Month, run: Callable[[], dict]) -> list[dict]:
    """One child run of a backfill, as its rows of the status table; it never raises.

    The child's own state in Prefect says how it ended; the row says it to the reader.
    """
    try:
        result = run()
    except RunFailed as error:
        if error.result is None:
            return [{"month": str(month), "scope": "*", "status": "failed",
                     "detail": one_line(error)}]
        result = error.result
    except Exception as error:
        return [{"month": str(month), "scope": "*", "status": "failed",
                 "detail": one_line(error, named=True)}]
    if result.get("skipped"):
        return [{"month": str(month), "scope": "*", "status": "skipped",
                 "detail": "already run"}]
    return [{"month": str(month), "scope": scope, **line}
            for scope, line in result["scopes"].items()]


def _run_months(months: list[Month], max_parallel: int,
                child: Callable[[Month], dict]) -> list[dict]:
    """Each month's child flow run, up to ``max_parallel`` at once; rows in month order.

    Prefect knows the parent run from context variables, which a new thread does not
    inherit: each child starts in a copy of this thread's context, so it is recorded
    as a child of the backfill whichever thread runs it.
    """
    if max_parallel <= 1 or len(months) <= 1:
        return [row for month in months for row in _month_rows(month, partial(child, month))]
    with ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="month") as pool:
        futures = [pool.submit(contextvars.copy_context().run, _month_rows, month,
                               partial(child, month)) for month in months]
        return [row for future in futures for row in future.result()]


@flow(name="backfill", flow_run_name="backfill-{first}-to-{last}")
def backfill(config_path: str, first: str, last: str, reprocess: str = "none",
             send: bool = False, dry_run: bool = False, resend: bool = False,
             max_parallel: int = 1, task_runner: str | None = None) -> list[dict]:
    """Many months, each a child flow run ``review-YYYY-MM``; one row per month and scope.

    The exports are read once (on ``task_runner``, else the config's) and shared by
    the children, and so is a local Dask cluster, started once for all months. A
    failing month does not stop the rest; the flow run ends ``Failed``
    (:class:`RunFailed`, carrying the rows) when any month failed, with the status
    table as its artifact.
    """
    logger = get_run_logger()
    config = load_config(config_path)
    how = Reprocess(reprocess)
    spec = check_spec(task_runner or config.task_runner)
    if max_parallel < 1:
        raise UsageError(f"max_parallel must be at least 1, not {max_parallel}")
    months = Month.parse(first).range_to(Month.parse(last))
    output_dir = config.resolve(config.output_dir)
    chosen = months_to_run(run_status(output_dir), months, how)
    rows = [{"month": str(m), "scope": "*", "status": "skipped", "detail": "already run"}
            for m in months if m not in chosen]
    if dry_run:
        return rows + [{"month": str(m), "scope": "*", "status": "would_run", "detail": ""}
                       for m in chosen]
    if chosen:
        logger.info("Running %d months, up to %d at once", len(chosen), max_parallel)
        with work_runner(spec, _flow_task_runner()) as workers:
            shared = SharedIngest(read_exports(config, workers), chosen)
            months_spec = child_spec(workers.runner, spec)

            def run_child(month: Month) -> dict:
                try:
                    return monthly_review(config_path, str(month), None, send, resend,
                                          str(how), shared, months_spec)
                finally:
                    shared.ended(month)

            rows += _run_months(chosen, max_parallel, run_child)
    rows.sort(key=lambda row: row["month"])
    backfill_table_task(first, last, rows)
    failed = sorted({row["month"] for row in rows if row["status"] == RunStatus.FAILED})
    if failed:
        for row in rows:
            logger.info("%s %s %s %s", row["month"], row["scope"], row["status"], row["detail"])
        raise RunFailed(f"backfill: {len(failed)} of {len(months)} months failed "
                        f"({', '.join(failed)})", summary=rows, result={"rows": rows})
    return rows


def _flow_task_runner() -> Any:
    """The running flow's own task runner (threads, started)."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    assert context is not None and context.task_runner is not None
    return context.task_runner


@flow(name="validate")
def validate_exports(config_path: str, month: str | None = None) -> str:
    """Read and map the exports, and say what would be quarantined and why.

    Nothing is computed; the full list of rejected rows is written to
    ``<output_dir>/validate/quarantine.csv`` for the data person.
    """
    config = load_config(config_path)
    with work_runner(config.task_runner, _flow_task_runner()) as workers:
        ingested = read_exports(config, workers)
    folder = config.resolve(config.output_dir) / "validate"
    quality_files(folder, ingested, config.language)
    report = validation_report(ingested, config_path, config.sources.profile, config.language,
                               Month.parse(month) if month else None, config.timezone)
    return f"{report}\n→ {folder / 'quarantine.csv'}\n"
