"""Draft: metrics -> the findings of the five-part review (review.md).

This stage decides *what* the review says — which KPIs are highlights, which
are problems, which action answers each problem — and keeps every figure it
uses, so each sentence can be traced to a rule and to metrics.json. *How* it is
said lives in ``templates/<language>/``: nothing here is reader-facing text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from prefect import task
from prefect.cache_policies import NO_CACHE

from yuebao.config import Config
from yuebao.months import Month
from yuebao.schema import PORTFOLIO, TICKET_CATEGORIES
from yuebao.tasks.draft.followup import follow_up, subjects
from yuebao.tasks.draft.records import REVIEW_SCHEMA as REVIEW_SCHEMA
from yuebao.tasks.draft.records import review_record as review_record
from yuebao.tasks.draft.season import SEASONAL_CATEGORIES, season_events
from yuebao.tasks.metrics import MonthMetrics, kpi_catalogue, scalar
from yuebao.tasks.plan import city_info, holidays_in, seasonal_plan
from yuebao.tasks.significance import (
    MAX_UNMODELLED,
    MONEY_RATE_STEP,
    change_effect,
    count_z,
    is_notable,
    rate_base,
    target_effect,
)
from yuebao.words import labels

MAX_HIGHLIGHTS = 5
MAX_PROBLEMS = 6
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


def _fee_rate(key: str) -> bool:
    return key.startswith(YEAR_FIRST) and kpi_catalogue()[key]["kind"] == "rate"


def kpi_findings(compare: dict, doc: dict | None = None, previous: dict | None = None,
                 billing: dict | None = None) -> tuple[list[Finding], list[Finding]]:
    """Highlights and problems among the KPIs that have a direction.

    A missed target is always a problem, ranked by its gap; otherwise a change
    against last month or the same month last year is a finding only when it is
    significant, and a comparison month the exports do not cover (null) never is.
    Nor is a fee rate's change against last month when ``billing`` (see
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
            if reference is None or (rule == "vs_previous" and billing and _fee_rate(key)):
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


def _complaints(doc: dict | None) -> dict | None:
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
    now, before, last_year = _complaints(current), _complaints(previous), _complaints(year_ago)
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


def _without_named(problems: list[Finding]) -> list[Finding]:
    """Leave out a low-collecting fee item or building that a collection-rate problem
    already names as a cause: the draft says each fact once."""
    named = {(g["name"]) for f in problems for part in ("items", "buildings")
             for g in f.extra.get(part, [])}
    overdue_kpi = any(f.key == "tickets.overdue_open_at_end" and f.rule != "overdue_open"
                      for f in problems)
    return [f for f in problems
            if not (f.rule.startswith("low_collection_") and f.extra["name"] in named)
            and not (overdue_kpi and f.rule == "overdue_open")]


def _one_side_per_family(highlights: list[Finding],
                         problems: list[Finding]) -> tuple[list[Finding], list[Finding]]:
    """A family of KPIs telling one story is a highlight or a problem, not both.

    Without this, "arrears recovered rose on last month" and "the recovery rate fell
    on last year" would contradict each other; the stronger effect keeps the family.
    """
    catalogue = kpi_catalogue()

    def family(f: Finding) -> str | None:
        return catalogue.get(f.key, {}).get("family")

    best: dict[str, float] = {}
    for f in highlights + problems:
        if family(f):
            best[family(f)] = max(best.get(family(f), 0.0), f.score)
    top_problem = {family(f) for f in problems if family(f) and f.score == best[family(f)]}
    return ([f for f in highlights if family(f) not in top_problem],
            [f for f in problems if not family(f) or family(f) in top_problem])


# KPIs told in one sentence, the first key leading: the month's and the year's
# arrears recovery rate are one story (how much old debt came in), not two problems.
TOLD_TOGETHER = (("fees.arrears_recovery_rate", "fees.arrears_recovery_rate_ytd"),)


def _companion(f: Finding) -> dict:
    return {"rule": f.rule, "key": f.key, "kind": f.kind, "value": f.value,
            "reference": f.reference, "target": f.target, "delta": f.delta,
            "effect": f.score}


