"""Delivery against a real SMTP server (aiosmtpd with TLS and AUTH, see conftest.py)."""

from __future__ import annotations

import email
import email.policy
import json
import logging
import re
import smtplib
import socket
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from yuebao.config import Delivery, Smtp
from yuebao.errors import UsageError
from yuebao.tasks import deliver as deliver_module
from yuebao.tasks.deliver import (
    DeliveryResult,
    OutgoingEmail,
    SendLedger,
    build_message,
    deliver,
    smtp_password,
)

NOW = datetime(2025, 10, 1, 9, 30, tzinfo=timezone(timedelta(hours=8)))
HTML = (
    '<table style="border-collapse:collapse;font-family:sans-serif">\n'
    '  <tr><th style="text-align:left">指标</th><th>数值</th></tr>\n'
    '  <tr><td>报修及时率</td><td style="color:#c00">92.5%</td></tr>\n'
    "</table>\n<p>{name}本月共受理工单 128 件。</p>\n"
)
TEXT = "# {name} 2025年9月工作总结\n\n- 工单：128 件\n- 报修及时率：92.5%\n\n.以点开头的行\n"


def draft(scope: str, name: str, to: tuple[str, ...], attachments: tuple[Path, ...] = (),
          month: str = "2025-09") -> OutgoingEmail:
    return OutgoingEmail(
        month=month, scope=scope, to=to,
        subject=f"【月报草稿】{name} 2025年9月工作总结",
        html=HTML.format(name=name), text=TEXT.format(name=name), attachments=attachments,
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
        draft("jinjiang", "锦江小区", ("wang@example.com",), attachments),
        draft("huayuan", "花园小区", ("li@example.com", "zhao@example.com")),
        draft("_portfolio", "某某物业", ("director@example.com",)),
    ]


def by_smtp(server, **overrides) -> Delivery:
    return Delivery(method="smtp", smtp=server.config(**overrides))


def send(emails, server, tmp_path, **options) -> list[DeliveryResult]:
    options.setdefault("password", server.password)
    options.setdefault("now", NOW)
    smtp_overrides = options.pop("smtp", {})
    return deliver(emails, by_smtp(server, **smtp_overrides), outbox_dir=tmp_path / "outbox",
                   ledger_path=tmp_path / "ledger.jsonl", **options)


def parse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)


