"""The send ledger: what was handed to which recipient, so that no one gets an email twice.

One JSON object per line and per (month, scope, recipient) event, append-only:
``sending`` is written immediately before the message body goes over the wire,
then ``sent``, ``failed`` or ``uncertain`` once the server's reply to it is known
(or known to be lost). A run reads the ledger before sending and sends only what
is still owed: an accepted recipient is never sent the same month's email again
unless ``--resend`` says so, and one whose outcome is unknown is left to a person.

Several months (processes) may append to the same ledger at once, so every
append is one write of whole lines under a short file lock, fsync'd before the
caller goes on; a line that does not parse (a write cut short by a crash) is
ignored when reading.
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from filelock import FileLock

# Appends take about a millisecond: a waiting writer looks again soon (filelock polls),
# and a lock held for a minute means a stuck process, not load.
_LOCK_POLL_SECONDS = 0.005
_LOCK_TIMEOUT_SECONDS = 60


class LedgerStatus(enum.StrEnum):
    SENDING = "sending"  # the body is about to be transmitted
    SENT = "sent"  # the server accepted it for this recipient
    FAILED = "failed"  # not delivered (refused, or gave up); may be sent again
    UNCERTAIN = "uncertain"  # transmitted, but the server's reply was lost


class Verdict(enum.StrEnum):
    MAY_SEND = "may_send"
    ALREADY_SENT = "already_sent"
    UNCERTAIN = "uncertain"


@dataclass(frozen=True)
class LedgerEntry:
    month: str
    scope: str
    recipient: str
    content_hash: str | None  # None in lines written before the ledger was per recipient
    message_id: str | None
    status: LedgerStatus
    at: str
    detail: str = ""


@dataclass(frozen=True)
class Standing:
    """The verdict for one recipient and the entry it rests on (None when never tried)."""

    verdict: Verdict
    entry: LedgerEntry | None = None


def recipient_key(address: str) -> str:
    """Addresses compare without case or surrounding blanks, as mail systems treat them."""
    return address.strip().lower()


class SendLedger:
    """The ledger file at ``path``; ``timezone`` stamps the ``at`` of new lines."""

    def __init__(self, path: Path, timezone: str | None = None):
        self.path = Path(path)
        self.zone = ZoneInfo(timezone) if timezone else None

    # ------------------------------------------------------------------- reading

    def entries(self) -> list[LedgerEntry]:
        """Every event in file order; unreadable lines are skipped."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        found: list[LedgerEntry] = []
        for line in data.split(b"\n"):
            found += _parse(line)
        return found

    def standings(self, month: str, scope: str,
                  recipients: Iterable[str]) -> dict[str, Standing]:
        """The verdict for each recipient of one month's email for one scope.

        Any ``sent`` (of whatever version) means already sent. Otherwise a last
        event ``uncertain``, or a ``sending`` with nothing after it (the process
        died while the body was on the wire), means nobody knows whether it
        arrived. ``failed`` or no history means it may be sent.
        """
        wanted = {recipient_key(r): r for r in recipients}
        history: dict[str, list[LedgerEntry]] = {key: [] for key in wanted}
        for entry in self.entries():
            key = recipient_key(entry.recipient)
            if entry.month == month and entry.scope == scope and key in history:
                history[key].append(entry)
        return {wanted[key]: _standing(events) for key, events in history.items()}

    def standing(self, month: str, scope: str, recipient: str) -> Standing:
        """The verdict for one recipient (see :meth:`standings`)."""
        return self.standings(month, scope, [recipient])[recipient]

    # ------------------------------------------------------------------- writing

    def stamp(self, month: str, scope: str, recipient: str, *, content_hash: str | None,
              message_id: str | None, status: LedgerStatus, detail: str = "") -> LedgerEntry:
        """A new entry dated now, in the configured time zone."""
        at = datetime.now(self.zone).astimezone(self.zone).isoformat(timespec="seconds")
        return LedgerEntry(month, scope, recipient, content_hash, message_id,
                           LedgerStatus(status), at, detail)

    def append(self, entries: Sequence[LedgerEntry]) -> None:
        """Add whole lines durably: one write under the lock, then fsync.

        ``O_APPEND`` puts every write at the current end even with several
        writers; the lock keeps a write from another process from landing between
        the check for a missing final newline (a line cut short by a crash, which
        must not swallow the next one) and the write itself.
        """
        if not entries:
            return
        data = "".join(json.dumps(asdict(e), ensure_ascii=False) + "\n"
                       for e in entries).encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(f"{self.path}.lock", timeout=_LOCK_TIMEOUT_SECONDS,
                      poll_interval=_LOCK_POLL_SECONDS):
            created = not self.path.exists()
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    data = b"\n" + data
                written = os.write(fd, data)
                while written < len(data):  # a regular file only writes short when full
                    written += os.write(fd, data[written:])
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                _fsync_directory(self.path.parent)


def _standing(events: list[LedgerEntry]) -> Standing:
    sent = [e for e in events if e.status is LedgerStatus.SENT]
    if sent:
        return Standing(Verdict.ALREADY_SENT, sent[-1])
    if events and events[-1].status in (LedgerStatus.UNCERTAIN, LedgerStatus.SENDING):
        return Standing(Verdict.UNCERTAIN, events[-1])
    return Standing(Verdict.MAY_SEND, events[-1] if events else None)


def _parse(line: bytes) -> list[LedgerEntry]:
    """The entries of one line: one, or one per address of an old ``"to": [...]`` line."""
    try:
        record = json.loads(line)
        status = LedgerStatus(record["status"])
        month, scope = record["month"], record["scope"]
        # Lines written before the ledger was per recipient name the whole set.
        recipients = [record["recipient"]] if "recipient" in record else list(record["to"])
    except (ValueError, KeyError, TypeError):
        return []
    text = (month, scope, *recipients)
    if not all(isinstance(value, str) for value in text):
        return []
    content = record.get("content_hash")
    identity = record.get("message_id")
    return [LedgerEntry(
        month=month, scope=scope, recipient=recipient,
        content_hash=content if isinstance(content, str) else None,
        message_id=identity if isinstance(identity, str) else None,
        status=status, at=str(record.get("at") or ""), detail=str(record.get("detail") or ""),
    ) for recipient in recipients]


def _fsync_directory(folder: Path) -> None:
    """Make a new file's name durable too, not only its contents."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
