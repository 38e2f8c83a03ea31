"""The 12-month trend charts, from ``trend`` of metrics.json (kpis.md section 7).

The KPIs and their grouping are the trend sheet's (``tasks/spreadsheet/charts.py``):
the same headline keys, the rates with a target line where the scope has one. The
tickets received are columns stacked by type (``trend`` of tickets created by type);
a document without those trends gets plain columns with the complaints as a line.
"""

from __future__ import annotations

from yuebao.tasks.charts import draw
from yuebao.tasks.charts.model import Chart
from yuebao.tasks.charts.words import ChartWords
from yuebao.tasks.metrics import TYPE_TREND_KEYS, kpi_catalogue
from yuebao.tasks.spreadsheet.charts import RATE_CHART_KEYS, TREND_KEYS, trend_months

COMPLAINTS = "tickets.complaints.count"

# name -> (title label, columns key or None, line keys, axis label, kind)
TREND_CHARTS: dict[str, tuple[str, str | None, tuple[str, ...], str, str]] = {
    "trend_tickets.png": ("trend_tickets", "tickets.created", (COMPLAINTS,), "axis_count",
                          "count"),
    "trend_rates.png": ("trend_rates", None,
                        tuple(k for k in RATE_CHART_KEYS if k.startswith("tickets.")),
                        "axis_rate", "rate"),
    "trend_response.png": ("trend_response", None, ("tickets.response_minutes.median",),
                           "axis_minutes", "minutes"),
    "trend_satisfaction.png": ("trend_satisfaction", None, ("tickets.satisfaction.rate",),
                               "axis_rate", "rate"),
    "trend_collection.png": ("trend_collection", None,
                             tuple(k for k in RATE_CHART_KEYS if k.startswith("fees.")),
                             "axis_rate", "rate"),
    "trend_arrears.png": ("trend_arrears", "fees.arrears_at_end", (), "axis_money", "money"),
}
# Every headline KPI of the trend sheet is drawn once.
assert sorted(k for _, bars, keys, _, _ in TREND_CHARTS.values()
              for k in (bars, *keys) if k and k != COMPLAINTS) == sorted(TREND_KEYS)


def _values(document: dict, key: str, months: list[str]) -> list:
    """The key's trend on the chart's months (null where the trend has no value)."""
    trend = (document.get("trend") or {}).get(key) or {}
    by_month = dict(zip(trend.get("months") or [], trend.get("values") or [], strict=False))
    return [by_month.get(month) for month in months]


def trend_charts(document: dict, words: ChartWords) -> list[Chart]:
    """Each trend chart with a value in at least one month; the others are left out
    (a company exporting only tickets has no fee trends)."""
    kinds = {key: kpi["kind"] for key, kpi in kpi_catalogue().items()}
    compared = document.get("compare") or {}
    months = trend_months(document)
    x = [words.month(m) for m in months]
    drawn = []
    for name, (title_key, bar_key, line_keys, axis, kind) in TREND_CHARTS.items():
        keys = [k for k in (bar_key, *line_keys) if k]
        series = {key: _values(document, key, months) for key in keys}
        if all(value is None for values in series.values() for value in values):
            continue
        title = words.chart[title_key]
        stacked = _by_type(document, months) if bar_key == "tickets.created" else {}
        if stacked:
            drawn.append(_tickets_by_type(name, words.chart["trend_tickets_by_type"], months,
                                          x, series[bar_key], stacked, words, axis))
            continue
        targets = {key: compared[key]["target"] for key in keys
                   if (compared.get(key) or {}).get("target") is not None}
        parts = [words.series(words.kpi(key), months, series[key], kinds[key],
                              targets.get(key)) for key in keys]
        png = draw.lines(
            title, x, [(words.kpi(key), series[key]) for key in line_keys],
            [(words.target(words.kpi(key)), value) for key, value in targets.items()],
            kind, words.chart[axis],
            bars=[(words.kpi(bar_key), series[bar_key])] if bar_key else [])
        drawn.append(Chart(name, "overview", title, words.alt(title, [p for p in parts if p]),
                           {"categories": months, "series": series, "targets": targets}, png))
    return drawn


def _by_type(document: dict, months: list[str]) -> dict[str, list]:
    """Tickets created by type on the chart's months, the types that have any (none
    when the document has no such trend)."""
    found = {key: _values(document, key, months) for key in TYPE_TREND_KEYS}
    return {key: values for key, values in found.items() if any(values)}


def _tickets_by_type(name: str, title: str, months: list[str], x: list[str], created: list,
                     stacked: dict[str, list], words: ChartWords, axis: str) -> Chart:
    """Tickets received, month by month, as columns stacked by type."""
    types = {key: words.all["type"][key.rsplit(".", 1)[1]] for key in stacked}
    last = [values[-1] for values in stacked.values()]
    parts = [words.series(words.kpi("tickets.created"), months, created, "count"),
             words.items(list(types.values()), last, "count") if None not in last else None]
    png = draw.lines(title, x, [], [], "count", words.chart[axis],
                     bars=[(types[key], values) for key, values in stacked.items()])
    return Chart(name, "overview", title, words.alt(title, [p for p in parts if p]),
                 {"categories": months, "series": {"tickets.created": created, **stacked},
                  "targets": {}}, png)
