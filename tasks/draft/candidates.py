"""Candidates: every highlight or problem a month's figures could give, with its effect.

Each rule (a KPI against its target, last month or last year; complaint
categories; overdue tickets and hotspots; low-collecting fee items and
buildings; ageing arrears) yields :class:`Finding` objects ranked later by
:mod:`.selection`; the effect sizes come from :mod:`yuebao.tasks.significance`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from yuebao.schema import TICKET_CATEGORIES
from yuebao.tasks.draft.season import SEASONAL_CATEGORIES
from yuebao.tasks.metrics import kpi_catalogue
from yuebao.tasks.significance import (
    MAX_UNMODELLED,
    MONEY_RATE_STEP,
    change_effect,
    count_z,
    is_notable,
    rate_base,
    target_effect,
)

MAX_HOTSPOTS = 3
# Arrears at the start of the month are last month's end: not news by themselves.
# Only the end of the month and the bridge (new, collected) tell the story.
NOT_FINDINGS = frozenset({"fees.arrears_at_start"})
# Fee rates and arrears follow billing cycles (annual and seasonal bills), so they
# are judged against the same month last year first; everything else against last month.
YEAR_FIRST = "fees."


@dataclass(frozen=True)
class Finding:
    """One highlight or problem: the rule that fired and the figures behind it.

    ``score`` is the effect of :mod:`yuebao.tasks.significance` (a z-like size),
    what candidates are ranked by; ``uncapped`` is the same before the cap of the
    figures without a sampling model (None: no cap applies), which orders those
    that tie at the cap — 30 points short before 3 points short.
    """

    rule: str
    key: str
    kind: str
    value: float | int | None = None
    reference: float | int | None = None  # what it is compared with
    target: float | None = None
    extra: dict = field(default_factory=dict)
    score: float = 0.0
    uncapped: float | None = None

    @property
    def size(self) -> float:
        """The tie-break of equal scores: the effect before the cap."""
        return self.score if self.uncapped is None else self.uncapped

    @property
    def delta(self) -> float | None:
        if self.value is None or self.reference is None:
            return None
        return self.value - self.reference


def _raw(uncapped: float, capped: float) -> float | None:
    """The size before the cap, kept only where the cap cut it."""
    return round(uncapped, 4) if abs(uncapped) > abs(capped) + 1e-12 else None


def _better(direction: str, value: float, reference: float) -> bool:
    return value > reference if direction == "at_least" else value < reference


# A fee item billed in only one of two months (the annual 物业费, the season's 供暖费)
# that makes at least this share of either month's due makes the months' fee rates
# incomparable: the change is the billing calendar.
BILLING_SHARE = 0.10


def billing_change(doc: dict, previous: dict | None) -> dict | None:
    """The fee items billed this month or last month but not both, when they weigh.

    None when the months bill the same items (or their difference is below
    ``BILLING_SHARE`` of each month's due): then fee rates may be compared
    month on month. Otherwise the items and their share of each month's due.
    """
    now = ((doc.get("fees") or {}).get("by_fee_item")) or {}
    before = (((previous or {}).get("fees") or {}).get("by_fee_item")) or {}
    if not previous or not previous.get("fees"):
        return None
    billed_now = {k for k, g in now.items() if g.get("due_in_month")}
    billed_before = {k for k, g in before.items() if g.get("due_in_month")}
    only_now, only_before = sorted(billed_now - billed_before), sorted(billed_before - billed_now)

    def share(groups: dict, names: list[str]) -> float:
        total = sum(g.get("due_in_month") or 0 for g in groups.values())
        return sum(groups[n]["due_in_month"] for n in names) / total if total else 0.0

    share_now, share_before = share(now, only_now), share(before, only_before)
    if max(share_now, share_before) < BILLING_SHARE:
        return None
    return {"only_this_month": only_now, "only_last_month": only_before,
            "share_this_month": round(share_now, 4), "share_last_month": round(share_before, 4)}


# Arrears recovered this month are last month's unpaid bills: only an item billed
# last month alone (the season's 供暖费 billed in October, recovered in November)
# blurs them. The year's recovery rate is over the arrears at the start of the
# year, which no bill of this year changes.
RECOVERY_KEYS = frozenset({"fees.arrears_collected", "fees.arrears_recovery_rate"})
YEAR_START_KEYS = frozenset({"fees.arrears_recovery_rate_ytd"})


def _billing_blurs(key: str, billing: dict | None) -> bool:
    """Whether the months' different bills make ``key``'s change against last month
    an artefact of the calendar (see :func:`billing_change`)."""
    if not billing or not key.startswith(YEAR_FIRST) or key in YEAR_START_KEYS:
        return False
    if key in RECOVERY_KEYS:
        return billing["share_last_month"] >= BILLING_SHARE
    return True


def kpi_findings(compare: dict, doc: dict | None = None, previous: dict | None = None,
                 billing: dict | None = None) -> tuple[list[Finding], list[Finding]]:
    """Highlights and problems among the KPIs that have a direction.

    A missed target is always a problem, ranked by its gap; otherwise a change
    against last month or the same month last year is a finding only when it is
    significant, and a comparison month the exports do not cover (null) never is.
    Nor is a fee KPI's change against last month when ``billing`` (see
    :func:`billing_change`) says the two months bill different fee items.
    """
    catalogue = kpi_catalogue()
    highlights, problems = [], []
    for key, entry in compare.items():
        direction, value = entry["direction"], entry["value"]
        if direction is None or value is None or key in NOT_FINDINGS:
            continue
        kind = catalogue[key]["kind"]
        target, previous_value = entry["target"], entry["previous_month"]
        year_ago = entry["same_month_last_year"]
        n_now, n_before = rate_base(doc, key), rate_base(previous, key)
        if entry["status"] == "missed":
            gap = target_effect(key, kind, value, target, n_now)
            raw = target_effect(key, kind, value, target, n_now, capped=False)
            problems.append(Finding("missed_target", key, kind, value, previous_value, target,
                                    score=round(gap, 4), uncapped=_raw(raw, gap)))
            continue
        order = [("vs_previous", previous_value, n_before), ("vs_last_year", year_ago, None)]
        if key.startswith(YEAR_FIRST):
            order.reverse()
        for rule, reference, n_reference in order:
            if reference is None or (rule == "vs_previous" and _billing_blurs(key, billing)):
                continue
            if kind == "per100":  # test the complaint counts, not their rescaling
                counts = compare.get("tickets.complaints.count") or {}
                value_n, reference_n = counts.get("value"), counts.get(
                    "previous_month" if rule == "vs_previous" else "same_month_last_year")
                if value_n is None or reference_n is None:
                    continue
                effect = change_effect(key, kind, value_n, reference_n)
                raw = effect
            else:
                effect = change_effect(key, kind, value, reference, n_now, n_reference)
                raw = change_effect(key, kind, value, reference, n_now, n_reference,
                                    capped=False)
            if not is_notable(effect):
                continue
            if _better(direction, value, reference):
                met = entry["status"] == "met"
                highlights.append(Finding(f"improved_{rule}", key, kind, value, reference,
                                          target if met else None, score=round(abs(effect), 4),
                                          uncapped=_raw(abs(raw), abs(effect))))
            else:
                problems.append(Finding(f"worsened_{rule}", key, kind, value, reference,
                                        target, score=round(abs(effect), 4),
                                        uncapped=_raw(abs(raw), abs(effect))))
            break
    return highlights, problems


def _worst_spot(spots: list[dict], category: str) -> dict | None:
    """The building with the most tickets of a category (from the hotspots), if any."""
    ranked = sorted((s for s in spots if s["category"] == category),
                    key=lambda s: (-s["count"], s["community"], str(s["building"])))
    return ranked[0] if ranked else None


def complaints_by_category(doc: dict | None) -> dict | None:
    tickets = (doc or {}).get("tickets")
    return tickets["complaints"]["by_category"] if tickets else None


def complaint_findings(current: dict, previous: dict | None, year_ago: dict | None = None,
                       seasonal: bool = False) -> tuple[list[Finding], list[Finding]]:
    """Complaint categories that fell (highlights) or grew (problems), by a Poisson test.

    A category that grew names the building where its tickets concentrate, when
    the hotspots show one. In a month where the season turns (``seasonal``: heating
    started this month or ended the month before) a seasonal category is compared
    with the same month last year instead, where the exports cover it; without it,
    with last month, and the draft says the season turned (``extra["seasonal"]``).
    """
    now = complaints_by_category(current)
    before, last_year = complaints_by_category(previous), complaints_by_category(year_ago)
    if now is None:
        return [], []
    spots = current["tickets"].get("hotspots") or []
    fell: list[Finding] = []
    grew: list[Finding] = []
    for category in TICKET_CATEGORIES:
        extra: dict = {"category": category}
        if seasonal and category in SEASONAL_CATEGORIES:
            extra["seasonal"] = True
            reference_counts, extra["since"] = ((last_year, "last_year") if last_year
                                                else (before, "previous"))
        else:
            reference_counts = before
        if reference_counts is None:
            continue
        value, reference = now[category], reference_counts[category]
        effect = count_z(value, reference)
        if not is_notable(effect):
            continue
        spot = _worst_spot(spots, category) if value > reference else None
        if spot:
            extra |= {"community": spot["community"], "building": spot["building"],
                      "building_count": spot["count"]}
        finding = Finding("complaints_fell" if value < reference else "complaints_grew",
                          "tickets.complaints.by_category", "count", value, reference,
                          extra=extra, score=round(abs(effect), 4))
        (fell if value < reference else grew).append(finding)
    return fell, grew


def ticket_problems(current: dict, named: frozenset = frozenset()) -> list[Finding]:
    """Overdue tickets, and hotspots (the same building and category again and again)
    as one finding, since one inspection round answers them together.

    Both are ranked by a Poisson test against what a sound month would show:
    no overdue ticket, and about one ticket per building and category. A hotspot
    already named by a complaint surge (``named``: community, building, category)
    is left out, so the same building is not a problem twice.
    """
    tickets = current.get("tickets")
    if not tickets:
        return []
    found = []
    overdue = tickets["overdue_open_at_end"]
    if overdue > 0:
        found.append(Finding("overdue_open", "tickets.overdue_open_at_end", "count", overdue,
                             score=round(count_z(overdue, 0), 4)))
    spots = [s for s in tickets["hotspots"]
             if (s["community"], s["building"], s["category"]) not in named][:MAX_HOTSPOTS]
    if spots:
        found.append(Finding("hotspot", "tickets.hotspots", "count", spots[0]["count"],
                             extra={"spots": spots},
                             score=round(count_z(spots[0]["count"], 1), 4)))
    return found


def fee_problems(current: dict, previous: dict | None, target: float | None) -> list[Finding]:
    """Fee items and buildings collecting worst, and arrears ageing past a year.

    A group is ranked by how many points of the scope's collection rate its
    shortfall costs (its due × its gap to the target, over the scope's due), in
    steps of ``MONEY_RATE_STEP``: a small item collecting nothing ranks below a
    large item collecting a little less.
    """
    fees = current.get("fees")
    if not fees:
        return []
    found = []
    total_due = fees.get("due_in_month") or 0
    for group, rule in (("by_fee_item", "low_collection_item"),
                        ("by_building", "low_collection_building")):
        rated = [(name, g) for name, g in fees[group].items()
                 if g["collection_rate_month"] is not None]
        rated.sort(key=lambda item: (item[1]["collection_rate_month"], item[0]))
        threshold = target if target is not None else 1.0
        for name, g in rated[:2]:
            gap = threshold - g["collection_rate_month"]
            if gap <= 0 or not total_due:
                continue
            cost = gap * g["due_in_month"] / total_due
            found.append(Finding(rule, f"fees.{group}", "rate", g["collection_rate_month"],
                                 target=target,
                                 extra={"name": name, "arrears_at_end": g["arrears_at_end"]},
                                 score=round(min(cost / MONEY_RATE_STEP, MAX_UNMODELLED), 4),
                                 uncapped=_raw(cost / MONEY_RATE_STEP,
                                               min(cost / MONEY_RATE_STEP, MAX_UNMODELLED))))
    if previous and previous.get("fees") and previous["fees"]["aging"] and fees["aging"]:
        old, new = previous["fees"]["aging"]["366+"], fees["aging"]["366+"]
        effect = change_effect("fees.aging.366+", "money", new, old)
        raw = change_effect("fees.aging.366+", "money", new, old, capped=False)
        if new > old and is_notable(effect):
            found.append(Finding("arrears_aged", "fees.aging.366+", "money", new, old,
                                 score=round(effect, 4), uncapped=_raw(raw, effect)))
    return found
