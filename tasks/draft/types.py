"""The draft handed to the templates, as typed structures.

The draft is the contract between the draft stage (what is said) and the
templates (how it is said), and ``review.json`` is written from it: naming each
part here keeps the two sides honest (mypy checks the producers; the templates
read the same names). Findings are :class:`.candidates.Finding` written out as
:class:`FindingDict`, with their ``delta``.
"""

from __future__ import annotations

from typing import Any, TypedDict

from yuebao.tasks.draft.followup import FollowUpStatus, Verdict


class MonthRef(TypedDict):
    year: int
    month: int


class DraftMonth(MonthRef):
    text: str  # "2026-11"


class ScopeInfo(TypedDict):
    id: str
    name: str  # the display name: what the reader sees
    city: str | None
    is_portfolio: bool


class FindingDict(TypedDict, total=False):
    """A highlight or problem: the rule, its figures and its effect (see Finding)."""

    rule: str
    key: str
    kind: str
    value: float | int | None
    reference: float | int | None
    target: float | None
    extra: dict[str, Any]  # named causes, companion ("with"), trend note, places
    score: float
    uncapped: float | None
    delta: float | int | None


class Action(TypedDict):
    """The action answering a problem, with what next month's draft follows up."""

    rule: str
    key: str
    extra: dict[str, Any]
    value: float | int | None
    communities: list[str]  # at the portfolio: who missed the KPI's target
    subjects: list[dict[str, Any]]


class FollowUpItem(TypedDict):
    action_rank: int
    rule: str
    subject: dict[str, Any]
    baseline: float | int | None
    value: float | int | None
    off_list: bool
    verdict: Verdict
    effect: float | None


class FollowUp(TypedDict):
    status: FollowUpStatus
    month: str
    items: list[FollowUpItem]


class Workload(TypedDict):
    trend: float
    base_month: str
    by_category: dict[str, int]
    total: int


class TargetLine(TypedDict):
    key: str
    kind: str
    target: float
    direction: str
    current: float | int | None


class Plan(TypedDict):
    seasonal: list[dict[str, Any]]
    holidays: list[dict[str, Any]]
    workload: Workload | None
    targets: list[TargetLine]


class Season(TypedDict):
    events: list[dict[str, Any]]  # heating start or end this month
    complaints: dict[str, dict[str, int | None]]


class Quality(TypedDict):
    quarantined: int  # this scope's own (the portfolio: the run's)
    duplicate: int  # told at the portfolio only
    by_table: dict[str, dict[str, Any]]
    unattributed: int  # rows naming no community, told in each community's draft
    notes: list[dict[str, Any]]
    approximate_payments: bool


class CommunityRow(TypedDict, total=False):
    """One line of the portfolio's table of communities (rank added when ranked)."""

    rank: int
    mean_rank: float | None
    missed: list[dict[str, Any]]
    id: str
    name: str
    created: float | int | None
    completion_rate: float | int | None
    response_on_time_rate: float | int | None
    satisfaction_rate: float | int | None
    collection_rate_month: float | int | None
    arrears_at_end: float | int | None


class Draft(TypedDict):
    """One scope's review: everything the templates and review.json read."""

    month: DraftMonth
    next_month: MonthRef
    scope: ScopeInfo
    names: dict[str, str]  # community id -> display name
    kinds: dict[str, str]  # KPI key -> kind (rate, money, minutes, …)
    directions: dict[str, str]  # KPI key -> at_least | at_most | none
    tickets: dict[str, Any] | None  # metrics.json blocks (None: not exported)
    fees: dict[str, Any] | None
    compare: dict[str, dict[str, Any]]
    highlights: list[FindingDict]
    problems: list[FindingDict]
    actions: list[Action]
    follow_up: FollowUp
    keep_doing: list[FindingDict]
    plan: Plan
    holidays_now: list[dict[str, Any]]
    season: Season
    complaints_history: dict[str, dict[str, int] | None]  # for the complaints chart
    billing: dict[str, Any] | None
    communities: list[CommunityRow]
    quality: Quality
