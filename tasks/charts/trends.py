"""The 12-month trend charts, from ``trend`` of metrics.json (kpis.md section 7).

The KPIs and their grouping are the trend sheet's (``tasks/spreadsheet/charts.py``):
the same headline keys, the rates with a target line where the scope has one. Tickets
also carry the complaints of each month (the one ticket type with a trend of its
own), drawn over the columns of all tickets received.
"""

from __future__ import annotations

from yuebao.tasks.charts import draw
from yuebao.tasks.charts.model import Chart
from yuebao.tasks.charts.words import ChartWords
from yuebao.tasks.metrics import kpi_catalogue
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
        title = words.chart[title_key]
        keys = [k for k in (bar_key, *line_keys) if k]
        series = {key: _values(document, key, months) for key in keys}
        if all(value is None for values in series.values() for value in values):
            continue
        targets = {key: compared[key]["target"] for key in keys
                   if (compared.get(key) or {}).get("target") is not None}
        parts = [words.series(words.kpi(key), months, series[key], kinds[key],
                              targets.get(key)) for key in keys]
        png = draw.lines(
            title, x, [(words.kpi(key), series[key]) for key in line_keys],
            [(words.target(words.kpi(key)), value) for key, value in targets.items()],
            kind, words.chart[axis],
            bars=(words.kpi(bar_key), series[bar_key]) if bar_key else None)
        drawn.append(Chart(name, "overview", title, words.alt(title, [p for p in parts if p]),
                           {"categories": months, "series": series, "targets": targets}, png))
    return drawn
