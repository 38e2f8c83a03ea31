"""Whole months against a real SMTP server: faults, overlapping runs, a killed run.

Each case runs ``yuebao run`` (in this process, under the session's Prefect
server, or as separate processes against the same server) with delivery to an
aiosmtpd server with TLS and AUTH whose handler produces the fault, then checks
the exit status, the flow run's state, the ledger, what arrived (parsed with
``email``), and what the next run and ``backfill --reprocess failed`` do.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import SAMPLE_MONTH as MONTH
from conftest import own_config
from test_unattended import flow_run_state

from yuebao.cli import main
from yuebao.tasks.bookkeeping import read_runs

SCOPES = ("jinjiang", "songhua", "pujiang", "nanshan", "_portfolio")
PORTFOLIO_TO = ("director@example.com", "deputy@example.com", "finance@example.com")
RECIPIENTS = {f"{s}-manager@example.com" for s in SCOPES[:-1]} | set(PORTFOLIO_TO)
FILES = ("metrics.json", "review.md", "review.json", "review.html", "review.docx",
         "metrics.xlsx", "charts")


def smtp_config(sample, tmp_path: Path, server, *, lock_wait: float = 120, **smtp) -> Path:
    """The sample config delivering through ``server``, writing to this test's folders."""
    copy = own_config(sample, tmp_path)
    text = copy.read_text("utf-8").replace('method = "outbox"', 'method = "smtp"')
    text = text.replace('recipients = ["director@example.com"]',
                        f"recipients = {json.dumps(list(PORTFOLIO_TO))}")
    settings = {"host": server.host, "port": server.port, "security": server.security,
                "user": server.user, "password_env": "YUEBAO_TEST_SMTP_PASSWORD",
                "sender_name": "物业管理部", "ca_file": str(server.ca_file),
                "timeout_seconds": 10, "retry_attempts": 3, "retry_initial_seconds": 0.05,
                "retry_max_seconds": 0.2, "retry_total_seconds": 10, **smtp}
    block = "\n".join(f"{key} = {json.dumps(value)}" for key, value in settings.items())
    copy.write_text(f"lock_wait_seconds = {lock_wait}\n{text}\n[delivery.smtp]\n{block}\n",
                    "utf-8")
    return copy


@pytest.fixture()
def password(smtp_server, monkeypatch):
    monkeypatch.setenv("YUEBAO_TEST_SMTP_PASSWORD", smtp_server.password)
    return smtp_server.password


def ledger(tmp_path: Path) -> dict[tuple[str, str], list[str]]:
    """Each (scope, recipient)'s ledger statuses, in order."""
    lines = (tmp_path / "out" / "send_ledger.jsonl").read_text("utf-8").splitlines()
    statuses: dict[tuple[str, str], list[str]] = {}
    for record in map(json.loads, lines):
        statuses.setdefault((record["scope"], record["recipient"]), []).append(record["status"])
    return statuses


def deliveries(server, month: str = MONTH) -> Counter:
    """How many copies of each scope's draft of ``month`` each envelope recipient received."""
    got: Counter = Counter()
    for message in server.messages:
        parsed = email.message_from_bytes(message.data, policy=email.policy.default)
        if parsed["X-Yuebao-Month"] == month:
            for rcpt in message.rcpt_tos:
                got[(parsed["X-Yuebao-Scope"], rcpt)] += 1
    return got


def everyone_once() -> Counter:
    owed = {(s, f"{s}-manager@example.com") for s in SCOPES[:-1]}
    owed |= {("_portfolio", address) for address in PORTFOLIO_TO}
    return Counter(dict.fromkeys(owed, 1))


def run(config: Path, *extra: str) -> int:
    return main(["run", "--config", str(config), "--month", MONTH, *extra])


def reprocess(config: Path, *extra: str) -> int:
    return main(["backfill", "--config", str(config), "--from", MONTH, "--to", MONTH,
                 "--reprocess", "failed", "--send", *extra])


# --------------------------------------------------------------------------- the fault matrix


