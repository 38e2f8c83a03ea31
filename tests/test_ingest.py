"""Reading real exports: profiles, encodings, Excel, date and money shapes, quarantine,
clear errors, row accounting and point-in-time truth. Files are written with the real
libraries (openpyxl, xlwt, GBK-encoded bytes) and read back through the pipeline."""

from __future__ import annotations

import csv
import io
import json
import platform
import sys
from datetime import date, datetime
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pytest
import xlwt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yuebao.errors import UsageError
from yuebao.memory import keep_freed_memory
from yuebao.tasks.ingest import ingest
from yuebao.tasks.ingest.parse import Lookup, repeated, text_hashes
from yuebao.tasks.ingest.validate import _kept

TZ = "Asia/Shanghai"
ZH_TICKET_HEADER = ["工单编号", "项目名称", "楼栋", "房号", "报事时间", "派单时间", "完成时间",
                    "关闭时间", "工单类型", "报事类别", "紧急程度", "回访满意度", "返工次数",
                    "工单状态"]


def write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8"):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def zh_tickets(folder: Path, rows: list[list[str]], name: str = "工单.csv",
               encoding: str = "utf-8") -> dict:
    write_csv(folder / name, ZH_TICKET_HEADER, rows, encoding)
    return {"tickets": [name]}


ROW = ["G1", "锦江", "3栋", "3-1-502", "2025/9/1 8:05", "2025/9/1 8:20", "2025/9/1 10:00",
       "2025/9/2 9:00", "报修", "水电", "紧急", "非常满意", "0", "已完成"]


# --- encodings and formats -----------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_in_every_chinese_encoding(tmp_path, encoding):
    sources = zh_tickets(tmp_path, [ROW], encoding=encoding)
    if encoding in ("gbk", "gb18030"):
        with pytest.raises(UnicodeDecodeError):
            (tmp_path / "工单.csv").read_bytes().decode("utf-8")
    data = ingest(sources, tmp_path, TZ, "zh-generic")
    ticket = data.tickets.iloc[0]
    assert ticket["community"] == "锦江" and ticket["building"] == "3栋"
    assert ticket["created_at"] == pd.Timestamp("2025-09-01 08:05", tz=TZ)
    assert (ticket["type"], ticket["category"], ticket["priority"]) == (
        "repair", "plumbing_electric", "urgent")
    assert ticket["satisfaction"] == 5 and not ticket["cancelled"]


def test_date_shapes_and_excel_serials(tmp_path):
    shapes = ["2025/9/1 8:05", "2025-09-01T08:05:00", "2025年9月1日 8时5分", "2025-09-01 08:05:00",
              "45901.3368055556", "２０２５－０９－０１ ０８：０５"]
    rows = [[f"G{i}", "锦江", "", "", shape, "", "", "", "报修", "", "", "", "", ""]
            for i, shape in enumerate(shapes)]
    rows.append(["D1", "锦江", "", "", "2025-09-01", "", "", "", "", "", "", "", "", ""])
    data = ingest(zh_tickets(tmp_path, rows), tmp_path, TZ, "zh-generic")
    created = data.tickets.set_index("ticket_id")["created_at"]
    assert (created.drop("D1") == pd.Timestamp("2025-09-01 08:05", tz=TZ)).all()
    assert created["D1"] == pd.Timestamp("2025-09-01 00:00", tz=TZ)  # a bare date is midnight
    assert data.quarantine.empty


def test_money_shapes(tmp_path):
    header = ["账单编号", "项目名称", "收费项目", "应收日期", "应收金额"]
    amounts = {"B1": "1,234.50", "B2": "¥1,234.50", "B3": "１２３４．５", "B4": "1234.5元",
               "B5": "88", "B6": "12.345", "B7": "-5", "B8": "abc"}
    write_csv(tmp_path / "账单.csv", header,
              [[b, "锦江", "物业费", "2025年9月15日", a] for b, a in amounts.items()])
    data = ingest({"bills": ["账单.csv"]}, tmp_path, TZ, "zh-generic")
    fen = data.bills.set_index("bill_id")["amount_due"]
    assert fen.to_dict() == {"B1": 123450, "B2": 123450, "B3": 123450, "B4": 123450, "B5": 8800}
    reasons = data.quarantine.set_index("value")["code"].to_dict()
    assert reasons == {"12.345": "unreadable", "-5": "not_positive", "abc": "unreadable"}


def test_a_comma_before_one_or_two_last_digits_is_ambiguous_not_guessed(tmp_path):
    """``12,34`` is 12.34 with a decimal comma or 1,234 mistyped: quarantined, never 1234."""
    header = ["账单编号", "项目名称", "收费项目", "应收日期", "应收金额"]
    amounts = {"B1": "12,34", "B2": "-5,00", "B3": "¥1,50", "B4": "(12,34)", "B5": "12,3",
               "B6": "1.234,56", "B7": "1,234", "B8": "1,234.50", "B9": "12,345,678.00",
               "B10": "¥1,234元"}
    write_csv(tmp_path / "账单.csv", header,
              [[b, "锦江", "物业费", "2025年9月15日", a] for b, a in amounts.items()])
    data = ingest({"bills": ["账单.csv"]}, tmp_path, TZ, "zh-generic")
    fen = data.bills.set_index("bill_id")["amount_due"]
    assert fen.to_dict() == {"B7": 123400, "B8": 123450, "B9": 1234567800, "B10": 123400}
    quarantined = data.quarantine.set_index("value")[["code", "field"]]
    assert sorted(quarantined.index) == sorted(amounts[b] for b in ("B1", "B2", "B3", "B4",
                                                                    "B5", "B6"))
    assert set(map(tuple, quarantined.values)) == {("ambiguous_amount", "amount_due")}
    # The canonical profile reads no comma at all; an ambiguous one still says why.
    (tmp_path / "bills.csv").write_text(
        "bill_id,community,fee_item,due_date,amount_due\n"
        "B1,a,物业费,2025-09-15,\"12,34\"\nB2,a,物业费,2025-09-15,\"1,234.50\"\n"
        "B3,a,物业费,2025-09-15,12.34\n", "utf-8")
    (tmp_path / "payments.csv").write_text(
        "payment_id,bill_id,paid_at,amount\nP1,B3,2025-09-20,\"-5,00\"\n", "utf-8")
    strict = ingest({"bills": ["bills.csv"], "payments": ["payments.csv"]}, tmp_path, TZ)
    assert strict.bills["bill_id"].tolist() == ["B3"]
    assert strict.quarantine[["table", "value", "code"]].values.tolist() == [
        ["bills", "12,34", "ambiguous_amount"], ["bills", "1,234.50", "unreadable"],
        ["payments", "-5,00", "ambiguous_amount"]]


