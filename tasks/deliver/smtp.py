"""The SMTP side: the connection, the dialogue of one email, and retries over a batch.

``smtplib.SMTP.sendmail`` is not used: it merges every reply into one exception
or one dict and hides at which stage a failure happened, yet that stage is what
decides whether the email may have been delivered. The dialogue is driven here
command by command instead:

* ``MAIL FROM`` and each ``RCPT TO`` are answered per recipient: 2xx accepted,
  4xx temporary (greylisting, a full queue), 5xx permanent.
* ``DATA`` must be answered 354; only then is ``sending`` written to the ledger
  for the accepted recipients and the body transmitted.
* The reply to the body decides: 2xx sent, 4xx temporary, 5xx failed. Losing the
  connection or timing out *after* the body went out is the one case where the
  server may have taken the message without saying so: ``uncertain``. Any loss
  before that is temporary, because nothing can have been delivered.
* 421 at any stage means the server is closing the connection: temporary, and
  the next attempt (or the next email) opens a new one.

Temporary failures are retried with tenacity, exponential backoff, bounded by a
number of attempts and a total time; each attempt sends only to the recipients
still temporary, so an accepted recipient is never sent the email twice.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import re
import smtplib
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import yagmail  # type: ignore[import-untyped]
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_result,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
)

from yuebao.config import Smtp
from yuebao.errors import UsageError, one_line
from yuebao.tasks.deliver.ledger import LedgerEntry, LedgerStatus, SendLedger

log = logging.getLogger(__name__)

_LEADING_DOT = re.compile(rb"(?m)^\.")


class Outcome(enum.StrEnum):
    SENT = "sent"
    TEMPORARY = "temporary"  # not delivered; worth another attempt
    FAILED = "failed"  # refused for good, or still temporary when the retries ran out
    UNCERTAIN = "uncertain"  # the body went out and the reply was lost


@dataclass(frozen=True)
class Reply:
    """What happened to one recipient in one attempt, in the server's words."""

    outcome: Outcome
    detail: str


@dataclass(frozen=True)
class Job:
    """One email to send: its exact bytes, its identity, and who still needs it."""

    month: str
    scope: str
    content_hash: str
    message_id: str
    data: bytes
    recipients: tuple[str, ...]


class SessionError(Exception):
    """The connection could not be opened, secured or logged in to."""

    def __init__(self, detail: str, *, temporary: bool):
        super().__init__(detail)
        self.detail = detail
        self.temporary = temporary


def tls_context(smtp: Smtp) -> ssl.SSLContext:
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


def clean(text: object, password: str | None) -> str:
    """One line of text for a result, a log line or the ledger, without the password."""
    line = " ".join(str(text).split())
    if password:
        line = line.replace(password, "***")
    return line


# --------------------------------------------------------------------------- connection


class Connection:
    """One SMTP session, opened and logged in to through yagmail, reopened on demand."""

    def __init__(self, smtp: Smtp, password: str, context: ssl.SSLContext):
        self.smtp = smtp
        self.password = password
        self.context = context
        self._agent: yagmail.SMTP | None = None

    @property
    def client(self) -> smtplib.SMTP | None:
        """The live smtplib connection, or None once it is closed (by either side)."""
        client = self._agent.smtp if self._agent is not None else None
        return client if client is not None and client.sock is not None else None

    def ensure(self) -> smtplib.SMTP:
        """The live connection, opening (connect, TLS, login) a new one if needed.

        The password is always passed explicitly, so yagmail never looks in the
        keyring or prompts. The user is given as ``{user: user}`` because yagmail
        appends ``@gmail.com`` to a plain string user without ``@`` (a company
        server's login name such as ``reports``).
        """
        client = self.client
        if client is not None:
            return client
        self.drop()
        implicit = self.smtp.security == "ssl"
        options: dict[str, object] = {"timeout": self.smtp.timeout_seconds}
        if implicit:
            options["context"] = self.context
        try:
            self._agent = yagmail.SMTP(
                user={self.smtp.user: self.smtp.user},
                password=self.password,
                host=self.smtp.host,
                port=self.smtp.port,
                smtp_ssl=implicit,
                smtp_starttls=False if implicit else {"context": self.context},
                soft_email_validation=False,
                **options,
            )
            self._agent.login()
        except OSError as error:  # smtplib's and ssl's errors are OSErrors too
            self.drop()
            raise SessionError(clean(connection_problem(error, self.smtp), self.password),
                               temporary=_temporary(error)) from None
        client = self.client
        if client is None:  # logged in, yet closed: the server hung up right after AUTH
            raise SessionError(f"SMTP server {_where(self.smtp)} closed the connection "
                               f"right after login", temporary=True)
        return client

    def drop(self) -> None:
        """Close the socket without a word, as after a 421 or a lost connection."""
        if self._agent is not None:
            self._agent.is_closed = True  # or yagmail's __del__ sends QUIT later
            if self._agent.smtp is not None:
                with contextlib.suppress(OSError):
                    self._agent.smtp.close()
        self._agent = None

    def close(self) -> None:
        """Say QUIT when the session is still alive, then close."""
        client = self.client
        if client is not None:
            with contextlib.suppress(OSError):
                client.quit()
        self.drop()