@pytest.mark.parametrize("fault", ["421 at MAIL", "451 at RCPT", "451 at DATA"])
def test_temporary_refusals_are_retried_and_every_draft_arrives_once(
        sample, tmp_path, smtp_server, password, prefect_server, fault):
    reply, stage = fault.split(" at ")
    words = {"421": "421 4.3.2 Service shutting down", "451": "451 4.7.1 Greylisted, retry"}
    smtp_server.recorder.fail(stage, words[reply], times=1,
                              address="deputy@example.com" if stage == "RCPT" else None)
    config = smtp_config(sample, tmp_path, smtp_server)

    assert run(config) == 0
    assert flow_run_state(f"review-{MONTH}") == "COMPLETED"
    assert deliveries(smtp_server) == everyone_once()
    lines = ledger(tmp_path)
    assert {tuple(s[-2:]) for s in lines.values()} == {("sending", "sent")}
    if stage == "DATA":  # the refused attempt is on record, then the one that went
        assert sorted(map(tuple, lines.values()))[0] == ("sending", "failed", "sending", "sent")
    assert read_runs(tmp_path / "out")[MONTH]["status"] == "succeeded"

    assert run(config) == 0  # the next run sends nothing again
    assert deliveries(smtp_server) == everyone_once()


def test_a_refused_recipient_fails_the_run_and_only_it_is_tried_again(
        sample, tmp_path, smtp_server, password, prefect_server, capsys):
    smtp_server.recorder.refuse.add("deputy@example.com")
    config = smtp_config(sample, tmp_path, smtp_server)

    assert run(config) == 1
    assert flow_run_state(f"review-{MONTH}") == "FAILED"
    out = capsys.readouterr()
    assert "_portfolio | deputy@example.com | failed | " in out.out
    assert "550 5.1.1 <deputy@example.com>: mailbox unavailable" in out.out
    owed = everyone_once()
    del owed[("_portfolio", "deputy@example.com")]
    assert deliveries(smtp_server) == owed
    assert ledger(tmp_path)[("_portfolio", "deputy@example.com")] == ["failed"]
    record = read_runs(tmp_path / "out")[MONTH]
    assert record["status"] == "failed"
    assert record["scopes"]["_portfolio"]["deliveries"]["deputy@example.com"]["status"] == \
        "failed"

    assert run(config) == 1  # still refused; nobody else gets a second copy
    assert deliveries(smtp_server) == owed

    smtp_server.recorder.refuse.clear()
    assert reprocess(config) == 0
    assert deliveries(smtp_server) == everyone_once()
    assert read_runs(tmp_path / "out")[MONTH]["status"] == "succeeded"


@pytest.mark.parametrize("fault", ["554 at DATA", "connection refused", "535 login"])
def test_permanent_and_connection_failures_fail_the_run_and_the_next_one_delivers(
        sample, tmp_path, smtp_server, password, prefect_server, monkeypatch, capsys, fault):
    if fault == "554 at DATA":
        smtp_server.recorder.fail("DATA", "554 5.7.1 Message rejected as spam", times=1)
        config = smtp_config(sample, tmp_path, smtp_server)
    elif fault == "connection refused":
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            closed = probe.getsockname()[1]
        config = smtp_config(sample, tmp_path, smtp_server, port=closed)
    else:
        monkeypatch.setenv("YUEBAO_TEST_SMTP_PASSWORD", "not-the-password")
        config = smtp_config(sample, tmp_path, smtp_server)

    assert run(config) == 1
    assert flow_run_state(f"review-{MONTH}") == "FAILED"
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    assert "not-the-password" not in out.out + out.err
    lines = ledger(tmp_path)
    assert "sending" not in {s for statuses in lines.values() for s in statuses[-1:]}
    failed = [key for key, statuses in lines.items() if statuses[-1] == "failed"]
    assert failed
    if fault == "554 at DATA":
        assert len(failed) == 1 and "554 5.7.1" in out.out
    else:
        assert len(failed) == len(RECIPIENTS) and smtp_server.messages == []

    config = smtp_config(sample, tmp_path, smtp_server)  # the fault is gone
    monkeypatch.setenv("YUEBAO_TEST_SMTP_PASSWORD", smtp_server.password)
    assert reprocess(config) == 0
    assert deliveries(smtp_server) == everyone_once()
    assert flow_run_state(f"backfill-{MONTH}-to-{MONTH}") == "COMPLETED"


