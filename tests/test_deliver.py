"""Delivery against a real SMTP server (aiosmtpd with TLS and AUTH, see conftest.py).

The fault matrix drives the server's handler to answer as real servers do
(421, 451, 550, 554, a dropped connection, silence) and checks, for each fault:
the result per recipient, the exact ledger lines, what a second run on the same
ledger does, and what the server actually received.
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
import multiprocessing
import re
import socket
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from yuebao.config import Delivery, Smtp
from yuebao.errors import UsageError
from yuebao.tasks.deliver import (
    DeliveryResult,
    DeliveryStatus,
    OutgoingEmail,
    RecipientResult,
    SendLedger,
    attachment_name,
    build_message,
    compose,
    content_hash,
    deliver,
    smtp_password,
    summary_rows,
)
from yuebao.tasks.deliver.ledger import LedgerStatus, Verdict
from yuebao.tasks.deliver.smtp import Job, send_batch, tls_context

NOW = datetime(2025, 10, 1, 9, 30, tzinfo=timezone(timedelta(hours=8)))
HTML = (
    '<table style="border-collapse:collapse;font-family:sans-serif">\n'
    '  <tr><th style="text-align:left">指标</th><th>数值</th></tr>\n'
    '  <tr><td>报修及时率</td><td style="color:#c00">92.5%</td></tr>\n'
    "</table>\n<p>{name}本月共受理工单 128 件。</p>\n"
)
TEXT = "# {name} 2025年9月工作总结\n\n- 工单：128 件\n- 报修及时率：92.5%\n\n.以点开头的行\n"
# Retries in tests: three attempts, waits of 0.05 s then 0.1 s.
FAST = {"retry_attempts": 3, "retry_initial_seconds": 0.05, "retry_max_seconds": 0.1,
        "retry_total_seconds": 30}
GREYLISTED = "451 4.7.1 Greylisted, try again later"
WANG, LI, ZHAO = "wang@example.com", "li@example.com", "zhao@example.com"


def draft(scope: str, name: str, to: tuple[str, ...], attachments: tuple[Path, ...] = (),
          month: str = "2025-09", html: str = HTML) -> OutgoingEmail:
    return OutgoingEmail(
        month=month, scope=scope, to=to,
        subject=f"【月报草稿】{name} 2025年9月工作总结",
        html=html.format(name=name), text=TEXT.format(name=name), attachments=attachments,
    )


@pytest.fixture
def attachments(tmp_path) -> tuple[Path, Path]:
    folder = tmp_path / "out"
    folder.mkdir()
    docx, xlsx = folder / "review.docx", folder / "metrics.xlsx"
    docx.write_bytes(b"PK\x03\x04 pretend docx \x00\xff")
    xlsx.write_bytes(b"PK\x03\x04 pretend xlsx \x01\xfe")
    return docx, xlsx


@pytest.fixture
def batch(attachments) -> list[OutgoingEmail]:
    return [
        draft("jinjiang", "锦江小区", (WANG,), attachments),
        draft("huayuan", "花园小区", (LI, ZHAO)),
        draft("_portfolio", "某某物业", ("director@example.com",)),
    ]


@pytest.fixture(params=["starttls", "ssl"])
def server(request):
    """The same test against STARTTLS and implicit TLS, where the connection type matters."""
    return request.getfixturevalue("smtp_server" if request.param == "starttls"
                                   else "smtps_server")


def send(emails, server, tmp_path, **options) -> list[DeliveryResult]:
    options.setdefault("password", server.password)
    options.setdefault("now", NOW)
    smtp = server.config(**{**FAST, **options.pop("smtp", {})})
    return deliver(emails, Delivery(method="smtp", smtp=smtp), outbox_dir=tmp_path / "outbox",
                   ledger_path=tmp_path / "ledger.jsonl", **options)


def parse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)


def ledger(tmp_path) -> list[dict]:
    path = tmp_path / "ledger.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def events(tmp_path) -> list[tuple[str, str]]:
    """The ledger as (recipient, status) pairs, in file order."""
    return [(r["recipient"], r["status"]) for r in ledger(tmp_path)]


def statuses(results) -> list[str]:
    return [r.status for r in results]


def per_recipient(result: DeliveryResult) -> dict[str, str]:
    return {r.address: r.status for r in result.recipients}


def envelopes(server) -> list[tuple[str, ...]]:
    return [m.rcpt_tos for m in server.messages]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --------------------------------------------------------------------------- SMTP


def test_starttls_delivers_each_draft_to_its_own_recipients(smtp_server, batch, tmp_path):
    results = send(batch, smtp_server, tmp_path)

    assert statuses(results) == ["sent", "sent", "sent"]
    assert all(r.ok and r.detail == "" for r in results)
    assert per_recipient(results[1]) == {LI: "sent", ZHAO: "sent"}
    assert smtp_server.recorder.logins == [(smtp_server.user, True)]  # one connection
    received = {parse(m.data)["X-Yuebao-Scope"]: m for m in smtp_server.messages}
    assert set(received) == {"jinjiang", "huayuan", "_portfolio"}
    for sent, result in zip(batch, results, strict=True):
        got = received[sent.scope]
        assert got.rcpt_tos == sent.to
        assert got.mail_from == smtp_server.user
        message = parse(got.data)
        assert message["Subject"] == sent.subject
        assert message["From"].addresses[0].display_name == "物业管理部"
        assert message["From"].addresses[0].addr_spec == smtp_server.user
        assert [a.addr_spec for a in message["To"].addresses] == list(sent.to)
        assert message["Message-ID"] == result.message_id
        assert message["X-Yuebao-Month"] == "2025-09"
        assert message["Date"].datetime == NOW
        assert message.get_body(("html",)).get_content() == sent.html
        assert message.get_body(("plain",)).get_content() == sent.text
        # What the server got is byte for byte the archived .eml (the handler
        # prepends no Received/X-Peer headers, so nothing needs removing).
        assert result.eml_path == tmp_path / "outbox" / "2025-09" / f"{sent.scope}.eml"
        assert got.data == result.eml_path.read_bytes()


def test_ledger_has_one_line_per_recipient_event(smtp_server, batch, tmp_path):
    results = send(batch[1:2], smtp_server, tmp_path)

    lines = ledger(tmp_path)
    assert [(r["recipient"], r["status"]) for r in lines] == [
        (LI, "sending"), (ZHAO, "sending"), (LI, "sent"), (ZHAO, "sent")]
    for line in lines:
        assert set(line) == {"month", "scope", "recipient", "content_hash", "message_id",
                             "status", "at", "detail"}
        assert (line["month"], line["scope"]) == ("2025-09", "huayuan")
        assert line["content_hash"] == content_hash(batch[1])
        assert line["message_id"] == results[0].message_id
        assert line["at"].endswith("+08:00")  # the configured time zone
    assert lines[2]["detail"] == "250 Message accepted for delivery"  # the server's words


def test_attachments_arrive_by_file_name(smtp_server, batch, attachments, tmp_path):
    send(batch[:1], smtp_server, tmp_path)

    message = parse(smtp_server.messages[0].data)
    files = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert files == {path.name: path.read_bytes() for path in attachments}


def test_implicit_tls_sends(smtps_server, batch, tmp_path):
    results = send(batch[1:2], smtps_server, tmp_path)

    assert statuses(results) == ["sent"]
    assert smtps_server.recorder.logins == [(smtps_server.user, True)]
    assert smtps_server.messages[0].data == results[0].eml_path.read_bytes()


def test_dot_stuffing_delivers_the_exact_bytes(smtp_server, tmp_path):
    data = b"Subject: dots\r\n\r\n.\r\n..two\r\n.three\r\nlast line without CRLF"
    job = Job("2025-09", "dots", "h" * 64, "<id@x>", data, (WANG,))
    smtp = smtp_server.config(**FAST)

    [replies] = send_batch([job], smtp=smtp, password=smtp_server.password,
                           envelope_from=smtp_server.user, context=tls_context(smtp),
                           ledger=SendLedger(tmp_path / "ledger.jsonl"))

    assert replies[WANG].outcome == "sent"
    assert smtp_server.messages[0].data == data + b"\r\n"  # DATA ends every line


# --------------------------------------------------------------------------- fault matrix


def test_1_connection_refused_fails_after_the_retries(server, batch, tmp_path):
    started = time.monotonic()
    results = send(batch, server, tmp_path, smtp={"port": closed_port()})

    assert statuses(results) == ["failed"] * 3
    assert not any(r.ok for r in results)
    for result in results:
        assert result.detail.startswith("cannot connect to SMTP server 127.0.0.1:")
        assert result.detail.endswith("gave up after 3 attempts")
    assert time.monotonic() - started < 5
    assert events(tmp_path) == [(WANG, "failed"), (LI, "failed"), (ZHAO, "failed"),
                                ("director@example.com", "failed")]

    # Nothing went out, so the next run (the server reachable again) sends everything.
    again = send(batch, server, tmp_path)
    assert statuses(again) == ["sent"] * 3
    assert sorted(envelopes(server)) == sorted(e.to for e in batch)


def test_2_a_421_at_mail_is_retried_over_a_new_connection(server, batch, tmp_path):
    server.recorder.fail("MAIL", "421 4.3.2 Service shutting down")

    results = send(batch, server, tmp_path)

    assert statuses(results) == ["sent"] * 3
    assert server.recorder.played == [("MAIL", "421 4.3.2 Service shutting down")]
    # The 421 closed the first connection; the other drafts went over a second one
    # in the same attempt, the first draft over a third one on the retry.
    assert [ok for _, ok in server.recorder.logins] == [True, True, True]
    assert sorted(envelopes(server)) == sorted(e.to for e in batch)  # each exactly once
    assert "on attempt 2" in results[0].recipients[0].detail
    assert [(r, s) for r, s in events(tmp_path) if r == WANG] == [
        (WANG, "sending"), (WANG, "sent")]

    again = send(batch, server, tmp_path)
    assert statuses(again) == ["skipped_already_sent"] * 3
    assert len(server.messages) == 3


def test_2b_a_421_after_the_message_is_retried_over_a_new_connection(server, batch, tmp_path):
    server.recorder.fail("DATA", "421 4.4.2 Connection timed out, closing")

    results = send(batch[:1], server, tmp_path)

    assert statuses(results) == ["sent"]
    assert envelopes(server) == [(WANG,)]
    assert events(tmp_path) == [(WANG, "sending"), (WANG, "failed"), (WANG, "sending"),
                                (WANG, "sent")]
    assert "421 4.4.2" in ledger(tmp_path)[1]["detail"]
    assert "temporary" in ledger(tmp_path)[1]["detail"]


def test_3_a_451_at_rcpt_for_one_recipient_is_retried_for_that_one_only(
        smtp_server, batch, tmp_path):
    smtp_server.recorder.fail("RCPT", GREYLISTED, address=ZHAO)

    results = send(batch[1:2], smtp_server, tmp_path)

    assert statuses(results) == ["sent"]
    assert per_recipient(results[0]) == {LI: "sent", ZHAO: "sent"}
    assert envelopes(smtp_server) == [(LI,), (ZHAO,)]  # each exactly once
    first, second = smtp_server.messages
    assert first.data == second.data == results[0].eml_path.read_bytes()
    assert events(tmp_path) == [(LI, "sending"), (LI, "sent"), (ZHAO, "sending"),
                                (ZHAO, "sent")]

    again = send(batch[1:2], smtp_server, tmp_path)
    assert statuses(again) == ["skipped_already_sent"]
    assert len(smtp_server.messages) == 2


def test_4_a_451_after_the_message_is_retried_and_delivered_once(smtp_server, batch, tmp_path):
    smtp_server.recorder.fail("DATA", "451 4.3.0 Queue full, try again later")

    results = send(batch[1:2], smtp_server, tmp_path)

    assert statuses(results) == ["sent"]
    assert envelopes(smtp_server) == [(LI, ZHAO)]
    assert events(tmp_path) == [
        (LI, "sending"), (ZHAO, "sending"), (LI, "failed"), (ZHAO, "failed"),
        (LI, "sending"), (ZHAO, "sending"), (LI, "sent"), (ZHAO, "sent")]
    assert ledger(tmp_path)[2]["detail"] == (
        "451 4.3.0 Queue full, try again later (after the message) (temporary)")

    again = send(batch[1:2], smtp_server, tmp_path)
    assert statuses(again) == ["skipped_already_sent"]
    assert len(smtp_server.messages) == 1


def test_5_a_550_for_one_recipient_fails_that_one_and_sends_the_other(
        smtp_server, batch, tmp_path):
    refused = f"550 5.1.1 <{ZHAO}>: mailbox unavailable"
    smtp_server.recorder.fail("RCPT", refused, times=None, address=ZHAO)

    results = send(batch[1:2], smtp_server, tmp_path)

    assert statuses(results) == ["failed"]
    assert per_recipient(results[0]) == {LI: "sent", ZHAO: "failed"}
    assert results[0].recipients[1].detail == f"{refused} (at RCPT TO)"
    assert results[0].detail == f"{ZHAO}: {refused} (at RCPT TO)"
    assert smtp_server.recorder.played == [("RCPT", refused)]  # not retried
    assert envelopes(smtp_server) == [(LI,)]
    assert events(tmp_path) == [(LI, "sending"), (LI, "sent"), (ZHAO, "failed")]

    # The next run sends nothing to li, tries zhao again (and is refused again).
    again = send(batch[1:2], smtp_server, tmp_path)

    assert per_recipient(again[0]) == {LI: "skipped_already_sent", ZHAO: "failed"}
    assert smtp_server.recorder.played == [("RCPT", refused)] * 2
    assert envelopes(smtp_server) == [(LI,)]
    assert events(tmp_path)[3:] == [(ZHAO, "failed")]


def test_6_a_554_after_the_message_fails_every_accepted_recipient_at_once(
        smtp_server, batch, tmp_path):
    smtp_server.recorder.fail("DATA", "554 5.7.1 rejected as spam")

    results = send(batch[1:2], smtp_server, tmp_path)

    assert statuses(results) == ["failed"]
    assert per_recipient(results[0]) == {LI: "failed", ZHAO: "failed"}
    assert results[0].detail == "554 5.7.1 rejected as spam (after the message)"
    assert smtp_server.recorder.played == [("DATA", "554 5.7.1 rejected as spam")]
    assert smtp_server.messages == []
    assert events(tmp_path) == [(LI, "sending"), (ZHAO, "sending"), (LI, "failed"),
                                (ZHAO, "failed")]

    again = send(batch[1:2], smtp_server, tmp_path)  # refused, not delivered: try again
    assert statuses(again) == ["sent"]
    assert envelopes(smtp_server) == [(LI, ZHAO)]


def test_7_wrong_password_fails_at_once_and_never_shows_the_password(
        server, batch, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "Not-The-Right-One-!9"
    started = time.monotonic()

    # A retry would wait a minute first: the elapsed time shows there was none.
    results = send(batch, server, tmp_path, password=wrong,
                   smtp={"retry_initial_seconds": 60})

    assert time.monotonic() - started < 10
    assert statuses(results) == ["failed", "failed", "failed"]
    assert "login as reports@example.com" in results[0].detail
    assert "535" in results[0].detail
    assert "check the user and the password" in results[0].detail
    assert "Traceback" not in results[0].detail
    assert server.messages == []
    assert {ok for _, ok in server.recorder.logins} == {False}
    assert events(tmp_path) == [(WANG, "failed"), (LI, "failed"), (ZHAO, "failed"),
                                ("director@example.com", "failed")]
    written = [repr(results), (tmp_path / "ledger.jsonl").read_text("utf-8"), caplog.text,
               repr(summary_rows(results))]
    written += [p.read_text("latin-1") for p in (tmp_path / "outbox").rglob("*.eml")]
    for text in written:
        assert wrong not in text
        assert server.password not in text

    # Nothing went out, so the next run (with the right password) sends all three.
    assert statuses(send(batch, server, tmp_path)) == ["sent", "sent", "sent"]


def test_8_a_connection_dropped_after_the_message_is_uncertain(server, batch, tmp_path):
    server.recorder.drop_after_data()

    results = send(batch[1:2], server, tmp_path)

    assert statuses(results) == ["uncertain"]
    assert not results[0].ok
    assert per_recipient(results[0]) == {LI: "uncertain", ZHAO: "uncertain"}
    assert "may have been delivered" in results[0].detail
    assert envelopes(server) == [(LI, ZHAO)]  # the server did get it
    assert server.recorder.played == [("DATA", "drop")]  # and it was not sent again
    assert events(tmp_path) == [(LI, "sending"), (ZHAO, "sending"), (LI, "uncertain"),
                                (ZHAO, "uncertain")]

    again = send(batch[1:2], server, tmp_path, now=NOW + timedelta(days=1))

    assert statuses(again) == ["uncertain"]
    assert "handed to the server at" in again[0].detail
    assert "check with the recipient, then use --resend" in again[0].detail
    assert len(server.messages) == 1
    assert len(ledger(tmp_path)) == 4

    forced = send(batch[1:2], server, tmp_path, resend=True, now=NOW + timedelta(days=1))

    assert statuses(forced) == ["sent"]
    assert forced[0].message_id == results[0].message_id
    first, copy = (parse(m.data) for m in server.messages)
    assert first["Message-ID"] == copy["Message-ID"] == results[0].message_id
    assert events(tmp_path)[4:] == [(LI, "sending"), (ZHAO, "sending"), (LI, "sent"),
                                    (ZHAO, "sent")]


def test_9_mixed_replies_in_one_email(smtp_server, tmp_path):
    a, b, c = "a@example.com", "b@example.com", "c@example.com"
    refused = f"550 5.1.1 <{b}>: mailbox unavailable"
    smtp_server.recorder.fail("RCPT", refused, times=None, address=b)
    smtp_server.recorder.fail("RCPT", GREYLISTED, address=c)
    mixed = draft("huayuan", "花园小区", (a, b, c))

    [result] = send([mixed], smtp_server, tmp_path)

    assert result.status == "failed"
    assert per_recipient(result) == {a: "sent", b: "failed", c: "sent"}
    assert result.detail == f"{b}: {refused} (at RCPT TO)"
    assert envelopes(smtp_server) == [(a,), (c,)]  # every accepted address exactly once
    assert events(tmp_path) == [(a, "sending"), (a, "sent"), (b, "failed"), (c, "sending"),
                                (c, "sent")]
    assert [row["status"] for row in summary_rows([result])] == ["sent", "failed", "sent"]

    [again] = send([mixed], smtp_server, tmp_path)  # only b is still owed: refused again

    assert per_recipient(again) == {a: "skipped_already_sent", b: "failed",
                                    c: "skipped_already_sent"}
    assert len(smtp_server.messages) == 2
    assert events(tmp_path)[5:] == [(b, "failed")]


@pytest.mark.parametrize("where", ["greeting", "MAIL"])
def test_10_a_server_that_never_answers_fails_in_bounded_time(
        server, batch, tmp_path, silent_port, where):
    timeout = 0.5
    options: dict = {"timeout_seconds": timeout}
    if where == "greeting":
        options["port"] = silent_port
    else:
        server.recorder.hang("MAIL", seconds=30)
    started = time.monotonic()

    results = send(batch[:1], server, tmp_path, smtp=options)

    elapsed = time.monotonic() - started
    assert elapsed < 3 * timeout + 0.05 + 0.1 + 5
    assert statuses(results) == ["failed"]
    assert results[0].detail.endswith("gave up after 3 attempts")
    if where == "greeting":
        assert results[0].detail.startswith("no answer from SMTP server 127.0.0.1:")
    else:
        assert results[0].detail.startswith("the server did not answer within 0.5 s at MAIL")
        assert server.recorder.played == [("MAIL", "hang 30 s")] * 3
    assert server.messages == []
    assert events(tmp_path) == [(WANG, "failed")]


def test_11_a_451_that_never_clears_fails_after_exactly_the_attempts(
        smtp_server, batch, tmp_path):
    smtp_server.recorder.fail("RCPT", GREYLISTED, times=None)

    results = send(batch[:1], smtp_server, tmp_path, smtp={"retry_attempts": 4})

    assert statuses(results) == ["failed"]
    assert results[0].detail == f"{GREYLISTED} (at RCPT TO); gave up after 4 attempts"
    assert smtp_server.recorder.played == [("RCPT", GREYLISTED)] * 4
    assert events(tmp_path) == [(WANG, "failed")]
    assert smtp_server.messages == []

    smtp_server.recorder.faults.clear()  # the greylisting is over: the next run delivers
    assert statuses(send(batch[:1], smtp_server, tmp_path)) == ["sent"]
    assert envelopes(smtp_server) == [(WANG,)]


def test_11b_the_total_time_stops_the_retries_before_the_count(smtp_server, batch, tmp_path):
    smtp_server.recorder.fail("RCPT", GREYLISTED, times=None)
    started = time.monotonic()

    results = send(batch[:1], smtp_server, tmp_path, smtp={
        "retry_attempts": 1000, "retry_initial_seconds": 0.05, "retry_max_seconds": 0.1,
        "retry_total_seconds": 0.5})

    assert time.monotonic() - started < 0.5 + 0.1 + 5
    tries = len(smtp_server.recorder.played)
    assert 2 <= tries < 1000
    assert results[0].detail.endswith(f"gave up after {tries} attempts")


def test_12_date_is_in_the_configured_time_zone(tmp_path, batch):
    utc_morning = datetime(2025, 10, 1, 1, 30, tzinfo=UTC)

    for zone, offset in (("Asia/Shanghai", "+0800"), ("America/New_York", "-0400")):
        [result] = deliver(batch[:1], Delivery(), outbox_dir=tmp_path / zone,
                           ledger_path=tmp_path / "l", timezone=zone, now=utc_morning)
        date = parse(result.eml_path.read_bytes())["Date"]
        assert date.endswith(offset)
        assert date.datetime == utc_morning


def test_12_a_changed_draft_after_a_sent_one_is_skipped_unless_resend(
        smtp_server, batch, tmp_path):
    [first] = send(batch[:1], smtp_server, tmp_path)
    changed = draft("jinjiang", "锦江小区", (WANG,), batch[0].attachments,
                    html=HTML + "<p>更正：工单 129 件。</p>\n")

    [skipped] = send([changed], smtp_server, tmp_path)

    assert skipped.status == "skipped_already_sent"
    assert skipped.detail.startswith("an earlier version was sent at ")
    assert "--resend" in skipped.detail
    assert skipped.message_id == first.message_id  # the one the recipient has
    assert len(smtp_server.messages) == 1

    [forced] = send([changed], smtp_server, tmp_path, resend=True)

    assert forced.status == "sent"
    assert forced.message_id != first.message_id
    assert parse(smtp_server.messages[1].data)["Message-ID"] == forced.message_id
    assert "<p>更正" in parse(smtp_server.messages[1].data).get_body(("html",)).get_content()


def test_13_a_trailing_sending_left_by_a_killed_process_is_uncertain(
        smtp_server, batch, tmp_path):
    line = {"month": "2025-09", "scope": "huayuan", "recipient": LI,
            "content_hash": content_hash(batch[1]), "message_id": "<x@example.com>",
            "status": "sending", "at": "2025-10-01T09:30:00+08:00", "detail": ""}
    (tmp_path / "ledger.jsonl").write_text(json.dumps(line) + "\n", "utf-8")

    [result] = send(batch[1:2], smtp_server, tmp_path)

    assert result.status == "uncertain"
    assert per_recipient(result) == {LI: "uncertain", ZHAO: "sent"}
    assert "handed to the server at 2025-10-01T09:30:00+08:00" in result.detail
    assert envelopes(smtp_server) == [(ZHAO,)]


# Child processes are forked: they start at once, with everything already imported.
FORK = multiprocessing.get_context("fork")


def _deliver_in_child(emails: list[OutgoingEmail], smtp: Smtp, password: str,
                      tmp_path: Path) -> None:
    deliver(emails, Delivery(method="smtp", smtp=smtp), outbox_dir=tmp_path / "outbox",
            ledger_path=tmp_path / "ledger.jsonl", password=password, now=NOW)


def test_13_a_process_killed_while_the_message_is_on_the_wire(smtp_server, batch, tmp_path):
    smtp_server.recorder.data_delay = 60  # the server takes its time to answer
    child = FORK.Process(target=_deliver_in_child, args=(
        batch[1:2], smtp_server.config(**FAST), smtp_server.password, tmp_path))
    child.start()
    try:
        deadline = time.monotonic() + 30
        book = SendLedger(tmp_path / "ledger.jsonl")  # skips a line still being written
        while [e.status for e in book.entries()] != ["sending", "sending"]:
            assert child.is_alive() and time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(0.2)  # the body is on its way; the reply will not come in time
    finally:
        child.kill()
        child.join()
    smtp_server.recorder.data_delay = 0

    [result] = send(batch[1:2], smtp_server, tmp_path)

    assert result.status == "uncertain"
    assert per_recipient(result) == {LI: "uncertain", ZHAO: "uncertain"}
    assert smtp_server.messages == []  # the killed one never got its 250
    assert len(ledger(tmp_path)) == 2  # nothing sent, nothing written


def _append_many(path: Path, name: str, start) -> None:
    book = SendLedger(path)
    start.wait()
    for n in range(300):
        book.append([book.stamp("2025-09", name, f"r{n}@example.com", content_hash=None,
                                message_id=None, status=LedgerStatus.SENT,
                                detail=name * 5000)])  # lines far beyond any buffer size


def test_14_concurrent_appends_never_tear_a_line(tmp_path):
    path = tmp_path / "ledger.jsonl"
    start = FORK.Event()
    children = [FORK.Process(target=_append_many, args=(path, name, start)) for name in "ab"]
    for child in children:
        child.start()
    start.set()
    book = SendLedger(path)
    for n in range(100):  # and a thread of this process at the same time
        thread_writes = [threading.Thread(target=book.append, args=([book.stamp(
            "2025-09", "c", f"r{n}-{k}@example.com", content_hash=None, message_id=None,
            status=LedgerStatus.SENT)],)) for k in range(2)]
        for thread in thread_writes:
            thread.start()
        for thread in thread_writes:
            thread.join()
    for child in children:
        child.join()
    assert [child.exitcode for child in children] == [0, 0]

    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    records = [json.loads(line) for line in lines[:-1]]  # every line parses
    assert len(records) == 2 * 300 + 100 * 2
    for name in "ab":
        mine = [r for r in records if r["scope"] == name]
        assert [r["recipient"] for r in mine] == [f"r{n}@example.com" for n in range(300)]
        assert all(r["detail"] == name * 5000 for r in mine)


# --------------------------------------------------------------------------- ledger


def test_second_run_sends_nothing_and_resend_sends_again(smtp_server, batch, tmp_path):
    first = send(batch, smtp_server, tmp_path)
    archived = {r.scope: r.eml_path.read_bytes() for r in first}

    second = send(batch, smtp_server, tmp_path, now=NOW + timedelta(days=1))

    assert statuses(second) == ["skipped_already_sent"] * 3
    assert all(r.ok for r in second)
    assert len(smtp_server.messages) == 3
    assert [r.message_id for r in second] == [r.message_id for r in first]
    assert second[0].detail.startswith("already sent at 2")
    assert "--resend" in second[0].detail
    # The archive still holds what was actually sent.
    assert {r.scope: r.eml_path.read_bytes() for r in second} == archived

    third = send(batch, smtp_server, tmp_path, resend=True, now=NOW + timedelta(days=1))

    assert statuses(third) == ["sent"] * 3
    assert len(smtp_server.messages) == 6
    assert [r.message_id for r in third] == [r.message_id for r in first]
    one_run = ["sending", "sent", "sending", "sending", "sent", "sent", "sending", "sent"]
    assert [s for _, s in events(tmp_path)] == one_run * 2


def test_an_added_recipient_gets_the_email_and_the_others_not_again(
        smtp_server, batch, tmp_path):
    send(batch[:1], smtp_server, tmp_path)
    widened = draft("jinjiang", "锦江小区", (WANG, "new@example.com"), batch[0].attachments)

    [result] = send([widened], smtp_server, tmp_path)

    assert result.status == "sent"
    assert per_recipient(result) == {WANG: "skipped_already_sent", "new@example.com": "sent"}
    assert envelopes(smtp_server) == [(WANG,), ("new@example.com",)]
    message_ids = {parse(m.data)["Message-ID"] for m in smtp_server.messages}
    assert message_ids == {result.message_id}  # the same content, the same Message-ID


def test_a_chinese_mailbox_name_goes_by_smtputf8(smtp_server, tmp_path):
    chinese = "王经理@example.com"

    [result] = send([draft("huayuan", "花园小区", (LI, chinese))], smtp_server, tmp_path)

    assert per_recipient(result) == {LI: "sent", chinese: "sent"}
    assert envelopes(smtp_server) == [(LI, chinese)]


def test_a_chinese_mailbox_name_without_smtputf8_fails_alone(ascii_smtp_server, tmp_path):
    chinese = "王经理@example.com"

    [result] = send([draft("huayuan", "花园小区", (LI, chinese))], ascii_smtp_server, tmp_path)

    assert per_recipient(result) == {LI: "sent", chinese: "failed"}
    assert "SMTPUTF8" in result.recipients[1].detail
    assert envelopes(ascii_smtp_server) == [(LI,)]


def test_addresses_compare_without_case_and_repeat_once(smtp_server, batch, tmp_path):
    send(batch[:1], smtp_server, tmp_path)
    shouting = draft("jinjiang", "锦江小区", ("WANG@Example.com", WANG), batch[0].attachments)

    [result] = send([shouting], smtp_server, tmp_path)

    assert result.status == "skipped_already_sent"
    assert len(result.recipients) == 1
    assert len(smtp_server.messages) == 1


def test_ledger_reads_the_old_format_one_record_per_address(smtp_server, batch, tmp_path):
    old = [
        {"month": "2025-09", "scope": "huayuan", "to": [LI, ZHAO], "message_id": "<o@x>",
         "status": "sending", "at": "2025-10-01T09:00:00+08:00", "detail": ""},
        {"month": "2025-09", "scope": "huayuan", "to": [LI, ZHAO], "message_id": "<o@x>",
         "status": "sent", "at": "2025-10-01T09:00:01+08:00", "detail": ""},
        {"month": "2025-09", "scope": "jinjiang", "to": [WANG], "message_id": "<p@x>",
         "status": "sending", "at": "2025-10-01T09:00:02+08:00", "detail": ""},
    ]
    path = tmp_path / "ledger.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in old), "utf-8")

    book = SendLedger(path)
    assert [(e.recipient, e.status, e.content_hash) for e in book.entries()] == [
        (LI, "sending", None), (ZHAO, "sending", None), (LI, "sent", None),
        (ZHAO, "sent", None), (WANG, "sending", None)]
    results = send(batch[:2], smtp_server, tmp_path)

    assert statuses(results) == ["uncertain", "skipped_already_sent"]
    assert results[1].detail == "already sent at 2025-10-01T09:00:01+08:00; use --resend to " \
                                "send it again"
    assert results[1].message_id == "<o@x>"
    assert smtp_server.messages == []


def test_ledger_ignores_a_line_cut_short_by_a_crash(tmp_path, batch):
    path = tmp_path / "ledger.jsonl"
    path.write_text('{"month": "2025-09", "scope": "jinjiang", "recipient": "wang@ex', "utf-8")

    book = SendLedger(path)
    assert book.standing("2025-09", "jinjiang", WANG).verdict is Verdict.MAY_SEND
    book.append([book.stamp("2025-09", "jinjiang", WANG, content_hash=None,
                            message_id="<id@x>", status=LedgerStatus.SENT)])

    lines = path.read_text("utf-8").splitlines()
    assert len(lines) == 2  # the next line did not run on into the broken one
    assert json.loads(lines[-1])["status"] == "sent"
    assert SendLedger(path).standing("2025-09", "jinjiang", WANG).verdict is Verdict.ALREADY_SENT


def test_ledger_verdicts(tmp_path):
    book = SendLedger(tmp_path / "ledger.jsonl")

    def history(*statuses: str) -> Verdict:
        recipient = f"r{len(book.entries())}@example.com"
        book.append([book.stamp("2025-09", "s", recipient, content_hash=None, message_id=None,
                                status=LedgerStatus(s)) for s in statuses])
        return book.standings("2025-09", "s", [recipient])[recipient].verdict

    assert history() is Verdict.MAY_SEND
    assert history("failed") is Verdict.MAY_SEND
    assert history("sending", "failed") is Verdict.MAY_SEND
    assert history("sending") is Verdict.UNCERTAIN
    assert history("sending", "uncertain") is Verdict.UNCERTAIN
    assert history("sending", "uncertain", "sending", "failed") is Verdict.MAY_SEND
    assert history("sending", "sent") is Verdict.ALREADY_SENT
    assert history("sending", "sent", "sending", "failed") is Verdict.ALREADY_SENT
    # Another month or scope is another email.
    assert book.standings("2025-08", "s", ["r0@example.com"])["r0@example.com"].verdict \
        is Verdict.MAY_SEND


def test_email_without_recipients_is_only_written(smtp_server, tmp_path):
    nobody = draft("newcomm", "新小区", ())

    results = send([nobody], smtp_server, tmp_path)

    assert statuses(results) == ["no_recipients"]
    assert results[0].ok
    assert parse(results[0].eml_path.read_bytes())["To"] == "undisclosed-recipients:;"
    assert smtp_server.messages == []
    assert smtp_server.recorder.logins == []
    assert summary_rows(results) == [{"month": "2025-09", "scope": "newcomm", "recipient": "",
                                      "status": "no_recipients", "detail": results[0].detail}]


def test_missing_attachment_fails_that_email_only(smtp_server, batch, tmp_path):
    broken = draft("jinjiang", "锦江小区", (WANG,), (tmp_path / "gone.docx",))

    results = send([broken, batch[1]], smtp_server, tmp_path)

    assert statuses(results) == ["failed", "sent"]
    assert "attachment not found" in results[0].detail
    assert results[0].eml_path is None
    assert per_recipient(results[0]) == {WANG: "failed"}
    assert envelopes(smtp_server) == [(LI, ZHAO)]


def test_summary_rows_one_per_recipient(smtp_server, batch, tmp_path):
    smtp_server.recorder.refuse = {ZHAO}

    rows = summary_rows(send(batch[:2], smtp_server, tmp_path))

    assert [(r["scope"], r["recipient"], r["status"]) for r in rows] == [
        ("jinjiang", WANG, "sent"), ("huayuan", LI, "sent"), ("huayuan", ZHAO, "failed")]
    assert rows[2]["detail"].startswith(f"550 5.1.1 <{ZHAO}>")
    assert {r["month"] for r in rows} == {"2025-09"}


def test_results_are_typed_statuses():
    result = DeliveryResult("2025-09", "s", (WANG,), DeliveryStatus.UNCERTAIN, None, None,
                            recipients=(RecipientResult(WANG, DeliveryStatus.UNCERTAIN),))
    assert result.status == "uncertain" and not result.ok
    assert DeliveryResult("2025-09", "s", (), DeliveryStatus.NO_RECIPIENTS, None, None).ok


# --------------------------------------------------------------------------- TLS and login


@pytest.fixture
def greeting(request):
    """A bare TCP server whose greeting is ``request.param``, then hangs up; counts visits."""
    visits: list[int] = []
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                peer, _ = listener.accept()
            except TimeoutError:
                continue
            with peer:
                visits.append(1)
                peer.sendall(request.param.encode() + b"\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], visits
    done.set()
    thread.join(timeout=5)
    listener.close()


@pytest.mark.parametrize("greeting", ["421 4.3.2 Too busy, come back later"], indirect=True)
def test_a_4xx_greeting_is_retried_then_fails(smtp_server, batch, tmp_path, greeting):
    port, visits = greeting

    results = send(batch[:1], smtp_server, tmp_path, smtp={"port": port})

    assert statuses(results) == ["failed"]
    assert results[0].detail == (f"SMTP server 127.0.0.1:{port} (starttls) refused the session: "
                                 f"421 4.3.2 Too busy, come back later; gave up after 3 attempts")
    assert len(visits) == 3


@pytest.mark.parametrize("greeting", ["554 5.7.1 No SMTP service here"], indirect=True)
def test_a_5xx_greeting_fails_at_once(smtp_server, batch, tmp_path, greeting):
    port, visits = greeting

    results = send(batch, smtp_server, tmp_path, smtp={"port": port})

    assert statuses(results) == ["failed"] * 3
    assert results[0].detail.endswith("refused the session: 554 5.7.1 No SMTP service here")
    assert len(visits) == 1
    assert [s for _, s in events(tmp_path)] == ["failed"] * 4


def test_untrusted_certificate_is_refused_without_retrying(server, batch, tmp_path):
    results = send(batch[:1], server, tmp_path, smtp={"ca_file": None,
                                                      "retry_initial_seconds": 60})

    assert statuses(results) == ["failed"]
    assert "not trusted" in results[0].detail
    assert "ca_file" in results[0].detail
    assert "gave up" not in results[0].detail
    assert server.messages == []


def test_wrong_security_for_the_port_says_so(server, batch, tmp_path):
    # STARTTLS against an implicit-TLS port: the client waits for a greeting that
    # the server, waiting for a TLS handshake, never sends. Implicit TLS against a
    # STARTTLS port: the plain greeting is not a TLS reply.
    wrong = "starttls" if server.security == "ssl" else "ssl"

    results = send(batch[:1], server, tmp_path,
                   smtp={"security": wrong, "timeout_seconds": 0.5, "retry_attempts": 1})

    assert statuses(results) == ["failed"]
    assert "security matches the port" in results[0].detail


def test_login_name_without_at_sign_is_used_as_is(smtp_server, batch, tmp_path):
    # yagmail would append "@gmail.com" to a plain string user such as "reports".
    results = send(batch[:1], smtp_server, tmp_path,
                   smtp={"user": "reports", "sender": "reports@example.com"})

    # smtplib tries each AUTH mechanism the server offers before giving up.
    assert {login for login, _ in smtp_server.recorder.logins} == {"reports"}
    assert "login as reports at" in results[0].detail


# --------------------------------------------------------------------------- password


def test_password_comes_from_the_named_environment_variable(smtp_server, batch, tmp_path,
                                                            monkeypatch):
    monkeypatch.setenv("YUEBAO_TEST_SMTP_PASSWORD", smtp_server.password)
    assert smtp_password(smtp_server.config()) == smtp_server.password

    results = send(batch[:1], smtp_server, tmp_path, password=None)

    assert statuses(results) == ["sent"]


def test_missing_environment_variable_is_a_usage_error(smtp_server, batch, tmp_path,
                                                       monkeypatch):
    monkeypatch.delenv("YUEBAO_TEST_SMTP_PASSWORD", raising=False)

    with pytest.raises(UsageError, match="YUEBAO_TEST_SMTP_PASSWORD") as raised:
        send(batch, smtp_server, tmp_path, password=None)

    assert "\n" not in str(raised.value)
    assert not (tmp_path / "ledger.jsonl").exists()
    assert smtp_server.recorder.logins == []


def test_method_smtp_without_its_section_is_a_usage_error(tmp_path, batch):
    with pytest.raises(UsageError, match=r"\[delivery.smtp\] is missing"):
        deliver(batch, Delivery(method="smtp"), outbox_dir=tmp_path, ledger_path=tmp_path / "l")


def test_no_password_source_is_a_usage_error(smtp_server):
    with pytest.raises(UsageError, match="password_env"):
        smtp_password(smtp_server.config(password_env=None))


def test_no_password_is_needed_when_nothing_is_to_be_sent(smtp_server, batch, tmp_path,
                                                         monkeypatch):
    send(batch, smtp_server, tmp_path)
    monkeypatch.delenv("YUEBAO_TEST_SMTP_PASSWORD", raising=False)

    results = send(batch, smtp_server, tmp_path, password=None)

    assert statuses(results) == ["skipped_already_sent"] * 3


class _FakeSecretStore:
    """Stands in for the Prefect API, which these tests do not start."""

    def __init__(self, blocks):
        self.blocks = blocks
        self.loaded = []

    def load(self, name, **options):
        from prefect.blocks.system import Secret

        self.loaded.append(name)
        if name not in self.blocks:
            raise ValueError(f"Unable to find block document named {name} for block type secret")
        return Secret(value=self.blocks[name])


@pytest.fixture
def secret_store(monkeypatch):
    from prefect.blocks.system import Secret

    store = _FakeSecretStore({"smtp-password": "123456", "other": "s3cr3t-value"})
    monkeypatch.setattr(Secret, "load", store.load)
    return store


def test_password_from_a_prefect_secret_block(secret_store):
    smtp = Smtp(host="smtp.example.com", user="reports@example.com",
                password_block="smtp-password")

    # Secret.get() would JSON-decode "123456" into an int; the text is kept.
    assert smtp_password(smtp) == "123456"
    assert secret_store.loaded == ["smtp-password"]


def test_environment_variable_wins_over_the_block(secret_store, monkeypatch):
    monkeypatch.setenv("SMTP_PW", "from-env")
    smtp = Smtp(host="h", user="u@example.com", password_env="SMTP_PW", password_block="other")

    assert smtp_password(smtp) == "from-env"
    monkeypatch.delenv("SMTP_PW")
    assert smtp_password(smtp) == "s3cr3t-value"


def test_missing_secret_block_is_a_usage_error(secret_store):
    smtp = Smtp(host="smtp.example.com", user="reports@example.com", password_block="nope")

    with pytest.raises(UsageError, match="Prefect Secret block 'nope'"):
        smtp_password(smtp)


def test_unreadable_ca_file_is_a_usage_error(smtp_server, batch, tmp_path):
    with pytest.raises(UsageError, match=r"delivery\.smtp\.ca_file"):
        send(batch, smtp_server, tmp_path, smtp={"ca_file": tmp_path / "missing.pem"})
    assert smtp_server.recorder.logins == []


def test_retry_settings_are_validated():
    with pytest.raises(ValueError, match="retry_attempts"):
        Smtp(host="h", user="u@example.com", retry_attempts=0)
    with pytest.raises(ValueError, match="retry_initial_seconds"):
        Smtp(host="h", user="u@example.com", retry_initial_seconds=0)
    assert Smtp(host="h", user="u@example.com").retry_total_seconds == 300


# --------------------------------------------------------------------------- outbox


def test_outbox_writes_one_parseable_eml_per_email(batch, attachments, tmp_path):
    emails = [*batch, draft("Allston / Brighton", "Allston", ("a@example.com",)),
              draft("锦江:一期", "锦江一期", ("b@example.com",)), draft("empty", "空", ())]

    results = deliver(emails, Delivery(), outbox_dir=tmp_path / "outbox",
                      ledger_path=tmp_path / "ledger.jsonl", now=NOW)

    assert statuses(results) == ["written"] * 5 + ["no_recipients"]
    assert per_recipient(results[1]) == {LI: "written", ZHAO: "written"}
    assert sorted(p.name for p in (tmp_path / "outbox" / "2025-09").iterdir()) == sorted([
        "jinjiang.eml", "huayuan.eml", "_portfolio.eml", "Allston _ Brighton.eml",
        "锦江_一期.eml", "empty.eml"])
    assert not (tmp_path / "ledger.jsonl").exists()
    message = parse(results[0].eml_path.read_bytes())
    assert message["From"].addresses[0].addr_spec == "yuebao@localhost"
    assert message["Subject"] == batch[0].subject
    assert message["Message-ID"] == results[0].message_id
    assert message.get_body(("html",)).get_content() == batch[0].html
    assert message.get_body(("plain",)).get_content() == batch[0].text
    assert {p.get_filename() for p in message.iter_attachments()} == {
        "review.docx", "metrics.xlsx"}
    assert parse(results[3].eml_path.read_bytes())["X-Yuebao-Scope"] == "Allston / Brighton"

    # Re-running rewrites the files; the outbox method never consults the ledger.
    assert statuses(deliver(emails, Delivery(), outbox_dir=tmp_path / "outbox",
                            ledger_path=tmp_path / "ledger.jsonl", now=NOW))[0] == "written"


def test_attachment_names_say_whose_review_of_which_month():
    assert attachment_name("review.docx", "锦江小区", "2026-11", "zh") == \
        "锦江小区_2026年11月工作总结（草稿）.docx"
    assert attachment_name("metrics.xlsx", "锦江小区", "2026-11", "zh") == \
        "锦江小区_2026年11月指标.xlsx"
    assert attachment_name("review.docx", "Jinjiang Garden", "2026-03", "en") == \
        "Jinjiang_Garden_2026-03_monthly_review_(draft).docx"
    assert attachment_name("metrics.xlsx", "Jinjiang", "2026-11", "en") == \
        "Jinjiang_2026-11_metrics.xlsx"
    # Characters no file system takes, and leading dots, never reach the name.
    assert attachment_name("review.docx", '..A/B\\C:D*E?"F"<G>|H', "2026-11", "en") == \
        "A_B_C_D_E_F_G_H_2026-11_monthly_review_(draft).docx"
    # A very long name is cut, the month and the kind of file stay.
    long = attachment_name("metrics.xlsx", "很长的项目名称" * 20, "2026-11", "zh")
    assert long.endswith("_2026年11月指标.xlsx") and len(long) < 60
    # A file without a pattern keeps its own name.
    assert attachment_name("review.md", "锦江小区", "2026-11", "zh") == "review.md"


def test_the_eml_names_the_attachments_in_rfc_2231_and_keeps_the_files_on_disk(
        attachments, tmp_path):
    docx, xlsx = attachments
    names = tuple(attachment_name(p.name, "锦江小区", "2025-09", "zh") for p in attachments)
    emails = [OutgoingEmail(month="2025-09", scope="jinjiang", to=(WANG,), subject="s",
                            html="<p>x</p>", text="x", attachments=attachments,
                            attachment_names=names)]

    results = deliver(emails, Delivery(), outbox_dir=tmp_path / "outbox",
                      ledger_path=tmp_path / "ledger.jsonl", now=NOW)

    raw = results[0].eml_path.read_bytes()
    for legacy in (False, True):  # the modern parser, and compat32 as older tools read it
        message = (email.message_from_bytes(raw) if legacy else parse(raw))
        parts = [p for p in message.walk() if p.get_content_disposition() == "attachment"]
        assert [p.get_filename() for p in parts] == [
            "锦江小区_2025年9月工作总结（草稿）.docx", "锦江小区_2025年9月指标.xlsx"]
        assert [p.get_payload(decode=True) for p in parts] == [docx.read_bytes(),
                                                               xlsx.read_bytes()]
    assert raw.count(b"filename*=utf-8''%E9%94%A6%E6%B1%9F%E5%B0%8F%E5%8C%BA_2025") == 2
    assert b"review.docx" not in raw and b"metrics.xlsx" not in raw
    assert docx.is_file() and xlsx.is_file()  # the files on disk keep their stable names
    # The name the recipient sees is part of what was sent.
    assert content_hash(emails[0]) != content_hash(
        OutgoingEmail(**{**emails[0].__dict__, "attachment_names": ()}))


def test_compose_names_the_attachments_after_the_community(tmp_path):
    from yuebao.config import config_from_dict
    from yuebao.tasks.render import Rendered

    config = config_from_dict({"language": "zh", "communities": [
        {"id": "jinjiang", "name": "锦江小区", "managers": [WANG]}]}, tmp_path)
    review = Rendered(scope="jinjiang", name="锦江小区", subject="s", markdown="m",
                      html="h", folder="jinjiang", files=("review.docx", "metrics.xlsx"))

    (composed,) = compose([review], tmp_path, config, "2026-11")

    assert composed.names() == ("锦江小区_2026年11月工作总结（草稿）.docx",
                                "锦江小区_2026年11月指标.xlsx")
    assert [p.name for p in composed.attachments] == ["review.docx", "metrics.xlsx"]


def test_outbox_with_a_missing_attachment_fails_that_email(tmp_path, batch):
    broken = draft("jinjiang", "锦江小区", (WANG,), (tmp_path / "gone.docx",))

    results = deliver([broken, batch[1]], Delivery(), outbox_dir=tmp_path / "outbox",
                      ledger_path=tmp_path / "l")

    assert statuses(results) == ["failed", "written"]
    assert "attachment not found" in results[0].detail


def test_outbox_uses_the_configured_sender_without_connecting(tmp_path, batch):
    delivery = Delivery(smtp=Smtp(host="192.0.2.1", user="reports@example.com",
                                  sender="noreply@wuye.example.cn", sender_name="物业管理部"))

    results = deliver(batch[2:], delivery, outbox_dir=tmp_path, ledger_path=tmp_path / "l")

    sender = parse(results[0].eml_path.read_bytes())["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == ("物业管理部", "noreply@wuye.example.cn")
    assert results[0].message_id.endswith("@wuye.example.cn>")


# --------------------------------------------------------------------------- message


def test_message_is_rfc5322_with_crlf_and_a_content_derived_id(batch):
    first_id, first = build_message(batch[1], sender="r@wuye.example.cn", sender_name=None,
                                    date=NOW)
    later_id, later = build_message(batch[1], sender="r@wuye.example.cn", sender_name=None,
                                    date=NOW + timedelta(hours=1))
    fewer_id, _ = build_message(draft("huayuan", "花园小区", (LI,)),
                                sender="r@wuye.example.cn", sender_name=None, date=NOW)
    changed_id, _ = build_message(draft("huayuan", "花园小区", (LI,), html=HTML + "<p>!</p>"),
                                  sender="r@wuye.example.cn", sender_name=None, date=NOW)

    assert re.fullmatch(r"<yuebao\.2025-09\.[0-9a-f]{32}@wuye\.example\.cn>", first_id)
    assert later_id == first_id and later != first  # another Date, the same identity
    assert fewer_id == first_id  # recipients are not content
    assert changed_id != first_id
    assert b"\n" not in first.replace(b"\r\n", b"")
    assert max(len(line) for line in first.split(b"\r\n")) <= 78
    assert first.isascii()
    assert parse(first)["From"] == "r@wuye.example.cn"


def test_content_hash_covers_what_the_draft_says(batch, attachments):
    base = content_hash(batch[0])

    assert re.fullmatch(r"[0-9a-f]{64}", base)
    assert content_hash(draft("jinjiang", "锦江小区", (LI, ZHAO), attachments)) == base
    assert content_hash(draft("jinjiang", "锦江小区", (WANG,), attachments,
                              month="2025-08")) != base
    assert content_hash(draft("jinjiang", "锦江小区", (WANG,), attachments[:1])) != base
    attachments[1].write_bytes(b"PK\x03\x04 another xlsx")
    assert content_hash(batch[0]) != base


def test_the_password_never_reaches_a_log_line_from_the_server(smtp_server, batch, tmp_path,
                                                              caplog):
    # A server that quotes what it was given back in its reply.
    smtp_server.recorder.fail("RCPT", f"550 5.7.1 unknown user {smtp_server.password}",
                              address=WANG)
    caplog.set_level(logging.DEBUG)

    results = send(batch[:1], smtp_server, tmp_path)

    assert results[0].detail == "550 5.7.1 unknown user *** (at RCPT TO)"
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("yuebao")]
    assert ours and not any(smtp_server.password in line for line in ours)
    assert smtp_server.password not in (tmp_path / "ledger.jsonl").read_text("utf-8")


def test_one_log_line_per_recipient_outcome(smtp_server, batch, tmp_path, caplog):
    smtp_server.recorder.refuse = {ZHAO}
    caplog.set_level(logging.INFO, logger="yuebao.tasks.deliver")

    send(batch[1:2], smtp_server, tmp_path)

    lines = [r for r in caplog.records if r.name == "yuebao.tasks.deliver.stage"]
    assert [(r.levelname, r.getMessage().split(": ")[0]) for r in lines] == [
        ("INFO", f"2025-09 huayuan -> {LI}"), ("WARNING", f"2025-09 huayuan -> {ZHAO}")]
