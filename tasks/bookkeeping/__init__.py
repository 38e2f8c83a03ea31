"""Bookkeeping: who may write a month, and how each run of it ended.

``lock`` keeps one writer per month; ``runs`` keeps ``runs.json``. Both are
wrapped as Prefect tasks so that taking the lock, recording the outcome and
judging it show in the UI like every other step.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from yuebao.errors import RunFailed, one_line
from yuebao.tasks.bookkeeping.lock import MonthBusy, MonthLock, acquire_month
from yuebao.tasks.bookkeeping.runs import (
    NOT_DELIVERED,
    Reprocess,
    RunStatus,
    months_to_run,
    read_runs,
    record_month,
    run_status,
    scope_failed,
    scope_record,
    scopes_to_redo,
)
from yuebao.tasks.deliver import DeliveryResult, summary_rows
from yuebao.tasks.render import RenderedMonth
from yuebao.words import labels

__all__ = [
    "MonthBusy", "MonthLock", "Reprocess", "RunStatus", "finish_month_task", "lock_month_task",
    "months_to_run", "read_runs", "record_failure_task", "run_status", "scopes_to_redo",
    "unlock_month_task",
]

log = logging.getLogger(__name__)

RENDER_FAILED = "render_failed"  # a summary row's status for a review that was not made


@task(name="lock-month", task_run_name="lock-{month}", cache_policy=NO_CACHE)
def lock_month_task(output_dir: Path, month: str, wait_seconds: float) -> MonthLock:
    """Prefect task: become the month's only writer, or fail naming the one who is."""
    return acquire_month(output_dir, month, wait_seconds, flow_run.get_id())


@task(name="unlock-month", task_run_name="unlock-{lock.month}", cache_policy=NO_CACHE)
def unlock_month_task(lock: MonthLock) -> None:
    lock.release()


@task(name="record-failure", task_run_name="record-failure-{month}", cache_policy=NO_CACHE)
def record_failure_task(output_dir: Path, month: str, error: BaseException) -> None:
    """Prefect task: the month failed before any review was rendered; say so in runs.json."""
    record_month(output_dir, month, error=one_line(error, named=True))


@task(name="finish-month", task_run_name="finish-{month}", cache_policy=NO_CACHE)
def finish_month_task(output_dir: Path, month: str, rendered: RenderedMonth,
                      deliveries: list[DeliveryResult], partial: bool, language: str) -> dict:
    """Prefect task: record the run in runs.json, then judge it.

    Returns what the run produced; raises :class:`RunFailed` (the flow run ends
    ``Failed``, the CLI exits 1) when any review failed to render or any email
    failed or is uncertain, with one summary row per scope and recipient.
    """
    sent = [{**row, "recipient": row["recipient"] or "-"} for row in summary_rows(deliveries)]
    scopes = {review.scope: scope_record(True, deliveries=[row for row in sent
                                                           if row["scope"] == review.scope])
              for review in rendered.reviews}
    scopes |= {scope: scope_record(False, detail) for scope, detail in rendered.failures.items()}
    record_month(output_dir, month, scopes=scopes, full=not partial)

    summary = [{"month": month, "scope": scope, "recipient": "-", "status": RENDER_FAILED,
                "detail": detail} for scope, detail in rendered.failures.items()] + sent
    month_dir = rendered.month_dir
    result = {
        "month": month,
        "output_dir": str(month_dir),
        "reviews": {r.scope: str(month_dir / r.folder / "review.md") for r in rendered.reviews},
        "spreadsheets": {r.scope: str(month_dir / r.folder / "metrics.xlsx")
                         for r in rendered.reviews},
        "deliveries": [
            {"scope": d.scope, "status": str(d.status), "to": list(d.to),
             "eml": str(d.eml_path) if d.eml_path else None, "detail": d.detail}
            for d in deliveries
        ],
        "scopes": {scope: _scope_line(record) for scope, record in scopes.items()},
        "summary": summary,
    }
    failed = [row for row in summary if row["status"] in NOT_DELIVERED | {RENDER_FAILED}]
    if failed:
        message = labels(language)["run"]["failed"].format(month=month, failed=len(failed))
        for row in summary:
            log.error("%s %s %s: %s %s", row["month"], row["scope"], row["recipient"],
                      row["status"], row["detail"])
        raise RunFailed(message, summary=summary, result=result)
    return result


def _scope_line(record: dict) -> dict:
    """One scope's status and a few words on its emails, for the backfill table."""
    status = RunStatus.FAILED if scope_failed(record) else RunStatus.SUCCEEDED
    if not record["rendered"]:
        return {"status": str(status), "detail": record["detail"]}
    counts = Counter(delivery["status"] for delivery in record["deliveries"].values())
    detail = ", ".join(f"{status} {n}" for status, n in sorted(counts.items())) or "not sent"
    return {"status": str(status), "detail": detail}
