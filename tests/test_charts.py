"""The charts of metrics.xlsx, read back from the chart XML and checked against metrics.json.

Each chart of ``xl/charts/chart*.xml`` names its cells by reference
(``<c:val><c:numRef><c:f>'趋势'!$B$2:$B$13</c:f>``); every reference is resolved
against the workbook as openpyxl reads it back, and the cells must hold the
figures of the metrics document the workbook was written from (the real pipeline
run of test_office.py on the hand-checked fixture of test_metrics.py).
"""

from __future__ import annotations

import copy
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
from openpyxl import load_workbook
from openpyxl.utils import column_index_from_string
from test_office import NAMES
from test_office import run as office_run

from yuebao.tasks.metrics import kpi_catalogue, scalar
from yuebao.tasks.spreadsheet import write_metrics_xlsx
from yuebao.tasks.spreadsheet.charts import COMMUNITY_RATE_KEYS, RATE_CHART_KEYS, TREND_KEYS
from yuebao.words import labels

run = office_run  # the module-scoped pipeline run, shared with test_office.py

C = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"
A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
REFERENCE = re.compile(
    r"^(?:'((?:[^']|'')+)'|([^!]+))!\$?([A-Z]+)\$?(\d+)(?::\$?([A-Z]+)\$?(\d+))?$")


def _write(run, scope: str, tmp_path: Path, language: str = "zh", document=None) -> Path:
    document = document if document is not None else run[language]["documents"][scope]
    return write_metrics_xlsx(document, tmp_path / f"{scope}-{language}.xlsx", language, NAMES)


def _cells(book, reference: str) -> list:
    """The values of a one-column (or multi-column, row by row) chart reference."""
    match = REFERENCE.match(reference)
    assert match, reference
    quoted, bare, first_col, first_row, last_col, last_row = match.groups()
    sheet = book[quoted.replace("''", "'") if quoted else bare]
    last_col, last_row = last_col or first_col, last_row or first_row
    rows = sheet.iter_rows(min_row=int(first_row), max_row=int(last_row),
                           min_col=column_index_from_string(first_col),
                           max_col=column_index_from_string(last_col), values_only=True)
    values = [row if len(row) > 1 else row[0] for row in rows]
    return values


def _sheet_of(reference: str) -> str:
    quoted, bare = REFERENCE.match(reference).groups()[:2]
    return quoted.replace("''", "'") if quoted else bare


def _attribute(element, name: str) -> str | None:
    return None if element is None else element.get(name)


def _text(element) -> str:
    return "".join(t.text or "" for t in element.iter(f"{A}t"))


def _charts(path: Path) -> list[dict]:
    """Every chart: type, title, axis titles and formats, and its series' references."""
    book = load_workbook(path)
    charts = []
    with zipfile.ZipFile(path) as archive:
        names = sorted((n for n in archive.namelist() if re.match(r"xl/charts/chart\d+\.xml$", n)),
                       key=lambda n: int(re.search(r"(\d+)", n).group(1)))
        for name in names:
            root = ElementTree.fromstring(archive.read(name))
            plot = root.find(f"{C}chart/{C}plotArea")
            kind = next(child.tag.removeprefix(C) for child in plot
                        if child.tag.endswith("Chart"))
            series = []
            for ser in plot.iter(f"{C}ser"):
                name_ref = ser.find(f"{C}tx/{C}strRef/{C}f").text
                values_ref = ser.find(f"{C}val/{C}numRef/{C}f").text
                cat = ser.find(f"{C}cat")
                categories_ref = next(f.text for f in cat.iter(f"{C}f"))
                series.append({
                    "name": _cells(book, name_ref)[0], "name_ref": name_ref,
                    "values": _cells(book, values_ref), "values_ref": values_ref,
                    "categories": _cells(book, categories_ref),
                    "categories_ref": categories_ref,
                    "dashed": _attribute(ser.find(f"{C}spPr/{A}ln/{A}prstDash"), "val") == "dash"})
            axes = [axis for axis in plot if axis.tag in (f"{C}catAx", f"{C}valAx")]
            charts.append({
                "type": kind, "title": _text(root.find(f"{C}chart/{C}title")),
                "axis_titles": [_text(axis.find(f"{C}title")) for axis in axes],
                "axes_shown": [axis.find(f"{C}delete").get("val") for axis in axes],
                "value_format": root.find(f".//{C}valAx/{C}numFmt").get("formatCode"),
                "blanks": _attribute(root.find(f"{C}chart/{C}dispBlanksAs"), "val"),
                "series": series,
                "sheet": {_sheet_of(s[ref]) for s in series
                          for ref in ("name_ref", "values_ref", "categories_ref")}})
    return charts


