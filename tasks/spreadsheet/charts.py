"""The 趋势 (trend) sheet and the native Excel charts of metrics.xlsx.

Every chart is an openpyxl chart over the workbook's own cells (never a picture),
so a manager can restyle it in Excel and its words are in Excel's fonts; titles and
axis titles come from ``[spreadsheet.chart]`` of labels.toml, series names from the
column headers the chart reads.
"""

from __future__ import annotations

from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.chart._chart import ChartBase
from openpyxl.chart.data_source import AxDataSource, MultiLevelStrRef, StrRef
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from yuebao.months import Month
from yuebao.schema import PORTFOLIO
from yuebao.tasks.metrics import kpi_catalogue, scalar
from yuebao.tasks.spreadsheet.cells import NUMBER_FORMATS, Cell, _Words
from yuebao.words import month_name

# The headline KPIs of the trend sheet, in column order (kpis.md section 5, trend).
TREND_KEYS = (
    "tickets.created",
    "tickets.response_on_time_rate",
    "tickets.resolution_on_time_rate",
    "tickets.response_minutes.median",
    "tickets.satisfaction.rate",
    "fees.collection_rate_month",
    "fees.collection_rate_ytd",
    "fees.arrears_at_end",
)
# The rates drawn on the trend's rate chart, each with its target line where it has one.
RATE_CHART_KEYS = ("tickets.response_on_time_rate", "tickets.resolution_on_time_rate",
                   "fees.collection_rate_month", "fees.collection_rate_ytd")
# The rates the portfolio's by-community chart puts side by side.
COMMUNITY_RATE_KEYS = ("tickets.response_on_time_rate", "tickets.resolution_on_time_rate",
                       "tickets.satisfaction.rate", "fees.collection_rate_month",
                       "fees.collection_rate_ytd")
TREND_MONTHS = 12
TOP_BUILDINGS = 10

# Where the charts go: right of the table, one below the other.
_CHART_WIDTH, _CHART_HEIGHT, _CHART_ROWS = 18, 8, 17

Columns = dict[str, tuple[int, int | None]]  # key -> (value column, target column or None)


def trend_months(document: dict) -> list[str]:
    """The trend's months, oldest first; the 12 ending with the document's month if absent."""
    for key in TREND_KEYS:
        months = ((document.get("trend") or {}).get(key) or {}).get("months")
        if months:
            return list(months)
    last = Month.parse(document["month"])
    return [str(last.shift(offset)) for offset in range(1 - TREND_MONTHS, 1)]


def trend_table(document: dict, words: _Words) -> tuple[list[str], list[list[Cell]], Columns]:
    """Rows = months, columns = each headline KPI and its target (a constant column)."""
    kinds = {key: kpi["kind"] for key, kpi in kpi_catalogue().items()}
    trends, compared = document.get("trend") or {}, document.get("compare") or {}
    months = trend_months(document)
    headers = [words.column["month"]]
    columns: Columns = {}
    series: list[tuple[list, str]] = []
    for key in TREND_KEYS:
        label, kind = words.kpi(key), kinds[key]
        values = (trends.get(key) or {}).get("values") or [None] * len(months)
        by_month = dict(zip((trends.get(key) or {}).get("months") or months, values,
                            strict=False))
        headers.append(words.with_unit(label, kind))
        series.append(([by_month.get(month) for month in months], kind))
        value_column = len(headers)
        target = (compared.get(key) or {}).get("target")
        target_column = None
        if target is not None:
            headers.append(words.with_unit(words.column["target_of"].format(label=label), kind))
            series.append(([target] * len(months), kind))
            target_column = len(headers)
        columns[key] = (value_column, target_column)
    headers.append(words.column["key"])
    rows = []
    for index, month in enumerate(months):
        parsed = Month.parse(month)
        rows.append([(month_name(parsed.year, parsed.month, words.language), "text"),
                     *((values[index], kind) for values, kind in series), (month, "text")])
    return headers, rows, columns


def _categories(chart: ChartBase, labels: Reference) -> None:
    """Text labels as text (``strRef``; openpyxl's ``set_categories`` writes ``numRef``),
    two columns (community, building) as two levels."""
    for series in chart.series:
        if labels.min_col == labels.max_col:
            series.cat = AxDataSource(strRef=StrRef(f=str(labels)))
        else:
            series.cat = AxDataSource(multiLvlStrRef=MultiLevelStrRef(f=str(labels)))


def _axes(chart: ChartBase, x_title: str, y_title: str, y_format: str) -> None:
    """Axis titles, the value format, and axes that show (openpyxl 3.1 writes none)."""
    chart.x_axis.title = x_title
    chart.y_axis.title = y_title
    chart.y_axis.number_format = y_format
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    chart.width, chart.height = _CHART_WIDTH, _CHART_HEIGHT


