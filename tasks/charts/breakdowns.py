"""This month's breakdowns, and the portfolio's communities side by side.

The rows and their order are the spreadsheet's (``tasks/spreadsheet``): fee items
and buildings worst collection rate first, at most ``TOP_BUILDINGS`` buildings, the
communities in the configured order with the headline KPIs of the trend sheet.
Breakdowns stand in the review's 问题与挑战 (they show where the problems are);
the communities side by side in 概况, after the table of communities.
"""

from __future__ import annotations

from yuebao.schema import PORTFOLIO, TICKET_CATEGORIES
from yuebao.tasks.charts import draw
from yuebao.tasks.charts.model import Chart
from yuebao.tasks.charts.words import ChartWords
from yuebao.tasks.metrics import kpi_catalogue
from yuebao.tasks.spreadsheet import _by_building, _by_fee_item, _rated
from yuebao.tasks.spreadsheet.charts import (
    COMMUNITY_RATE_KEYS,
    TOP_BUILDINGS,
    TREND_KEYS,
    community_table,
)

BRIDGE = ("fees.arrears_at_start", "fees.arrears_collected", "fees.new_arrears",
          "fees.arrears_at_end")
COMPLAINT_SERIES = ("this_month", "previous_month", "last_year")


def _target(document: dict, key: str) -> float | None:
    return ((document.get("compare") or {}).get(key) or {}).get("target")


def complaints_chart(document: dict, history: dict, words: ChartWords) -> Chart | None:
    """Complaints by category: this month, last month and the same month last year.

    ``history`` is the draft's ``complaints_history`` (last month's and last year's
    ``tickets.complaints.by_category``, None where the exports do not cover them).
    Categories with no complaint in any of the three months are left out.
    """
    tickets = document.get("tickets")
    if not tickets:
        return None
    counts = {"this_month": tickets["complaints"]["by_category"],
              **{k: history.get(k) for k in COMPLAINT_SERIES[1:]}}
    shown = {k: v for k, v in counts.items() if v is not None}
    categories = [c for c in TICKET_CATEGORIES if any(v.get(c) for v in shown.values())]
    if not categories:
        return None
    series = {k: [v.get(c, 0) for c in categories] for k, v in shown.items()}
    title, names = words.chart["complaints"], [words.group("category", c) for c in categories]
    parts = [words.chart["alt_group"].format(label=words.chart[k],
                                             items=words.items(names, values, "count"))
             for k, values in series.items()]
    png = draw.columns(title, names, [(words.chart[k], v) for k, v in series.items()],
                       "count", words.chart["axis_count"])
    return Chart("complaints_by_category.png", "problems", title, words.alt(title, parts),
                 {"categories": categories, "series": series, "targets": {}}, png)


def _ranking(name: str, title: str, labels: list[str], values: list, target: float | None,
             words: ChartWords, categories: list[str]) -> Chart | None:
    if not values:
        return None
    png = draw.ranking(title, labels, values, "rate", words.chart["axis_rate"],
                       (words.target(words.kpi("fees.collection_rate_month")), target)
                       if target is not None else None)
    alt = words.alt(title, [words.items(labels, values, "rate")])
    targets = {"fees.collection_rate_month": target} if target is not None else {}
    return Chart(name, "problems", title, alt,
                 {"categories": categories, "series": {"fees.collection_rate_month": values},
                  "targets": targets}, png)


def fee_charts(document: dict, words: ChartWords, names: dict[str, str]) -> list[Chart]:
    """Fee items and buildings worst first, the arrears bridge, the aging buckets."""
    fees = document.get("fees")
    if not fees or fees.get("aging") is None:  # no bills export: nothing of this is known
        return []
    target = _target(document, "fees.collection_rate_month")
    drawn: list[Chart | None] = []
    _, rows, _ = _by_fee_item(fees, words)
    rows = rows[:_rated(rows, 3)]
    items = [row[0][0] for row in rows]
    drawn.append(_ranking("fee_items.png", words.chart["fee_items"], items,
                          [row[3][0] for row in rows], target, words, items))
    portfolio = document.get("community") == PORTFOLIO
    lead = 2 if portfolio else 1
    _, rows, _ = _by_building(fees, words, portfolio, names)
    rows = rows[:min(_rated(rows, lead + 2), TOP_BUILDINGS)]
    places = [" ".join(str(cell[0]) for cell in row[:lead]) for row in rows]
    drawn.append(_ranking("buildings.png", words.chart["buildings"], places,
                          [row[lead + 2][0] for row in rows], target, words, places))

    amounts = [fees[key.removeprefix("fees.")] for key in BRIDGE]
    if any(amounts):
        title, labels = words.chart["bridge"], [words.kpi(key) for key in BRIDGE]
        png = draw.bridge(title, labels, *amounts, words.chart["axis_money"])
        drawn.append(Chart("arrears_bridge.png", "problems", title,
                           words.alt(title, [words.items(labels, amounts, "money")]),
                           {"categories": list(BRIDGE), "series": {"fees": amounts},
                            "targets": {}}, png))
    aging = fees["aging"]
    if any(aging.values()):
        title = words.chart["aging"]
        buckets, amounts = list(aging), list(aging.values())
        labels = [words.group("aging", bucket) for bucket in buckets]
        png = draw.columns(title, labels, [(words.kpi("fees.arrears_at_end"), amounts)],
                           "money", words.chart["axis_money"])
        drawn.append(Chart("aging.png", "problems", title,
                           words.alt(title, [words.items(labels, amounts, "money")]),
                           {"categories": buckets, "series": {"fees.aging": amounts},
                            "targets": {}}, png))
    return [d for d in drawn if d is not None]


def community_charts(communities: dict[str, dict] | None, names: dict[str, str],
                     words: ChartWords) -> list[Chart]:
    """The portfolio's communities side by side: the headline rates, arrears at the end."""
    rows = community_table(communities or {}, names, words)
    if not rows:
        return []
    kinds = {key: kpi["kind"] for key, kpi in kpi_catalogue().items()}
    column = {key: 1 + index for index, key in enumerate(TREND_KEYS)}
    ids, labels = [row[-1][0] for row in rows], [str(row[0][0]) for row in rows]
    drawn = []
    rates = {key: [row[column[key]][0] for row in rows] for key in COMMUNITY_RATE_KEYS}
    if any(v is not None for values in rates.values() for v in values):
        title = words.chart["communities_rates"]
        parts = [words.span(words.kpi(key), labels, values, kinds[key])
                 for key, values in rates.items()]
        png = draw.dots(title, labels, [(words.kpi(k), v) for k, v in rates.items()])
        drawn.append(Chart("communities_rates.png", "overview", title,
                           words.alt(title, [p for p in parts if p]),
                           {"categories": ids, "series": rates, "targets": {}}, png))
    arrears = [row[column["fees.arrears_at_end"]][0] for row in rows]
    if any(v is not None for v in arrears):
        title = words.chart["communities_arrears"]
        png = draw.ranking(title, labels, arrears, "money", words.chart["axis_money"])
        drawn.append(Chart("communities_arrears.png", "overview", title,
                           words.alt(title, [words.items(labels, arrears, "money")]),
                           {"categories": ids, "series": {"fees.arrears_at_end": arrears},
                            "targets": {}}, png))
    return drawn