def _by_title(charts: list[dict], language: str = "zh") -> dict[str, dict]:
    words = labels(language)["spreadsheet"]["chart"]
    titles = {chart["title"]: chart for chart in charts}
    assert len(titles) == len(charts)
    return {key: titles[text] for key, text in words.items() if text in titles}


def _header(key: str, language: str = "zh") -> str:
    """The trend sheet's column header of a KPI: its label with the unit."""
    words = labels(language)
    kind = kpi_catalogue()[key]["kind"]
    label = words["kpi"][key]
    unit = "" if kind == "rate" else words["unit"].get(kind, "")
    return words["spreadsheet"]["with_unit"].format(label=label, unit=unit) if unit else label


def _target_header(key: str, language: str = "zh") -> str:
    words = labels(language)
    kind = kpi_catalogue()[key]["kind"]
    label = words["spreadsheet"]["column"]["target_of"].format(label=words["kpi"][key])
    unit = "" if kind == "rate" else words["unit"].get(kind, "")
    return words["spreadsheet"]["with_unit"].format(label=label, unit=unit) if unit else label


# --- the trend sheet ---------------------------------------------------------------


def test_trend_sheet_holds_the_12_months_of_metrics_json(run, tmp_path):
    document = run["zh"]["documents"]["a"]
    book = load_workbook(_write(run, "a", tmp_path))
    sheet = book["趋势"]
    rows = [list(row) for row in sheet.iter_rows()]
    headers = [cell.value for cell in rows[0]]
    assert headers[0] == "月份" and headers[-1] == "代码"
    months = document["trend"]["tickets.created"]["months"]
    assert len(months) == 12 and months[-1] == "2025-09"
    assert [row[-1].value for row in rows[1:13]] == months
    assert rows[12][0].value == "2025年9月" and rows[1][0].value == "2024年10月"
    saw_null = False
    for key in TREND_KEYS:
        column = headers.index(_header(key))
        kind = kpi_catalogue()[key]["kind"]
        cells = [row[column] for row in rows[1:13]]
        assert [c.value for c in cells] == document["trend"][key]["values"], key
        for cell in cells:
            if cell.value is None:
                saw_null = True  # a month the exports do not cover: empty, never 0
            else:
                assert cell.data_type == "n" and isinstance(cell.value, int | float), key
            assert cell.number_format == {"rate": "0.00%", "money": "#,##0.00",
                                          "count": "#,##0", "minutes": "#,##0.00"}[kind], key
        if kind == "count":
            assert all(isinstance(c.value, int) for c in cells if c.value is not None)
        target = document["compare"].get(key, {}).get("target")
        if target is None:
            assert _target_header(key) not in headers, key
        else:
            column = headers.index(_target_header(key))
            assert [row[column].value for row in rows[1:13]] == [target] * 12, key
    assert saw_null  # the fixture starts in 2025: its first months are not covered
    assert None in document["trend"]["fees.arrears_at_end"]["values"]
    assert "目标" in " ".join(headers) and "本月收缴率目标" in headers


def test_missing_trend_and_tickets_still_give_the_sheet(run, tmp_path):
    document = copy.deepcopy(run["zh"]["documents"]["a"])
    document["tickets"], document["trend"] = None, {}
    path = _write(run, "a", tmp_path, document=document)
    sheet = load_workbook(path)["趋势"]
    rows = list(sheet.iter_rows(values_only=True))
    assert [row[-1] for row in rows[1:13]][-1] == "2025-09" and len(rows) == 13
    assert all(value is None for row in rows[1:] for value in row[1:-1]
               if value not in (0.95, 0.9, 0.85))  # only the target columns hold figures
    titles = {chart["title"] for chart in _charts(path)}
    assert labels("zh")["spreadsheet"]["chart"]["categories"] not in titles


# --- the charts --------------------------------------------------------------------


def test_trend_charts_read_the_trend_of_metrics_json(run, tmp_path):
    document = run["zh"]["documents"]["a"]
    charts = _by_title(_charts(_write(run, "a", tmp_path)))
    words = labels("zh")["spreadsheet"]["chart"]
    for key in ("tickets", "rates", "arrears"):
        chart = charts[key]
        assert chart["type"] == "lineChart" and chart["sheet"] == {"趋势"}
        assert chart["axis_titles"] == [words["axis_month"], words[
            {"tickets": "axis_count", "rates": "axis_rate", "arrears": "axis_money"}[key]]]
        assert chart["axes_shown"] == ["0", "0"]
        assert chart["blanks"] == "gap"
        for series in chart["series"]:
            assert series["categories"][-1] == "2025年9月" and len(series["categories"]) == 12
    assert charts["rates"]["value_format"] == "0%"
    (tickets,) = charts["tickets"]["series"]
    assert tickets["name"] == _header("tickets.created")
    assert tickets["values"] == document["trend"]["tickets.created"]["values"]
    (arrears,) = charts["arrears"]["series"]
    assert arrears["values"] == document["trend"]["fees.arrears_at_end"]["values"]
    assert arrears["values_ref"].startswith(("'趋势'!$", "趋势!$"))
    # Each rate, then its target (dashed) where it has one.
    expected = []
    for key in RATE_CHART_KEYS:
        expected.append((_header(key), document["trend"][key]["values"], False))
        target = document["compare"].get(key, {}).get("target")
        if target is not None:
            expected.append((_target_header(key), [target] * 12, True))
    assert [(s["name"], s["values"], s["dashed"]) for s in charts["rates"]["series"]] == expected
    assert sum(dashed for *_, dashed in expected) == 4  # every chart rate has a default target


