"""End to end under a real Prefect server: sample exports -> files -> emails.

The flow runs for real (``prefect_server``); email goes to the outbox or to a
real aiosmtpd server with STARTTLS and AUTH, and what arrives is parsed back.
"""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import SAMPLE_MONTH as MONTH

from yuebao.cli import main
from yuebao.flows.monthly_review import monthly_review

PARTS = ("## 一、本月工作概况", "## 二、成果与亮点", "## 三、问题与挑战",
         "## 四、经验提炼与下月计划", "## 五、结语")


@pytest.fixture(scope="module")
def first_run(sample, prefect_server) -> dict:
    config, _ = sample
    return monthly_review(str(config), MONTH)


def test_every_community_and_the_portfolio_get_their_files(sample, first_run):
    config, data = sample
    month_dir = Path(first_run["output_dir"])
    scopes = [c.id for c in data.communities] + ["_portfolio"]
    assert sorted(first_run["reviews"]) == sorted(scopes)
    for scope in scopes:
        folder = month_dir / scope
        document = json.loads((folder / "metrics.json").read_text("utf-8"))
        assert document["schema"] == "yuebao.metrics/2"
        assert document["month"] == MONTH and document["community"] == scope
        assert document["tickets"]["created"] > 0
        assert document["fees"]["due_in_month"] > 0
        review = (folder / "review.md").read_text("utf-8")
        positions = [review.index(part) for part in PARTS]
        assert positions == sorted(positions)
        html = (folder / "review.html").read_text("utf-8")
        assert "<table" in html and "<script" not in html and 'style="' in html
    outbox = config.parent / "outbox" / MONTH
    assert sorted(p.stem for p in outbox.glob("*.eml")) == sorted(scopes)
    assert {d["status"] for d in first_run["deliveries"]} == {"written"}


def test_row_accounting_adds_up(sample, first_run):
    _, data = sample
    month_dir = Path(first_run["output_dir"])
    quality = json.loads((month_dir / "data_quality.json").read_text("utf-8"))
    for row in quality["files"]:
        assert row["read"] == row["used"] + row["quarantined"] + row["duplicate"]
    # Every row the generator wrote, in every file of every community, was read.
    assert {t: quality["tables"][t]["read"] for t in data.rows} == data.rows
    assert len(quality["files"]) == sum(len(data.files(t)) for t in data.rows)
    quarantine = pd.read_csv(month_dir / "quarantine.csv", dtype=str, keep_default_na=False,
                             encoding="utf-8-sig")
    assert len(quarantine) == sum(v["quarantined"] for v in quality["tables"].values())
    assert set(quarantine.columns) >= {"file", "line", "reason", "raw"}
    # The sample's deliberate defects are each accounted for.
    assert quality["tables"]["tickets"]["duplicate"] >= data.defects["duplicate_ticket_rows"]


def test_heating_preparation_only_in_the_north(sample, first_run):
    _, data = sample
    month_dir = Path(first_run["output_dir"])
    by_city = {c.city: c.id for c in data.communities}
    beijing = (month_dir / by_city["北京"] / "review.md").read_text("utf-8")
    shenzhen = (month_dir / by_city["深圳"] / "review.md").read_text("utf-8")
    assert "供暖前" in beijing and "打压" in beijing
    assert "供暖" not in shenzhen.split("## 四")[1]


def test_a_second_run_gives_the_same_metrics(sample, first_run):
    config, _ = sample
    month_dir = Path(first_run["output_dir"])
    before = {p: p.read_bytes() for p in month_dir.glob("*/metrics.json")}
    monthly_review(str(config), MONTH, send=False)
    assert {p: p.read_bytes() for p in month_dir.glob("*/metrics.json")} == before


def test_smtp_delivery_reaches_each_manager(sample, first_run, smtp_server, tmp_path,
                                             monkeypatch):
    config, data = sample
    text = config.read_text("utf-8").replace('method = "outbox"', 'method = "smtp"')
    text += (
        f'\n[delivery.smtp]\nhost = "127.0.0.1"\nport = {smtp_server.port}\n'
        f'security = "starttls"\nuser = "{smtp_server.user}"\n'
        f'password_env = "YUEBAO_TEST_SMTP"\nsender_name = "物业管理部"\n'
        f'ca_file = "{smtp_server.ca_file}"\n'
    )
    smtp_config = config.parent / "smtp.toml"
    smtp_config.write_text(text, "utf-8")
    monkeypatch.setenv("YUEBAO_TEST_SMTP", smtp_server.password)

    result = monthly_review(str(smtp_config), MONTH)
    assert {d["status"] for d in result["deliveries"]} == {"sent"}
    received = {m.rcpt_tos: email.message_from_bytes(m.data, policy=email.policy.default)
                for m in smtp_server.messages}
    for community in data.communities:
        message = received[(f"{community.id}-manager@example.com",)]
        assert community.name in message["Subject"]
        assert "工作总结" in message["Subject"]
        html = message.get_body(("html",)).get_content()
        assert f"{community.name} 2025年9月工作总结" in html
    portfolio = received[("director@example.com",)]
    assert "示例物业服务有限公司" in portfolio["Subject"]

    # The ledger: running again sends nothing more.
    count = len(smtp_server.messages)
    again = monthly_review(str(smtp_config), MONTH)
    assert {d["status"] for d in again["deliveries"]} == {"skipped_already_sent"}
    assert len(smtp_server.messages) == count


def test_usage_errors_exit_2_with_one_line(sample, tmp_path, capsys):
    config, _ = sample
    assert main(["run", "--config", str(tmp_path / "missing.toml")]) == 2
    assert main(["run", "--config", str(config), "--month", "2025-9"]) == 2
    broken = tmp_path / "broken.toml"
    broken.write_text('[sources]\ntickets = ["nowhere/*.csv"]\n', "utf-8")
    assert main(["run", "--config", str(broken)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("yuebao: ") for line in lines)
    assert "missing.toml" in lines[0]
    assert "2025-9" in lines[1]
    assert "tickets" in lines[2] and "nowhere" in lines[2]


def test_month_defaults_to_the_one_before_the_scheduled_start(sample, prefect_server):
    """A run scheduled for 1 October 02:30 Shanghai (30 September UTC) that starts
    more than a year late still reports September."""
    from datetime import UTC, datetime

    from prefect import get_client
    from prefect.flow_engine import run_flow
    from prefect.states import Scheduled

    config, _ = sample
    parameters = {"config_path": str(config), "send": False}
    scheduled = datetime(2025, 9, 30, 18, 30, tzinfo=UTC)
    with get_client(sync_client=True) as client:
        flow_run = client.create_flow_run(monthly_review, parameters=parameters,
                                          state=Scheduled(scheduled_time=scheduled))
    result = run_flow(monthly_review, flow_run=flow_run, parameters=parameters)
    assert result["month"] == MONTH


def test_validate_says_what_each_file_maps_to_and_what_is_rejected(sample, prefect_server):
    from yuebao.flows.monthly_review import validate_exports

    config, data = sample
    report = validate_exports(str(config), MONTH)
    assert "必填字段为空" in report and "时间早于报事时间" in report  # the sample's defects
    assert "created_at ←" in report and f"{MONTH}：报事工单" in report
    quarantine = pd.read_csv(config.parent / "out" / "validate" / "quarantine.csv", dtype=str,
                             encoding="utf-8-sig")
    expected = sum(n for key, n in data.defects.items() if key.startswith(("ticket_", "payment_")))
    assert len(quarantine) == expected