def _where(smtp: Smtp) -> str:
    return f"{smtp.host}:{smtp.port} ({smtp.security})"


def _temporary(error: OSError) -> bool:
    """Whether a failure to open the session may go away by itself."""
    if isinstance(error, smtplib.SMTPResponseException):  # greeting, STARTTLS, AUTH
        return 400 <= error.smtp_code < 500
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(error, smtplib.SMTPException):  # no STARTTLS, no usable AUTH mechanism
        return False
    if isinstance(error, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return True  # the server hung up during the handshake
    # An untrusted certificate, or TLS against a plain port: a configuration problem.
    # Everything else (refused, reset, unreachable, timed out) may pass.
    return not isinstance(error, ssl.SSLError)


def _server_said(error: smtplib.SMTPResponseException) -> str:
    return _said(error.smtp_code, error.smtp_error)


def connection_problem(error: Exception, smtp: Smtp) -> str:
    """Why the session could not be opened, in words an operator can act on."""
    where = _where(smtp)
    if isinstance(error, smtplib.SMTPAuthenticationError):
        if 400 <= error.smtp_code < 500:
            return (f"SMTP login as {smtp.user} at {where} failed for now: "
                    f"{_server_said(error)}")
        return (f"SMTP login as {smtp.user} at {where} was refused: {_server_said(error)}; "
                f"login refused, check the user and the password")
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


# --------------------------------------------------------------------------- dialogue


class _Kind(enum.Enum):
    OK = "2xx"
    TEMPORARY = "4xx"
    PERMANENT = "5xx"
    UNEXPECTED = "other"


def _kind(code: int) -> _Kind:
    if 200 <= code < 300:
        return _Kind.OK
    if 400 <= code < 500:
        return _Kind.TEMPORARY
    if 500 <= code < 600:
        return _Kind.PERMANENT
    return _Kind.UNEXPECTED  # a garbled reply (smtplib gives -1)


def _said(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return " ".join(f"{code} {text}".split())


def _broken(stage: str, error: OSError, client: smtplib.SMTP) -> str:
    """Why the dialogue broke off at ``stage``: no answer in time, or a lost connection."""
    reason = one_line(error)
    if isinstance(error, TimeoutError) or "timed out" in reason:
        return f"the server did not answer within {client.timeout:g} s {stage}"
    return f"the connection was lost {stage} ({reason})"


def dot_stuffed(data: bytes) -> bytes:
    """The body as DATA carries it: leading dots doubled, ended by CRLF . CRLF (RFC 5321)."""
    body = _LEADING_DOT.sub(b"..", data)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body + b".\r\n"


def transact(client: smtplib.SMTP, envelope_from: str, recipients: Sequence[str],
             data: bytes, before_body: Callable[[list[str]], None]) -> dict[str, Reply]:
    """One mail transaction for ``recipients``; a :class:`Reply` for each of them.

    ``before_body`` is called with the accepted recipients once the server has
    said 354, immediately before the body is transmitted; from then on a lost
    reply is uncertain. The connection is closed here whenever the server closed
    it or it can no longer be trusted (421, lost, garbled), so the caller can see
    from ``client.sock`` whether to reconnect.
    """
    replies: dict[str, Reply] = {}

    def rest(outcome: Outcome, detail: str, who: Sequence[str]) -> dict[str, Reply]:
        for address in who:
            replies.setdefault(address, Reply(outcome, detail))
        return replies

    options = [f"SIZE={len(data)}"] if client.does_esmtp and client.has_extn("size") else []
    if not all(a.isascii() for a in (envelope_from, *recipients)):
        # A Chinese mailbox name needs SMTPUTF8 (RFC 6531); without it smtplib
        # cannot even write the command.
        if client.does_esmtp and client.has_extn("smtputf8"):
            options.append("SMTPUTF8")
        elif not envelope_from.isascii():
            return rest(Outcome.FAILED, f"the sender {envelope_from} is not an ASCII address "
                        f"and the server does not offer SMTPUTF8", recipients)
        else:
            for address in recipients:
                if not address.isascii():
                    replies[address] = Reply(Outcome.FAILED, "not an ASCII address, and the "
                                             "server does not offer SMTPUTF8")
            recipients = [a for a in recipients if a.isascii()]
            if not recipients:
                return replies
    try:
        code, message = client.mail(envelope_from, options)
    except OSError as error:
        client.close()
        return rest(Outcome.TEMPORARY, _broken("at MAIL FROM", error, client), recipients)
    kind = _kind(code)
    if kind is not _Kind.OK:
        _end(client, code)
        outcome = Outcome.FAILED if kind is _Kind.PERMANENT else Outcome.TEMPORARY
        return rest(outcome, f"{_said(code, message)} (at MAIL FROM {envelope_from})",
                    recipients)

    accepted: list[str] = []
    for position, address in enumerate(recipients):
        try:
            code, message = client.rcpt(address)
        except OSError as error:
            client.close()
            return rest(Outcome.TEMPORARY, _broken(f"at RCPT TO {address}", error, client),
                        [*accepted, *recipients[position:]])
        kind = _kind(code)
        if kind is _Kind.OK:
            accepted.append(address)
        elif kind is _Kind.PERMANENT:
            replies[address] = Reply(Outcome.FAILED, f"{_said(code, message)} (at RCPT TO)")
        elif code == 421 or kind is _Kind.UNEXPECTED:
            client.close()
            detail = f"{_said(code, message)} (at RCPT TO {address})"
            return rest(Outcome.TEMPORARY, detail, [*accepted, *recipients[position:]])
        else:
            replies[address] = Reply(Outcome.TEMPORARY, f"{_said(code, message)} (at RCPT TO)")
    if not accepted:
        _end(client, 250)
        return replies

    try:
        client.putcmd("data")
        code, message = client.getreply()
    except OSError as error:
        client.close()
        return rest(Outcome.TEMPORARY, _broken("at DATA", error, client), accepted)
    if code != 354:
        _end(client, code)
        outcome = Outcome.FAILED if _kind(code) is _Kind.PERMANENT else Outcome.TEMPORARY
        return rest(outcome, f"{_said(code, message)} (at DATA)", accepted)

    before_body(accepted)
    try:
        client.send(dot_stuffed(data))
    except OSError as error:
        # The end-of-data dot is the last thing written, so a failed write means
        # the server never had a complete message: nothing was delivered.
        client.close()
        return rest(Outcome.TEMPORARY, _broken("while the message was being transmitted, "
                                               "before it was complete", error, client), accepted)
    try:
        code, message = client.getreply()
    except OSError as error:
        client.close()
        lost = _broken("after the message was transmitted", error, client)
        return rest(Outcome.UNCERTAIN, f"{lost}; it may have been delivered", accepted)
    kind = _kind(code)
    if kind is _Kind.OK:
        return rest(Outcome.SENT, _said(code, message), accepted)
    if kind is _Kind.UNEXPECTED:
        client.close()
        return rest(Outcome.UNCERTAIN, f"the message was transmitted but the server's reply "
                    f"was not understood ({_said(code, message)}); it may have been "
                    f"delivered", accepted)
    if code == 421:
        client.close()
    outcome = Outcome.FAILED if kind is _Kind.PERMANENT else Outcome.TEMPORARY
    return rest(outcome, f"{_said(code, message)} (after the message)", accepted)


def _end(client: smtplib.SMTP, code: int) -> None:
    """Leave the transaction: close after a 421 or a garbled reply, otherwise RSET."""
    if code == 421 or _kind(code) is _Kind.UNEXPECTED:
        client.close()
        return
    try:
        client.rset()
    except OSError:
        client.close()


# --------------------------------------------------------------------------- retries


@dataclass
class _Batch:
    """The state of a batch across attempts: what is settled and what is still owed."""

    jobs: Sequence[Job]
    smtp: Smtp
    password: str
    envelope_from: str
    context: ssl.SSLContext
    ledger: SendLedger
    owed: list[list[str]] = field(default_factory=list)
    final: list[dict[str, Reply]] = field(default_factory=list)
    last: list[dict[str, Reply]] = field(default_factory=list)
    attempts: int = 0

    def __post_init__(self) -> None:
        self.owed = [list(job.recipients) for job in self.jobs]
        self.final = [{} for _ in self.jobs]
        self.last = [{} for _ in self.jobs]

    def still_owed(self) -> int:
        return sum(len(owed) for owed in self.owed)

    def attempt(self) -> int:
        """One pass over every email still owed, over one connection (reopened if closed).

        Returns how many recipients are still temporary, which is what tenacity
        retries on.
        """
        self.attempts += 1
        connection = Connection(self.smtp, self.password, self.context)
        try:
            self._pass(connection)
        except BaseException:
            # Never QUIT in the middle of a transaction: in DATA it would be body text.
            connection.drop()
            raise
        connection.close()
        return self.still_owed()

    def _pass(self, connection: Connection) -> None:
        for index, job in enumerate(self.jobs):
            if not self.owed[index]:
                continue
            try:
                client = connection.ensure()
            except SessionError as error:
                self._session_failed(error, index)
                return
            handed: list[str] = []

            def before_body(accepted: list[str], job: Job = job,
                            handed: list[str] = handed) -> None:
                handed.extend(accepted)
                self._record(job, {a: (LedgerStatus.SENDING, "") for a in accepted})

            replies = transact(client, self.envelope_from, list(self.owed[index]), job.data,
                               before_body)
            self._settle(index, replies, set(handed))

    def _settle(self, index: int, replies: dict[str, Reply], handed: set[str]) -> None:
        job = self.jobs[index]
        lines: dict[str, tuple[LedgerStatus, str]] = {}
        for address in [a for a in job.recipients if a in replies]:  # in the email's order
            raw = replies[address]
            reply = Reply(raw.outcome, clean(raw.detail, self.password))
            if reply.outcome is Outcome.TEMPORARY:
                self.last[index][address] = reply
                if address in handed:  # its "sending" must not stay the last word
                    lines[address] = (LedgerStatus.FAILED, f"{reply.detail} (temporary)")
                continue
            if reply.outcome is Outcome.SENT and self.attempts > 1:
                reply = Reply(reply.outcome, f"{reply.detail} (on attempt {self.attempts})")
            self.final[index][address] = reply
            self.owed[index].remove(address)
            lines[address] = (LedgerStatus(reply.outcome.value), reply.detail)
        self._record(job, lines)

    def _session_failed(self, error: SessionError, start: int) -> None:
        """No session: the rest of this pass is temporary, or everything fails for good."""
        if error.temporary:
            for index in range(start, len(self.jobs)):
                for address in self.owed[index]:
                    self.last[index][address] = Reply(Outcome.TEMPORARY, error.detail)
            return
        for index, job in enumerate(self.jobs):
            for address in self.owed[index]:
                self.final[index][address] = Reply(Outcome.FAILED, error.detail)
            self._record(job, {a: (LedgerStatus.FAILED, error.detail) for a in self.owed[index]})
            self.owed[index] = []

    def give_up(self) -> None:
        """What is still temporary after the last attempt has failed, with the last words."""
        for index, job in enumerate(self.jobs):
            for address in self.owed[index]:
                last = self.last[index][address]
                detail = f"{last.detail}; gave up after {self.attempts} attempts"
                self.final[index][address] = Reply(Outcome.FAILED, detail)
            self._record(job, {a: (LedgerStatus.FAILED, self.final[index][a].detail)
                               for a in self.owed[index]})
            self.owed[index] = []

    def _record(self, job: Job, lines: dict[str, tuple[LedgerStatus, str]]) -> None:
        entries: list[LedgerEntry] = [
            self.ledger.stamp(job.month, job.scope, address, content_hash=job.content_hash,
                              message_id=job.message_id, status=status, detail=detail)
            for address, (status, detail) in lines.items()
        ]
        self.ledger.append(entries)

    def before_sleep(self, state: RetryCallState) -> None:
        wait = state.next_action.sleep if state.next_action else 0
        waiting = [f"{job.scope} → {address}: {self.last[index][address].detail}"
                   for index, job in enumerate(self.jobs) for address in self.owed[index]]
        log.warning("attempt %d of at most %d left %d recipient(s) temporarily undelivered "
                    "(%s); trying again in %.1f s", self.attempts, self.smtp.retry_attempts,
                    len(waiting), "; ".join(waiting), wait)


def send_batch(jobs: Sequence[Job], *, smtp: Smtp, password: str, envelope_from: str,
               context: ssl.SSLContext, ledger: SendLedger) -> list[dict[str, Reply]]:
    """Send every job, retrying what is temporary; the final reply per job and recipient.

    Each reply is ``SENT``, ``FAILED`` or ``UNCERTAIN``, and the ledger holds the
    same outcome for each. Attempts are counted for the whole batch: every
    recipient still temporary takes part in every attempt, over a new connection
    for each attempt (the server may have closed an idle one during the wait).
    """
    batch = _Batch(jobs, smtp, password, envelope_from, context, ledger)
    Retrying(
        stop=stop_after_attempt(smtp.retry_attempts) | stop_after_delay(smtp.retry_total_seconds),
        wait=wait_exponential(multiplier=smtp.retry_initial_seconds, max=smtp.retry_max_seconds),
        retry=retry_if_result(bool),
        retry_error_callback=lambda state: None,  # give_up() reports what is left
        before_sleep=batch.before_sleep,
        reraise=True,
    )(batch.attempt)
    batch.give_up()
    return batch.final
