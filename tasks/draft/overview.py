"""The draft's parts that are not ranked findings: data quality, the seasonal
counts of the overview, next month's workload and targets."""

from __future__ import annotations

from yuebao.months import Month
from yuebao.schema import PORTFOLIO, TABLES, TICKET_CATEGORIES
from yuebao.tasks.draft.candidates import complaints_by_category
from yuebao.tasks.draft.season import SEASONAL_CATEGORIES
from yuebao.tasks.draft.types import Quality, TargetLine, Workload
from yuebao.tasks.metrics import kpi_catalogue


def data_quality_summary(data_quality: dict, scope_id: str = PORTFOLIO) -> Quality:
    """What the draft says about the exports themselves, apart from the ranked problems.

    The portfolio tells the whole run's rejected and duplicate rows; a community
    only the rows that name it, and apart those that name no community (they may
    be its own). Duplicates removed do not change a community's figures, so only
    the portfolio mentions them.
    """
    tables = TABLES
    said_apart = ("snapshot_limits", "approximate_payments")
    unattributed = data_quality.get("quarantined_unattributed") or {}
    if scope_id == PORTFOLIO:
        by_table = {t: {"quarantined": data_quality[t]["quarantined"]} for t in tables}
        duplicate = sum(data_quality[t]["duplicate"] for t in tables)
        others = 0
    else:
        own = (data_quality.get("quarantined_by_community") or {}).get(scope_id) or {}
        by_table = {t: {"quarantined": own.get(t, 0)} for t in tables}
        duplicate = 0
        others = sum(unattributed.values())
    return {
        "quarantined": sum(n["quarantined"] for n in by_table.values()),
        "duplicate": duplicate,
        "by_table": by_table,
        "unattributed": others,
        "notes": [n for n in data_quality["notes"] if n["code"] not in said_apart],
        "approximate_payments": any(n["code"] == "approximate_payments"
                                    for n in data_quality["notes"]),
    }


def expected_workload(history: dict[str, dict[str, int]],
                      next_month: Month) -> Workload | None:
    """Next month's tickets by category: last year's same month, scaled by the trend.

    The trend is the latest three months against the same three months a year
    before (all categories together, so one noisy category does not swing it).
    Without all of those months in the history there is no forecast.
    """
    base_month = next_month.shift(-12)
    recent = [next_month.shift(-k) for k in (1, 2, 3)]
    year_before = [m.shift(-12) for m in recent]
    needed = [base_month, *recent, *year_before]
    if any(str(m) not in history for m in needed):
        return None
    before_total = sum(sum(history[str(m)].values()) for m in year_before)
    if not before_total:
        return None
    trend = sum(sum(history[str(m)].values()) for m in recent) / before_total
    base = history[str(base_month)]
    by_category = {c: round(base.get(c, 0) * trend) for c in TICKET_CATEGORIES}
    return {
        "trend": round(trend, 4),
        "base_month": str(base_month),
        "by_category": {c: n for c, n in by_category.items() if n},
        "total": sum(by_category.values()),
    }


def next_targets(targets: dict[str, float], doc: dict) -> list[TargetLine]:
    """Next month's targets, leaving out those of a table the company does not export."""
    catalogue = kpi_catalogue()
    return [{"key": key, "kind": catalogue[key]["kind"], "target": value,
             "direction": catalogue[key]["direction"],
             "current": doc["compare"].get(key, {}).get("value")}
            for key, value in targets.items()
            if key in catalogue and doc.get(key.split(".", 1)[0]) is not None]


def seasonal_counts(doc: dict, year_ago: dict | None) -> dict[str, dict[str, int | None]]:
    """This month's and last year's complaints of the seasonal categories (None: unknown)."""
    now, last_year = complaints_by_category(doc), complaints_by_category(year_ago)
    return {c: {"value": now[c] if now else None, "last_year": last_year[c] if last_year else None}
            for c in sorted(SEASONAL_CATEGORIES)}
