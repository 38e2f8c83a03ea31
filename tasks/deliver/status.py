"""What delivery reports: one result per email, one per recipient inside it.

A result is per recipient because an SMTP server answers per recipient: one
address can be accepted while another is refused or greylisted, and each of
them has to be reported (and remembered by the ledger) on its own.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path


class DeliveryStatus(enum.StrEnum):
    SENT = "sent"
    ALREADY_SENT = "skipped_already_sent"
    WRITTEN = "written"  # the outbox method: an .eml file, nothing sent
    NO_RECIPIENTS = "no_recipients"
    FAILED = "failed"
    UNCERTAIN = "uncertain"  # handed to the server, reply lost: it may have been delivered


@dataclass(frozen=True)
class RecipientResult:
    address: str
    status: DeliveryStatus
    detail: str = ""  # the server's words, e.g. "550 5.1.1 <x@y>: mailbox unavailable"


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to one email; ``detail`` says why when it was not delivered."""

    month: str
    scope: str
    to: tuple[str, ...]
    status: DeliveryStatus
    eml_path: Path | None
    message_id: str | None
    detail: str = ""
    recipients: tuple[RecipientResult, ...] = ()

    @property
    def ok(self) -> bool:
        """False when someone did not get the email, or may not have."""
        return self.status not in (DeliveryStatus.FAILED, DeliveryStatus.UNCERTAIN)


def overall_status(recipients: Iterable[RecipientResult],
                   otherwise: DeliveryStatus) -> DeliveryStatus:
    """The email's status from its recipients', the most alarming first.

    Uncertain outranks failed because it needs a person to check before anything
    is sent again; ``otherwise`` is the status when nobody was sent anything now.
    """
    seen = {r.status for r in recipients}
    for status in (DeliveryStatus.UNCERTAIN, DeliveryStatus.FAILED, DeliveryStatus.SENT):
        if status in seen:
            return status
    return otherwise


def overall_detail(recipients: Sequence[RecipientResult]) -> str:
    """One line for the email: what went wrong, naming the addresses when they differ."""
    troubled = [r for r in recipients if r.status is not DeliveryStatus.SENT and r.detail]
    if not troubled:
        return ""
    if len(troubled) == len(recipients) and len({r.detail for r in troubled}) == 1:
        return troubled[0].detail
    return "; ".join(f"{r.address}: {r.detail}" for r in troubled)


def summary_rows(results: Iterable[DeliveryResult]) -> list[dict[str, str]]:
    """One row per recipient (one per email without recipients), for the run's table."""
    rows = []
    for result in results:
        common = {"month": result.month, "scope": result.scope}
        if not result.recipients:
            rows.append({**common, "recipient": "", "status": str(result.status),
                         "detail": result.detail})
        rows += [{**common, "recipient": r.address, "status": str(r.status),
                  "detail": r.detail} for r in result.recipients]
    return rows