def test_fee_item_and_building_charts_worst_first(run, tmp_path):
    document = run["zh"]["documents"]["a"]
    path = _write(run, "a", tmp_path)
    charts = _by_title(_charts(path))
    items = document["fees"]["by_fee_item"]
    rated = sorted(((g["collection_rate_month"], name) for name, g in items.items()
                    if g["collection_rate_month"] is not None))
    (series,) = charts["fee_items"]["series"]
    assert charts["fee_items"]["type"] == "barChart"
    assert charts["fee_items"]["sheet"] == {"按收费项目"}
    assert series["values"] == [rate for rate, _ in rated]
    assert series["categories"] == [name for _, name in rated]
    assert series["name"] == "本月收缴率"
    # The sheet itself is in the chart's order, the unrated items last.
    rows = list(load_workbook(path)["按收费项目"].iter_rows(min_row=2, values_only=True))
    assert [row[0] for row in rows][:len(rated)] == [name for _, name in rated]
    buildings = document["fees"]["by_building"]
    worst = sorted(((g["collection_rate_month"], name) for name, g in buildings.items()
                    if g["collection_rate_month"] is not None))[:10]
    (series,) = charts["buildings"]["series"]
    assert charts["buildings"]["sheet"] == {"按楼栋"}
    assert series["values"] == [rate for rate, _ in worst]
    assert series["categories"] == [name for _, name in worst]
    for chart in (charts["fee_items"], charts["buildings"]):
        assert chart["value_format"] == "0%" and chart["axes_shown"] == ["0", "0"]


def test_portfolio_building_chart_names_the_community(run, tmp_path):
    document = run["zh"]["documents"]["_portfolio"]
    charts = _by_title(_charts(_write(run, "_portfolio", tmp_path)))
    (series,) = charts["buildings"]["series"]
    worst = sorted((g["collection_rate_month"], key) for key, g in
                   document["fees"]["by_building"].items()
                   if g["collection_rate_month"] is not None)[:10]
    assert series["values"] == [rate for rate, _ in worst]
    assert [tuple(c) for c in series["categories"]] == [
        (NAMES[key.split("/")[0]], key.split("/", 1)[1]) for _, key in worst]
    assert "tickets" in _by_title(_charts(_write(run, "_portfolio", tmp_path)))


def test_top_ten_buildings_only(run, tmp_path):
    document = copy.deepcopy(run["zh"]["documents"]["a"])
    group = next(iter(document["fees"]["by_building"].values()))
    document["fees"]["by_building"] = {
        f"{n}栋": {**group, "collection_rate_month": round(1 - n / 100, 4)} for n in range(1, 15)}
    document["fees"]["by_building"]["15栋"] = {**group, "collection_rate_month": None}
    charts = _by_title(_charts(_write(run, "a", tmp_path, document=document)))
    (series,) = charts["buildings"]["series"]
    assert series["categories"] == [f"{n}栋" for n in range(14, 4, -1)]
    assert series["values"] == [round(1 - n / 100, 4) for n in range(14, 4, -1)]
    assert series["values_ref"].endswith("$D$2:$D$11")


def test_complaints_by_category_chart(run, tmp_path):
    document = run["zh"]["documents"]["a"]
    charts = _by_title(_charts(_write(run, "a", tmp_path)))
    chart = charts["categories"]
    assert chart["sheet"] == {"按类别"} and chart["type"] == "barChart"
    (series,) = chart["series"]  # this month only: metrics.json has no earlier by-category
    complaints = document["tickets"]["complaints"]["by_category"]
    names = labels("zh")["category"]
    assert series["categories"] == [names[code] for code in document["tickets"]["by_category"]]
    assert series["values"] == [complaints.get(code) for code in document["tickets"]["by_category"]]
    assert series["name"] == "投诉量"
    assert chart["value_format"] == "#,##0"


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_chart_title_and_axis_in_the_language(run, tmp_path, language):
    path = _write(run, "a", tmp_path, language)
    charts = _charts(path)
    words = labels(language)["spreadsheet"]["chart"]
    assert len(charts) == 6
    assert {chart["title"] for chart in charts} == {
        words[k] for k in ("tickets", "rates", "arrears", "fee_items", "buildings", "categories")}
    for chart in charts:
        assert set(chart["axis_titles"]) <= set(words.values())
        assert all(series["name"] for series in chart["series"])
    if language == "en":
        trend = load_workbook(path)["Trend"]
        assert trend["A1"].value == "Month" and trend["A13"].value == "September 2025"


