"""Deliver: each draft as one email, to the local outbox or through SMTP, at most once.

A message is prepared once, with yagmail, into its exact RFC 5322 bytes. Those
bytes are what the outbox keeps as ``<outbox>/<month>/<scope>.eml`` and, for the
``smtp`` method, exactly what goes over the wire, so the archive is a faithful
copy of what the managers received.

A send ledger (JSON Lines, append-only, fsync'd) makes re-runs and backfills
safe: a draft already sent to the same recipients for the same month and scope
is not sent again unless ``resend`` says so, and a send that was interrupted
before its outcome was known is not retried blindly, since it may have gone out.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy as email_policy
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr
from pathlib import Path

import yagmail
from prefect import task
from prefect.cache_policies import NO_CACHE
from yagmail.message import prepare_message

from yuebao.config import Config, Delivery, Smtp
from yuebao.errors import UsageError
from yuebao.files import safe_name, write_bytes
from yuebao.schema import PORTFOLIO
from yuebao.tasks.render import Rendered

log = logging.getLogger(__name__)

DEFAULT_SENDER = "yuebao@localhost"
SENT, WRITTEN, SKIPPED, FAILED, NO_RECIPIENTS = (
    "sent", "written", "skipped_already_sent", "failed", "no_recipients",
)
# RFC 5322 lines end in CRLF; compat32 keeps yagmail's header encoding (RFC 2047).
_WIRE = email_policy.compat32.clone(linesep="\r\n")


@dataclass(frozen=True)
class OutgoingEmail:
    """One draft to deliver: a community's review, or the portfolio roll-up."""

    month: str
    scope: str
    to: tuple[str, ...]
    subject: str
    html: str
    text: str
    attachments: tuple[Path, ...] = ()


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to one email; ``detail`` says why when it was not delivered."""

    month: str
    scope: str
    to: tuple[str, ...]
    status: str
    eml_path: Path | None
    message_id: str | None
    detail: str = ""


def eml_path(outbox_dir: Path, email: OutgoingEmail) -> Path:
    return Path(outbox_dir) / safe_name(email.month) / f"{safe_name(email.scope)}.eml"


# --------------------------------------------------------------------------- message


def _message_id(email: OutgoingEmail, sender: str) -> str:
    """A Message-ID that depends only on what the email says and to whom.

    The same draft re-delivered (``--resend``) keeps its Message-ID, so mail
    clients can recognise the copy; a changed draft gets a new one.
    """
    digest = hashlib.sha256()
    for part in (email.month, email.scope, "\x1f".join(email.to), email.subject,
                 email.html, email.text):
        digest.update(part.encode("utf-8") + b"\x1e")
    for path in email.attachments:
        digest.update(Path(path).name.encode("utf-8") + b"\x1f")
        digest.update(Path(path).read_bytes() + b"\x1e")
    domain = sender.rpartition("@")[2] or "localhost"
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        domain = "localhost"
    return f"<yuebao.{email.month}.{digest.hexdigest()[:32]}@{domain}>"


def build_message(email: OutgoingEmail, *, sender: str, sender_name: str | None,
                  date: datetime) -> tuple[str, bytes]:
    """The email as ``(message_id, exact RFC 5322 bytes with CRLF line ends)``.

    yagmail (``yagmail.message.prepare_message``, the function behind
    ``SMTP.prepare_send``) builds the MIME tree: multipart/mixed holding a
    multipart/alternative (text/plain, then multipart/related with the
    text/html) and one part per attachment. Three things are then corrected on
    that tree, because yagmail would otherwise damage the draft:

    * yagmail turns every newline of a string content into ``<br>`` and wraps it
      in a ``<div>``, and puts that same HTML-ish string into the text/plain
      alternative. Both alternative parts are therefore replaced by parts that
      carry exactly ``email.html`` and ``email.text`` (the Markdown draft), built
      the way yagmail builds its own (``MIMEText`` in UTF-8).
    * yagmail writes From as ``"addr" <addr>`` when there is no display name and
      escapes quotes in a name before ``formataddr`` escapes them again; From is
      rewritten with ``formataddr`` alone (a Chinese name is RFC 2047 encoded).
    * yagmail marks only ``application/*`` files as attachments; image and text
      files get an explicit ``Content-Disposition: attachment`` so that clients
      do not show them inline in the body, and text files a ``charset=utf-8``
      (without it a Chinese review.md opens as mojibake).

    ``prettify_html=False`` because yagmail would otherwise import premailer,
    which is not a dependency. The tree is serialised here instead of with
    yagmail's ``as_string()``, which disables header folding (a long Chinese
    subject would become one over-long encoded word) and uses bare LF.
    """
    missing = [str(p) for p in email.attachments if not Path(p).is_file()]
    if missing:
        raise FileNotFoundError(f"attachment not found: {missing[0]}")
    message_id = _message_id(email, sender)
    addresses: dict = {"recipients": list(email.to)}
    if email.to:
        addresses["To"] = ", ".join(email.to)
    msg = prepare_message(
        sender, sender_name or sender, addresses, email.subject,
        contents=[email.html],
        attachments=[str(p) for p in email.attachments] or None,
        headers={
            "Date": format_datetime(date if date.tzinfo else date.astimezone()),
            "X-Yuebao-Month": email.month,
            "X-Yuebao-Scope": email.scope,
        },
        encoding="utf-8",
        prettify_html=False,
        message_id=message_id,
    )
    msg.replace_header("From", formataddr((sender_name, sender)) if sender_name else sender)
    if not email.to:
        msg.replace_header("To", "undisclosed-recipients:;")

    alternative, *attached = msg.get_payload()
    related = alternative.get_payload()[1]
    alternative.get_payload()[0] = MIMEText(email.text, "plain", "utf-8")
    related.get_payload()[0] = MIMEText(email.html, "html", "utf-8")
    for part, path in zip(attached, email.attachments, strict=True):
        if part.get("Content-Disposition") is None:
            part.add_header("Content-Disposition", "attachment", filename=Path(path).name)
        if part.get_content_maintype() == "text" and part.get_param("charset") is None:
            part.set_param("charset", "utf-8")  # our files are UTF-8; say so, or it is ASCII
    return message_id, msg.as_bytes(policy=_WIRE)


# --------------------------------------------------------------------------- secrets


def smtp_password(smtp: Smtp) -> str:
    """The SMTP password, from the named environment variable or Prefect Secret block.

    The environment variable wins when it is set; the block is the fallback. A
    missing secret is a configuration error naming where it was looked for; the
    value itself never appears in any message.
    """
    if smtp.password_env:
        value = os.environ.get(smtp.password_env)
        if value:
            return value
        if not smtp.password_block:
            raise UsageError(
                f"delivery.smtp.password_env: the environment variable {smtp.password_env} "
                f"is not set (it should hold the SMTP password of {smtp.user})"
            )
    if smtp.password_block:
        return _password_from_block(smtp.password_block)
    raise UsageError(
        "delivery.smtp: set password_env (an environment variable's name) or "
        "password_block (a Prefect Secret block's name) for the SMTP password"
    )


def _password_from_block(name: str) -> str:
    """The value of a Prefect Secret block.

    ``Secret.get()`` JSON-decodes string values, so a password such as
    ``123456`` or ``true`` would come back as a number or a boolean; the raw
    stored string is used in that case.
    """
    try:
        from prefect.blocks.system import Secret

        block = Secret.load(name, _sync=True)
        value = block.get()
        if not isinstance(value, str):
            raw = getattr(getattr(block, "value", None), "get_secret_value", lambda: None)()
            value = raw if isinstance(raw, str) else value
    except Exception as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        raise UsageError(
            f"delivery.smtp.password_block: cannot load the Prefect Secret block "
            f"{name!r} ({reason})"
        ) from None
    if not isinstance(value, str) or not value:
        raise UsageError(
            f"delivery.smtp.password_block: the Prefect Secret block {name!r} "
            f"does not hold a non-empty text value"
        )
    return value


# --------------------------------------------------------------------------- ledger


def _recipient_key(to: Sequence[str]) -> frozenset[str]:
    return frozenset(address.strip().lower() for address in to)


class SendLedger:
    """The append-only record of send attempts, one JSON object per line.

    Each attempt writes ``sending`` before the message is handed to the server
    and ``sent`` or ``failed`` after. A ``sending`` with nothing after it means
    the process died (or the connection dropped) in between, so nobody knows
    whether the message went out. Lines that do not parse (a write cut short by
    a crash) are ignored.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.records: list[dict] = []
        self._starts_new_line = True
        if self.path.exists():
            data = self.path.read_bytes()
            self._starts_new_line = not data or data.endswith(b"\n")
            for line in data.splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict):
                    self.records.append(record)

    def history(self, email: OutgoingEmail) -> list[dict]:
        key = _recipient_key(email.to)
        return [
            r for r in self.records
            if r.get("month") == email.month and r.get("scope") == email.scope
            and _recipient_key(r.get("to") or ()) == key
            and r.get("status") in ("sending", SENT, FAILED)
        ]

    def append(self, email: OutgoingEmail, message_id: str | None, status: str,
               detail: str = "") -> None:
        record = {
            "month": email.month, "scope": email.scope, "to": list(email.to),
            "message_id": message_id, "status": status,
            "at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "detail": detail,
        }
        line = json.dumps(record, ensure_ascii=False) + "\n"
        if not self._starts_new_line:
            line = "\n" + line
        data = line.encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            while data:
                data = data[os.write(fd, data):]
            os.fsync(fd)
        finally:
            os.close(fd)
        self._starts_new_line = True
        self.records.append(record)


# --------------------------------------------------------------------------- delivery


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


def _tls_context(smtp: Smtp) -> ssl.SSLContext:
    """System CAs, plus ``ca_file`` for a company's own CA; verification always on."""
    context = ssl.create_default_context()
    if smtp.ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(smtp.ca_file))
        except OSError as error:  # ssl.SSLError is an OSError
            reason = getattr(error, "strerror", None) or getattr(error, "reason", None) or error
            raise UsageError(
                f"delivery.smtp.ca_file: cannot use {smtp.ca_file} as a CA bundle ({reason})"
            ) from None
    return context


def _clean(text: object, password: str | None) -> str:
    """One line of text for a result or the ledger, with the password cut out if present."""
    line = " ".join(str(text).split())
    if password:
        line = line.replace(password, "***")
    return line


def _server_said(error: smtplib.SMTPResponseException) -> str:
    message = error.smtp_error
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    return f"{error.smtp_code} {message}"


def _connection_problem(error: Exception, smtp: Smtp) -> str:
    """Why login failed, in words an operator can act on (no traceback)."""
    where = f"{smtp.host}:{smtp.port} ({smtp.security})"
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return (f"SMTP login as {smtp.user} at {where} was refused: {_server_said(error)}; "
                f"check the user and the password")
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return f"SMTP server {where} does not offer what is needed: {error}"
    if isinstance(error, ssl.SSLCertVerificationError):
        return (f"the TLS certificate of {where} is not trusted ({error.verify_message}); "
                f"if the server uses a company CA, set delivery.smtp.ca_file")
    if isinstance(error, ssl.SSLError):
        return (f"TLS with {where} failed ({error.reason or error}); check that "
                f"security matches the port (ssl: usually 465, starttls: usually 587)")
    if isinstance(error, smtplib.SMTPResponseException):
        return f"SMTP server {where} refused the session: {_server_said(error)}"
    if isinstance(error, TimeoutError) or "timed out" in str(error):
        return (f"no answer from SMTP server {where} within {smtp.timeout_seconds:g} s; "
                f"check the host, the port and that security matches the port")
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return f"SMTP server {where} closed the connection ({error})"
    reason = getattr(error, "strerror", None) or error
    return f"cannot connect to SMTP server {where}: {reason}"


@dataclass
class _Pending:
    index: int
    email: OutgoingEmail
    message_id: str
    data: bytes
    path: Path


class _Sender:
    """One yagmail connection for the whole batch."""

    def __init__(self, smtp: Smtp, password: str, envelope_from: str, context: ssl.SSLContext):
        self.smtp = smtp
        self.password = password
        self.envelope_from = envelope_from
        self.context = context
        self.client: yagmail.SMTP | None = None

    def open(self) -> None:
        """Connect, secure the connection and log in, through yagmail.

        The password is always passed explicitly, so yagmail never looks in the
        keyring or prompts. The user is given as ``{user: user}`` because yagmail
        appends ``@gmail.com`` to a plain string user without ``@`` (a company
        server's login name such as ``reports``).
        """
        context = self.context
        implicit = self.smtp.security == "ssl"
        connection_options: dict = {"timeout": self.smtp.timeout_seconds}
        if implicit:
            connection_options["context"] = context
        self.client = yagmail.SMTP(
            user={self.smtp.user: self.smtp.user},
            password=self.password,
            host=self.smtp.host,
            port=self.smtp.port,
            smtp_ssl=implicit,
            smtp_starttls=False if implicit else {"context": context},
            soft_email_validation=False,
            **connection_options,
        )
        self.client.login()

    def send(self, data: bytes, to: Sequence[str]) -> dict:
        """Hand the prepared bytes to the server unchanged.

        ``yagmail.SMTP.send()`` is not used because it prepares the message again,
        and every preparation draws new random MIME boundaries: what was sent
        would then differ from the archived ``.eml``. It would also retry with
        sleeps and swallow the failure into ``unsent``. yagmail's own smtplib
        connection is used with the exact bytes instead.
        """
        assert self.client is not None
        return self.client.smtp.sendmail(self.envelope_from, list(to), data)

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(OSError):
                self.client.close()


def deliver(emails: Sequence[OutgoingEmail], delivery: Delivery, *, outbox_dir: Path,
            ledger_path: Path, resend: bool = False, now: datetime | None = None,
            password: str | None = None) -> list[DeliveryResult]:
    """Deliver each email once; one result per email, in the order given.

    ``outbox`` writes each message to ``outbox_dir`` (rewritten on every run).
    ``smtp`` consults the ledger first: an email already ``sent`` to the same
    recipients for the same month and scope is skipped, one whose last attempt
    ended at ``sending`` is reported as failed without sending (it may have gone
    out), and one that ``failed`` before is tried again; ``resend`` sends in
    every case. Each message is archived as its ``.eml`` before it is sent; a
    skipped one keeps the archive of what was sent. An error sending one email
    fails that email only; a connection or login error fails the rest of the
    batch. Only configuration errors (missing password, unreadable ``ca_file``,
    no sender address) raise, as :class:`UsageError`, before anything is sent.
    """
    now = now or datetime.now().astimezone()
    outbox_dir = Path(outbox_dir)
    by_smtp = delivery.method == "smtp"
    smtp = delivery.smtp
    if by_smtp and smtp is None:
        raise UsageError("delivery.method is 'smtp' but [delivery.smtp] is missing")
    sender, sender_name = _sender(delivery)
    ledger = SendLedger(ledger_path) if by_smtp else None

    results: list[DeliveryResult | None] = [None] * len(emails)
    to_build = []
    for index, email in enumerate(emails):
        if ledger is not None and email.to and not resend:
            results[index] = _ledger_verdict(ledger, email, eml_path(outbox_dir, email))
        if results[index] is None:
            to_build.append(index)

    connection = None
    if by_smtp and any(emails[index].to for index in to_build):
        assert smtp is not None
        connection = _Sender(smtp, password if password is not None else smtp_password(smtp),
                             sender, _tls_context(smtp))

    pending: list[_Pending] = []
    for index in to_build:
        email = emails[index]
        path = eml_path(outbox_dir, email)
        try:
            message_id, data = build_message(email, sender=sender, sender_name=sender_name,
                                             date=now)
            write_bytes(path, data)
        except OSError as error:
            results[index] = _result(email, FAILED, None, None,
                                     f"could not prepare the email: {_clean(error, None)}")
            continue
        if not email.to:
            results[index] = _result(email, NO_RECIPIENTS, path, message_id,
                                     "no recipients configured; written to the outbox only")
        elif connection is None:
            results[index] = _result(email, WRITTEN, path, message_id)
        else:
            pending.append(_Pending(index, email, message_id, data, path))

    if connection is not None and pending:
        assert ledger is not None
        for index, result in _send_all(pending, connection, ledger):
            results[index] = result

    final = [result for result in results if result is not None]
    for item in final:
        level = logging.WARNING if item.status == FAILED else logging.INFO
        log.log(level, "%s %s -> %s: %s %s", item.month, item.scope, ", ".join(item.to) or "-",
                item.status, item.detail)
    return final


def _result(email: OutgoingEmail, status: str, path: Path | None, message_id: str | None,
            detail: str = "") -> DeliveryResult:
    return DeliveryResult(email.month, email.scope, tuple(email.to), status, path, message_id,
                          detail)


def _ledger_verdict(ledger: SendLedger, email: OutgoingEmail,
                    path: Path) -> DeliveryResult | None:
    """The result when the ledger forbids sending, or None when the email may be sent."""
    history = ledger.history(email)
    archived = path if path.exists() else None
    sent = [record for record in history if record.get("status") == SENT]
    if sent:
        return _result(email, SKIPPED, archived, sent[-1].get("message_id"),
                       f"already sent at {sent[-1].get('at')}; use --resend to send it again")
    if history and history[-1].get("status") == "sending":
        return _result(
            email, FAILED, archived, history[-1].get("message_id"),
            f"a send started at {history[-1].get('at')} never recorded its outcome, so it may "
            f"have been delivered; check with the recipients, then use --resend to send it again")
    return None


def _send_all(pending: list[_Pending], connection: _Sender,
              ledger: SendLedger) -> list[tuple[int, DeliveryResult]]:
    """Send over one connection, recording each attempt in the ledger."""
    password = connection.password
    done: list[tuple[int, DeliveryResult]] = []

    def record(item: _Pending, status: str, detail: str = "", *,
               outcome_known: bool = True) -> None:
        if outcome_known:
            ledger.append(item.email, item.message_id, status, detail)
        done.append((item.index, _result(item.email, status, item.path, item.message_id, detail)))

    try:
        try:
            connection.open()
        except OSError as error:
            detail = _clean(_connection_problem(error, connection.smtp), password)
            for item in pending:
                record(item, FAILED, detail)
            return done
        for position, item in enumerate(pending):
            ledger.append(item.email, item.message_id, "sending")
            try:
                refused = connection.send(item.data, item.email.to)
            except smtplib.SMTPRecipientsRefused as error:
                record(item, FAILED, _clean(
                    f"the server refused every recipient ({_replies(error.recipients)})",
                    password))
            except smtplib.SMTPSenderRefused as error:
                record(item, FAILED, _clean(
                    f"the server refused the sender {connection.envelope_from}: "
                    f"{_server_said(error)}", password))
            except smtplib.SMTPDataError as error:
                record(item, FAILED, _clean(
                    f"the server refused the message: {_server_said(error)}", password))
            except OSError as error:
                # Covers a dropped connection and timeouts: the server may or may
                # not have accepted the message, so "sending" stays the last record.
                record(item, FAILED, _clean(
                    f"the connection failed while sending ({error or type(error).__name__}), "
                    f"so it may or may not have been delivered; check with the recipients, "
                    f"then use --resend to send it again", password), outcome_known=False)
                for rest in pending[position + 1:]:
                    record(rest, FAILED, "not attempted: the SMTP connection was lost while "
                           "sending an earlier email")
                break
            else:
                detail = ""
                if refused:
                    detail = _clean(
                        f"sent, but the server refused some recipients ({_replies(refused)})",
                        password)
                record(item, SENT, detail)
    finally:
        connection.close()
    return done


def _replies(replies: dict) -> str:
    parts = []
    for address, (code, message) in replies.items():
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        parts.append(f"{address}: {code} {message}")
    return "; ".join(parts)


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
        ))
    return emails


@task(name="deliver", cache_policy=NO_CACHE)
def deliver_task(rendered: list[Rendered], month_dir: Path, config: Config, month: str,
                 resend: bool = False) -> list[DeliveryResult]:
    """Prefect task: email every rendered review, at most once per recipient set."""
    return deliver(compose(rendered, month_dir, config, month), config.delivery,
                   outbox_dir=config.resolve(config.delivery.outbox_dir),
                   ledger_path=config.resolve(config.output_dir) / "send_ledger.jsonl",
                   resend=resend)
