"""Point-in-time truth: September 2025 computed from the export taken on 1 October 2025 and
from one taken a year later (the same rows, later events, a later status snapshot) gives the
identical metrics.json."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from yuebao.config import config_from_dict
from yuebao.months import Month
from yuebao.tasks.ingest import ingest
from yuebao.tasks.metrics import build_scope, month_documents
from yuebao.tasks.sample_data import generate_sample

MONTH = Month(2025, 9)
EARLY = pd.Timestamp("2025-10-01 08:00:00")  # the export of the morning after
HEADERS = {"ticket_id": "工单编号", "community": "项目名称", "building": "楼栋", "unit": "房号",
           "created_at": "报事时间", "first_response_at": "接单时间", "resolved_at": "完成时间",
           "closed_at": "关闭时间", "type": "工单类型", "category": "报事类别",
           "priority": "紧急程度", "satisfaction": "回访满意度", "reopened": "返工次数",
           "description": "报事内容"}


def _as_zh_export(tickets: pd.DataFrame) -> pd.DataFrame:
    """Tickets as a Chinese system exports them on ``taken``: its status column is that
    day's snapshot, and a cancellation shows as the status 已取消."""
    times = {c: pd.to_datetime(tickets[c]) for c in
             ("first_response_at", "resolved_at", "closed_at")}
    status = pd.Series("待处理", index=tickets.index)
    status = status.mask(times["first_response_at"].notna(), "处理中")
    status = status.mask(times["resolved_at"].notna(), "已完成")
    status = status.mask(times["closed_at"].notna(), "已关闭")
    status = status.mask(tickets["cancelled"] == "true", "已取消")
    export = tickets.drop(columns=["cancelled", "reporter_name", "reporter_phone"])
    return export.rename(columns=HEADERS).assign(工单状态=status)


def _truncated(tickets: pd.DataFrame, payments: pd.DataFrame, taken: pd.Timestamp):
    """What an export taken at ``taken`` held: no event after it; a rating or a
    cancellation only once the ticket was closed (else resolved) before it."""
    tickets = tickets.copy()
    created = pd.to_datetime(tickets["created_at"])
    tickets = tickets[created.isna() | (created < taken)].copy()
    known = pd.to_datetime(tickets["closed_at"]).fillna(pd.to_datetime(tickets["resolved_at"]))
    not_yet = known.notna() & (known >= taken)
    tickets.loc[not_yet, "satisfaction"] = pd.NA
    tickets.loc[not_yet & tickets["cancelled"].eq("true"), "cancelled"] = "false"
    for column in ("first_response_at", "resolved_at", "closed_at"):
        tickets.loc[pd.to_datetime(tickets[column]) >= taken, column] = pd.NA
    return tickets, payments[pd.to_datetime(payments["paid_at"]) < taken]


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("pit")
    sample = generate_sample(folder / "late", seed=5, communities=2, months=16, scale=0.2,
                             last_month=Month(2026, 10), style="canonical")
    tickets = pd.read_csv(sample.tickets, dtype=str, keep_default_na=False).replace("", pd.NA)
    payments = pd.read_csv(sample.payments, dtype=str, keep_default_na=False)
    bills = pd.read_csv(sample.bills, dtype=str, keep_default_na=False)
    early_tickets, early_payments = _truncated(tickets, payments, EARLY)
    for name, frame_tickets, frame_payments in (("late", tickets, payments),
                                                ("early", early_tickets, early_payments)):
        out = folder / f"{name}-zh"
        out.mkdir()
        _as_zh_export(frame_tickets).to_csv(out / "工单.csv", index=False)
        bills.rename(columns={"bill_id": "账单编号", "community": "项目名称", "building": "楼栋",
                              "unit": "房号", "fee_item": "收费项目", "period": "计费周期",
                              "due_date": "应收日期", "amount_due": "应收金额"}).to_csv(
            out / "账单.csv", index=False)
        frame_payments.rename(columns={"payment_id": "收款单号", "bill_id": "账单编号",
                                       "paid_at": "收款日期", "amount": "实收金额"}).to_csv(
            out / "收款.csv", index=False)
    return folder / "early-zh", folder / "late-zh"


def _september(folder: Path, patterns: dict[str, list[str]] | None = None) -> dict:
    patterns = patterns or {"tickets": ["工单.csv"], "bills": ["账单.csv"],
                            "payments": ["收款.csv"]}
    data = ingest(patterns, folder, "Asia/Shanghai", "zh-generic")
    config = config_from_dict({"communities": [{"id": "jinjiang", "households": 100},
                                               {"id": "songhua", "households": 100}]}, folder)
    scope = build_scope(config, MONTH, ["jinjiang", "songhua"])
    targets = {s: config.targets_for(s) for s in scope.scopes}
    result = month_documents(data.tickets, data.bills, data.payments, scope, data.available,
                             targets, {"notes": []})
    # ``coverage`` describes the export, not the month: the later export reaches further.
    return {s: json.dumps({k: v for k, v in doc.items() if k != "coverage"}, sort_keys=True)
            for s, doc in result.documents.items()}


def test_a_year_later_export_gives_the_same_september(exports):
    early, late = exports
    later_status = pd.read_csv(late / "工单.csv", dtype=str)["工单状态"]
    earlier_status = pd.read_csv(early / "工单.csv", dtype=str)["工单状态"]
    assert (later_status == "已关闭").sum() > (earlier_status == "已关闭").sum()
    assert _september(early) == _september(late)


def test_overlapping_exports_read_together_agree(exports):
    early, late = exports
    both = {"tickets": [str(early / "工单.csv"), str(late / "工单.csv")],
            "bills": [str(late / "账单.csv")],
            "payments": [str(early / "收款.csv"), str(late / "收款.csv")]}
    assert _september(late, both) == _september(late)