def test_workbooks_with_charts_have_no_formula(run, tmp_path):
    for scope in ("a", "b", "_portfolio"):
        path = _write(run, scope, tmp_path)
        with zipfile.ZipFile(path) as archive:
            sheets = [n for n in archive.namelist()
                      if re.match(r"xl/worksheets/sheet\d+\.xml$", n)]
            assert len(sheets) == 10
            for name in sheets:
                xml = archive.read(name)
                assert b"<f>" not in xml and b"<f " not in xml, (scope, name)
            assert any(n.startswith("xl/charts/chart") for n in archive.namelist())
        assert load_workbook(path).sheetnames[1] == "趋势"


def test_portfolio_by_community_sheet_and_charts(run, tmp_path):
    """Given the month's documents, the portfolio's workbook sets the communities side by
    side: the cells are each community's own metrics.json figures, the charts read them."""
    documents = run["zh"]["documents"]
    path = write_metrics_xlsx(documents["_portfolio"], tmp_path / "p.xlsx", "zh", NAMES,
                              communities=documents)
    book = load_workbook(path)
    assert book.sheetnames[:3] == ["汇总", "趋势", "按项目"] and len(book.sheetnames) == 11
    rows = list(book["按项目"].iter_rows(values_only=True))
    assert rows[0][0] == "项目" and rows[0][-1] == "代码"
    assert rows[0][1:-1] == tuple(_header(key) for key in TREND_KEYS)
    assert [row[-1] for row in rows[1:]] == ["a", "b"]  # the configured order
    assert [row[0] for row in rows[1:]] == ["锦江小区", "b"]
    for row in rows[1:]:
        assert list(row[1:-1]) == [scalar(documents[row[-1]], key) for key in TREND_KEYS]
    charts = _by_title(_charts(path))
    for key in ("communities_tickets", "communities_rates", "communities_arrears"):
        chart = charts[key]
        assert chart["sheet"] == {"按项目"} and chart["type"] == "barChart"
        for series in chart["series"]:
            assert series["categories"] == ["锦江小区", "b"]
    (tickets,) = charts["communities_tickets"]["series"]
    assert tickets["values"] == [documents[c]["tickets"]["created"] for c in ("a", "b")]
    (arrears,) = charts["communities_arrears"]["series"]
    assert arrears["values"] == [documents[c]["fees"]["arrears_at_end"] for c in ("a", "b")]
    rates = charts["communities_rates"]["series"]
    assert [s["name"] for s in rates] == [_header(key) for key in COMMUNITY_RATE_KEYS]
    assert [s["values"] for s in rates] == [[scalar(documents[c], key) for c in ("a", "b")]
                                            for key in COMMUNITY_RATE_KEYS]
    with zipfile.ZipFile(path) as archive:
        assert not any(b"<f>" in archive.read(n) or b"<f " in archive.read(n)
                       for n in archive.namelist() if n.startswith("xl/worksheets/"))
    # A community's workbook has no such sheet, whatever it is given.
    own = write_metrics_xlsx(documents["a"], tmp_path / "a.xlsx", "zh", NAMES,
                             communities=documents)
    assert "按项目" not in load_workbook(own).sheetnames


def test_category_labels_are_text_references(run, tmp_path):
    """Months, fee items and categories as ``strRef``; the portfolio's (community,
    building) pairs as two levels, so Excel shows the labels, never 1, 2, 3."""
    for scope, multi in (("a", False), ("_portfolio", True)):
        levels = 0
        with zipfile.ZipFile(_write(run, scope, tmp_path)) as archive:
            for name in (n for n in archive.namelist() if n.startswith("xl/charts/chart")):
                root = ElementTree.fromstring(archive.read(name))
                for cat in root.iter(f"{C}cat"):
                    (source,) = list(cat)
                    assert source.tag in (f"{C}strRef", f"{C}multiLvlStrRef"), name
                    if source.tag == f"{C}multiLvlStrRef":
                        assert multi and "$B$" in source.find(f"{C}f").text
                        levels += 1
        assert levels == (1 if multi else 0), scope  # the building chart's one series