def test_xlsx_with_date_cells_and_header_offset(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "工单明细"
    sheet.append(["某某物业 工单导出", None])  # a title row above the header
    sheet.append(ZH_TICKET_HEADER)
    sheet.append([*ROW[:4], datetime(2025, 9, 1, 8, 5), 45901.34375, None, None, *ROW[8:]])
    book.save(tmp_path / "工单.xlsx")
    profile = tmp_path / "profile.toml"
    profile.write_text(_profile_with("zh-generic", "[tickets]\nsheet = \"工单明细\"\n"
                                     "header_row = 2\n"), "utf-8")
    data = ingest({"tickets": ["工单.xlsx"]}, tmp_path, TZ, str(profile))
    ticket = data.tickets.iloc[0]
    assert ticket["created_at"] == pd.Timestamp("2025-09-01 08:05", tz=TZ)
    assert ticket["first_response_at"] == pd.Timestamp("2025-09-01 08:15", tz=TZ)  # serial
    assert data.files.iloc[0]["read"] == 1


def test_xls_written_by_xlwt(tmp_path):
    book = xlwt.Workbook()
    sheet = book.add_sheet("Sheet1")
    for column, value in enumerate(ZH_TICKET_HEADER):
        sheet.write(0, column, value)
    for column, value in enumerate(ROW):
        sheet.write(1, column, value)
    book.save(str(tmp_path / "工单.xls"))
    data = ingest({"tickets": ["工单.xls"]}, tmp_path, TZ, "zh-generic")
    assert data.tickets.iloc[0]["ticket_id"] == "G1"


def _profile_with(base: str, extra: str) -> str:
    """A user's profile file: a built-in profile's text plus their own settings."""
    from importlib import resources

    folder = resources.files("yuebao.knowledge").joinpath("profiles")
    return folder.joinpath(f"{base}.toml").read_text("utf-8") + "\n" + extra


# --- labels and free text ------------------------------------------------------------


def test_labels_keywords_constants_and_unknowns(tmp_path):
    header = ["工单编号", "报事时间", "工单类型", "紧急程度", "回访满意度", "工单状态", "报事内容"]
    rows = [["K1", "2025-09-01 08:00", "投诉", "一般", "满意", "处理中", "楼上装修噪音太大"],
            ["K2", "2025-09-01 09:00", "维修", "加急", "非常不满意", "已取消", "厨房水管漏水"],
            ["K3", "2025-09-01 10:00", "催办", "超级急", "10分", "", "暖气不热"],
            ["K4", "2025-09-01 11:00", "咨询", "", "", "", "请问物业费怎么交"]]
    write_csv(tmp_path / "t.csv", header, rows)
    profile = tmp_path / "one-community.toml"
    profile.write_text('name = "one-community"\n[tickets.columns]\nticket_id = "工单编号"\n'
                       'created_at = "报事时间"\ntype = "工单类型"\npriority = "紧急程度"\n'
                       'satisfaction = "回访满意度"\ncancelled = "工单状态"\n'
                       'description = "报事内容"\n[tickets.constants]\ncommunity = "锦江"\n'
                       '[tickets.values.type]\n"投诉" = "complaint"\n"维修" = "repair"\n'
                       '"咨询" = "inquiry"\n[tickets.values.priority]\n"一般" = "normal"\n'
                       '"加急" = "urgent"\n[tickets.values.satisfaction]\n"满意" = 4\n'
                       '"非常不满意" = 1\n[tickets.values.cancelled]\n"已取消" = true\n'
                       '[tickets.category_keywords]\nnoise = ["噪音"]\n'
                       'plumbing_electric = ["漏水"]\nheating = ["暖气"]\n', "utf-8")
    data = ingest({"tickets": ["t.csv"]}, tmp_path, TZ, str(profile))
    t = data.tickets.set_index("ticket_id")
    assert (t["community"] == "锦江").all()
    assert t["type"].to_dict() == {"K1": "complaint", "K2": "repair", "K3": "other",
                                   "K4": "inquiry"}
    assert t["category"].to_dict() == {"K1": "noise", "K2": "plumbing_electric",
                                       "K3": "heating", "K4": "other"}
    assert t["priority"].to_dict() == {"K1": "normal", "K2": "urgent", "K3": "normal",
                                       "K4": "normal"}
    assert (t.loc["K1", "satisfaction"], t.loc["K2", "satisfaction"]) == (4, 1)
    assert pd.isna(t.loc["K3", "satisfaction"])
    assert t["cancelled"].to_dict() == {"K1": False, "K2": True, "K3": False, "K4": False}
    notes = {(n["code"], n["field"]): n for n in data.notes}
    assert notes[("unknown_label", "type")]["examples"] == ["催办"]
    assert notes[("unknown_label", "priority")]["count"] == 1
    assert notes[("rating_dropped", "satisfaction")]["examples"] == ["10分"]


# --- quarantine: every reason --------------------------------------------------------


CANONICAL_TICKETS = ("ticket_id,community,created_at,first_response_at,resolved_at,closed_at\n"
                     "T1,a,2025-09-01 08:00:00,,,\n"                         # used
                     ",a,2025-09-01 08:00:00,,,\n"                           # missing ticket_id
                     "T3,,2025-09-01 08:00:00,,,\n"                          # missing community
                     "T4,a,,,,\n"                                            # missing created_at
                     "T5,a,2025/09/01 08:00,,,\n"                            # unreadable created_at
                     "T6,a,2025-09-01 08:00:00,yesterday,,\n"                # unreadable response
                     "T7,a,2025-09-01 08:00:00,2025-08-31 08:00:00,,\n"      # response before
                     "T8,a,2025-09-01 08:00:00,,2025-08-31 08:00:00,\n"      # resolved before
                     "T9,a,2025-09-01 08:00:00,,,2025-08-31 08:00:00\n"      # closed before
                     "T1,a,2025-09-01 08:00:00,,,\n")                        # duplicate
CANONICAL_BILLS = ("bill_id,community,building,unit,fee_item,period,due_date,amount_due\n"
                   "B1,a,1栋,1-1-101,物业费,2025-09,2025-09-15,100.00\n"
                   "B2,a,1栋,1-1-102,物业费,2025-09,2025-09-15,100.00\n"
                   "B3,a,1栋,1-1-102,物业费,2025-09,2025-09-20,50.00\n"     # same key as B2
                   ",a,,,物业费,,2025-09-15,100\n"                             # missing bill_id
                   "B5,,,,物业费,,2025-09-15,100\n"                            # missing community
                   "B6,a,,,,,2025-09-15,100\n"                                 # missing fee_item
                   "B7,a,,,物业费,,,100\n"                                      # missing due_date
                   "B8,a,,,物业费,,2025-9-15,100\n"                             # unreadable due
                   "B9,a,,,物业费,,2025-09-15,\n"                               # missing amount
                   "B10,a,,,物业费,,2025-09-15,\"1,000\"\n"                     # unreadable
                   "B11,a,,,物业费,,2025-09-15,0\n")                            # not positive
CANONICAL_PAYMENTS = ("payment_id,bill_id,community,building,unit,fee_item,period,paid_at,amount\n"
                      "P1,B1,,,,,,2025-09-10 10:00:00,100\n"                   # used
                      ",B1,,,,,,2025-09-10 10:00:00,100\n"                     # missing id
                      "P3,B1,,,,,,,100\n"                                       # missing paid_at
                      "P4,B1,,,,,,10/09/2025,100\n"                             # unreadable
                      "P5,B1,,,,,,2025-09-10 10:00:00,\n"                       # missing amount
                      "P6,B1,,,,,,2025-09-10 10:00:00,1e3\n"                    # unreadable
                      "P7,B9,,,,,,2025-09-10 10:00:00,100\n"                    # invalid bill
                      "P8,B404,,,,,,2025-09-10 10:00:00,100\n"                  # unknown bill
                      "P9,,a,1栋,1-1-101,物业费,2025-09,2025-09-10 10:00:00,1\n"  # key: B1
                      "P10,,a,1栋,1-1-103,物业费,2025-09,2025-09-10 10:00:00,1\n"  # no bill
                      "P11,,a,1栋,1-1-102,物业费,2025-09,2025-09-10 10:00:00,1\n")  # B2 and B3


def test_every_quarantine_reason_with_file_line_and_raw_row(tmp_path):
    for name, text in (("tickets", CANONICAL_TICKETS), ("bills", CANONICAL_BILLS),
                       ("payments", CANONICAL_PAYMENTS)):
        (tmp_path / f"{name}.csv").write_text(text, "utf-8")
    data = ingest({t: [f"{t}.csv"] for t in ("tickets", "bills", "payments")}, tmp_path, TZ)
    q = data.quarantine
    got = {(r.table, r.line): (r.code, r.field) for r in q.itertuples()}
    assert got == {
        ("tickets", 3): ("missing", "ticket_id"), ("tickets", 4): ("missing", "community"),
        ("tickets", 5): ("missing", "created_at"), ("tickets", 6): ("unreadable", "created_at"),
        ("tickets", 7): ("unreadable", "first_response_at"),
        ("tickets", 8): ("before_created", "first_response_at"),
        ("tickets", 9): ("before_created", "resolved_at"),
        ("tickets", 10): ("before_created", "closed_at"),
        ("bills", 5): ("missing", "bill_id"), ("bills", 6): ("missing", "community"),
        ("bills", 7): ("missing", "fee_item"), ("bills", 8): ("missing", "due_date"),
        ("bills", 9): ("unreadable", "due_date"), ("bills", 10): ("missing", "amount_due"),
        ("bills", 11): ("unreadable", "amount_due"), ("bills", 12): ("not_positive", "amount_due"),
        ("payments", 3): ("missing", "payment_id"), ("payments", 4): ("missing", "paid_at"),
        ("payments", 5): ("unreadable", "paid_at"), ("payments", 6): ("missing", "amount"),
        ("payments", 7): ("unreadable", "amount"), ("payments", 8): ("unknown_bill", "bill_id"),
        ("payments", 9): ("unknown_bill", "bill_id"),
        ("payments", 11): ("key_matches_no_bill", "bill_id"),
        ("payments", 12): ("key_matches_several_bills", "bill_id"),
    }
    raw = json.loads(q[(q.table == "tickets") & (q.line == 6)].iloc[0]["raw"])
    assert raw["created_at"] == "2025/09/01 08:00" and raw["ticket_id"] == "T5"
    assert q[(q.table == "tickets") & (q.line == 6)].iloc[0]["value"] == "2025/09/01 08:00"
    assert set(q["file"]) == {"tickets.csv", "bills.csv", "payments.csv"}
    assert data.payments.set_index("payment_id").loc["P9", "bill_id"] == "B1"
    totals = data.totals()
    assert totals["tickets"] == {"read": 10, "used": 1, "quarantined": 8, "duplicate": 1}
    assert totals["bills"] == {"read": 11, "used": 3, "quarantined": 8, "duplicate": 0}
    assert totals["payments"] == {"read": 11, "used": 2, "quarantined": 9, "duplicate": 0}


def test_an_invalid_row_never_hides_a_valid_one(tmp_path):
    (tmp_path / "a.csv").write_text("ticket_id,community,created_at,resolved_at\n"
                                    "T1,a,2025-09-01 08:00:00,\n", "utf-8")
    (tmp_path / "b.csv").write_text("ticket_id,community,created_at,resolved_at\n"
                                    "T1,a,2025-09-01 08:00:00,2025-08-01 00:00:00\n", "utf-8")
    data = ingest({"tickets": ["*.csv"]}, tmp_path, TZ)
    assert data.tickets["ticket_id"].tolist() == ["T1"]
    assert data.totals()["tickets"] == {"read": 2, "used": 1, "quarantined": 1, "duplicate": 0}


# --- clear errors --------------------------------------------------------------------


def _error(tmp_path, sources, profile="zh-generic") -> str:
    with pytest.raises(UsageError) as caught:
        ingest(sources, tmp_path, TZ, profile)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_missing_required_column_names_field_found_and_closest(tmp_path):
    header = [h if h != "报事时间" else "报事日期" for h in ZH_TICKET_HEADER]
    write_csv(tmp_path / "工单.csv", header, [ROW])
    message = _error(tmp_path, {"tickets": ["工单.csv"]})
    assert message.startswith("工单.csv: ")
    assert "'created_at'" in message and "'报事时间'" in message
    assert "found: 工单编号" in message and "closest: '报事日期'" in message


def test_empty_unreadable_and_not_a_table(tmp_path):
    for name, content in (("empty.csv", b""), ("blank.csv", b"  \n\n"),
                          ("bom.csv", b"\xef\xbb\xbf \r\n")):
        (tmp_path / name).write_bytes(content)
        assert f"{name}: the file is empty" in _error(tmp_path, {"tickets": [name]})
    (tmp_path / "bad.csv").write_bytes(b"\xff\xfe\xff,\xff\n\xff\xff,\x80\n")
    assert "not readable as UTF-8, GBK or GB18030" in _error(tmp_path, {"tickets": ["bad.csv"]})
    (tmp_path / "binary.csv").write_bytes(b"PK\x03\x04\x00\x00binary")
    assert "not a table" in _error(tmp_path, {"tickets": ["binary.csv"]})
    (tmp_path / "broken.xlsx").write_bytes(b"this is not a workbook")
    assert "not a readable Excel workbook" in _error(tmp_path, {"tickets": ["broken.xlsx"]})
    assert "no tickets export matches" in _error(tmp_path, {"tickets": ["nothing-*.csv"]})
    write_csv(tmp_path / "gbk.csv", ZH_TICKET_HEADER, [ROW], "gbk")
    profile = tmp_path / "utf8-only.toml"
    profile.write_text(_profile_with("zh-generic", "").replace('encoding = "auto"',
                                                               'encoding = "utf-8"'), "utf-8")
    assert "not readable as utf-8" in _error(tmp_path, {"tickets": ["gbk.csv"]}, str(profile))


def test_bad_profile_is_a_usage_error(tmp_path):
    profile = tmp_path / "p.toml"
    profile.write_text('name = "p"\n[tickets.columns]\nwhen = "报事时间"\n', "utf-8")
    assert "'when' is not a canonical field" in _error(tmp_path, {"tickets": ["x"]}, str(profile))
    assert "neither a built-in profile" in _error(tmp_path, {"tickets": ["x"]}, "nope")


# --- accounting as a property --------------------------------------------------------

CELLS = {
    "ticket_id": st.sampled_from(["T1", "T2", "T3", "", "T4"]),
    "community": st.sampled_from(["a", "b", ""]),
    "created_at": st.sampled_from(["2025-09-01 08:00:00", "2025-09-02", "", "bad",
                                   "2025-13-01 00:00:00", "2025-09-01T08:00:00+08:00"]),
    "resolved_at": st.sampled_from(["", "2025-09-03 10:00:00", "2025-08-01 00:00:00", "x"]),
    "type": st.sampled_from(["repair", "complaint", "nonsense", ""]),
    "satisfaction": st.sampled_from(["", "5", "4", "0", "good"]),
}


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.lists(st.lists(st.fixed_dictionaries(CELLS), max_size=25), min_size=1,
                      max_size=3))