def ledger(tmp_path) -> list[dict]:
    lines = (tmp_path / "ledger.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines]


def statuses(results) -> list[str]:
    return [r.status for r in results]


# --------------------------------------------------------------------------- SMTP


def test_starttls_delivers_each_draft_to_its_own_recipients(smtp_server, batch, tmp_path):
    results = send(batch, smtp_server, tmp_path)

    assert statuses(results) == ["sent", "sent", "sent"]
    assert smtp_server.recorder.logins == [(smtp_server.user, True)]
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


def test_wrong_password_fails_clearly_and_never_shows_the_password(
        smtp_server, batch, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "Not-The-Right-One-!9"

    results = send(batch, smtp_server, tmp_path, password=wrong)

    assert statuses(results) == ["failed", "failed", "failed"]
    assert "login as reports@example.com" in results[0].detail
    assert "535" in results[0].detail
    assert "Traceback" not in results[0].detail
    assert smtp_server.messages == []
    assert [r["status"] for r in ledger(tmp_path)] == ["failed"] * 3
    written = [repr(results), (tmp_path / "ledger.jsonl").read_text("utf-8"), caplog.text]
    written += [p.read_text("latin-1") for p in (tmp_path / "outbox").rglob("*.eml")]
    for text in written:
        assert wrong not in text
        assert smtp_server.password not in text

    # Nothing went out, so the next run (with the right password) sends all three.
    assert statuses(send(batch, smtp_server, tmp_path)) == ["sent", "sent", "sent"]


def test_untrusted_certificate_is_refused(smtp_server, batch, tmp_path):
    results = send(batch[:1], smtp_server, tmp_path, smtp={"ca_file": None})

    assert statuses(results) == ["failed"]
    assert "not trusted" in results[0].detail
    assert "ca_file" in results[0].detail
    assert smtp_server.messages == []


def test_closed_port_fails_every_email_with_a_clear_detail(smtp_server, batch, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]

    results = send(batch, smtp_server, tmp_path, smtp={"port": closed_port})

    assert statuses(results) == ["failed"] * 3
    assert all(r.detail.startswith("cannot connect to SMTP server 127.0.0.1:") for r in results)


# --------------------------------------------------------------------------- ledger


def test_second_run_sends_nothing_and_resend_sends_again(smtp_server, batch, tmp_path):
    first = send(batch, smtp_server, tmp_path)
    archived = {r.scope: r.eml_path.read_bytes() for r in first}

    second = send(batch, smtp_server, tmp_path, now=NOW + timedelta(days=1))

    assert statuses(second) == ["skipped_already_sent"] * 3
    assert len(smtp_server.messages) == 3
    assert [r.message_id for r in second] == [r.message_id for r in first]
    assert "--resend" in second[0].detail
    # The archive still holds what was actually sent.
    assert {r.scope: r.eml_path.read_bytes() for r in second} == archived

    third = send(batch, smtp_server, tmp_path, resend=True, now=NOW + timedelta(days=1))

    assert statuses(third) == ["sent"] * 3
    assert len(smtp_server.messages) == 6
    assert [r.message_id for r in third] == [r.message_id for r in first]
    assert [r["status"] for r in ledger(tmp_path)] == ["sending", "sent"] * 6


def test_changed_recipients_are_a_new_delivery(smtp_server, batch, tmp_path):
    send(batch[:1], smtp_server, tmp_path)
    widened = draft("jinjiang", "锦江小区", ("wang@example.com", "new@example.com"),
                    batch[0].attachments)

    results = send([widened], smtp_server, tmp_path)

    assert statuses(results) == ["sent"]
    assert smtp_server.messages[-1].rcpt_tos == widened.to


def test_crash_mid_send_blocks_automatic_resend(smtp_server, batch, tmp_path, monkeypatch):
    def crash(self, data, to):
        raise KeyboardInterrupt  # the process dies between "sending" and its outcome

    with monkeypatch.context() as patch:
        patch.setattr(deliver_module._Sender, "send", crash)
        with pytest.raises(KeyboardInterrupt):
            send(batch[:2], smtp_server, tmp_path)
    assert [r["status"] for r in ledger(tmp_path)] == ["sending"]

    again = send(batch[:2], smtp_server, tmp_path)

    assert statuses(again) == ["failed", "sent"]
    assert "may have been delivered" in again[0].detail
    assert "--resend" in again[0].detail
    assert [parse(m.data)["X-Yuebao-Scope"] for m in smtp_server.messages] == ["huayuan"]

    forced = send(batch[:2], smtp_server, tmp_path, resend=True)

    assert statuses(forced) == ["sent", "sent"]
    assert len(smtp_server.messages) == 3


def test_connection_lost_while_sending_leaves_the_outcome_open(
        smtp_server, batch, tmp_path, monkeypatch):
    real_send = deliver_module._Sender.send
    calls = []

    def drop_on_second(self, data, to):
        calls.append(to)
        if len(calls) == 2:
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return real_send(self, data, to)

    with monkeypatch.context() as patch:
        patch.setattr(deliver_module._Sender, "send", drop_on_second)
        results = send(batch, smtp_server, tmp_path)

    assert statuses(results) == ["sent", "failed", "failed"]
    assert "may or may not have been delivered" in results[1].detail
    assert results[2].detail.startswith("not attempted")
    assert [(r["scope"], r["status"]) for r in ledger(tmp_path)] == [
        ("jinjiang", "sending"), ("jinjiang", "sent"),
        ("huayuan", "sending"),
        ("_portfolio", "failed"),
    ]

    retry = send(batch, smtp_server, tmp_path)

    assert statuses(retry) == ["skipped_already_sent", "failed", "sent"]
    assert "--resend" in retry[1].detail


def test_refused_recipient_fails_only_that_email(smtp_server, batch, tmp_path):
    smtp_server.recorder.refuse = {"li@example.com", "zhao@example.com"}

    results = send(batch, smtp_server, tmp_path)

    assert statuses(results) == ["sent", "failed", "sent"]
    assert "refused every recipient" in results[1].detail
    assert "li@example.com: 550" in results[1].detail
    assert {m.rcpt_tos for m in smtp_server.messages} == {
        ("wang@example.com",), ("director@example.com",)}

    # The server refused it, so nothing went out: the next run may try again.
    smtp_server.recorder.refuse = set()
    retry = send(batch, smtp_server, tmp_path)
    assert statuses(retry) == ["skipped_already_sent", "sent", "skipped_already_sent"]


def test_partly_refused_recipients_count_as_sent(smtp_server, batch, tmp_path):
    smtp_server.recorder.refuse = {"zhao@example.com"}

    results = send(batch[1:2], smtp_server, tmp_path)

    assert statuses(results) == ["sent"]
    assert "zhao@example.com: 550" in results[0].detail
    assert smtp_server.messages[0].rcpt_tos == ("li@example.com",)


def test_ledger_ignores_a_line_cut_short_by_a_crash(tmp_path, batch):
    path = tmp_path / "ledger.jsonl"
    path.write_text('{"month": "2025-09", "scope": "jinjiang", "to": ["wang@ex', "utf-8")

    book = SendLedger(path)
    assert book.history(batch[0]) == []
    book.append(batch[0], "<id@x>", "sent")

    lines = path.read_text("utf-8").splitlines()
    assert json.loads(lines[-1])["status"] == "sent"
    assert [r["status"] for r in SendLedger(path).history(batch[0])] == ["sent"]


def test_email_without_recipients_is_only_written(smtp_server, tmp_path):
    nobody = draft("newcomm", "新小区", ())

    results = send([nobody], smtp_server, tmp_path)

    assert statuses(results) == ["no_recipients"]
    assert parse(results[0].eml_path.read_bytes())["To"] == "undisclosed-recipients:;"
    assert smtp_server.messages == []
    assert smtp_server.recorder.logins == []


def test_missing_attachment_fails_that_email_only(smtp_server, batch, tmp_path):
    broken = draft("jinjiang", "锦江小区", ("wang@example.com",), (tmp_path / "gone.docx",))

    results = send([broken, batch[1]], smtp_server, tmp_path)

    assert statuses(results) == ["failed", "sent"]
    assert "attachment not found" in results[0].detail
    assert results[0].eml_path is None


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


# --------------------------------------------------------------------------- outbox


def test_outbox_writes_one_parseable_eml_per_email(batch, attachments, tmp_path):
    emails = [*batch, draft("Allston / Brighton", "Allston", ("a@example.com",)),
              draft("锦江:一期", "锦江一期", ("b@example.com",)), draft("empty", "空", ())]

    results = deliver(emails, Delivery(), outbox_dir=tmp_path / "outbox",
                      ledger_path=tmp_path / "ledger.jsonl", now=NOW)

    assert statuses(results) == ["written"] * 5 + ["no_recipients"]
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
    again_id, _ = build_message(batch[1], sender="r@wuye.example.cn", sender_name=None,
                                    date=NOW + timedelta(hours=1))
    changed_id, _ = build_message(
        draft("huayuan", "花园小区", ("li@example.com",)), sender="r@wuye.example.cn",
        sender_name=None, date=NOW)

    assert re.fullmatch(r"<yuebao\.2025-09\.[0-9a-f]{32}@wuye\.example\.cn>", first_id)
    assert again_id == first_id
    assert changed_id != first_id
    assert b"\n" not in first.replace(b"\r\n", b"")
    assert max(len(line) for line in first.split(b"\r\n")) <= 78
    assert first.isascii()
    assert parse(first)["From"] == "r@wuye.example.cn"


def test_login_name_without_at_sign_is_used_as_is(smtp_server, batch, tmp_path):
    # yagmail would append "@gmail.com" to a plain string user such as "reports".
    results = send(batch[:1], smtp_server, tmp_path,
                   smtp={"user": "reports", "sender": "reports@example.com"})

    # smtplib tries each AUTH mechanism the server offers before giving up.
    assert {login for login, _ in smtp_server.recorder.logins} == {"reports"}
    assert "login as reports at" in results[0].detail