def _told_together(highlights: list[Finding],
                   problems: list[Finding]) -> tuple[list[Finding], list[Finding]]:
    """A pair of :data:`TOLD_TOGETHER` found both becomes one finding.

    It is the leading key's finding, with the other in ``extra["with"]``; it takes
    the side, the effect and the size of the stronger of the two (so it ranks as
    the stronger would have), and the weaker is not written again.
    """
    for lead, other in TOLD_TOGETHER:
        found = {f.key: f for f in highlights + problems if f.key in (lead, other)}
        if len(found) < 2:
            continue
        first, second = found[lead], found[other]
        stronger = max((first, second), key=lambda f: (f.score, f.size))
        merged = replace(first, score=stronger.score, uncapped=stronger.uncapped,
                         extra=first.extra | {"with": _companion(second)})
        side_is_problem = stronger in problems
        highlights = [f for f in highlights if f not in (first, second)]
        problems = [f for f in problems if f not in (first, second)]
        (problems if side_is_problem else highlights).append(merged)
    return highlights, problems


def data_quality_summary(data_quality: dict) -> dict:
    """What the draft says about the exports themselves, apart from the ranked problems."""
    tables = ("tickets", "bills", "payments")
    said_apart = ("snapshot_limits", "approximate_payments")
    return {
        "quarantined": sum(data_quality[t]["quarantined"] for t in tables),
        "duplicate": sum(data_quality[t]["duplicate"] for t in tables),
        "by_table": {t: data_quality[t] for t in tables},
        "notes": [n for n in data_quality["notes"] if n["code"] not in said_apart],
        "approximate_payments": any(n["code"] == "approximate_payments"
                                    for n in data_quality["notes"]),
    }


def expected_workload(history: dict[str, dict[str, int]], next_month: Month) -> dict | None:
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


def _strongest(findings: list[Finding], limit: int) -> list[Finding]:
    """The largest effects first, one per family of KPIs that tell the same story.

    Effects that tie (several money figures at the cap) are ordered by their size
    before the cap; remaining ties keep the order the candidates were found in
    (the sort is stable).
    """
    catalogue = kpi_catalogue()
    chosen, families = [], set()
    for finding in sorted(findings, key=lambda f: (-f.score, -f.size)):
        family = catalogue.get(finding.key, {}).get("family") or (
            finding.key, repr(sorted(finding.extra.items())))
        if family not in families:
            families.add(family)
            chosen.append(finding)
    return chosen[:limit]


def _actions(problems: list[Finding], doc: dict,
             rows: list[dict] | None = None) -> list[dict]:
    """One concrete action per problem, named by the rule and KPI that raised it.

    At the portfolio a KPI's action names the communities that missed its target,
    so the director knows whom to call. Each action keeps its subjects (what it is
    about, with the figure that raised it) so next month's draft can follow it up.
    """
    missed: dict[str, list[str]] = {}
    for row in rows or []:
        for item in row["missed"]:
            missed.setdefault(item["key"], []).append(row["name"])
    return [{"rule": p.rule, "key": p.key, "extra": p.extra, "value": p.value,
             "communities": missed.get(p.key, []),
             "subjects": subjects(p.rule, p.key, p.kind, p.value, p.target, p.extra, doc)}
            for p in problems]


def _next_targets(targets: dict[str, float], doc: dict) -> list[dict]:
    """Next month's targets, leaving out those of a table the company does not export."""
    catalogue = kpi_catalogue()
    return [{"key": key, "kind": catalogue[key]["kind"], "target": value,
             "direction": catalogue[key]["direction"],
             "current": doc["compare"].get(key, {}).get("value")}
            for key, value in targets.items()
            if key in catalogue and doc.get(key.split(".", 1)[0]) is not None]


def _seasonal_counts(doc: dict, year_ago: dict | None) -> dict:
    """This month's and last year's complaints of the seasonal categories (None: unknown)."""
    now, last_year = _complaints(doc), _complaints(year_ago)
    return {"complaints": {c: {"value": now[c] if now else None,
                               "last_year": last_year[c] if last_year else None}
                           for c in sorted(SEASONAL_CATEGORIES)}}