def test_every_row_is_used_quarantined_or_duplicate(tmp_path_factory, files):
    folder = tmp_path_factory.mktemp("messy")
    for number, rows in enumerate(files):
        frame = pd.DataFrame(rows, columns=list(CELLS))
        frame.to_csv(folder / f"tickets-{number}.csv", index=False)
    data = ingest({"tickets": ["tickets-*.csv"]}, folder, TZ)
    for account in data.files.itertuples():
        assert account.read == account.used + account.quarantined + account.duplicate
    assert data.files["read"].sum() == sum(len(rows) for rows in files)
    assert len(data.quarantine) == data.files["quarantined"].sum()
    assert len(data.tickets) == data.files["used"].sum()
    assert not data.tickets.duplicated(["community", "ticket_id"]).any()


def test_per_bill_payments_make_one_payment_per_paid_bill(tmp_path):
    header = ["账单编号", "项目名称", "房号", "收费项目", "应收日期", "应收金额", "已缴金额",
              "最后缴费日期"]
    write_csv(tmp_path / "账单.csv", header, [
        ["B1", "a", "1-101", "物业费", "2025-09-15", "300", "300", "2025/9/10"],
        ["B2", "a", "1-102", "物业费", "2025-09-15", "300", "", ""],
        ["B3", "a", "1-103", "物业费", "2025-09-15", "300", "100.00", "2025/10/2 9:30"],
        ["B4", "a", "1-104", "物业费", "2025-09-15", "300", "50", "someday"]])
    profile = tmp_path / "per-bill.toml"
    per_bill = '[per_bill]\namount_paid = "已缴金额"\nlast_paid_at = "最后缴费日期"\n'
    profile.write_text('payments_mode = "per_bill"\n' + _profile_with("zh-generic", per_bill),
                       "utf-8")
    data = ingest({"bills": ["账单.csv"]}, tmp_path, TZ, str(profile))
    payments = data.payments.set_index("bill_id")
    assert payments["amount"].to_dict() == {"B1": 30000, "B3": 10000}
    assert payments.loc["B3", "paid_at"] == pd.Timestamp("2025-10-02 09:30", tz=TZ)
    assert data.totals()["payments"] == {"read": 3, "used": 2, "quarantined": 1, "duplicate": 0}
    assert data.quarantine.iloc[0]["file"] == "账单.csv" and data.quarantine.iloc[0]["line"] == 5
    assert {"code": "approximate_payments", "table": "payments"} in data.notes
    # validate shows each table's own mapping for the one file: payments from the paid columns
    assert data.columns[("payments", "账单.csv")] == {
        "bill_id": "账单编号", "paid_at": "最后缴费日期", "amount": "已缴金额"}
    assert data.columns[("bills", "账单.csv")]["amount_due"] == "应收金额"
    from yuebao.tasks.render import validation_report

    report = validation_report(data, "yuebao.toml", str(profile), "zh")
    assert "amount ← 已缴金额" in report and "amount_due ← 应收金额" in report


