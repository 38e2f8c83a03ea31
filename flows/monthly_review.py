"""The review flows: exports -> metrics -> draft -> files -> emails.

``monthly_review`` does one month (the scheduled and the manual run);
``backfill`` does a range of months from one reading of the exports, keeps
going when a month fails, and never touches another month's outputs.

Whatever runs a month holds its lock first (one writer per month), and a run
ends ``Failed`` (exit 1) whenever something it owed did not happen: a month the
exports do not cover, a review not rendered, an email failed or uncertain.
"""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from yuebao.config import Config, load_config
from yuebao.errors import RunFailed, one_line
from yuebao.months import Month
from yuebao.tasks.artifacts import artifacts_task, backfill_table_task
from yuebao.tasks.bookkeeping import (
    MonthBusy,
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
from yuebao.tasks.deliver import deliver_task
from yuebao.tasks.draft import draft_task
from yuebao.tasks.draft.records import last_reviews_task
from yuebao.tasks.ingest import Ingested, ingest_task
from yuebao.tasks.metrics import coverage_task, history_task, metrics_task
from yuebao.tasks.render import quality_files, render_task, validation_report


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
                 communities: list[str] | None, send: bool, resend: bool) -> dict:
    """The tasks of one month, from canonical tables to delivered emails.

    The caller holds the month's lock. A failure before any review is rendered is
    recorded for the whole month; after that, ``finish_month_task`` records each
    scope and delivery and raises :class:`RunFailed` if any of them failed.
    """
    output_dir = config.resolve(config.output_dir)
    try:
        spans = coverage_task(ingested, month, config.language)
        metrics = metrics_task(ingested, config, month, spans)
        history = history_task(ingested, config, month)
        # Last month's records, for the follow-up of its actions (a backfill runs
        # months in order, so the month before is already published).
        drafts = draft_task(metrics, history, config, month,
                            last_reviews_task(output_dir, month))
        rendered = render_task(drafts, metrics.documents, ingested, config, month, communities)
        artifacts_task(str(month), rendered, metrics.documents, ingested.files, config.language)
        deliveries = (deliver_task(rendered.reviews, rendered.month_dir, config, str(month),
                                   resend) if send and rendered.reviews else [])
    except Exception as error:
        record_failure_task(output_dir, str(month), error)
        raise
    return finish_month_task(output_dir, str(month), rendered, deliveries,
                             partial=communities is not None, language=config.language)


@flow(name="monthly_review", flow_run_name=_review_run_name)
def monthly_review(config_path: str, month: str | None = None,
                   communities: list[str] | None = None, send: bool = True,
                   resend: bool = False) -> dict:
    """One month of one company: every community's review and the portfolio's."""
    config = load_config(config_path)
    target = report_month(month, config.timezone)
    get_run_logger().info("Reviewing %s for %d communities", target, len(config.communities))
    ingested = ingest_task(config)
    lock = lock_month_task(config.resolve(config.output_dir), str(target),
                           config.lock_wait_seconds)
    try:
        return review_month(ingested, config, target, communities, send, resend)
    finally:
        unlock_month_task(lock)


def _backfill_month(ingested: Ingested, config: Config, month: Month, reprocess: Reprocess,
                    send: bool, resend: bool) -> list[dict]:
    """One month of a backfill under its lock: its rows for the status table."""
    output_dir = config.resolve(config.output_dir)
    try:
        lock = lock_month_task(output_dir, str(month), config.lock_wait_seconds)
    except MonthBusy as error:
        return [{"month": str(month), "scope": "*", "status": "failed", "detail": str(error)}]
    try:
        # Another run may have done the month while this one waited for it.
        record = run_status(output_dir).get(str(month))
        if not months_to_run({str(month): record} if record else {}, [month], reprocess):
            return [{"month": str(month), "scope": "*", "status": "skipped",
                     "detail": "already run"}]
        redo = scopes_to_redo(record) if reprocess == Reprocess.FAILED else None
        try:
            result = review_month(ingested, config, month, redo, send, resend)
        except RunFailed as error:
            if error.result is None:
                return [{"month": str(month), "scope": "*", "status": "failed",
                         "detail": one_line(error)}]
            result = error.result
        except Exception as error:
            return [{"month": str(month), "scope": "*", "status": "failed",
                     "detail": one_line(error, named=True)}]
        return [{"month": str(month), "scope": scope, **line}
                for scope, line in result["scopes"].items()]
    finally:
        unlock_month_task(lock)


@flow(name="backfill", flow_run_name="backfill-{first}-to-{last}")
def backfill(config_path: str, first: str, last: str, reprocess: str = "none",
             send: bool = False, dry_run: bool = False, resend: bool = False) -> list[dict]:
    """Many months, one row per month and scope; a failing month does not stop the rest.

    The flow run ends ``Failed`` (:class:`RunFailed`, carrying the rows) when any
    month failed.
    """
    logger = get_run_logger()
    config = load_config(config_path)
    how = Reprocess(reprocess)
    months = Month.parse(first).range_to(Month.parse(last))
    output_dir = config.resolve(config.output_dir)
    chosen = months_to_run(run_status(output_dir), months, how)
    rows = [{"month": str(m), "scope": "*", "status": "skipped", "detail": "already run"}
            for m in months if m not in chosen]
    if dry_run:
        return rows + [{"month": str(m), "scope": "*", "status": "would_run", "detail": ""}
                       for m in chosen]
    ingested = ingest_task(config) if chosen else None
    for month in chosen:
        assert ingested is not None
        rows += _backfill_month(ingested, config, month, how, send, resend)
    rows.sort(key=lambda row: row["month"])
    backfill_table_task(first, last, rows)
    failed = sorted({row["month"] for row in rows if row["status"] == RunStatus.FAILED})
    if failed:
        for row in rows:
            logger.info("%s %s %s %s", row["month"], row["scope"], row["status"], row["detail"])
        raise RunFailed(f"backfill: {len(failed)} of {len(months)} months failed "
                        f"({', '.join(failed)})", summary=rows, result={"rows": rows})
    return rows


@flow(name="validate")
def validate_exports(config_path: str, month: str | None = None) -> str:
    """Read and map the exports, and say what would be quarantined and why.

    Nothing is computed; the full list of rejected rows is written to
    ``<output_dir>/validate/quarantine.csv`` for the data person.
    """
    config = load_config(config_path)
    ingested = ingest_task(config)
    folder = config.resolve(config.output_dir) / "validate"
    quality_files(folder, ingested, config.language)
    report = validation_report(ingested, config_path, config.sources.profile, config.language,
                               Month.parse(month) if month else None, config.timezone)
    return f"{report}\n→ {folder / 'quarantine.csv'}\n"
