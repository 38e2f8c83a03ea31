"""Delivery of the drafts: the outbox, or SMTP with a per-recipient send ledger.

``message`` builds the exact bytes, ``ledger`` remembers who got what,
``smtp`` speaks to the server and retries, ``secrets`` finds the password, and
``stage`` puts them together as the pipeline's deliver task.
"""

from yuebao.tasks.deliver.ledger import LedgerEntry, LedgerStatus, SendLedger, Standing, Verdict
from yuebao.tasks.deliver.message import (
    OutgoingEmail,
    attachment_name,
    build_message,
    content_hash,
    eml_path,
    message_id,
)
from yuebao.tasks.deliver.secrets import smtp_password
from yuebao.tasks.deliver.stage import DEFAULT_SENDER, compose, deliver, deliver_task
from yuebao.tasks.deliver.status import (
    DeliveryResult,
    DeliveryStatus,
    RecipientResult,
    summary_rows,
)

__all__ = [
    "DEFAULT_SENDER",
    "DeliveryResult",
    "DeliveryStatus",
    "LedgerEntry",
    "LedgerStatus",
    "OutgoingEmail",
    "RecipientResult",
    "SendLedger",
    "Standing",
    "Verdict",
    "attachment_name",
    "build_message",
    "compose",
    "content_hash",
    "deliver",
    "deliver_task",
    "eml_path",
    "message_id",
    "smtp_password",
    "summary_rows",
]