def test_condo_ticket_export(tmp_path):
    header = ["number", "property", "unitName", "classifier", "isEmergency", "createdAt",
              "inworkAt", "completedAt", "closedAt", "status", "feedbackValue",
              "statusReopenedCounter", "details"]
    write_csv(tmp_path / "tickets.csv", header, [
        ["101", "Lenina 5", "12", "Water leak » Kitchen", "true", "2025-09-01T05:00:00.000Z",
         "2025-09-01T05:10:00.000Z", "2025-09-01T08:00:00.000Z", "2025-09-02T08:00:00.000Z",
         "closed", "good", "1", "Течет кран"],
        ["102", "Lenina 5", "7", "Elevator", "false", "2025-09-03T10:00:00.000Z", "", "",
         "2025-09-03T11:00:00.000Z", "canceled", "", "0", ""]])
    data = ingest({"tickets": ["tickets.csv"]}, tmp_path, TZ, "condo")
    t = data.tickets.set_index("ticket_id")
    assert t.loc["101", "created_at"] == pd.Timestamp("2025-09-01 13:00", tz=TZ)  # UTC → local
    assert (t.loc["101", "priority"], t.loc["102", "priority"]) == ("urgent", "normal")
    assert (t.loc["101", "category"], t.loc["102", "category"]) == ("plumbing_electric",
                                                                    "elevator")
    assert t.loc["101", "satisfaction"] == 5 and t.loc["101", "reopened"] == 1
    assert t.loc["102", "cancelled"] and not t.loc["101", "cancelled"]
    assert (t["type"] == "repair").all()


def test_noon_words_and_spreadsheet_float_noise(tmp_path):
    header = ["账单编号", "项目名称", "收费项目", "应收日期", "应收金额"]
    write_csv(tmp_path / "账单.csv", header, [
        ["B1", "a", "物业费", "2025/9/1 下午3:05:07", "1234.5600000000002"],
        ["B2", "a", "物业费", "2025-09-01 3:05 PM", "1234.5599999999999"],
        ["B3", "a", "物业费", "2025/9/1 上午12:30", "99.999999999"],
        ["B4", "a", "物业费", "2025/9/1", "12.3400001"]])  # real digits, not float noise
    data = ingest({"bills": ["账单.csv"]}, tmp_path, TZ, "zh-generic")
    assert data.bills.set_index("bill_id")["amount_due"].to_dict() == {
        "B1": 123456, "B2": 123456, "B3": 10000}
    assert data.quarantine["value"].tolist() == ["12.3400001"]
    from yuebao.tasks.ingest.parse import parse_timestamps

    stamps, _ = parse_timestamps(pd.Series(["2025/9/1 下午3:05:07", "2025-09-01 3:05 PM",
                                            "2025/9/1 上午12:30"], dtype="str"), TZ,
                                 strict=False)
    assert [t.strftime("%H:%M") for t in stamps] == ["15:05", "15:05", "00:30"]


def test_strict_money_reads_ascii_digits_only(tmp_path):
    (tmp_path / "bills.csv").write_text(
        "bill_id,community,fee_item,due_date,amount_due\n"
        "B1,a,物业费,2025-09-15,１２.３\nB2,a,物业费,2025-09-15,12.30\n", "utf-8")
    data = ingest({"bills": ["bills.csv"]}, tmp_path, TZ)
    assert data.bills["bill_id"].tolist() == ["B2"]
    assert data.quarantine.iloc[0][["code", "field"]].tolist() == ["unreadable", "amount_due"]


