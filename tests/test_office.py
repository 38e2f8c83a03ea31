"""metrics.xlsx and review.docx, read back with openpyxl and python-docx.

The metrics document and the review come out of the real pipeline (ingest,
metrics, draft, render) on the hand-checked fixture of test_metrics.py, so a
value checked here (community ``a``: September collection rate 0.7562, due
1,230.50 yuan) is the one worked out by hand there.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from datetime import datetime
from itertools import pairwise
from pathlib import Path

import pytest
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Cm
from openpyxl import load_workbook
from test_metrics import BILLS, PAYMENTS, TICKETS

from yuebao.config import config_from_dict
from yuebao.months import Month
from yuebao.tasks.document import write_review_docx
from yuebao.tasks.draft import month_drafts
from yuebao.tasks.ingest import ingest
from yuebao.tasks.metrics import build_scope, created_history, data_quality, month_documents
from yuebao.tasks.render import render_review
from yuebao.tasks.spreadsheet import write_metrics_xlsx
from yuebao.words import labels

SHEETS_ZH = ["汇总", "趋势", "按类别", "按类型", "按楼栋", "按收费项目", "账龄", "报事热点",
             "超期工单", "数据质量"]
SHEETS_EN = ["Summary", "Trend", "By category", "By type", "By building", "By fee item",
             "Arrears aging", "Hotspots", "Overdue tickets", "Data quality"]
GROUP_KEYS = ("due_in_month", "collected_for_month", "collection_rate_month", "arrears_at_end",
              "arrears_at_start", "arrears_collected", "new_arrears")
NAMES = {"a": "锦江小区", "b": "b", "_portfolio": "某某物业"}


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict:
    """September 2025 of the fixture through ingest → metrics → draft → render."""
    folder: Path = tmp_path_factory.mktemp("office")
    for name, text in (("tickets", TICKETS), ("bills", BILLS), ("payments", PAYMENTS)):
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    communities = [{"id": "a", "name": "锦江小区", "city": "北京", "households": 50},
                   {"id": "b", "households": 20}]
    data = ingest({t: [f"{t}.csv"] for t in ("tickets", "bills", "payments")}, folder,
                  "Asia/Shanghai")
    month = Month(2025, 9)
    result: dict = {"folder": folder}
    for language in ("zh", "en"):
        config = config_from_dict({"language": language, "communities": communities,
                                   "portfolio": {"name": NAMES["_portfolio"]}}, folder)
        scope = build_scope(config, month, ["a", "b"])
        targets = {s: config.targets_for(s if s in ("a", "b") else None) for s in scope.scopes}
        metrics = month_documents(data.tickets, data.bills, data.payments, scope,
                                  data.available, targets,
                                  data_quality(data, scope, ["a", "b"]))
        drafts = month_drafts(metrics, created_history(data.tickets, scope), config, month)
        result[language] = {"documents": metrics.documents,
                            "review": render_review(drafts["a"], language)[0]}
    return result


def _workbook(run, scope: str, tmp_path: Path, language: str = "zh", document=None):
    document = document if document is not None else run[language]["documents"][scope]
    path = write_metrics_xlsx(document, tmp_path / f"{scope}-{language}.xlsx", language, NAMES)
    return load_workbook(path)


def _rows(sheet) -> list[list]:
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def _summary_row(sheet, key: str):
    """The cells of the summary row whose key column (the last) is ``key``."""
    for row in sheet.iter_rows(min_row=2):
        if row[-1].value == key:
            return row
    raise KeyError(key)


# --- metrics.xlsx ------------------------------------------------------------------


def test_sheets_headers_frozen_and_bold(run, tmp_path):
    book = _workbook(run, "a", tmp_path)
    assert book.sheetnames == SHEETS_ZH
    summary = book["汇总"]
    assert _rows(summary)[0] == ["指标", "单位", "本月", "上月", "去年同期", "目标", "状态", "代码"]
    assert [c.value for c in book["按楼栋"][1]] == [
        "楼栋", "本月应收（元）", "本月应收已收（元）", "本月收缴率", "期末欠费（元）",
        "期初欠费（元）", "本月清欠（元）", "本月新增欠费（元）"]
    assert [c.value for c in book["数据质量"][1]] == [
        "数据表", "读取行数", "使用行数", "隔离行数", "重复行数"]
    for sheet in book:
        assert all(cell.font.b for cell in sheet[1] if cell.value), sheet.title
        assert sheet.freeze_panes in ("A2", "B2"), sheet.title
        assert sheet.column_dimensions["A"].width >= 8
    assert summary.column_dimensions["A"].width > 12  # long Chinese KPI names fit


def test_summary_holds_numbers_with_their_formats(run, tmp_path):
    summary = _workbook(run, "a", tmp_path)["汇总"]
    rate = _summary_row(summary, "fees.collection_rate_month")
    assert rate[0].value == "本月收缴率"
    assert rate[2].value == 0.7562  # 93050 / 123050, test_metrics.py
    assert rate[2].number_format == "0.00%"
    assert rate[5].value == 0.85 and rate[5].number_format == "0.00%"  # the default target
    assert rate[6].value == "未达标"
    due = _summary_row(summary, "fees.due_in_month")
    assert due[2].value == 1230.5 and "#,##0.00" in due[2].number_format
    assert due[1].value == "元"
    created = _summary_row(summary, "tickets.created")
    assert created[2].value == 7 and isinstance(created[2].value, int)
    assert created[2].number_format == "#,##0"
    assert _summary_row(summary, "tickets.response_minutes.median")[2].value == 52.5
    # Every figure column holds numbers or nothing: never text that looks like a number.
    for row in summary.iter_rows(min_row=2, min_col=3, max_col=6):
        for cell in row:
            assert cell.value is None or isinstance(cell.value, int | float), cell.coordinate
            if cell.value is not None:
                assert cell.data_type == "n"


def test_summary_lists_every_scalar_kpi(run, tmp_path):
    from yuebao.tasks.metrics import kpi_catalogue

    keys = [row[-1] for row in _rows(_workbook(run, "a", tmp_path)["汇总"])[1:]]
    assert set(kpi_catalogue()) <= set(keys)
    assert "tickets.satisfaction.rated" in keys
    assert len(keys) == len(set(keys))


def test_null_is_an_empty_cell_never_zero(run, tmp_path):
    summary = _workbook(run, "b", tmp_path)["汇总"]
    rate = _summary_row(summary, "fees.collection_rate_month")  # b has nothing due in September
    assert rate[2].value is None
    assert _summary_row(summary, "fees.due_in_month")[2].value == 0  # a real zero stays 0
    group = run["zh"]["documents"]["_portfolio"]["fees"]["by_building"]["b/5栋"]
    assert group["collection_rate_month"] is None
    buildings = _rows(_workbook(run, "_portfolio", tmp_path)["按楼栋"])
    five = next(row for row in buildings if row[1] == "5栋")
    assert five == ["b", "5栋", 0, 0, None, group["arrears_at_end"], 360, 100, 0]


def test_building_fee_item_category_aging_hotspot_sheets(run, tmp_path):
    document = run["zh"]["documents"]["a"]
    book = _workbook(run, "a", tmp_path)
    buildings = book["按楼栋"]
    assert _rows(buildings)[1:] == [
        [name, *(g[key] for key in GROUP_KEYS)]
        for name, g in document["fees"]["by_building"].items()]
    assert [row[0] for row in _rows(buildings)[1:]] == ["1栋", "2栋"]
    assert [c.number_format for c in buildings[2]][1:] == [
        "#,##0.00", "#,##0.00", "0.00%", "#,##0.00", "#,##0.00", "#,##0.00", "#,##0.00"]
    items = {row[0]: row[1:] for row in _rows(book["按收费项目"])[1:]}
    assert items == {name: [g[key] for key in GROUP_KEYS]
                     for name, g in document["fees"]["by_fee_item"].items()}
    categories = {row[-1]: row for row in _rows(book["按类别"])[1:]}
    assert categories["plumbing_electric"][:3] == [
        "水电", document["tickets"]["by_category"]["plumbing_electric"],
        document["tickets"]["complaints"]["by_category"]["plumbing_electric"]]
    assert len(categories) == len(document["tickets"]["by_category"])
    types = {row[-1]: row[1] for row in _rows(book["按类型"])[1:]}
    assert types == document["tickets"]["by_type"]
    # SLA breaches beside each category and type (test_metrics.py: T2 and T10 answered
    # late; T2, T5 and T10 resolved late).
    assert _rows(book["按类别"])[0] == ["类别", "受理工单", "投诉量", "响应超时工单",
                                     "处理超时工单", "代码"]
    assert categories["elevator"][3:5] == [1, 1] and categories["other"][3:5] == [0, 1]
    breaches = {row[-1]: row[2:4] for row in _rows(book["按类型"])[1:]}
    assert breaches["repair"] == [2, 2] and breaches["inquiry"] == [0, 1]
    aging = _rows(book["账龄"])[1:]
    assert [row[-1] for row in aging] == list(document["fees"]["aging"])
    assert [row[1] for row in aging] == list(document["fees"]["aging"].values())
    assert aging[-1][0] == "一年以上"
    assert book["账龄"]["C2"].number_format == "0.00%"
    hotspots = _rows(book["报事热点"])
    assert hotspots[0] == ["楼栋", "类别", "工单数", "代码"]
    assert hotspots[1:] == [[h["building"], labels("zh")["category"][h["category"]], h["count"],
                             h["category"]] for h in document["tickets"]["hotspots"]]
    assert hotspots[1][:2] == ["1栋", "水电"]


def test_overdue_ticket_sheet(run, tmp_path):
    """Every ticket of tickets.overdue_open, times as date cells (test_metrics.py: T6, T9)."""
    sheet = _workbook(run, "a", tmp_path)["超期工单"]
    rows = _rows(sheet)
    assert rows[0] == ["工单编号", "楼栋", "类别", "类型", "紧急程度", "报事时间", "处理时限",
                       "超期天数"]
    assert rows[1:] == [
        ["T6", "1栋", "供暖", "报修", "一般", datetime(2025, 8, 31, 20), datetime(2025, 9, 1, 20),
         29],
        ["T9", "1栋", "清洁", "投诉", "一般", datetime(2025, 9, 15, 8), datetime(2025, 9, 18, 8),
         12]]
    assert sheet["F2"].number_format == "yyyy-mm-dd hh:mm:ss"
    portfolio = _rows(_workbook(run, "_portfolio", tmp_path)["超期工单"])
    assert portfolio[0][0] == "项目" and [row[:2] for row in portfolio[1:]] == [
        ["锦江小区", "T6"], ["锦江小区", "T9"]]
    none = _rows(_workbook(run, "b", tmp_path)["超期工单"])
    assert len(none) == 3 and none[2][0] == labels("zh")["spreadsheet"]["no_overdue"]


def test_new_arrears_in_the_summary(run, tmp_path):
    row = _summary_row(_workbook(run, "a", tmp_path)["汇总"], "fees.new_arrears")
    assert row[0].value == "本月新增欠费" and row[1].value == "元"
    assert row[2].value == 300 and "#,##0.00" in row[2].number_format  # B2 200 + B7 100


def test_text_that_looks_like_a_formula_is_a_string_cell(run, tmp_path):
    """Names straight into the workbook, so the tab and CR starts that ingest would trim
    are written too; the unzipped sheet XML has no formula, the cells the exact text."""
    import zipfile

    document = copy.deepcopy(run["zh"]["documents"]["a"])
    names = ["=1+1", "+1", "-1", "@SUM(A1)", "\t=2+2", "\r=3+3", "#N/A", "a\x0bb"]
    group = next(iter(document["fees"]["by_fee_item"].values()))
    document["fees"]["by_fee_item"] = dict.fromkeys(names, group)
    document["tickets"]["hotspots"] = [
        {"community": "a", "building": name, "category": "elevator", "count": 3}
        for name in names]
    path = write_metrics_xlsx(document, tmp_path / "a.xlsx", "zh", NAMES)
    with zipfile.ZipFile(path) as archive:
        xml = b"".join(archive.read(n) for n in archive.namelist()
                       if n.startswith("xl/worksheets/"))
    assert b"<f>" not in xml and b"<f " not in xml and b't="e"' not in xml
    book = load_workbook(path)
    # A control character XML cannot hold would make openpyxl refuse the whole
    # workbook; it becomes U+FFFD, and every other name is kept exactly.
    kept = [*names[:-1], "a\ufffdb"]
    for sheet, column in (("按收费项目", 0), ("报事热点", 0)):
        cells = [row[column] for row in book[sheet].iter_rows(min_row=2)]
        assert [c.value for c in cells] == kept
        assert all(c.data_type == "s" for c in cells)
        assert [bool(c.quotePrefix) for c in cells] == [True] * 6 + [False] * 2
    fees = next(book["按收费项目"].iter_rows(min_row=2))
    assert [c.value for c in fees[1:]] == [group[k] for k in GROUP_KEYS]
    assert all(c.data_type == "n" for c in fees[1:])


def test_portfolio_names_communities(run, tmp_path):
    book = _workbook(run, "_portfolio", tmp_path)
    assert book.properties.title == "某某物业 2025年9月 指标数据"
    buildings = _rows(book["按楼栋"])
    assert buildings[0][:2] == ["项目", "楼栋"]
    assert [row[:2] for row in buildings[1:]] == [["锦江小区", "1栋"], ["锦江小区", "2栋"],
                                                  ["b", "5栋"]]
    assert _rows(book["报事热点"])[1][:2] == ["锦江小区", "1栋"]


def test_data_quality_sheet(run, tmp_path):
    quality = run["zh"]["documents"]["a"]["data_quality"]
    rows = _rows(_workbook(run, "a", tmp_path)["数据质量"])
    assert rows[1:4] == [[label] + [quality[table][k]
                                    for k in ("read", "used", "quarantined", "duplicate")]
                         for label, table in (("工单", "tickets"), ("账单", "bills"),
                                              ("收款", "payments"))]
    assert rows[5][0] == "备注"
    assert any("快照" in str(row[0]) for row in rows[6:])  # the snapshot_limits note, worded


def test_missing_tickets_export_keeps_the_sheets(run, tmp_path):
    document = copy.deepcopy(run["zh"]["documents"]["a"])
    document["tickets"] = None
    document["compare"] = {k: v for k, v in document["compare"].items()
                           if not k.startswith("tickets.")}
    book = _workbook(run, "a", tmp_path, document=document)
    assert book.sheetnames == SHEETS_ZH
    assert _summary_row(book["汇总"], "tickets.created")[2].value is None
    category = _rows(book["按类别"])
    assert len(category) == 3 and category[1] == [None] * 6
    assert category[2][0] == "未提供工单数据，本表为空。"
    overdue = _rows(book["超期工单"])
    assert len(overdue) == 3 and overdue[2][0] == "未提供工单数据，本表为空。"
    assert _summary_row(book["汇总"], "fees.collection_rate_month")[2].value == 0.7562


def test_english_workbook(run, tmp_path):
    book = _workbook(run, "a", tmp_path, "en")
    assert book.sheetnames == SHEETS_EN
    assert _rows(book["Summary"])[0] == ["Indicator", "Unit", "This month", "Last month",
                                         "Same month last year", "Target", "Status", "Key"]
    rate = _summary_row(book["Summary"], "fees.collection_rate_month")
    assert rate[0].value == "Monthly collection rate" and rate[2].value == 0.7562
    assert rate[6].value == "Missed"
    assert _rows(book["By category"])[1][0] == "Plumbing and electrical"
    assert _rows(book["By building"])[0][:2] == ["Building", "Fees due this month (yuan)"]


def test_write_is_atomic_and_replaces(run, tmp_path):
    path = tmp_path / "out" / "metrics.xlsx"
    path.parent.mkdir()
    path.write_bytes(b"old")
    write_metrics_xlsx(run["zh"]["documents"]["a"], path)
    assert load_workbook(path).sheetnames == SHEETS_ZH
    assert [p.name for p in path.parent.iterdir()] == ["metrics.xlsx"]


# --- review.docx -------------------------------------------------------------------


def _markdown_tables(markdown: str) -> list[list[list[str]]]:
    """Pipe tables of the Markdown, read line by line (independently of markdown-it)."""
    tables, current = [], []
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-+:?", cell) for cell in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def _docx(run, tmp_path: Path, language: str = "zh"):
    path = write_review_docx(run[language]["review"], tmp_path / f"review-{language}.docx",
                             language)
    return Document(str(path))


def _styled(document, style: str) -> list[str]:
    return [p.text for p in document.paragraphs if p.style.name == style]


def test_docx_headings(run, tmp_path):
    markdown = run["zh"]["review"]
    document = _docx(run, tmp_path)
    title = markdown.splitlines()[0].removeprefix("# ")
    assert _styled(document, "Heading 1") == [title]
    assert document.paragraphs[0].text == title
    parts = _styled(document, "Heading 2")
    assert parts == [line[3:] for line in markdown.splitlines() if line.startswith("## ")]
    assert len(parts) == 5 and parts[0] == "一、本月工作概况"
    assert _styled(document, "Heading 3") == [
        line[4:] for line in markdown.splitlines() if line.startswith("### ")]
    assert document.core_properties.title == title


def test_docx_lists_are_word_lists_that_restart(run, tmp_path):
    markdown = run["zh"]["review"]
    document = _docx(run, tmp_path)
    numbered = [p for p in document.paragraphs if p.style.name == "List Number"]
    expected = [re.sub(r"^\d+\. ", "", line) for line in markdown.splitlines()
                if re.match(r"^\d+\. ", line)]
    assert [p.text for p in numbered] == expected
    assert _styled(document, "List Bullet") == [
        line[2:] for line in markdown.splitlines() if line.startswith("- ")]
    # Each numbered list has its own numbering instance that starts at 1.
    ids = [p._p.pPr.numPr.numId.val for p in numbered]
    runs = [ids[0]] + [b for a, b in pairwise(ids) if a != b]
    lists = sum(line.startswith("1. ") for line in markdown.splitlines())
    assert len(runs) == len(set(runs)) == lists >= 3  # 成果, 问题, 整改
    numbering = document.part.numbering_part.element
    for num_id in runs:
        num = numbering.num_having_numId(num_id)
        assert num.xpath("./w:lvlOverride/w:startOverride/@w:val") == ["1"]


def test_docx_tables_match_the_markdown(run, tmp_path):
    markdown = run["zh"]["review"]
    document = _docx(run, tmp_path)
    expected = _markdown_tables(markdown)
    assert len(document.tables) == len(expected) == 2
    for table, rows in zip(document.tables, expected, strict=True):
        assert table.style.name == "Table Grid"
        assert [[cell.text for cell in row.cells] for row in table.rows] == rows
        header = table.rows[0]
        assert header._tr.trPr.find(qn("w:tblHeader")) is not None
        assert all(run.bold for cell in header.cells for run in cell.paragraphs[0].runs)
    rate = next(row for row in document.tables[0].rows if row.cells[0].text == "本月收缴率")
    assert rate.cells[1].text == "75.62%"  # 93050 / 123050, from the same run


def _line_joins(markdown: str) -> list[tuple[str, str]]:
    """(end of a line, start of the next) for two lines of one plain Markdown paragraph."""
    lines = markdown.splitlines()
    plain = re.compile(r"^(?![#|>\-*]|\d+\. )\S")
    return [(first[-4:], second[:4]) for first, second in pairwise(lines)
            if plain.match(first) and plain.match(second)]


# A paragraph written over several lines, as a manager editing review.md may write one
# (the draft's own paragraphs are one line each: one per topic).
WRAPPED = ("\n本月共受理报事工单 7 件\n其中报修 4 件。收费 calls\nEnglish words 后接中文"
           "\n最后一行。\n")


def test_docx_bold_quote_and_chinese_line_joins(run, tmp_path):
    markdown = run["zh"]["review"] + WRAPPED
    document = Document(str(write_review_docx(markdown, tmp_path / "wrapped.docx", "zh")))
    quote = _styled(document, "Quote")
    quoted = [line[2:] for line in markdown.splitlines() if line.startswith("> ")]
    assert quote == quoted and quote[0].startswith("本草稿由 yuebao")
    bold = [r.text for p in document.paragraphs for r in p.runs if r.bold]
    assert bold and all(f"**{text}**" in markdown for text in bold)
    texts = "\n".join(p.text for p in document.paragraphs)
    joins = _line_joins(markdown)
    assert len(joins) == 3  # the wrapped paragraph's lines, and only those
    for tail, head in joins:  # Chinese lines join with no stray space between them
        wide = {unicodedata.east_asian_width(ch) for ch in tail[-1] + head[0]} & {"W", "F"}
        assert (tail + head if wide else f"{tail} {head}") in texts
    assert any(unicodedata.east_asian_width(tail[-1]) == "W" for tail, _ in joins)
    body = next(p for p in document.paragraphs if p.style.name == "Normal" and p.text)
    assert body._p.pPr.ind.get(qn("w:firstLineChars")) == "200"  # 首行缩进两字


def test_docx_east_asian_fonts_and_page(run, tmp_path):
    document = _docx(run, tmp_path)
    for style, font in (("Normal", "SimSun"), ("Heading 1", "SimHei"), ("Heading 2", "SimHei"),
                        ("Quote", "SimSun")):
        fonts = document.styles[style].element.rPr.rFonts
        assert fonts.get(qn("w:eastAsia")) == font, style
        assert fonts.get(qn("w:eastAsiaTheme")) is None, style  # a theme font would win
    defaults = document.styles.element.find(qn("w:docDefaults"))
    assert defaults.find(f".//{qn('w:rFonts')}").get(qn("w:eastAsia")) == "SimSun"
    assert defaults.find(f".//{qn('w:lang')}").get(qn("w:eastAsia")) == "zh-CN"
    section = document.sections[0]
    assert abs(section.page_width - Cm(21)) < Cm(0.01)
    assert abs(section.left_margin - Cm(3.17)) < Cm(0.01)


def test_docx_english(run, tmp_path):
    markdown = run["en"]["review"]
    document = _docx(run, tmp_path, "en")
    assert _styled(document, "Heading 1") == [markdown.splitlines()[0].removeprefix("# ")]
    assert len(_styled(document, "Heading 2")) == 5
    texts = "\n".join(p.text for p in document.paragraphs)
    joins = _line_joins(markdown)
    assert joins
    for tail, head in joins:  # English lines join with a space
        assert f"{tail} {head}" in texts
    assert document.styles["Normal"].element.rPr.rFonts.get(qn("w:eastAsia")) == "SimSun"
    assert len(document.tables) == len(_markdown_tables(markdown))


def test_docx_nested_lists_start_numbers_alignment(tmp_path):
    markdown = (
        "# T\n\n3. three\n4. four\n   - inner *em* `code`\n\n"
        "| a | b |\n|---|--:|\n| x | **1** |\n\n| c |\n|---|\n| y |\n\nline one  \nline two\n"
    )
    document = Document(str(write_review_docx(markdown, tmp_path / "t.docx", "en")))
    numbered = [p for p in document.paragraphs if p.style.name == "List Number"]
    assert [p.text for p in numbered] == ["three", "four"]
    num = document.part.numbering_part.element.num_having_numId(numbered[0]._p.pPr.numPr.numId.val)
    assert num.xpath("./w:lvlOverride/w:startOverride/@w:val") == ["3"]
    inner = next(p for p in document.paragraphs if p.style.name == "List Bullet 2")
    assert inner.text == "inner em code"
    assert [r.italic for r in inner.runs if r.text == "em"] == [True]
    first, second = document.tables
    assert first.cell(1, 1).paragraphs[0].alignment == 2  # right, from |--:|
    assert first.cell(1, 1).paragraphs[0].runs[0].bold
    assert second.cell(1, 0).text == "y"
    # the two tables stay two tables: a paragraph separates them
    body = [child.tag.rsplit("}", 1)[1] for child in document.element.body]
    assert "p" in body[body.index("tbl") + 1:][:1]
    assert any("\n" in p.text for p in document.paragraphs)  # the hard line break
