"""One writer per month: an exclusive lock on (output folder, month).

The scheduled run, a manual run and a backfill may all reach for the same month
at once. Whoever holds ``<output>/.locks/<month>.lock`` is the only process that
renders, publishes, sends or records that month; the others wait a bounded time
and then fail with a line naming the holder.

The lock is an OS file lock (``filelock``: ``flock`` on Linux), so it dies with
its process: a run killed with SIGKILL frees it at once. What the dead run leaves
is its holder note (host, PID, since when) and perhaps a half-made staging
folder; the next holder sees the note, says it is taking over, and clears the
debris before it touches the month, so a published month folder is never the
half-written one.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from filelock import FileLock, Timeout

from yuebao.errors import RunFailed
from yuebao.files import write_json

log = logging.getLogger(__name__)

LOCKS = ".locks"


class MonthBusy(RunFailed):
    """Another run holds the month and did not let go in time."""


@dataclass
class MonthLock:
    """A held lock on one month of one output folder; :meth:`release` lets go."""

    output_dir: Path
    month: str
    lock: FileLock
    took_over: dict | None = None  # the holder note a dead run left, if any

    @property
    def holder_path(self) -> Path:
        return holder_path(self.output_dir, self.month)

    def release(self) -> None:
        self.holder_path.unlink(missing_ok=True)
        self.lock.release()


def holder_path(output_dir: Path, month: str) -> Path:
    return output_dir / LOCKS / f"{month}.holder.json"


def read_holder(output_dir: Path, month: str) -> dict | None:
    try:
        note = json.loads(holder_path(output_dir, month).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return note if isinstance(note, dict) else None


def describe_holder(note: dict | None) -> str:
    if not note:
        return "another run (no holder note yet)"
    return (f"host {note.get('host')}, PID {note.get('pid')}, since {note.get('since')}"
            + (f", flow run {note['flow_run']}" if note.get("flow_run") else ""))


def acquire_month(output_dir: Path, month: str, wait_seconds: float,
                  flow_run: str | None = None) -> MonthLock:
    """Take the month's lock, waiting at most ``wait_seconds``; :class:`MonthBusy` if not.

    On success the holder note is written, and what a dead holder left behind
    (its note, staging folders, a month folder retired but not yet replaced) is
    put right first.
    """
    folder = output_dir / LOCKS
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(folder / f"{month}.lock", thread_local=False)
    try:
        lock.acquire(timeout=wait_seconds)
    except Timeout:
        holder = describe_holder(read_holder(output_dir, month))
        raise MonthBusy(f"{month} is being written by another run ({holder}); waited "
                        f"{wait_seconds:g} s; nothing was done, try again when it has "
                        f"finished") from None
    left = read_holder(output_dir, month)
    if left:
        log.warning("%s: taking over the lock left by a run that ended without releasing "
                    "it (%s)", month, describe_holder(left))
    recover_month_folder(output_dir, month)
    write_json(holder_path(output_dir, month), {
        "host": socket.gethostname(), "pid": os.getpid(),
        "since": datetime.now().astimezone().isoformat(timespec="seconds"),
        "flow_run": flow_run,
    })
    return MonthLock(output_dir, month, lock, took_over=left)


def recover_month_folder(output_dir: Path, month: str) -> None:
    """Undo what a run killed mid-way left of the month: only its holder may call this.

    A retired folder with no published one beside it means the run died between
    the two renames of publishing: the retired folder is the last good month and
    goes back. Staging folders of dead runs are removed.
    """
    final = output_dir / month
    for retired in sorted(output_dir.glob(f".{month}.retired*")):
        if not final.exists():
            retired.rename(final)
            log.warning("%s: restored the last published folder after an interrupted run",
                        month)
        else:
            shutil.rmtree(retired)
    for staging in output_dir.glob(f".{month}.staging*"):
        shutil.rmtree(staging)