def test_money_exact_to_sixteen_digits_of_yuan_and_no_further(tmp_path):
    """The largest readable amount keeps every fen; one digit more is unreadable, not a crash."""
    (tmp_path / "bills.csv").write_text(
        "bill_id,community,fee_item,due_date,amount_due\n"
        "B1,a,物业费,2025-09-15,9999999999999999.99\n"
        "B2,a,物业费,2025-09-15,0.01\n"
        "B3,a,物业费,2025-09-15,99999999999999999\n", "utf-8")
    data = ingest({"bills": ["bills.csv"]}, tmp_path, TZ)
    assert data.bills.set_index("bill_id")["amount_due"].to_dict() == {
        "B1": 999_999_999_999_999_999, "B2": 1}
    assert data.quarantine[["line", "code", "field"]].values.tolist() == [
        [4, "unreadable", "amount_due"]]


def test_ingest_keeps_freed_memory_for_reuse(tmp_path):
    """After an ingest, Arrow allocates through glibc, which keeps what is freed (Linux)."""
    (tmp_path / "bills.csv").write_text(
        "bill_id,community,fee_item,due_date,amount_due\nB1,a,物业费,2025-09-15,12.30\n", "utf-8")
    ingest({"bills": ["bills.csv"]}, tmp_path, TZ)
    assert pa.default_memory_pool().backend_name == "system"
    if sys.platform == "linux" and platform.libc_ver()[0] == "glibc":
        assert keep_freed_memory() is True


def test_a_total_row_at_the_foot_is_quarantined_as_such(tmp_path):
    header = ["账单编号", "项目名称", "收费项目", "应收日期", "应收金额"]
    write_csv(tmp_path / "账单.csv", header,
              [["B1", "锦江", "物业费", "2025-09-15", "1,234.50"],
               ["B2", "锦江", "物业费", "2025-09-15", "1,000.00"],
               ["合计", "", "", "", "2,234.50"]])
    data = ingest({"bills": ["账单.csv"]}, tmp_path, TZ, "zh-generic")
    assert data.bills["bill_id"].tolist() == ["B1", "B2"]
    assert data.quarantine[["line", "code", "field", "value"]].values.tolist() == [
        [4, "total_row", "bill_id", "合计"]]
    assert data.totals()["bills"] == {"read": 3, "used": 2, "quarantined": 1, "duplicate": 0}


@pytest.mark.parametrize("gone", [[], [0], [3, 4, 9], list(range(10)), list(range(0, 10, 2))])
def test_kept_rows_are_the_used_ones_in_order(gone):
    rows = pd.DataFrame({"id": pd.Series([f"R{i}" for i in range(10)], dtype="str"),
                         "n": range(10)}, index=range(100, 110))
    used = ~np.isin(np.arange(10), gone)
    expected = rows[used].reset_index(drop=True)
    for pieces in (0, 256):  # copied by a mask, or joined from slices
        pd.testing.assert_frame_equal(_kept(rows, used, pieces), expected)


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_line_numbers_count_blank_lines_and_cells_that_span_lines(tmp_path, encoding):
    """quarantine.csv names the line a person finds the row on, whatever comes before it."""
    text = ("工单编号,项目名称,报事时间,报事内容\n"
            'G1,锦江,2025/9/1 8:05,"楼道灯不亮，\n三楼和四楼都不亮"\n'
            "\n"
            "G2,锦江,不是时间,漏水\r\n"
            'G3,锦江,2025/9/1 9:00,"说""马上到""，\n\n至今未到"\n'
            "G4,,2025/9/1 9:30,噪音\n")
    (tmp_path / "工单.csv").write_bytes(text.encode(encoding))
    data = ingest({"tickets": ["工单.csv"]}, tmp_path, TZ, "zh-generic")
    assert data.quarantine[["line", "value"]].values.tolist() == [[5, "不是时间"], [9, ""]]
    described = data.tickets.set_index("ticket_id")["description"]
    assert described["G1"] == "楼道灯不亮，\n三楼和四楼都不亮"
    assert described["G3"] == '说"马上到"，\n\n至今未到'


def test_a_repeated_header_is_read_as_pandas_would_name_it(tmp_path):
    (tmp_path / "bills.csv").write_text(
        "bill_id,community,fee_item,due_date,amount_due,note,note\n"
        "B1,a,物业费,2025-09-15,12.30,first,second\n"
        "B2,a,物业费,2025-09-15,abc,third,fourth\n", "utf-8")
    data = ingest({"bills": ["bills.csv"]}, tmp_path, TZ)
    assert data.bills["bill_id"].tolist() == ["B1"]
    raw = json.loads(data.quarantine.iloc[0]["raw"])
    assert (raw["note"], raw["note.1"], data.quarantine.iloc[0]["line"]) == ("third", "fourth", 3)


def test_a_title_line_above_the_header_keeps_the_line_numbers(tmp_path):
    text = ("物业工单明细表\n工单编号,项目名称,报事时间,报事内容\n"
            'G1,锦江,2025/9/1 8:05,"两行\n内容"\n\nG2,锦江,坏时间,x\n')
    (tmp_path / "工单.csv").write_bytes(text.encode("gbk"))
    profile = tmp_path / "mine.toml"
    profile.write_text(_profile_with("zh-generic", "").replace(
        "[tickets.columns]", "[tickets]\nheader_row = 2\n\n[tickets.columns]", 1), "utf-8")
    data = ingest({"tickets": ["工单.csv"]}, tmp_path, TZ, str(profile))
    assert data.quarantine[["line", "value"]].values.tolist() == [[6, "坏时间"]]
    assert data.tickets["description"].tolist() == ["两行\n内容"]


# --- rows that are not rows: recovery line by line --------------------------------------

BILLS_HEADER = "bill_id,community,fee_item,due_date,amount_due\n"


def test_a_bad_line_is_quarantined_with_its_line_and_the_rest_is_read(tmp_path):
    text = (BILLS_HEADER
            + "B1,锦江,物业费,2025-09-15,10.00\n"            # line 2: used
            + "B2,锦江,物业费,2025-09-15,20.00,多,余\n"       # line 3: 7 fields
            + "B3,锦江\n"                                     # line 4: 2 fields
            + '"B4,锦江,物业费,2025-09-15,40.00\n'            # line 5: quote never closed
            + "B5,锦江,物业费,2025-09-15,50.00\n"             # line 6: used
            + "x" * 100_000 + "\n"                           # line 7: garbage, 1 field
            + 'B6,锦江,"两行\n备注",2025-09-15,60.00\n'        # lines 8-9: used
            + "\n"                                           # line 10: blank, skipped
            + "B7,锦江,物业费,2025-09-15,70.00")               # line 11: used, no final break
    (tmp_path / "bills.csv").write_bytes(text.encode("utf-8"))
    data = ingest({"bills": ["bills.csv"]}, tmp_path, TZ)
    assert data.bills["bill_id"].tolist() == ["B1", "B5", "B6", "B7"]
    assert data.bills["amount_due"].tolist() == [1000, 5000, 6000, 7000]
    assert data.bills.set_index("bill_id").loc["B6", "fee_item"] == "两行\n备注"
    q = data.quarantine
    assert q[["line", "code", "value"]].values.tolist() == [
        [3, "too_many_fields", "7/5"], [4, "too_few_fields", "2/5"],
        [5, "unbalanced_quote", "1/5"], [7, "too_few_fields", "1/5"]]
    assert json.loads(q.iloc[1]["raw"]) == {"text": "B3,锦江"}
    assert len(json.loads(q.iloc[3]["raw"])["text"]) == 10_001  # cut, with an ellipsis
    assert data.totals()["bills"] == {"read": 8, "used": 4, "quarantined": 4, "duplicate": 0}


