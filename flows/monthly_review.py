"""The review flows: exports -> metrics -> draft -> files -> emails.

``monthly_review`` does one month (the scheduled and the manual run);
``backfill`` does a range of months from one reading of the exports, keeps
going when a month fails, and never touches another month's outputs.
"""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from yuebao.config import Config, load_config
from yuebao.months import Month
from yuebao.tasks.deliver import deliver_task
from yuebao.tasks.draft import draft_task
from yuebao.tasks.ingest import Ingested, ingest_task
from yuebao.tasks.metrics import history_task, metrics_task
from yuebao.tasks.render import (
    quality_files,
    record_run,
    render_task,
    run_status,
    validation_report,
)

REPROCESS = ("none", "failed", "all")


def report_month(month: str | None, timezone: str) -> Month:
    """The month asked for, or the one before the run's *scheduled* start.

    A run scheduled for 1 October 02:00 that starts late still reports September.
    """
    if month:
        return Month.parse(month)
    scheduled = flow_run.scheduled_start_time or datetime.now(UTC)
    return Month.last_complete(scheduled, timezone)


def review_month(ingested: Ingested, config: Config, month: Month,
                 communities: list[str] | None, send: bool, resend: bool) -> dict:
    """The tasks of one month, from canonical tables to delivered emails."""
    metrics = metrics_task(ingested, config, month)
    history = history_task(ingested, config, month)
    drafts = draft_task(metrics, history, config, month)
    month_dir, rendered = render_task(drafts, metrics.documents, ingested, config, month,
                                      communities)
    deliveries = deliver_task(rendered, month_dir, config, str(month), resend) if send else []
    record_run(config.resolve(config.output_dir), str(month), "succeeded")
    return {
        "month": str(month),
        "output_dir": str(month_dir),
        "reviews": {r.scope: str(month_dir / r.folder / "review.md") for r in rendered},
        "spreadsheets": {r.scope: str(month_dir / r.folder / "metrics.xlsx") for r in rendered},
        "deliveries": [
            {"scope": d.scope, "status": d.status, "to": list(d.to),
             "eml": str(d.eml_path) if d.eml_path else None, "detail": d.detail}
            for d in deliveries
        ],
    }


@flow(name="monthly_review")
def monthly_review(config_path: str, month: str | None = None,
                   communities: list[str] | None = None, send: bool = True,
                   resend: bool = False) -> dict:
    """One month of one company: every community's review and the portfolio's."""
    config = load_config(config_path)
    target = report_month(month, config.timezone)
    get_run_logger().info("Reviewing %s for %d communities", target, len(config.communities))
    try:
        return review_month(ingest_task(config), config, target, communities, send, resend)
    except Exception as error:
        record_run(config.resolve(config.output_dir), str(target), "failed",
                   f"{type(error).__name__}: {error}")
        raise


def months_to_run(status: dict[str, dict], months: list[Month], reprocess: str) -> list[Month]:
    """Months a backfill runs: never-run ones, plus failed ones or all of them on request."""
    rerun = {"none": set(), "failed": {"failed"}, "all": {"failed", "succeeded"}}[reprocess]
    return [m for m in months
            if str(m) not in status or status[str(m)]["status"] in rerun]


@flow(name="backfill")
def backfill(config_path: str, first: str, last: str, reprocess: str = "none",
             send: bool = False, dry_run: bool = False) -> list[dict]:
    """Many months, one row per month and scope; a failing month does not stop the rest."""
    logger = get_run_logger()
    config = load_config(config_path)
    months = Month.parse(first).range_to(Month.parse(last))
    output_dir = config.resolve(config.output_dir)
    chosen = months_to_run(run_status(output_dir), months, reprocess)
    rows = [{"month": str(m), "scope": "*", "status": "skipped", "detail": "already run"}
            for m in months if m not in chosen]
    if dry_run:
        return rows + [{"month": str(m), "scope": "*", "status": "would_run", "detail": ""}
                       for m in chosen]
    ingested = ingest_task(config) if chosen else None
    for month in chosen:
        try:
            result = review_month(ingested, config, month, None, send, resend=False)
        except Exception as error:
            detail = f"{type(error).__name__}: {error}"
            logger.error("%s failed: %s", month, detail)
            record_run(output_dir, str(month), "failed", detail)
            rows.append({"month": str(month), "scope": "*", "status": "failed", "detail": detail})
            continue
        sent = {d["scope"]: d["status"] for d in result["deliveries"]}
        rows += [{"month": str(month), "scope": scope, "status": "succeeded",
                  "detail": sent.get(scope, "not sent")} for scope in result["reviews"]]
    return sorted(rows, key=lambda row: row["month"])


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