def _place(sheet: Worksheet, chart: ChartBase, column: int, index: int) -> None:
    sheet.add_chart(chart, f"{get_column_letter(column)}{2 + index * _CHART_ROWS}")


def _line(sheet: Worksheet, title: str, columns: list[tuple[int, bool]], last_row: int,
          words: _Words, y_title: str, kind: str) -> LineChart:
    """A line chart of whole columns (header = series name); target columns dashed."""
    chart = LineChart()
    chart.title = title
    chart.display_blanks = "gap"  # a month the exports do not cover is a gap, not 0
    for column, dashed in columns:
        chart.add_data(Reference(sheet, min_col=column, min_row=1, max_row=last_row),
                       titles_from_data=True)
        line = chart.series[-1].graphicalProperties.line
        line.width = 19050  # 1.5 pt
        if dashed:
            line.dashStyle = "dash"
        chart.series[-1].smooth = False
    _categories(chart, Reference(sheet, min_col=1, min_row=2, max_row=last_row))
    _axes(chart, words.text["chart"]["axis_month"], y_title, _axis_format(kind))
    return chart


def _axis_format(kind: str) -> str:
    return "0%" if kind == "rate" else "#,##0" if kind == "count" else NUMBER_FORMATS[kind]


def trend_charts(sheet: Worksheet, columns: Columns, rows: int, words: _Words) -> None:
    """Tickets created; the on-time and collection rates with their targets; arrears."""
    chart_words, last = words.text["chart"], rows + 1
    anchor = max(column for pair in columns.values() for column in pair if column) + 3
    tickets = _line(sheet, chart_words["tickets"], [(columns["tickets.created"][0], False)],
                    last, words, chart_words["axis_count"], "count")
    rates: list[tuple[int, bool]] = []
    for key in RATE_CHART_KEYS:
        value, target = columns[key]
        rates.append((value, False))
        if target:
            rates.append((target, True))
    rate = _line(sheet, chart_words["rates"], rates, last, words, chart_words["axis_rate"],
                 "rate")
    arrears = _line(sheet, chart_words["arrears"], [(columns["fees.arrears_at_end"][0], False)],
                    last, words, chart_words["axis_money"], "money")
    for index, chart in enumerate((tickets, rate, arrears)):
        _place(sheet, chart, anchor, index)


def bar_chart(sheet: Worksheet, title: str, categories: tuple[int, int], values: tuple[int, ...],
              rows: int, words: _Words, x_title: str, y_title: str, kind: str,
              index: int = 0) -> None:
    """Columns of rows 2..rows+1 of the value columns, labelled by the category columns."""
    if rows <= 0:
        return
    chart = BarChart()
    chart.type = "col"
    chart.title = title
    for value in values:
        chart.add_data(Reference(sheet, min_col=value, min_row=1, max_row=rows + 1),
                       titles_from_data=True)
    _categories(chart, Reference(sheet, min_col=categories[0], max_col=categories[1],
                                 min_row=2, max_row=rows + 1))
    if len(values) == 1:
        chart.legend = None  # the title says what the one series is
    _axes(chart, x_title, y_title, _axis_format(kind))
    chart.y_axis.scaling.min = 0
    _place(sheet, chart, sheet.max_column + 2, index)


def community_table(documents: dict[str, dict], names: dict[str, str],
                    words: _Words) -> list[list[Cell]]:
    """This month's headline KPIs of each community, in the configured order."""
    kinds = {key: kpi["kind"] for key, kpi in kpi_catalogue().items()}
    order = [c for c in names if c in documents and c != PORTFOLIO]
    order += sorted(c for c in documents if c not in order and c != PORTFOLIO)
    return [[(names.get(c, c), "text"), *((scalar(documents[c], key), kinds[key])
                                          for key in TREND_KEYS), (c, "text")]
            for c in order]


def community_headers(words: _Words) -> list[str]:
    kinds = {key: kpi["kind"] for key, kpi in kpi_catalogue().items()}
    return [words.column["community"],
            *(words.with_unit(words.kpi(key), kinds[key]) for key in TREND_KEYS),
            words.column["key"]]


def community_charts(sheet: Worksheet, rows: int, words: _Words) -> None:
    """The communities side by side: tickets, the rates, arrears at the end."""
    chart, column = words.text["chart"], {key: 2 + i for i, key in enumerate(TREND_KEYS)}
    rates = tuple(column[key] for key in COMMUNITY_RATE_KEYS)
    for index, (title, values, axis, kind) in enumerate((
            ("communities_tickets", (column["tickets.created"],), "axis_count", "count"),
            ("communities_rates", rates, "axis_rate", "rate"),
            ("communities_arrears", (column["fees.arrears_at_end"],), "axis_money", "money"))):
        bar_chart(sheet, chart[title], (1, 1), values, rows, words, chart["axis_community"],
                  chart[axis], kind, index)