def build_draft(doc: dict, *, previous: dict | None, scope_name: str, city: str | None,
                targets: dict[str, float], plan_items: list[dict], holidays_now: list,
                holidays_next: list, workload: dict | None, community_rows: list[dict],
                names: dict[str, str], last_review: dict | None = None,
                year_ago: dict | None = None, season: list[dict] | None = None) -> dict:
    """Everything the templates need for one scope's review, as plain data.

    ``last_review`` is last month's ``review.json`` of the same scope, whose
    actions are followed up (None: no record, said in one line). ``year_ago``:
    the same month last year's blocks (tickets None where not covered); ``season``:
    the month's heating events (:func:`.season.season_events`).
    """
    month = Month.parse(doc["month"])
    catalogue = kpi_catalogue()
    billing = billing_change(doc, previous)
    highlights, problems = kpi_findings(doc["compare"], doc, previous, billing)
    fell, grew = complaint_findings(doc, previous, year_ago, seasonal=bool(season))
    named = frozenset((f.extra["community"], f.extra["building"], f.extra["category"])
                      for f in grew if "building" in f.extra)
    problems += grew + ticket_problems(doc, named)
    problems += fee_problems(doc, previous, targets.get("fees.collection_rate_month"))
    highlights, problems = _told_together(*_one_side_per_family(
        highlights + fell, _without_named([named_causes(f, doc) for f in problems])))
    highlights = _strongest(highlights, MAX_HIGHLIGHTS)
    problems = _strongest(problems, MAX_PROBLEMS)
    return {
        "month": {"year": month.year, "month": month.month, "text": str(month)},
        "next_month": {"year": month.shift(1).year, "month": month.shift(1).month},
        "scope": {"id": doc["community"], "name": scope_name, "city": city,
                  "is_portfolio": doc["community"] == PORTFOLIO},
        "names": names,
        "kinds": {key: kpi["kind"] for key, kpi in catalogue.items()},
        "directions": {key: kpi["direction"] for key, kpi in catalogue.items()},
        "tickets": doc["tickets"],
        "fees": doc["fees"],
        "compare": doc["compare"],
        "highlights": [asdict(f) | {"delta": f.delta} for f in highlights],
        "problems": [asdict(f) | {"delta": f.delta} for f in problems],
        "actions": _actions(problems, doc, community_rows),
        "follow_up": follow_up(last_review, doc, str(month.shift(-1))),
        "keep_doing": [asdict(f) for f in highlights[:3]],
        "plan": {
            "seasonal": plan_items,
            "holidays": [asdict(h) for h in holidays_next],
            "workload": workload,
            "targets": _next_targets(targets, doc),
        },
        "holidays_now": [asdict(h) for h in holidays_now],
        "season": {"events": season or [], **_seasonal_counts(doc, year_ago)},
        "billing": billing,
        "communities": community_rows,
        "quality": data_quality_summary(doc["data_quality"]),
    }


# The headline KPIs the portfolio ranks its communities on (all "higher is better").
RANKED_KPIS = ("completion_rate", "response_on_time_rate", "satisfaction_rate",
               "collection_rate_month")


def rank_communities(rows: list[dict]) -> list[dict]:
    """The communities best first: the mean of their ranks on the headline KPIs.

    Each KPI ranks the communities that have a value (1 = highest); the overall
    order is by the mean of those ranks, then by name, so a director sees at a
    glance who leads and who trails. A community with no headline value is last.
    """
    ranks: dict[str, list[int]] = {row["id"]: [] for row in rows}
    for kpi in RANKED_KPIS:
        valued = sorted((r for r in rows if r[kpi] is not None), key=lambda r: -r[kpi])
        for position, row in enumerate(valued, start=1):
            ranks[row["id"]].append(position)
    mean = {cid: (sum(r) / len(r) if r else float("inf")) for cid, r in ranks.items()}
    ordered = sorted(rows, key=lambda r: (mean[r["id"]], r["name"]))
    return [row | {"rank": position, "mean_rank": round(mean[row["id"]], 2)
                   if ranks[row["id"]] else None}
            for position, row in enumerate(ordered, start=1)]


