"""Draft: metrics -> the findings of the five-part review (review.md).

This stage decides *what* the review says — which KPIs are highlights, which
are problems, which action answers each problem — and keeps every figure it
uses, so each sentence can be traced to a rule and to metrics.json. *How* it is
said lives in ``templates/<language>/``: nothing here is reader-facing text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from prefect import task
from prefect.cache_policies import NO_CACHE

from yuebao.config import Config
from yuebao.months import Month
from yuebao.schema import PORTFOLIO, TICKET_CATEGORIES
from yuebao.tasks.metrics import MonthMetrics, kpi_catalogue, scalar
from yuebao.tasks.plan import city_info, holidays_in, seasonal_plan
from yuebao.words import labels

MAX_HIGHLIGHTS = 5
MAX_PROBLEMS = 6
MAX_HOTSPOTS = 3
# A change is worth a sentence when a rate moves by a percentage point, or any
# other figure by a tenth (and by at least 3 for counts).
RATE_STEP = 0.01
RELATIVE_STEP = 0.10
COUNT_STEP = 3
MAX_SIGNIFICANCE = 3.0
# Which problems come first when there are more than fit: missed targets (what a
# community is judged on), then the concrete blind spots (hotspots, overdue work),
# then worsening figures, low-collecting fee items and buildings, ageing arrears.
SCORE = {"missed_target": 1.0, "hotspot": 1.2, "overdue_open": 1.1, "change": 0.9,
         "low_collection": 0.7, "arrears_aged": 0.5}


@dataclass(frozen=True)
class Finding:
    """One highlight or problem: the rule that fired and the figures behind it."""

    rule: str
    key: str
    kind: str
    value: float | int | None = None
    reference: float | int | None = None  # what it is compared with
    target: float | None = None
    extra: dict = field(default_factory=dict)
    score: float = 0.0

    @property
    def delta(self) -> float | None:
        if self.value is None or self.reference is None:
            return None
        return self.value - self.reference


def _significance(kind: str, value: float, reference: float) -> float:
    """How large a change is, on one scale for rates and for everything else.

    Capped, so a figure that grew from nothing does not outrank everything else.
    """
    if kind == "rate":
        return min(abs(value - reference) / RATE_STEP * RELATIVE_STEP, MAX_SIGNIFICANCE)
    if reference == 0:
        return 1.0 if value else 0.0
    return min(abs(value - reference) / abs(reference), MAX_SIGNIFICANCE)


def _is_notable(kind: str, value: float, reference: float) -> bool:
    if kind == "rate":
        return abs(value - reference) >= RATE_STEP - 1e-12
    if kind in ("count", "households") and abs(value - reference) < COUNT_STEP:
        return False
    return _significance(kind, value, reference) >= RELATIVE_STEP


def _better(direction: str, value: float, reference: float) -> bool:
    return value > reference if direction == "at_least" else value < reference


def kpi_findings(compare: dict) -> tuple[list[Finding], list[Finding]]:
    """Highlights and problems among the KPIs that have a direction."""
    catalogue = kpi_catalogue()
    highlights, problems = [], []
    for key, entry in compare.items():
        direction, value = entry["direction"], entry["value"]
        if direction is None or value is None:
            continue
        kind = catalogue[key]["kind"]
        target, previous = entry["target"], entry["previous_month"]
        year_ago = entry["same_month_last_year"]
        if entry["status"] == "missed":
            gap = _significance(kind, value, target) if target else 1.0
            problems.append(Finding("missed_target", key, kind, value, previous, target,
                                    score=SCORE["missed_target"] + min(gap, 1.0) / 2))
            continue
        for rule, reference in (("vs_previous", previous), ("vs_last_year", year_ago)):
            if reference is None or not _is_notable(kind, value, reference):
                continue
            score = min(_significance(kind, value, reference), 1.0) * SCORE["change"]
            if _better(direction, value, reference):
                met = entry["status"] == "met"
                highlights.append(Finding(f"improved_{rule}", key, kind, value, reference,
                                          target if met else None,
                                          score=score + (0.5 if met else 0)))
            else:
                problems.append(Finding(f"worsened_{rule}", key, kind, value, reference,
                                        target, score=score))
            break
    return highlights, problems


def complaint_findings(current: dict, previous: dict | None) -> tuple[list, list]:
    """Complaint categories that fell (highlights) or grew most (problems)."""
    if not previous or not current.get("tickets") or not previous.get("tickets"):
        return [], []
    now = current["tickets"]["complaints"]["by_category"]
    before = previous["tickets"]["complaints"]["by_category"]
    fell, grew = [], []
    for category in TICKET_CATEGORIES:
        value, reference = now[category], before[category]
        if not _is_notable("count", value, reference):
            continue
        finding = Finding("complaints_fell" if value < reference else "complaints_grew",
                          "tickets.complaints.by_category", "count", value, reference,
                          extra={"category": category},
                          score=min(_significance("count", value, reference), 1.0)
                          * SCORE["change"])
        (fell if value < reference else grew).append(finding)
    return fell, grew


def ticket_problems(current: dict) -> list[Finding]:
    """Overdue tickets, and hotspots (the same building and category again and again)
    as one finding, since one inspection round answers them together."""
    tickets = current.get("tickets")
    if not tickets:
        return []
    found = []
    if tickets["overdue_open_at_end"] > 0:
        found.append(Finding("overdue_open", "tickets.overdue_open_at_end", "count",
                             tickets["overdue_open_at_end"], score=SCORE["overdue_open"]))
    spots = tickets["hotspots"][:MAX_HOTSPOTS]
    if spots:
        found.append(Finding("hotspot", "tickets.hotspots", "count", spots[0]["count"],
                             extra={"spots": spots},
                             score=SCORE["hotspot"] + spots[0]["count"] / 1000))
    return found


def fee_problems(current: dict, previous: dict | None, target: float | None) -> list[Finding]:
    """Fee items and buildings collecting worst, and arrears ageing past a year."""
    fees = current.get("fees")
    if not fees:
        return []
    found = []
    for group, rule in (("by_fee_item", "low_collection_item"),
                        ("by_building", "low_collection_building")):
        rated = [(name, g) for name, g in fees[group].items()
                 if g["collection_rate_month"] is not None]
        rated.sort(key=lambda item: (item[1]["collection_rate_month"], item[0]))
        threshold = target if target is not None else 1.0
        for name, g in rated[:2]:
            if g["collection_rate_month"] < threshold:
                found.append(Finding(rule, f"fees.{group}", "rate", g["collection_rate_month"],
                                     target=target,
                                     extra={"name": name, "arrears_at_end": g["arrears_at_end"]},
                                     score=SCORE["low_collection"]
                                     + (threshold - g["collection_rate_month"]) / 5))
    if previous and previous.get("fees") and previous["fees"]["aging"] and fees["aging"]:
        old, new = previous["fees"]["aging"]["366+"], fees["aging"]["366+"]
        if new > old:
            score = SCORE["arrears_aged"] + _significance("money", new, old) / 10
            found.append(Finding("arrears_aged", "fees.aging.366+", "money", new, old,
                                 score=score))
    return found


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
    """The largest effects first, one per family of KPIs that tell the same story."""
    catalogue = kpi_catalogue()
    chosen, families = [], set()
    for finding in sorted(findings, key=lambda f: -f.score):
        family = catalogue.get(finding.key, {}).get("family") or (
            finding.key, repr(sorted(finding.extra.items())))
        if family not in families:
            families.add(family)
            chosen.append(finding)
    return chosen[:limit]


def _actions(problems: list[Finding]) -> list[dict]:
    """One concrete action per problem, named by the rule and KPI that raised it."""
    return [{"rule": p.rule, "key": p.key, "extra": p.extra, "value": p.value}
            for p in problems]


def _next_targets(targets: dict[str, float], doc: dict) -> list[dict]:
    """Next month's targets, leaving out those of a table the company does not export."""
    catalogue = kpi_catalogue()
    return [{"key": key, "kind": catalogue[key]["kind"], "target": value,
             "direction": catalogue[key]["direction"],
             "current": doc["compare"].get(key, {}).get("value")}
            for key, value in targets.items()
            if key in catalogue and doc.get(key.split(".", 1)[0]) is not None]


