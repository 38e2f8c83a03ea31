"""Bookkeeping: who may write a month, and how each run of it ended.

``lock`` keeps one writer per month; ``runs`` keeps ``runs.json``. Both are
wrapped as Prefect tasks so that taking the lock, recording the outcome and
judging it show in the UI like every other step.
"""

from __future__ import annotations

import logging
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from yuebao.errors import RunFailed
from yuebao.tasks.bookkeeping.lock import MonthBusy, MonthLock, acquire_month
from yuebao.tasks.bookkeeping.runs import (
    Reprocess,
    RunStatus,
    months_to_run,
    read_runs,
    record_month,
    run_status,
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
    detail = " ".join(f"{type(error).__name__}: {error}".split())
    record_month(output_dir, month, error=detail)


def _deliveries_by_scope(deliveries: list[DeliveryResult]) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {}
    for row in summary_rows(deliveries):
        rows.setdefault(row["scope"], []).append(
            {"recipient": row["recipient"] or "-", "status": row["status"],
             "detail": row["detail"]})
    return rows


@task(name="finish-month", task_run_name="finish-{month}", cache_policy=NO_CACHE)
def finish_month_task(output_dir: Path, month: str, rendered: RenderedMonth,
                      deliveries: list[DeliveryResult], partial: bool, language: str) -> dict:
    """Prefect task: record the run in runs.json, then judge it.

    Returns what the run produced; raises :class:`RunFailed` (the flow run ends
    ``Failed``, the CLI exits 1) when any review failed to render or any email
    failed or is uncertain, with one summary row per scope and recipient.
    """
    sent = _deliveries_by_scope(deliveries)
    scopes = {review.scope: scope_record(True, deliveries=sent.get(review.scope, []))
              for review in rendered.reviews}
    scopes |= {scope: scope_record(False, detail) for scope, detail in rendered.failures.items()}
    record_month(output_dir, month, scopes=scopes, full=not partial)

    summary = [{"month": month, "scope": scope, "recipient": "-", "status": "render_failed",
                "detail": detail} for scope, detail in rendered.failures.items()]
    summary += [{"month": month, "scope": scope, **row}
                for scope, rows in sent.items() for row in rows]
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
    failed = [row for row in summary if row["status"] in ("render_failed", "failed", "uncertain")]
    if failed:
        message = labels(language)["run"]["failed"].format(month=month, failed=len(failed))
        for row in summary:
            log.error("%s %s %s: %s %s", row["month"], row["scope"], row["recipient"],
                      row["status"], row["detail"])
        raise RunFailed(message, summary=summary, result=result)
    return result


def _scope_line(record: dict) -> dict:
    """One scope's status and a few words on its emails, for the backfill table."""
    if not record["rendered"]:
        return {"status": "failed", "detail": record["detail"]}
    counts: dict[str, int] = {}
    for delivery in record["deliveries"].values():
        counts[delivery["status"]] = counts.get(delivery["status"], 0) + 1
    bad = any(status in ("failed", "uncertain") for status in counts)
    detail = ", ".join(f"{status} {n}" for status, n in sorted(counts.items())) or "not sent"
    return {"status": "failed" if bad else "succeeded", "detail": detail}
