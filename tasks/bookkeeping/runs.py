"""``runs.json``: how each month's runs ended, per scope and per delivery.

Backfills decide from it what still needs doing, so it must never say more than
happened: a month is ``succeeded`` only when a full run rendered every scope and
every email owed went out (or was written to the outbox); a run of some
communities (``--community``) records only those scopes, and a month that was
only ever run in part is ``partial``. A month whose folder is gone is not done,
whatever the file says.

Several months' runs may end at the same moment, so every update is a
read-modify-write under a short lock of its own, written atomically.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from filelock import FileLock

from yuebao.files import write_json
from yuebao.months import Month

RUNS_FILE = "runs.json"
NOT_DELIVERED = frozenset({"failed", "uncertain"})


class RunStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PARTIAL = "partial"  # only some scopes were ever run


class Reprocess(StrEnum):
    NONE = "none"
    FAILED = "failed"
    ALL = "all"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def read_runs(output_dir: Path) -> dict[str, dict]:
    path = output_dir / RUNS_FILE
    return json.loads(path.read_text("utf-8")) if path.exists() else {}


def run_status(output_dir: Path) -> dict[str, dict]:
    """Each month's record, as far as its folder still backs it.

    A month whose folder was deleted counts as never run, unless it failed: a
    failed month stays failed (so ``--reprocess failed`` finds it), to be run whole.
    """
    status = {}
    for month, record in read_runs(output_dir).items():
        if (output_dir / month).is_dir():
            status[month] = record
        elif record.get("status") == RunStatus.FAILED:
            status[month] = {**record, "scopes": {}, "full": False}
    return status


def scope_record(rendered: bool, detail: str = "",
                 deliveries: Iterable[dict] = ()) -> dict:
    """One scope's outcome in this run; ``deliveries`` rows have recipient, status, detail."""
    return {"rendered": rendered, "detail": detail, "at": _now(),
            "deliveries": {row["recipient"]: {"status": str(row["status"]),
                                              "detail": row.get("detail", "")}
                           for row in deliveries}}


def scope_failed(record: dict) -> bool:
    return not record.get("rendered") or any(
        d["status"] in NOT_DELIVERED for d in record.get("deliveries", {}).values())


def _status(record: dict) -> RunStatus:
    if record.get("error"):
        return RunStatus.FAILED
    if not record.get("full"):
        return RunStatus.PARTIAL
    failed = any(scope_failed(s) for s in record["scopes"].values())
    return RunStatus.FAILED if failed else RunStatus.SUCCEEDED


def record_month(output_dir: Path, month: str, *, scopes: dict[str, dict] | None = None,
                 full: bool = True, error: str = "") -> dict:
    """Merge one run's outcome into the month's record and return the record.

    ``scopes`` is this run's scope records (none when the month failed before
    rendering, with ``error`` saying why). A full run replaces the scope list,
    keeping each scope's earlier deliveries a run without sending did not retry;
    a partial run only updates its own scopes.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(output_dir / f"{RUNS_FILE}.lock", thread_local=False):
        runs = read_runs(output_dir)
        record = runs.get(month) or {"scopes": {}, "full": False}
        if not (output_dir / month).is_dir():
            record = {"scopes": {}, "full": False}
        merged: dict[str, dict] = {} if full and scopes is not None else dict(record["scopes"])
        for scope, new in (scopes or {}).items():
            old = record["scopes"].get(scope, {}).get("deliveries", {})
            merged[scope] = {**new, "deliveries": {**old, **new["deliveries"]}}
        record = {
            "scopes": merged if scopes is not None else record["scopes"],
            "full": record["full"] or (full and scopes is not None),
            "error": error, "at": _now(),
        }
        record["status"] = str(_status(record))
        runs[month] = {"status": record.pop("status"), **record}
        write_json(output_dir / RUNS_FILE, dict(sorted(runs.items())))
        return runs[month]


def months_to_run(status: dict[str, dict], months: Sequence[Month],
                  reprocess: Reprocess) -> list[Month]:
    """Months a backfill runs: never (fully) run ones, plus failed ones or all on request."""
    again = {Reprocess.NONE: {RunStatus.PARTIAL},
             Reprocess.FAILED: {RunStatus.PARTIAL, RunStatus.FAILED},
             Reprocess.ALL: set(RunStatus)}[reprocess]
    return [m for m in months if str(m) not in status or status[str(m)]["status"] in again]


def scopes_to_redo(record: dict | None) -> list[str] | None:
    """The scopes ``--reprocess failed`` runs again: the failed ones, or None for all.

    A month that failed before it rendered anything, or was never run in full,
    is run whole; otherwise only the scopes whose render or emails failed.
    """
    if not record or record.get("error") or not record.get("full"):
        return None
    failed = [scope for scope, s in record["scopes"].items() if scope_failed(s)]
    return failed or None