def test_a_bad_line_of_a_file_with_names_keeps_no_text(tmp_path):
    """A line that cannot be split has no name column to mask, so its text stays in the file."""
    (tmp_path / "tickets.csv").write_text(
        "ticket_id,community,created_at,reporter_name,reporter_phone\n"
        "T1,锦江,2025-09-01 08:00:00,王小明,13812345678\n"
        "T2,锦江,2025-09-01 09:00:00,李大红,13987654321,多余\n", "utf-8")
    data = ingest({"tickets": ["tickets.csv"]}, tmp_path, TZ)
    row = data.quarantine.iloc[0]
    assert (row["line"], row["code"]) == (3, "too_many_fields")
    assert json.loads(row["raw"]) == {"text": None, "withheld": "personal_data"}
    written = data.quarantine.to_csv()
    assert "李大红" not in written and "13987654321" not in written


@pytest.mark.parametrize("characters", [400_000, 1_000_000])
def test_a_megabyte_cell_is_read(tmp_path, characters):
    # 1.2 MB of UTF-8 pyarrow reads as it is; 3 MB straddles its 1 MB blocks, and is
    # read again with blocks large enough.
    cell = "长" * characters
    (tmp_path / "bills.csv").write_text(
        BILLS_HEADER + f'B1,锦江,"{cell}",2025-09-15,10.00\nB2,锦江,物业费,2025-09-15,20.00\n',
        "utf-8")
    data = ingest({"bills": ["bills.csv"]}, tmp_path, TZ)
    assert data.bills["fee_item"].str.len().tolist() == [characters, 3]
    assert data.quarantine.empty


# --- clear errors ------------------------------------------------------------------------


def test_an_os_error_names_the_file_in_one_line(tmp_path):
    (tmp_path / "bills.csv").symlink_to("/proc/self/mem")  # a regular file that cannot be read
    message = _error(tmp_path, {"bills": ["bills.csv"]}, "canonical")
    # shown as the file it points to; one line, without a traceback
    assert message.endswith("/mem: the file cannot be read (Input/output error)")


def test_a_column_read_twice_in_the_header_is_an_error_naming_it(tmp_path):
    (tmp_path / "bills.csv").write_text(
        "bill_id,community,fee_item,due_date,amount_due,amount_due\n"
        "B1,a,物业费,2025-09-15,12.30,99.00\n", "utf-8")
    assert _error(tmp_path, {"bills": ["bills.csv"]}, "canonical") == (
        "bills.csv: the column 'amount_due' (read as amount_due) appears 2 times in the header "
        "(columns 5, 6); rename or remove the copies so that it is clear which one to read")


def test_an_encrypted_workbook_says_so(tmp_path):
    # What Excel writes for a password-protected .xlsx: an OLE2 compound file whose
    # directory names the EncryptedInfo and EncryptedPackage streams (UTF-16 names).
    body = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + "EncryptionInfo".encode("utf-16-le")
            + bytes(50) + "EncryptedPackage".encode("utf-16-le") + bytes(1000))
    (tmp_path / "工单.xlsx").write_bytes(body)
    assert "工单.xlsx: the workbook is encrypted (password-protected)" in _error(
        tmp_path, {"tickets": ["工单.xlsx"]})


def test_an_xlsx_that_is_csv_text_is_read_as_csv(tmp_path):
    write_csv(tmp_path / "工单.xlsx", ZH_TICKET_HEADER, [ROW], "gbk")
    data = ingest({"tickets": ["工单.xlsx"]}, tmp_path, TZ, "zh-generic")
    assert data.tickets["ticket_id"].tolist() == ["G1"]
    assert data.tickets.iloc[0]["created_at"] == pd.Timestamp("2025-09-01 08:05", tz=TZ)
    (tmp_path / "page.xls").write_text("<html><table><tr><td>x</td></tr></table></html>")
    assert "page.xls: not a readable Excel workbook: the file is HTML or XML text" in _error(
        tmp_path, {"tickets": ["page.xls"]})


# --- profiles: null tokens, label fields, made ids ----------------------------------------


def _own_profile(tmp_path, text: str) -> str:
    profile = tmp_path / "mine.toml"
    profile.write_text('name = "mine"\nstrict = false\n' + text, "utf-8")
    return str(profile)


def test_null_values_of_the_profile_and_of_a_table_are_empty_cells(tmp_path):
    (tmp_path / "tickets.csv").write_text(
        "ticket_id,community,created_at,resolved_at,satisfaction\n"
        "T1,a,2025-09-01 08:00,?,N/A\n"        # resolved ? and rating N/A: empty, kept
        "T2,a,2025-09-01 09:00, - ,5\n"        # "-" after trimming: empty
        "T3,a,?,2025-09-02 10:00,4\n"          # created ?: missing, quarantined
        "T4,a,2025-09-01 10:00,无,?x\n", "utf-8")  # "?x" is no token: a dropped rating
    profile = _own_profile(tmp_path, 'null_values = ["?", "N/A"]\n'
                                     '[tickets]\nnull_values = ["-", "无"]\n')
    data = ingest({"tickets": ["tickets.csv"]}, tmp_path, TZ, profile)
    tickets = data.tickets.set_index("ticket_id")
    assert tickets.index.tolist() == ["T1", "T2", "T4"]
    assert tickets["resolved_at"].isna().all()
    assert tickets["satisfaction"].tolist() == [pd.NA, 5, pd.NA]
    assert data.quarantine[["line", "code", "field"]].values.tolist() == [
        [4, "missing", "created_at"]]
    assert [n["count"] for n in data.notes if n["code"] == "rating_dropped"] == [1]


def test_a_values_map_on_a_field_that_takes_no_labels_is_a_profile_error(tmp_path):
    profile = _own_profile(tmp_path, '[payments.values.amount]\n"免" = "0"\n')
    assert _error(tmp_path, {"payments": ["x"]}, profile).endswith(
        "payments.values.amount: 'amount' is not a label field, so its cells are not mapped "
        "(label fields: community)")


@pytest.mark.parametrize(("table", "expected"), [
    ('[tickets.values.satisfaction]\n"满意" = 9\n', "tickets.values.satisfaction: 9 is not a "
     "rating from 1 to 5"),
    ('[tickets.values.cancelled]\n"作废" = "yes"\n', "tickets.values.cancelled: 'yes' is not "
     "true or false"),
    ('[tickets.values.reopened]\n"一次" = true\n', "tickets.values.reopened: True is not a count"),
])
def test_a_label_must_map_to_a_value_its_field_can_hold(tmp_path, table, expected):
    assert expected in _error(tmp_path, {"tickets": ["x"]}, _own_profile(tmp_path, table))


