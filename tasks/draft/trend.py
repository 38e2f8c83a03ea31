"""Trend: what the last twelve months say about a finding's KPI.

A manager does not write "improved on last month" when the figure is the best of
the year, or has improved three months running, or met its target for the first
time: those are the sentences worth reading. Each KPI highlight or problem gets at
most one such note, read from ``trend.<key>`` of metrics.json (kpis.md section 7):

* ``first_met`` (highlight): on target this month, and in none of the earlier
  months of the trend that have a value (at least :data:`MIN_EARLIER` of them);
* ``best`` / ``worst``: this month is the best (highlight) or worst (problem) of
  the trend, over at least :data:`MIN_KNOWN` months with a value;
* ``better_in_a_row`` / ``worse_in_a_row``: the figure has moved the finding's way
  on each of the last ``months`` months (at least :data:`MIN_STREAK`).

The first that applies wins, in that order. A month not covered breaks a streak.
"""

from __future__ import annotations

from dataclasses import replace

from yuebao.tasks.draft.candidates import Finding
from yuebao.tasks.metrics import kpi_catalogue

MIN_KNOWN = 6
MIN_EARLIER = 3
MIN_STREAK = 3
KPI_RULES = frozenset({"improved_vs_previous", "improved_vs_last_year", "missed_target",
                       "worsened_vs_previous", "worsened_vs_last_year"})


def _meets(value: float, target: float, direction: str) -> bool:
    return value >= target if direction == "at_least" else value <= target


def _streak(values: list[float | None], direction: str, better: bool) -> int:
    """How many months in a row, ending with the last, moved the wanted way."""
    up = (direction == "at_least") == better
    months = 0
    for before, after in zip(values[-2::-1], values[::-1][:-1], strict=True):
        if before is None or after is None or after == before or (after > before) != up:
            break
        months += 1
    return months


def trend_note(finding: Finding, trend: dict | None, month: str,
               is_highlight: bool) -> dict | None:
    """The one trend note of a KPI finding, or None (see the module's rules)."""
    direction = kpi_catalogue().get(finding.key, {}).get("direction", "none")
    if (finding.rule not in KPI_RULES or not trend or direction == "none"
            or not trend["months"] or trend["months"][-1] != month
            or trend["values"][-1] is None):
        return None
    values = trend["values"]
    known = [v for v in values if v is not None]
    earlier = known[:-1]
    if (is_highlight and finding.target is not None and len(earlier) >= MIN_EARLIER
            and _meets(values[-1], finding.target, direction)
            and not any(_meets(v, finding.target, direction) for v in earlier)):
        return {"code": "first_met", "months": len(known)}
    extreme = trend["best" if is_highlight else "worst"]
    if len(known) >= MIN_KNOWN and extreme and extreme["month"] == month:
        return {"code": "best" if is_highlight else "worst", "months": len(known)}
    streak = _streak(values, direction, better=is_highlight)
    if streak >= MIN_STREAK:
        return {"code": "better_in_a_row" if is_highlight else "worse_in_a_row",
                "months": streak}
    return None


def with_trends(findings: list[Finding], doc: dict, is_highlight: bool) -> list[Finding]:
    """The findings, each KPI finding with its trend note in ``extra["trend"]``."""
    trends = doc.get("trend") or {}
    noted = []
    for finding in findings:
        note = trend_note(finding, trends.get(finding.key), doc["month"], is_highlight)
        noted.append(replace(finding, extra=finding.extra | {"trend": note}) if note
                     else finding)
    return noted