def test_a_reply_lost_after_data_is_uncertain_and_never_resent_without_resend(
        sample, tmp_path, smtp_server, password, prefect_server, capsys):
    smtp_server.recorder.drop_after_data(times=1)
    config = smtp_config(sample, tmp_path, smtp_server)

    assert run(config) == 1
    assert flow_run_state(f"review-{MONTH}") == "FAILED"
    assert "uncertain" in capsys.readouterr().out
    uncertain = [key for key, s in ledger(tmp_path).items() if s[-1] == "uncertain"]
    assert len(uncertain) == 1
    received = deliveries(smtp_server)

    assert run(config) == 1  # uncertain stays uncertain: nothing is sent blindly
    assert reprocess(config) == 1
    assert deliveries(smtp_server) == received

    first_id = _message_ids(smtp_server, uncertain[0][0])
    assert reprocess(config, "--resend") == 0
    assert _message_ids(smtp_server, uncertain[0][0]) == first_id * 2  # the same Message-ID
    assert read_runs(tmp_path / "out")[MONTH]["status"] == "succeeded"


def _message_ids(server, scope: str) -> list[str]:
    ids = []
    for message in server.messages:
        parsed = email.message_from_bytes(message.data, policy=email.policy.default)
        if parsed["X-Yuebao-Scope"] == scope:
            ids.append(parsed["Message-ID"])
    return ids


def test_mixed_recipients_of_one_draft_are_each_handled_on_their_own(
        sample, tmp_path, smtps_server, prefect_server, monkeypatch):
    monkeypatch.setenv("YUEBAO_TEST_SMTP_PASSWORD", smtps_server.password)
    smtps_server.recorder.refuse.add("deputy@example.com")
    smtps_server.recorder.fail("RCPT", "451 4.7.1 Greylisted, retry", times=1,
                               address="finance@example.com")
    config = smtp_config(sample, tmp_path, smtps_server)

    assert run(config) == 1
    got = deliveries(smtps_server)
    assert got[("_portfolio", "director@example.com")] == 1
    assert got[("_portfolio", "finance@example.com")] == 1  # after its retry
    assert got[("_portfolio", "deputy@example.com")] == 0
    lines = ledger(tmp_path)
    assert lines[("_portfolio", "director@example.com")][-1] == "sent"
    assert lines[("_portfolio", "finance@example.com")][-1] == "sent"
    assert lines[("_portfolio", "deputy@example.com")] == ["failed"]


def test_a_server_that_never_answers_fails_in_bounded_time(
        sample, tmp_path, smtp_server, password, prefect_server):
    smtp_server.recorder.hang("MAIL", 30)
    config = smtp_config(sample, tmp_path, smtp_server, timeout_seconds=0.5, retry_attempts=2,
                         retry_total_seconds=3)
    started = time.monotonic()
    assert run(config) == 1
    assert time.monotonic() - started < 90
    assert flow_run_state(f"review-{MONTH}") == "FAILED"
    assert {s[-1] for s in ledger(tmp_path).values()} == {"failed"}


# --------------------------------------------------------------------------- overlapping runs