def community_row(doc: dict, name: str) -> dict:
    """One line of the portfolio's table of communities, with the targets it missed."""
    catalogue = kpi_catalogue()
    missed = [{"key": key, "kind": catalogue[key]["kind"], "value": entry["value"],
               "target": entry["target"]}
              for key, entry in doc["compare"].items() if entry["status"] == "missed"]
    return {
        "missed": missed,
        "id": doc["community"], "name": name,
        "created": scalar(doc, "tickets.created"),
        "completion_rate": scalar(doc, "tickets.completion_rate"),
        "response_on_time_rate": scalar(doc, "tickets.response_on_time_rate"),
        "satisfaction_rate": scalar(doc, "tickets.satisfaction.rate"),
        "collection_rate_month": scalar(doc, "fees.collection_rate_month"),
        "arrears_at_end": scalar(doc, "fees.arrears_at_end"),
    }


def _community_cities(config: Config, communities: tuple[str, ...]) -> dict:
    """Each community's city and climate (None where the config does not say)."""
    cities = {}
    for community_id in communities:
        community = config.community(community_id)
        cities[community_id] = (community and city_info(
            community.city, community.climate_zone, community.heating_start,
            community.heating_end)) or None
    return cities


def _community_plans(config: Config, cities: dict,
                     next_month: Month) -> dict[str, list[dict]]:
    """Next month's seasonal work for each community, from its city and climate."""
    return {community_id: [asdict(item) | {"communities": []} for item in
                           seasonal_plan(next_month, city, config.language,
                                         include_holidays=False)]
            for community_id, city in cities.items()}


def _portfolio_plan(plans: dict[str, list[dict]], names: dict[str, str]) -> list[dict]:
    """The union of the communities' seasonal work, each item naming where it applies."""
    merged: dict[str, dict] = {}
    for community_id, items in plans.items():
        for item in items:
            entry = merged.setdefault(item["id"], dict(item, communities=[]))
            entry["communities"].append(names[community_id])
    return list(merged.values())


def month_drafts(metrics: MonthMetrics, history: dict[str, dict], config: Config,
                 month: Month, last_reviews: dict[str, dict] | None = None) -> dict[str, dict]:
    """The draft of every scope of one month: findings, plan, holidays, workload,
    and the follow-up of last month's actions (``last_reviews``: last month's
    ``review.json`` by scope, see :func:`.records.last_reviews`)."""
    documents = metrics.documents
    communities = tuple(s for s in documents if s != PORTFOLIO)
    names = {c: (config.community(c).display_name if config.community(c) else c)
             for c in communities}
    names[PORTFOLIO] = config.portfolio.name or labels(config.language)["portfolio"]["default_name"]
    next_month = month.shift(1)
    cities = _community_cities(config, communities)
    plans = _community_plans(config, cities, next_month)
    plans[PORTFOLIO] = _portfolio_plan(plans, names)
    seasons = season_events(cities, names, month)
    holidays_now = holidays_in(month, config.language, country=config.country)
    # Holiday advice depends on the climate (frozen pipes at the Spring Festival only
    # where pipes freeze); the portfolio gets the advice every zone shares.
    holidays_next = {scope: holidays_in(next_month, config.language, country=config.country,
                                        city=cities.get(scope))
                     for scope in (*communities, PORTFOLIO)}
    rows = rank_communities([community_row(documents[c], names[c]) for c in communities])
    drafts = {}
    for scope_id, doc in documents.items():
        community = config.community(scope_id)
        drafts[scope_id] = build_draft(
            doc, previous=metrics.previous[scope_id], scope_name=names[scope_id],
            city=community.city if community else None,
            targets=config.targets_for(scope_id if community else None),
            plan_items=plans[scope_id], holidays_now=holidays_now,
            holidays_next=holidays_next[scope_id],
            workload=expected_workload(history.get(scope_id, {}), next_month),
            community_rows=rows if scope_id == PORTFOLIO else [], names=names,
            last_review=(last_reviews or {}).get(scope_id),
            year_ago=metrics.last_year.get(scope_id), season=seasons.get(scope_id),
        )
    return drafts


draft_task = task(month_drafts, name="draft", cache_policy=NO_CACHE)
