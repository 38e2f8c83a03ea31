"""Deliver: each draft as one email, to the local outbox or through SMTP, once per recipient.

Before anything is sent, the ledger is asked about every recipient: one already
sent this month's email for this scope is skipped, one whose earlier send ended
with its outcome unknown is reported ``uncertain`` and left to a person, every
other one is sent. ``resend`` sends to everyone again (the Message-ID stays the
same while the content does). Each message is built once and archived as its
``.eml`` before it is sent; a fully skipped one keeps the archive of what was
sent.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from prefect import task
from prefect.cache_policies import NO_CACHE

from yuebao.config import Config, Delivery
from yuebao.errors import UsageError
from yuebao.files import write_bytes
from yuebao.schema import PORTFOLIO
from yuebao.tasks.deliver.ledger import SendLedger, Standing, Verdict, recipient_key
from yuebao.tasks.deliver.message import (
    OutgoingEmail,
    attachment_name,
    build_message,
    content_hash,
    eml_path,
)
from yuebao.tasks.deliver.secrets import smtp_password
from yuebao.tasks.deliver.smtp import Job, Outcome, clean, send_batch, tls_context
from yuebao.tasks.deliver.status import (
    DeliveryResult,
    DeliveryStatus,
    RecipientResult,
    overall_detail,
    overall_status,
)
from yuebao.tasks.render import Rendered

log = logging.getLogger(__name__)

DEFAULT_SENDER = "yuebao@localhost"

_BY_OUTCOME = {
    Outcome.SENT: DeliveryStatus.SENT,
    Outcome.FAILED: DeliveryStatus.FAILED,
    Outcome.UNCERTAIN: DeliveryStatus.UNCERTAIN,
}


@dataclass
class _Draft:
    """One email on its way: who is settled already, who is owed, and its bytes."""

    email: OutgoingEmail
    path: Path
    recipients: tuple[str, ...]
    settled: dict[str, RecipientResult] = field(default_factory=dict)
    owed: list[str] = field(default_factory=list)
    digest: str | None = None
    problem: str | None = None  # why the email could not be prepared
    message_id: str | None = None
    data: bytes | None = None
    written: bool = False

    def result(self, otherwise: DeliveryStatus) -> DeliveryResult:
        recipients = tuple(self.settled[a] for a in self.recipients if a in self.settled)
        status = overall_status(recipients, otherwise)
        if not self.recipients and self.problem:
            status = DeliveryStatus.FAILED
        detail = overall_detail(recipients) or (self.problem or "")
        if status is DeliveryStatus.NO_RECIPIENTS and not self.problem:
            detail = "no recipients configured; written to the outbox only"
        # A fully skipped email keeps the archive of what was sent; one that could
        # not be prepared for someone it is owed to points at no (older) archive.
        broken = self.problem is not None and (bool(self.owed) or not self.recipients)
        archived = self.path if self.written or (not broken and self.path.exists()) else None
        return DeliveryResult(self.email.month, self.email.scope, tuple(self.email.to), status,
                              archived, self.message_id, detail, recipients)


def deliver(emails: Sequence[OutgoingEmail], delivery: Delivery, *, outbox_dir: Path,
            ledger_path: Path, timezone: str = "Asia/Shanghai", resend: bool = False,
            now: datetime | None = None, password: str | None = None) -> list[DeliveryResult]:
    """Deliver each email once per recipient; one result per email, in the order given.

    ``outbox`` writes each message to ``outbox_dir`` (rewritten on every run) and
    never consults the ledger. ``smtp`` sends to the recipients the ledger says
    are owed, retrying temporary failures within the run (see ``smtp.py``). A
    failure is reported per recipient and never raised; only configuration errors
    (no ``[delivery.smtp]``, missing password, unreadable ``ca_file``, no sender
    address) raise, as :class:`UsageError`, before anything is sent. ``now``
    dates the messages, shown in ``timezone``.
    """
    zone = _zone(timezone)
    if now is None:
        date = datetime.now(zone)
    elif now.tzinfo is None:
        date = now.replace(tzinfo=zone)
    else:
        date = now.astimezone(zone)
    outbox_dir = Path(outbox_dir)
    by_smtp = delivery.method == "smtp"
    smtp = delivery.smtp
    if by_smtp and smtp is None:
        raise UsageError("delivery.method is 'smtp' but [delivery.smtp] is missing")
    sender, sender_name = _sender(delivery)
    ledger = SendLedger(ledger_path, timezone=timezone) if by_smtp else None

    drafts = [_draft(email, outbox_dir, ledger, resend) for email in emails]
    context: ssl.SSLContext | None = None
    if smtp is not None and ledger is not None and any(d.owed and d.problem is None
                                                       for d in drafts):
        password = password if password is not None else smtp_password(smtp)
        context = tls_context(smtp)

    for draft in drafts:
        if draft.owed or not draft.recipients:
            _prepare(draft, sender, sender_name, date)

    ready = [d for d in drafts if d.owed and d.data is not None]
    if smtp is not None and ledger is not None and context is not None and ready:
        assert password is not None
        replies = send_batch([_job(d) for d in ready], smtp=smtp, password=password,
                             envelope_from=sender, context=context, ledger=ledger)
        for draft, answered in zip(ready, replies, strict=True):
            for address, reply in answered.items():
                draft.settled[address] = RecipientResult(address, _BY_OUTCOME[reply.outcome],
                                                         reply.detail)
    for draft in drafts:  # the outbox's, and those that could not be prepared
        for address in draft.owed:
            if draft.problem:
                fallback = RecipientResult(address, DeliveryStatus.FAILED, draft.problem)
            else:
                fallback = RecipientResult(address, DeliveryStatus.WRITTEN)
            draft.settled.setdefault(address, fallback)

    otherwise = DeliveryStatus.ALREADY_SENT if by_smtp else DeliveryStatus.WRITTEN
    results = [d.result(otherwise if d.recipients else DeliveryStatus.NO_RECIPIENTS)
               for d in drafts]
    for result in results:
        _log(result, password)
    return results


def _draft(email: OutgoingEmail, outbox_dir: Path, ledger: SendLedger | None,
           resend: bool) -> _Draft:
    """The email with the ledger's verdict applied to each of its recipients."""
    unique: dict[str, str] = {}
    for address in email.to:
        unique.setdefault(recipient_key(address), address.strip())
    draft = _Draft(email, eml_path(outbox_dir, email), tuple(unique.values()))
    try:
        draft.digest = content_hash(email)
    except OSError as error:
        draft.problem = f"could not prepare the email: {clean(error, None)}"
    standings: dict[str, Standing] = {}
    if ledger is not None and not resend:
        standings = ledger.standings(email.month, email.scope, draft.recipients)
    for address in draft.recipients:
        skipped = _skipped(address, standings.get(address), draft.digest)
        if skipped is None:
            draft.owed.append(address)
            continue
        draft.settled[address] = skipped
        entry = standings[address].entry
        draft.message_id = entry.message_id if entry else draft.message_id
    return draft


