"""Draft: metrics -> the findings of the five-part review (review.md).

This stage decides *what* the review says — which KPIs are highlights, which
are problems, which action answers each problem, how last month's actions
fared — and keeps every figure it uses, so each sentence can be traced to a rule
and to metrics.json. *How* it is said lives in ``templates/<language>/``:
nothing here is reader-facing text.

Modules: :mod:`.candidates` (the rules and their effects), :mod:`.causes`
(named causes), :mod:`.selection` (ranking and caps), :mod:`.trend` (best of the year, in a
row, first time on target), :mod:`.season` (heating
start and end), :mod:`.followup` (last month's actions), :mod:`.records`
(review.json), :mod:`.overview` (quality, workload, targets),
:mod:`.portfolio` (the table of communities, cities and plans).
"""

from __future__ import annotations

from dataclasses import asdict

from prefect import task
from prefect.cache_policies import NO_CACHE

from yuebao.config import Config
from yuebao.months import Month
from yuebao.schema import PORTFOLIO
from yuebao.tasks.draft.candidates import (
    Finding,
    billing_change,
    complaint_findings,
    complaints_by_category,
    fee_problems,
    kpi_findings,
    ticket_problems,
)
from yuebao.tasks.draft.causes import named_causes
from yuebao.tasks.draft.followup import follow_up, subjects
from yuebao.tasks.draft.overview import (
    data_quality_summary,
    expected_workload,
    next_targets,
    seasonal_counts,
)
from yuebao.tasks.draft.portfolio import (
    community_cities,
    community_plans,
    community_row,
    portfolio_plan,
    rank_communities,
)
from yuebao.tasks.draft.records import REVIEW_SCHEMA, review_record
from yuebao.tasks.draft.season import season_events
from yuebao.tasks.draft.selection import (
    MAX_HIGHLIGHTS,
    MAX_PROBLEMS,
    one_side_per_family,
    strongest,
    told_together,
    without_named,
)
from yuebao.tasks.draft.trend import with_trends
from yuebao.tasks.draft.types import Action, CommunityRow, Draft, FindingDict, Workload
from yuebao.tasks.metrics import MonthMetrics, kpi_catalogue
from yuebao.tasks.plan import holidays_in
from yuebao.words import labels

__all__ = ["REVIEW_SCHEMA", "Draft", "Finding", "build_draft", "complaint_findings", "draft_task",
           "fee_problems", "kpi_findings", "month_drafts", "review_record"]


def _actions(problems: list[Finding], doc: dict,
             rows: list[CommunityRow] | None = None) -> list[Action]:
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


def _written(finding: Finding) -> FindingDict:
    """A finding as the templates and review.json read it, with its change."""
    return FindingDict(**asdict(finding), delta=finding.delta)  # type: ignore[typeddict-item]


def build_draft(doc: dict, *, previous: dict | None, scope_name: str, city: str | None,
                targets: dict[str, float], plan_items: list[dict], holidays_now: list,
                holidays_next: list, workload: Workload | None,
                community_rows: list[CommunityRow],
                names: dict[str, str], last_review: dict | None = None,
                year_ago: dict | None = None, season: list[dict] | None = None) -> Draft:
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
    highlights, problems = told_together(*one_side_per_family(
        highlights + fell, without_named([named_causes(f, doc) for f in problems])))
    highlights = with_trends(strongest(highlights, MAX_HIGHLIGHTS), doc, is_highlight=True)
    problems = with_trends(strongest(problems, MAX_PROBLEMS), doc, is_highlight=False)
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
        "highlights": [_written(f) for f in highlights],
        "problems": [_written(f) for f in problems],
        "actions": _actions(problems, doc, community_rows),
        "follow_up": follow_up(last_review, doc, str(month.shift(-1))),
        "keep_doing": [_written(f) for f in highlights[:3]],
        "plan": {
            "seasonal": plan_items,
            "holidays": [asdict(h) for h in holidays_next],
            "workload": workload,
            "targets": next_targets(targets, doc),
        },
        "holidays_now": [asdict(h) for h in holidays_now],
        "season": {"events": season or [], "complaints": seasonal_counts(doc, year_ago)},
        # What the complaints chart compares this month's categories with.
        "complaints_history": {"previous_month": complaints_by_category(previous),
                               "last_year": complaints_by_category(year_ago)},
        "billing": billing,
        "communities": community_rows,
        "quality": data_quality_summary(doc["data_quality"], doc["community"]),
    }


# The headline KPIs the portfolio ranks its communities on (all "higher is better").
def month_drafts(metrics: MonthMetrics, history: dict[str, dict], config: Config,
                 month: Month, last_reviews: dict[str, dict] | None = None) -> dict[str, Draft]:
    """The draft of every scope of one month: findings, plan, holidays, workload,
    and the follow-up of last month's actions (``last_reviews``: last month's
    ``review.json`` by scope, see :func:`.records.last_reviews`)."""
    documents = metrics.documents
    communities = tuple(s for s in documents if s != PORTFOLIO)
    names = {c: (found.display_name if (found := config.community(c)) else c)
             for c in communities}
    names[PORTFOLIO] = config.portfolio.name or labels(config.language)["portfolio"]["default_name"]
    next_month = month.shift(1)
    cities = community_cities(config, communities)
    plans = community_plans(config, cities, next_month)
    plans[PORTFOLIO] = portfolio_plan(plans, names)
    seasons = season_events(cities, names, month)
    holidays_now = holidays_in(month, config.language, country=config.country)
    # Holiday advice depends on the climate (frozen pipes at the Spring Festival only
    # where pipes freeze); the portfolio gets the advice every zone shares.
    holidays_next = {scope: holidays_in(next_month, config.language, country=config.country,
                                        city=cities.get(scope))
                     for scope in (*communities, PORTFOLIO)}
    rows = rank_communities([community_row(documents[c], names[c]) for c in communities])
    drafts: dict[str, Draft] = {}
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
