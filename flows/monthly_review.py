"""The monthly review flow: exports -> metrics -> draft -> files -> emails, for one month."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from yuebao.config import load_config
from yuebao.months import Month
from yuebao.tasks.deliver import deliver_task
from yuebao.tasks.draft import draft_task
from yuebao.tasks.ingest import ingest_task
from yuebao.tasks.metrics import history_task, metrics_task
from yuebao.tasks.render import render_task


def report_month(month: str | None, timezone: str) -> Month:
    """The month asked for, or the one before the run's *scheduled* start.

    A run scheduled for 1 October 02:00 that starts late still reports September.
    """
    if month:
        return Month.parse(month)
    scheduled = flow_run.scheduled_start_time or datetime.now(UTC)
    return Month.last_complete(scheduled, timezone)


@flow(name="monthly_review", log_prints=True)
def monthly_review(config_path: str, month: str | None = None,
                   communities: list[str] | None = None, send: bool = True,
                   resend: bool = False) -> dict:
    """One month of one company: every community's review and the portfolio's."""
    logger = get_run_logger()
    config = load_config(config_path)
    target = report_month(month, config.timezone)
    logger.info("Reviewing %s for %d communities", target, len(config.communities))
    ingested = ingest_task(config)
    metrics = metrics_task(ingested, config, target)
    history = history_task(ingested, config, target)
    drafts = draft_task(metrics, history, config, target)
    month_dir, rendered = render_task(drafts, metrics.documents, ingested, config, target,
                                      communities)
    deliveries = deliver_task(rendered, month_dir, config, str(target), resend) if send else []
    return {
        "month": str(target),
        "output_dir": str(month_dir),
        "reviews": {r.scope: str(month_dir / r.folder / "review.md") for r in rendered},
        "deliveries": [
            {"scope": d.scope, "status": d.status, "to": list(d.to),
             "eml": str(d.eml_path) if d.eml_path else None, "detail": d.detail}
            for d in deliveries
        ],
    }


def run_month(config_path: Path | str, month: str | None = None, **options) -> dict:
    """Run the flow from plain Python (the CLI and tests use this)."""
    return monthly_review(str(config_path), month, **options)
