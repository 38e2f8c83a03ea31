"""Causes: where a finding's figure comes from, so the draft can name it.

Fee items and buildings behind a collection shortfall, the arrears bridge,
where SLA breaches concentrate, the most overdue tickets.
"""

from __future__ import annotations

from dataclasses import replace

from yuebao.tasks.draft.candidates import Finding

MAX_CAUSES = 2
MAX_OVERDUE_LISTED = 5
# One breach in a building is not a concentration.
MIN_CONCENTRATION = 2
COLLECTION_KEYS = frozenset({"fees.collection_rate_month"})
SLA_KEYS = {"tickets.response_on_time_rate": "response",
            "tickets.resolution_on_time_rate": "resolution"}


def _shortfalls(groups: dict) -> list[dict]:
    """Fee items or buildings by this month's shortfall (due − collected), largest first."""
    total = sum(g["due_in_month"] - g["collected_for_month"] for g in groups.values())
    ranked = sorted(((name, g["due_in_month"] - g["collected_for_month"], g)
                     for name, g in groups.items()), key=lambda item: (-item[1], item[0]))
    return [{"name": name, "shortfall": round(gap, 2), "due": g["due_in_month"],
             "rate": g["collection_rate_month"],
             "share": round(gap / total, 4) if total > 0 else None}
            for name, gap, g in ranked[:MAX_CAUSES] if gap > 0]


def _top_categories(by_category: dict) -> list[dict]:
    ranked = sorted(by_category.items(), key=lambda item: (-item[1], item[0]))
    return [{"category": c, "count": n} for c, n in ranked[:MAX_CAUSES]
            if n >= MIN_CONCENTRATION]


def named_causes(finding: Finding, doc: dict) -> Finding:
    """The same finding, with where its figure comes from, so the draft can name it.

    A collection rate names the fee items and buildings with the largest shortfall;
    end-of-month arrears the bridge (new, collected, end) and the fee item holding
    most of them; an on-time rate where its breaches concentrate (building,
    category); overdue tickets are listed, most overdue first.
    """
    fees, tickets = doc.get("fees") or {}, doc.get("tickets") or {}
    extra: dict = {}
    if finding.key in COLLECTION_KEYS and fees and not finding.rule.startswith("improved"):
        extra = {"items": _shortfalls(fees.get("by_fee_item") or {}),
                 "buildings": _shortfalls(fees.get("by_building") or {})}
    elif finding.key == "fees.arrears_at_end" and fees:
        items = sorted((fees.get("by_fee_item") or {}).items(),
                       key=lambda item: (-item[1]["arrears_at_end"], item[0]))
        end = fees["arrears_at_end"]
        top = items[0] if items and end else None
        extra = {"bridge": {"new": fees.get("new_arrears"),
                            "collected": fees.get("arrears_collected"), "end": end,
                            "item": top[0] if top else None,
                            "item_arrears": top[1]["arrears_at_end"] if top else None,
                            "item_share": round(top[1]["arrears_at_end"] / end, 4)
                            if top else None}}
    elif finding.key in SLA_KEYS and tickets.get("sla_breaches") \
            and not finding.rule.startswith("improved"):
        breaches = tickets["sla_breaches"][SLA_KEYS[finding.key]]
        if breaches.get("count"):
            extra = {"breaches": {"part": SLA_KEYS[finding.key], "count": breaches["count"],
                                  "buildings": [b for b in breaches.get("by_building") or []
                                                if b["count"] >= MIN_CONCENTRATION][:MAX_CAUSES],
                                  "categories": _top_categories(
                                      breaches.get("by_category") or {})}}
    elif finding.rule == "overdue_open" or finding.key == "tickets.overdue_open_at_end":
        extra = {"tickets": (tickets.get("overdue_open") or [])[:MAX_OVERDUE_LISTED]}
    if not extra:
        return finding
    return replace(finding, extra=finding.extra | extra)
