"""Follow-up of last month's actions (上月整改事项跟踪, review.md part 4, first).

Last month's draft recorded, for each action, what it is about (its *subject*:
a KPI, a complaint category, a hotspot, a fee item or building, old arrears)
and the figure that raised it (the *baseline*). This month's run reads that
record and says, for each subject, this month's figure and a verdict — so a
manager sees whether last month's plan worked without digging out last
month's draft. Pure logic: reading ``review.json`` is in :mod:`.records`.

Verdicts (``docs/review.md`` states the rule for users; change both together):

- **effective** (已见效): the problem is gone — the subject's target is met this
  month, or, without a target, the figure moved the good way by a notable effect
  (the same significance test as the findings, ``|z| ≥ 2``), or a count of
  problems (overdue tickets, a hotspot) is down to none / off the hotspot list.
- **improved** (有改善): better, but not gone — a notable move that still misses
  the target, or a move the good way of at least one unit of effect.
- **not_effective** (未见效): no move beyond noise (effect below one unit), or worse.
- **no_data** (本月无数据): this month has no figure for the subject (no bill of
  that fee item due, no ticket export, the KPI not computed).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from yuebao.tasks.metrics import kpi_catalogue, scalar
from yuebao.tasks.significance import Z_NOTABLE, change_effect, rate_base

if TYPE_CHECKING:  # types.py reads this module's enums
    from yuebao.tasks.draft.types import FollowUp, FollowUpItem

# An effect of one unit (half of "notable") the good way is a partial improvement.
Z_IMPROVED = 1.0
# metrics.json lists at most this many hotspots: a spot missing from a full list
# may still have tickets, so its figure is unknown.
MAX_HOTSPOTS_LISTED = 10
# The rules whose action is about one KPI of ``compare``.
KPI_RULES = frozenset({"missed_target", "worsened_vs_previous", "worsened_vs_last_year",
                       "overdue_open"})
COLLECTION_KEY = "fees.collection_rate_month"


class Verdict(StrEnum):
    EFFECTIVE = "effective"
    IMPROVED = "improved"
    NOT_EFFECTIVE = "not_effective"
    NO_DATA = "no_data"


class FollowUpStatus(StrEnum):
    FOLLOWED = "followed"
    NO_RECORD = "no_record"  # no review.json of last month for this scope
    NO_ACTIONS = "no_actions"  # last month's draft had no action to follow


def subjects(rule: str, key: str, kind: str, value: float | int | None,
             target: float | None, extra: dict, doc: dict) -> list[dict]:
    """What an action is about, with its baseline: one subject, or one per hotspot.

    ``base`` keeps the number of tickets behind a ticket rate, so next month's
    verdict weighs the change as the findings do.
    """
    if rule in KPI_RULES:
        told = [(key, kind, value, target)]
        if extra.get("with"):  # two KPIs told in one sentence: both are followed up
            w = extra["with"]
            told.append((w["key"], w["kind"], w["value"], w["target"]))
        return [{"kind": "kpi", "key": k, "value_kind": kd, "target": t,
                 "direction": kpi_catalogue().get(k, {}).get("direction", "at_most"),
                 "base": rate_base(doc, k), "baseline": v} for k, kd, v, t in told]
    if rule == "complaints_grew":
        return [{"kind": "complaint_category", "category": extra["category"],
                 "value_kind": "count", "direction": "at_most", "baseline": value}]
    if rule == "hotspot":
        return [{"kind": "hotspot", "community": s["community"], "building": s["building"],
                 "category": s["category"], "value_kind": "count", "direction": "at_most",
                 "baseline": s["count"]} for s in extra["spots"]]
    if rule in ("low_collection_item", "low_collection_building"):
        return [{"kind": "fee_item" if rule == "low_collection_item" else "fee_building",
                 "name": extra["name"], "value_kind": "rate", "direction": "at_least",
                 "target": target, "baseline": value}]
    if rule == "arrears_aged":
        return [{"kind": "aging", "bucket": "366+", "value_kind": "money",
                 "direction": "at_most", "baseline": value}]
    return []


def current_figure(subject: dict, doc: dict) -> tuple[float | int | None, bool]:
    """This month's figure for a subject, and whether it has left the hotspot list."""
    tickets, fees = doc.get("tickets"), doc.get("fees")
    kind = subject["kind"]
    if kind == "kpi":
        entry = (doc.get("compare") or {}).get(subject["key"])
        return (entry["value"] if entry else scalar(doc, subject["key"])), False
    if kind == "complaint_category":
        if not tickets:
            return None, False
        return tickets["complaints"]["by_category"].get(subject["category"]), False
    if kind == "hotspot":
        if not tickets:
            return None, False
        spots = tickets.get("hotspots") or []
        for s in spots:
            if (s["community"], s["building"], s["category"]) == (
                    subject["community"], subject["building"], subject["category"]):
                return s["count"], False
        return None, len(spots) < MAX_HOTSPOTS_LISTED
    if kind in ("fee_item", "fee_building"):
        group = "by_fee_item" if kind == "fee_item" else "by_building"
        found = ((fees or {}).get(group) or {}).get(subject["name"])
        return (found["collection_rate_month"] if found else None), False
    if kind == "aging":
        aging = (fees or {}).get("aging")
        return (aging[subject["bucket"]] if aging else None), False
    return None, False