def test_a_repeated_column_in_a_workbook_is_an_error_too(tmp_path):
    book = openpyxl.Workbook()
    book.active.append(["bill_id", "community", "fee_item", "due_date", "amount_due",
                        "amount_due"])
    book.active.append(["B1", "a", "物业费", "2025-09-15", "12.30", "99.00"])
    book.save(tmp_path / "bills.xlsx")
    assert "bills.xlsx: the column 'amount_due' (read as amount_due) appears 2 times" in _error(
        tmp_path, {"bills": ["bills.xlsx"]}, "canonical")


RECEIPTS = ("用户编号,小区,缴费日期,缴费金额\n"
            "U1,锦江,2025-09-01,100.00\n"
            "U1,锦江,2025-09-01,100.00\n"     # the same user, day and amount: one key
            "U2,锦江,2025-09-02,50.00\n")


@pytest.mark.parametrize(("made", "ids", "duplicate"), [
    ('["用户编号", "缴费日期", "缴费金额"]',
     ["U1|2025-09-01|100.00", "U2|2025-09-02|50.00"], 1),
    ('"@row"', ["缴费记录.csv:2", "缴费记录.csv:3", "缴费记录.csv:4"], 0),
])
def test_ids_made_from_columns_or_from_the_line(tmp_path, made, ids, duplicate):
    (tmp_path / "缴费记录.csv").write_text(RECEIPTS, "utf-8")
    profile = _own_profile(tmp_path, f'[payments]\nid = {made}\n[payments.columns]\n'
                                     'community = "小区"\npaid_at = "缴费日期"\n'
                                     'amount = "缴费金额"\n')
    data = ingest({"payments": ["缴费记录.csv"]}, tmp_path, TZ, profile)
    assert data.payments["payment_id"].tolist() == ids
    assert data.totals()["payments"]["duplicate"] == duplicate


# --- implausible dates and unreadable ones ------------------------------------------------


def test_dates_before_2000_or_after_the_run_day_are_quarantined_with_the_bounds(tmp_path):
    (tmp_path / "tickets.csv").write_text(
        "ticket_id,community,created_at,resolved_at\n"
        "T1,a,1969-12-31 23:00:00,\n"               # a system's epoch default
        "T2,a,2025-09-30 08:00:00,2025-10-02 08:00:00\n"  # resolved two days ahead
        "T3,a,2025-09-30 08:00:00,2025-10-01 23:59:00\n"  # one day ahead: plausible
        "T4,a,2000-01-01 00:00:00,\n", "utf-8")
    (tmp_path / "bills.csv").write_text(
        BILLS_HEADER + "B1,a,物业费,1900-01-01,10.00\nB2,a,物业费,2026-03-31,10.00\n", "utf-8")
    data = ingest({"tickets": ["tickets.csv"], "bills": ["bills.csv"]}, tmp_path, TZ,
                  today=date(2025, 9, 30))
    assert data.tickets["ticket_id"].tolist() == ["T3", "T4"]
    assert data.bills["bill_id"].tolist() == ["B2"]  # a due date may lie ahead
    assert data.quarantine[["table", "line", "code", "field"]].values.tolist() == [
        ["tickets", 2, "implausible_date", "created_at"],
        ["tickets", 3, "implausible_date", "resolved_at"],
        ["bills", 2, "implausible_date", "due_date"]]
    assert data.date_bounds == {"earliest": "2000-01-01", "latest": "2025-10-01", "days": "1"}
    from yuebao.tasks.render import quarantine_reasons
    assert quarantine_reasons(data, "en")["implausible_date"].startswith(
        "Implausible date: before 2000-01-01, or an event time after 2025-10-01 "
        "(more than 1 day(s) after the run date)")


def test_the_date_bounds_are_set_in_the_profile(tmp_path):
    (tmp_path / "tickets.csv").write_text(
        "ticket_id,community,created_at\nT1,a,1999-06-01 08:00:00\nT2,a,2025-10-05 08:00:00\n",
        "utf-8")
    profile = _own_profile(tmp_path, '[dates]\nearliest = "1990-01-01"\nlatest_days_ahead = 7\n')
    data = ingest({"tickets": ["tickets.csv"]}, tmp_path, TZ, profile, today=date(2025, 9, 30))
    assert data.tickets["ticket_id"].tolist() == ["T1", "T2"]


def test_validate_shows_an_unreadable_date_and_the_format_that_reads_it(tmp_path):
    from yuebao.tasks.render import validation_report

    (tmp_path / "tickets.csv").write_text(
        "ticket_id,community,created_at\nT1,a,13-09-2025 08:05\nT2,a,2025-09-13 08:05\n",
        "utf-8")
    data = ingest({"tickets": ["tickets.csv"]}, tmp_path, TZ, _own_profile(tmp_path, ""))
    report = validation_report(data, "config.toml", "mine", "zh")
    assert '例如值“13-09-2025 08:05”：在映射文件中加上 date_formats = ["%d-%m-%Y %H:%M"] 即可读取' \
        in report
    english = validation_report(data, "config.toml", "mine", "en")
    assert 'e.g. the value "13-09-2025 08:05": add date_formats = ["%d-%m-%Y %H:%M"]' in english


def test_quarantine_masks_the_reporters_name_and_phone(tmp_path):
    (tmp_path / "工单.csv").write_text(
        "工单编号,项目名称,报事时间,报事人,联系电话,报事内容\n"
        "G1,锦江,,张三丰,13812345678,漏水，请联系13900001111\n"
        "G2,锦江,2025/9/1 8:05,李四,0571-8888,x\n"
        "G3,锦江,多余,2025/9/1 8:05,王五,13612345678,x\n", "utf-8")  # too many fields
    data = ingest({"tickets": ["工单.csv"]}, tmp_path, TZ, "zh-generic")
    assert data.tickets.iloc[0]["reporter_name"] == "李四"  # the data itself is unchanged
    first = json.loads(data.quarantine.iloc[0]["raw"])
    assert (first["报事人"], first["联系电话"], first["报事内容"]) == (
        "张**", "138****5678", "漏水，请联系139****1111")
    assert data.quarantine.iloc[0]["line"] == 2
    assert data.quarantine.iloc[1]["line"] == 4
    # A line that cannot be split keeps no text: 王五 could not be found in it to mask.
    assert json.loads(data.quarantine.iloc[1]["raw"]) == {"text": None,
                                                         "withheld": "personal_data"}
    from yuebao.tasks.ingest.validate import mask_phone
    assert mask_phone(pd.Series(["0571-8888", "1234", ""], dtype="str")).tolist() == [
        "057**8888", "****", ""]