def _skipped(address: str, standing: Standing | None,
             digest: str | None) -> RecipientResult | None:
    """The result for a recipient the ledger says not to send to, else None."""
    if standing is None or standing.entry is None or standing.verdict is Verdict.MAY_SEND:
        return None
    at = standing.entry.at
    if standing.verdict is Verdict.ALREADY_SENT:
        sent_hash = standing.entry.content_hash
        if sent_hash is not None and digest is not None and sent_hash != digest:
            detail = f"an earlier version was sent at {at}; use --resend to send this version"
        else:
            detail = f"already sent at {at}; use --resend to send it again"
        return RecipientResult(address, DeliveryStatus.ALREADY_SENT, detail)
    return RecipientResult(
        address, DeliveryStatus.UNCERTAIN,
        f"the message was handed to the server at {at} but its reply was lost; it may have "
        f"been delivered: check with the recipient, then use --resend")


def _job(draft: _Draft) -> Job:
    assert draft.digest and draft.message_id and draft.data is not None
    return Job(draft.email.month, draft.email.scope, draft.digest, draft.message_id,
               draft.data, tuple(draft.owed))


def _prepare(draft: _Draft, sender: str, sender_name: str | None, date: datetime) -> None:
    """Build the bytes once and archive them; a failure is this email's alone."""
    if draft.problem is not None:
        return
    try:
        draft.message_id, draft.data = build_message(draft.email, sender=sender,
                                                     sender_name=sender_name, date=date)
        write_bytes(draft.path, draft.data)
    except OSError as error:
        draft.problem = f"could not prepare the email: {clean(error, None)}"
        draft.data = None
        return
    draft.written = True


def _log(result: DeliveryResult, password: str | None) -> None:
    """One line per recipient outcome (one for an email without recipients)."""
    rows = result.recipients or (RecipientResult("-", result.status, result.detail),)
    for row in rows:
        level = logging.INFO if row.status not in (DeliveryStatus.FAILED,
                                                   DeliveryStatus.UNCERTAIN) else logging.WARNING
        log.log(level, "%s %s -> %s: %s%s", result.month, result.scope, row.address, row.status,
                f" ({clean(row.detail, password)})" if row.detail else "")


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"timezone: unknown time zone {timezone!r}") from None


def _sender(delivery: Delivery) -> tuple[str, str | None]:
    smtp = delivery.smtp
    if smtp is None:
        return DEFAULT_SENDER, None
    sender = smtp.sender or smtp.user
    if "@" not in sender:
        if delivery.method == "smtp":
            raise UsageError(
                f"delivery.smtp.sender: the From address is needed because user {smtp.user!r} "
                f"is not an email address"
            )
        sender = DEFAULT_SENDER
    return sender, smtp.sender_name


def compose(rendered: Sequence[Rendered], month_dir: Path, config: Config,
            month: str) -> list[OutgoingEmail]:
    """One email per review: a community's to its managers, the portfolio's to its recipients."""
    emails = []
    for review in rendered:
        community = config.community(review.scope)
        if review.scope == PORTFOLIO:
            to = config.portfolio.recipients
        else:
            to = community.managers if community else []
        emails.append(OutgoingEmail(
            month=month, scope=review.scope, to=tuple(to), subject=review.subject,
            html=review.html, text=review.markdown, attachments=review.paths(month_dir),
            folder=review.folder,
            attachment_names=tuple(attachment_name(file, review.name, month, config.language)
                                   for file in review.files),
            images=tuple(zip(review.charts, review.chart_paths(month_dir), strict=True)),
        ))
    return emails


@task(name="deliver", task_run_name="deliver-{month}", cache_policy=NO_CACHE)
def deliver_task(rendered: list[Rendered], month_dir: Path, config: Config, month: str,
                 resend: bool = False) -> list[DeliveryResult]:
    """Prefect task: email every rendered review, at most once per recipient."""
    return deliver(compose(rendered, month_dir, config, month), config.delivery,
                   outbox_dir=config.resolve(config.delivery.outbox_dir),
                   ledger_path=config.resolve(config.output_dir) / "send_ledger.jsonl",
                   timezone=config.timezone, resend=resend)