def _effect_key(subject: dict) -> str:
    if subject["kind"] == "kpi":
        return subject["key"]
    if subject["kind"] in ("fee_item", "fee_building"):
        return COLLECTION_KEY
    if subject["kind"] == "aging":
        return "fees.aging.366+"
    return "tickets.complaints.by_category"


def judge(subject: dict, value: float | int | None, off_list: bool,
          doc: dict) -> tuple[Verdict, float | None]:
    """The verdict on one subject and the effect (positive = the good way) behind it."""
    baseline = subject["baseline"]
    if off_list:
        return Verdict.EFFECTIVE, None
    if value is None or baseline is None:
        return Verdict.NO_DATA, None
    key, kind = _effect_key(subject), subject["value_kind"]
    n_now = rate_base(doc, key) if subject["kind"] == "kpi" else None
    effect = change_effect(key, kind, value, baseline, n_now, subject.get("base"))
    good = effect if subject["direction"] == "at_least" else -effect
    target = subject.get("target")
    if target is not None:
        gone = value >= target if subject["direction"] == "at_least" else value <= target
    else:
        gone = good >= Z_NOTABLE - 1e-12 or (
            kind == "count" and subject["direction"] == "at_most" and value == 0 < baseline)
    if gone:
        verdict = Verdict.EFFECTIVE
    elif good >= Z_IMPROVED - 1e-12:
        verdict = Verdict.IMPROVED
    else:
        verdict = Verdict.NOT_EFFECTIVE
    return verdict, round(good, 4)


def follow_up(record: dict | None, doc: dict, month: str) -> FollowUp:
    """Last month's actions with this month's figures and verdicts.

    ``record`` is last month's ``review.json`` of this scope; one of another scope
    or another month is ignored (never followed up in the wrong draft).
    """
    if (record is None or record.get("scope") != doc["community"]
            or record.get("month") != month):
        return {"status": FollowUpStatus.NO_RECORD, "month": month, "items": []}
    items: list[FollowUpItem] = []
    for action in record.get("actions") or []:
        for subject in action.get("subjects") or []:
            value, off_list = current_figure(subject, doc)
            verdict, effect = judge(subject, value, off_list, doc)
            items.append({"action_rank": action["rank"], "rule": action["rule"],
                          "subject": subject, "baseline": subject["baseline"],
                          "value": value, "off_list": off_list, "verdict": verdict,
                          "effect": effect})
    status = FollowUpStatus.FOLLOWED if items else FollowUpStatus.NO_ACTIONS
    return {"status": status, "month": month, "items": items}