def build_draft(doc: dict, *, previous: dict | None, scope_name: str, city: str | None,
                targets: dict[str, float], plan_items: list[dict], holidays_now: list,
                holidays_next: list, workload: dict | None, community_rows: list[dict],
                names: dict[str, str]) -> dict:
    """Everything the templates need for one scope's review, as plain data."""
    month = Month.parse(doc["month"])
    catalogue = kpi_catalogue()
    highlights, problems = kpi_findings(doc["compare"])
    fell, grew = complaint_findings(doc, previous)
    problems += grew + ticket_problems(doc)
    problems += fee_problems(doc, previous, targets.get("fees.collection_rate_month"))
    highlights = _strongest(highlights + fell, MAX_HIGHLIGHTS)
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
        "actions": _actions(problems),
        "keep_doing": [asdict(f) for f in highlights[:3]],
        "plan": {
            "seasonal": plan_items,
            "holidays": [asdict(h) for h in holidays_next],
            "workload": workload,
            "targets": _next_targets(targets, doc),
        },
        "holidays_now": [asdict(h) for h in holidays_now],
        "communities": community_rows,
        "quality": data_quality_summary(doc["data_quality"]),
    }


def community_row(doc: dict, name: str) -> dict:
    """One line of the portfolio's table of communities."""
    return {
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
                 month: Month) -> dict[str, dict]:
    """The draft of every scope of one month: findings, plan, holidays, workload."""
    documents = metrics.documents
    communities = tuple(s for s in documents if s != PORTFOLIO)
    names = {c: (config.community(c).display_name if config.community(c) else c)
             for c in communities}
    names[PORTFOLIO] = config.portfolio.name or labels(config.language)["portfolio"]["default_name"]
    next_month = month.shift(1)
    cities = _community_cities(config, communities)
    plans = _community_plans(config, cities, next_month)
    plans[PORTFOLIO] = _portfolio_plan(plans, names)
    holidays_now = holidays_in(month, config.language, country=config.country)
    # Holiday advice depends on the climate (frozen pipes at the Spring Festival only
    # where pipes freeze); the portfolio gets the advice every zone shares.
    holidays_next = {scope: holidays_in(next_month, config.language, country=config.country,
                                        city=cities.get(scope))
                     for scope in (*communities, PORTFOLIO)}
    rows = [community_row(documents[c], names[c]) for c in communities]
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
        )
    return drafts


draft_task = task(month_drafts, name="draft", cache_policy=NO_CACHE)