def test_a_clean_file_never_takes_the_slow_path(tmp_path, monkeypatch):
    import yuebao.tasks.ingest.read as read

    def refuse(*args, **kwargs):
        raise AssertionError("a clean file was split row by row")

    monkeypatch.setattr(read, "_recover", refuse)
    (tmp_path / "bills.csv").write_text(
        BILLS_HEADER + 'B1,锦江,"两行\n备注",2025-09-15,10.00\nB2,锦江,物业费,2025-09-15,20.00\n',
        "utf-8")
    data = ingest({"bills": ["bills.csv"]}, tmp_path, TZ)
    assert data.bills["bill_id"].tolist() == ["B1", "B2"]


@settings(max_examples=60, deadline=None)
@given(texts=st.lists(st.text(max_size=30), min_size=1, max_size=40),
       other=st.lists(st.text(max_size=70), max_size=10))
def test_equal_texts_hash_equal_whatever_the_column_and_distinct_hashes_mean_distinct(
        texts, other):
    """The duplicate check trusts distinct hashes to mean distinct keys: a text must hash
    the same in any column (another width, dictionary-encoded or not)."""
    alone = text_hashes(pd.Series(texts, dtype="str"))
    mixed = text_hashes(pd.Series(other + texts, dtype="str"))[len(other):]
    coded = text_hashes(pd.Series(texts, dtype="str").astype("category"))
    assert (alone == mixed).all() and (alone == coded).all()
    if not repeated(alone).any():
        assert len(set(texts)) == len(texts)


def test_only_rows_whose_hash_repeats_are_compared():
    hashes = np.array([5, 3, 5, 7, 3, 3, 9], dtype=np.uint64)
    assert repeated(hashes).tolist() == [True, True, True, False, True, True, False]
    assert not repeated(np.array([1, 2], dtype=np.uint64)).any()
    assert not repeated(np.zeros(0, dtype=np.uint64)).any()


def test_many_distinct_ids_of_mixed_widths_do_not_collide():
    ids = pd.Series([f"B{i}" + "x" * (i % 13) for i in range(50_000)], dtype="str")
    assert not repeated(text_hashes(ids)).any()


def test_a_bill_link_through_hashes_is_confirmed_by_the_text():
    """A payment's bill id found by its hash counts only if the texts agree (a hash
    shared with another id means no bill has it); bills' hashes that are not all
    distinct prove nothing, and the ids are then looked up as text."""
    bills = pd.Series(["B1", "B2", "B3"], dtype="str")
    ids = pd.Series(["B2", "X", "B3", None], dtype="str")
    claimed = np.array([20, 30, 99, 0], dtype=np.uint64)  # X has B3's hash; B3 another
    found = Lookup(bills, np.array([10, 20, 30], dtype=np.uint64)).positions(ids, claimed)
    assert found.to_pylist() == [1, None, None, None]
    found = Lookup(bills, np.array([10, 10, 30], dtype=np.uint64)).positions(ids, claimed)
    assert found.to_pylist() == [1, None, 2, None]
    assert Lookup(bills, None).positions(ids, claimed).to_pylist() == [1, None, 2, None]
    real = Lookup(bills, text_hashes(bills)).positions(ids, text_hashes(ids))
    assert real.to_pylist() == [1, None, 2, None]
    assert Lookup(bills.iloc[:0], text_hashes(bills.iloc[:0])).positions(
        ids, text_hashes(ids)).to_pylist() == [None] * 4


def test_a_payment_whose_bill_hash_is_found_with_other_text_keeps_its_record(tmp_path):
    """The records kept ready for payments that may fail their link come from the same
    lookup: a payment whose bill id hash a bill shares, with other text, is unknown and
    keeps its record (file, line, raw row) for the quarantine."""
    from yuebao.profile import load_profile
    from yuebao.tasks.ingest.read import read_source
    from yuebao.tasks.ingest.validate import Reader, check_file

    path = tmp_path / "payments.csv"
    path.write_text("payment_id,bill_id,paid_at,amount\n"
                    "P1,B1,2025-09-03 10:00:00,100.00\n"
                    "P2,X9,2025-09-04 10:00:00,50.00\n", "utf-8")
    profile = load_profile("canonical", tmp_path)
    source = read_source(path, tmp_path, profile, "payments")
    reader = Reader(profile, "payments", TZ, date(2025, 10, 1))
    bills = pd.Series(["B1", "B2"], dtype="str")
    real = Lookup(bills, text_hashes(bills))
    assert check_file("payments", source, reader, real).pending["line"].tolist() == [3]
    # B2 claims X9's hash: found by hash, refused by the text.
    forged = Lookup(bills, np.r_[text_hashes(bills)[:1], text_hashes(pd.Series(["X9"]))])
    assert forged.index is not None
    assert check_file("payments", source, reader, forged).pending["line"].tolist() == [3]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.one_of(st.none(), st.sampled_from(["1-101", "1-102", "2-1", "楼A",
                                                                 "b", "B", "10", "9"])),
                         max_size=8), min_size=1, max_size=5))
def test_categoricals_joined_as_union_categoricals_joins_them(files):
    """Files' categoricals joined once per distinct set of categories give what
    ``union_categoricals(sort_categories=True)`` gives: the same sorted categories and
    codes (missing values stay missing), whether the files share their categories,
    differ, or one is empty and read back from Parquet with object categories."""
    from pandas.api.types import union_categoricals

    from yuebao.tasks.ingest.parse import concat_encoded

    frames = [pd.DataFrame({"unit": pd.Series(values, dtype="str").astype("category")})
              for values in files]
    frames += [frames[0], pd.DataFrame({"unit": pd.Series([], dtype=object).astype("category")})]
    joined = concat_encoded(frames)["unit"].array
    expected = union_categoricals(
        [f["unit"].cat.rename_categories(pd.Index(f["unit"].cat.categories, dtype="str"))
         for f in frames], sort_categories=True)
    assert joined.categories.equals(expected.categories)
    assert joined.categories.dtype == "str"
    assert (joined.codes == expected.codes).all()
    assert [None if pd.isna(v) else v for v in joined] == [
        v for values in [*files, files[0]] for v in values]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(
    st.sampled_from(["2025/9/1 8:05", "2025年9月1日 下午3时5分", "2025-09-01T08:05:03Z",
                     "2025.9.1 12:30 AM", "2025-9-1 8:5:7.25 +08:00", "２０２５/9/1", "2025/9/1",
                     "2025-09-01 08:05:03+0800", "2025/٩/1 8:05", "2025/9/1\u20038:05", "", "x"]),
    st.text(alphabet="0123456789 /-.:年月日时分秒上下午晚早PAMm+Z٣\u2003T", max_size=24)),
    min_size=1, max_size=30))
def test_timestamp_parts_read_as_pythons_re_reads_them(cells):
    """The lenient timestamp's parts through pyarrow's RE2 equal ``str.extract`` with
    Python's ``re``, cells with Unicode digits and spaces (which RE2 does not match)
    included, missing groups missing."""
    from yuebao.tasks.ingest.parse import _LENIENT_TIMESTAMP, _extract

    text = pd.Series(cells, dtype="str")
    pattern = f"^{_LENIENT_TIMESTAMP}$"
    pd.testing.assert_frame_equal(_extract(text, pattern), text.str.extract(pattern))