def _yuebao(*args: str, server, home: Path) -> subprocess.Popen:
    """``yuebao`` as a separate process, on the test session's Prefect server."""
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_API_URL": PREFECT_API_URL.value(), "PREFECT_HOME": str(home),
            "YUEBAO_TEST_SMTP_PASSWORD": server.password}
    return subprocess.Popen([sys.executable, "-m", "yuebao.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _published_months_are_complete(out: Path, months: list[str]) -> None:
    for month in months:
        folder = out / month
        assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == sorted(SCOPES)
        for scope in SCOPES:
            assert sorted(p.name for p in (folder / scope).iterdir()) == sorted(FILES)
        assert (folder / "data_quality.json").is_file() and (folder / "quarantine.csv").is_file()
    assert not [p for p in out.iterdir() if p.name.startswith(f".{months[0][:4]}")]


def test_two_runs_of_one_month_send_every_draft_once(sample, tmp_path, smtp_server,
                                                     prefect_server):
    smtp_server.recorder.data_delay = 0.5
    config = smtp_config(sample, tmp_path, smtp_server)
    runs = [_yuebao("run", "--config", str(config), "--month", MONTH, server=smtp_server,
                    home=tmp_path / f"home{i}") for i in range(2)]
    results = [p.communicate(timeout=300) for p in runs]

    assert [p.returncode for p in runs] == [0, 0], results
    assert deliveries(smtp_server) == everyone_once()
    _published_months_are_complete(tmp_path / "out", [MONTH])
    skipped = sum(out.count("skipped_already_sent") for out, _ in results)
    assert skipped == len(SCOPES)  # the later run found every draft sent


def test_the_loser_of_a_busy_month_waits_then_fails_naming_the_holder(
        sample, tmp_path, smtp_server, prefect_server):
    smtp_server.recorder.data_delay = 2
    config = smtp_config(sample, tmp_path, smtp_server, lock_wait=1)
    first = _yuebao("run", "--config", str(config), "--month", MONTH, server=smtp_server,
                    home=tmp_path / "home1")
    _wait_for(lambda: (tmp_path / "out" / ".locks" / f"{MONTH}.holder.json").exists())
    second = _yuebao("run", "--config", str(config), "--month", MONTH, server=smtp_server,
                     home=tmp_path / "home2")
    _, lost = second.communicate(timeout=300)
    won = first.communicate(timeout=300)

    assert (first.returncode, second.returncode) == (0, 1), (won, lost)
    assert lost.strip().splitlines()[-1].startswith(
        f"yuebao: {MONTH} is being written by another run (host ")
    assert f"PID {first.pid}, since " in lost
    assert deliveries(smtp_server) == everyone_once()
    _published_months_are_complete(tmp_path / "out", [MONTH])


def test_two_overlapping_backfills_send_once_and_leave_whole_months(
        sample, tmp_path, smtp_server, prefect_server):
    smtp_server.recorder.data_delay = 0.2
    config = smtp_config(sample, tmp_path, smtp_server)
    months = ["2025-08", MONTH]
    runs = [_yuebao("backfill", "--config", str(config), "--from", months[0], "--to", MONTH,
                    "--send", server=smtp_server, home=tmp_path / f"home{i}")
            for i in range(2)]
    results = [p.communicate(timeout=600) for p in runs]

    assert [p.returncode for p in runs] == [0, 0], results
    assert len(smtp_server.messages) == 2 * len(SCOPES)
    for month in months:
        assert deliveries(smtp_server, month) == everyone_once()
    _published_months_are_complete(tmp_path / "out", months)
    assert {r["status"] for r in read_runs(tmp_path / "out").values()} == {"succeeded"}


def test_a_run_killed_while_sending_is_taken_over_and_its_email_is_uncertain(
        sample, tmp_path, smtp_server, prefect_server):
    smtp_server.recorder.data_delay = 60
    config = smtp_config(sample, tmp_path, smtp_server)
    doomed = _yuebao("run", "--config", str(config), "--month", MONTH, server=smtp_server,
                     home=tmp_path / "home1")
    ledger_file = tmp_path / "out" / "send_ledger.jsonl"
    _wait_for(lambda: ledger_file.exists() and '"sending"' in ledger_file.read_text("utf-8"))
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.communicate(timeout=60)

    smtp_server.recorder.data_delay = 0
    after = _yuebao("run", "--config", str(config), "--month", MONTH, server=smtp_server,
                    home=tmp_path / "home2")
    out, err = after.communicate(timeout=300)

    assert after.returncode == 1  # the killed run's email may have gone: uncertain
    assert "taking over the lock left by a run that ended without releasing it" in out + err
    assert f"PID {doomed.pid}" in out + err
    lines = ledger(tmp_path)
    # The draft whose DATA the killed run had begun is uncertain; every other one is sent.
    assert [s[-1] for s in lines.values()].count("sent") == len(RECIPIENTS) - 1
    assert {s[-1] for s in lines.values()} - {"sent"} <= {"sending", "uncertain"}
    _published_months_are_complete(tmp_path / "out", [MONTH])


def _wait_for(condition, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)
