"""Metrics: canonical tables -> the KPIs of one month (kpis.md sections 3 to 5).

Every community and the portfolio are computed together. The tables are
turned once into arrays (``prepare``: community codes, UTC times, fen, SLA
limits), which every month computed from them shares; a month's figures are
then vectorized sums per community code, and the portfolio is the sum over all
rows, never an average of rates. Counts and money stay integers (fen) and
rates, means and percentiles are exact fractions until they are rounded once,
half to even, at the end.

``scope`` says what is computed, ``numbers`` keeps figures exact, ``tickets``
and ``fees`` are the two families of KPIs; this module assembles metrics.json
with its ``compare`` block, and wraps the stage as Prefect tasks.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from yuebao.config import Config
from yuebao.errors import RunFailed, UsageError
from yuebao.memory import keep_freed_memory
from yuebao.months import Month
from yuebao.runners import Workers
from yuebao.schema import PORTFOLIO, TABLES, TICKET_TYPES
from yuebao.tasks.ingest import Ingested
from yuebao.tasks.metrics.coverage import Coverage, coverage
from yuebao.tasks.metrics.fees import FeeRows, fee_blocks, fee_partial
from yuebao.tasks.metrics.numbers import _community_names, _with_portfolio
from yuebao.tasks.metrics.parts import MonthPartial, Rows, combine, split
from yuebao.tasks.metrics.quality import data_quality
from yuebao.tasks.metrics.scope import SCHEMA, Scope
from yuebao.tasks.metrics.tickets import TicketRows, ticket_blocks, ticket_partial
from yuebao.words import labels

TREND_MONTHS = 12


@cache
def kpi_catalogue() -> dict[str, dict]:
    """The scalar KPIs that ``compare`` follows, with their kind and direction.

    Read once: every scope of every month asks for it, and no caller changes it.
    """
    text = resources.files("yuebao.knowledge").joinpath("kpis.toml").read_text("utf-8")
    return tomllib.loads(text)["kpi"]


# --- compare and the file ---------------------------------------------------------------


def scalar(block: dict, dotted: str) -> float | int | None:
    """A value of a metrics block by its dotted name (``tickets.satisfaction.rate``)."""
    value: object = block
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def compare(current: dict, previous: dict | None, last_year: dict | None,
            targets: dict[str, float],
            covered: Callable[[str, str], bool] = lambda key, which: True) -> dict[str, dict]:
    """Every scalar KPI that has a target or a history, with its status.

    ``covered(key, "previous_month" | "same_month_last_year")`` says whether the
    exports cover that month for the tables the KPI reads; where they do not,
    the comparison is null, never the 0 an uncovered month computes to.
    """
    result = {}
    for key, kpi in kpi_catalogue().items():
        value = scalar(current, key)
        before = (scalar(previous, key)
                  if previous and covered(key, "previous_month") else None)
        year_ago = (scalar(last_year, key)
                    if last_year and covered(key, "same_month_last_year") else None)
        target = targets.get(key)
        if target is None and before is None and year_ago is None:
            continue
        direction = kpi["direction"]
        if target is None or direction == "none":
            status = "no_target"
        elif value is None:
            status = None
        elif direction == "at_least":
            status = "met" if value >= target else "missed"
        else:
            status = "met" if value <= target else "missed"
        result[key] = {
            "value": value, "previous_month": before, "same_month_last_year": year_ago,
            "target": target if direction != "none" else None,
            "direction": None if direction == "none" else direction, "status": status,
        }
    return result


# Tickets created by type, month by month: no KPI of their own (not compared, never a
# finding), but the trend the tickets chart stacks (kpis.md section 7, trend).
TYPE_TREND_KEYS = tuple(f"tickets.by_type.{code}" for code in TICKET_TYPES)


def trend_catalogue() -> dict[str, dict]:
    """What ``trend`` follows: the catalogue's KPIs, then tickets created by type."""
    return kpi_catalogue() | {key: {"kind": "count", "direction": "none"}
                              for key in TYPE_TREND_KEYS}


def scalars(blocks: dict) -> dict[str, float | int | None]:
    """Every KPI of :func:`trend_catalogue` in a month's ``tickets``/``fees`` blocks."""
    return {key: scalar(blocks, key) for key in trend_catalogue()}


def trend(months: list[Month], values_of: list[dict[str, float | int | None]],
          covered: Callable[[Month, str], bool] = lambda month, key: True) -> dict[str, dict]:
    """``trend.<key>`` of every scalar KPI of the catalogue, and of tickets created by
    type (:data:`TYPE_TREND_KEYS`), as kpis.md section 7 has them.

    ``months`` are oldest first, ``values_of`` their :func:`scalars` for one scope;
    ``covered(month, key)`` says whether the exports cover that month for the
    tables the KPI reads, and a month they do not cover is null, never the 0 it
    computes to. Best and worst follow the KPI's direction over the non-null
    values; on a tie the latest month wins; a KPI with direction ``none`` has
    neither.
    """
    names = [str(month) for month in months]
    result = {}
    for key, kpi in trend_catalogue().items():
        values = [month_values.get(key) if covered(month, key) else None
                  for month, month_values in zip(months, values_of, strict=True)]
        known = [i for i, value in enumerate(values) if value is not None]
        best = worst = None
        if known and kpi["direction"] != "none":
            # On equal values the later month (the larger position) wins, both ways.
            highest = max(known, key=lambda i: (values[i], i))
            lowest = min(known, key=lambda i: (values[i], -i))
            top, bottom = ((highest, lowest) if kpi["direction"] == "at_least"
                           else (lowest, highest))
            best = {"month": names[top], "value": values[top]}
            worst = {"month": names[bottom], "value": values[bottom]}
        result[key] = {"months": names, "values": values, "best": best, "worst": worst}
    return result


def month_partial(tickets: pd.DataFrame, scope: Scope, prepared: Prepared,
                  detailed: bool = True) -> MonthPartial:
    """The month's partial figures of the communities in the prepared rows (without
    ``detailed``, for its scalar KPIs only: no fee group rows, no ageing)."""
    return MonthPartial(
        tickets=(ticket_partial(tickets, scope, prepared.tickets)
                 if prepared.tickets is not None else None),
        fees=(fee_partial(prepared.fees, scope, detailed)
              if prepared.fees is not None else None))


def month_blocks(partial: MonthPartial, scope: Scope, available: frozenset[str]
                 ) -> dict[str, dict]:
    """``tickets`` and ``fees`` blocks for every scope of one month, from its partial.

    A table the company does not export gives ``None`` for its block, so the
    draft can say the figures are not available instead of printing zeros.
    """
    measured = {name.split(".", 1)[1] for name in available if name.startswith("tickets.")}
    ticket_blocks_of = (ticket_blocks(partial.tickets, scope, measured)
                        if partial.tickets is not None else {})
    fee_blocks_of = (fee_blocks(partial.fees, scope, cash_only="bills" not in available)
                     if partial.fees is not None else {})
    return {s: {"tickets": ticket_blocks_of.get(s), "fees": fee_blocks_of.get(s)}
            for s in scope.scopes}


def month_metrics(tickets: pd.DataFrame, bills: pd.DataFrame, payments: pd.DataFrame,
                  scope: Scope, available: frozenset[str]) -> dict[str, dict]:
    """``tickets`` and ``fees`` blocks for every scope of one month, from the rows."""
    prepared = prepare(tickets, bills, payments, scope, available)
    return month_blocks(month_partial(tickets, scope, prepared), scope, available)


def _shifted(scope: Scope, month: Month) -> Scope:
    return Scope(month, scope.timezone, scope.communities, scope.households, scope.sla,
                 scope.hotspot_min)


def months_needed(month: Month) -> list[Month]:
    """The months metrics.json of ``month`` computes: the 12 of the trend ending with it
    (the previous month one of them), oldest first so that each starts where the last
    one ended (FeeRows keeps it), then the same month last year."""
    return [month.shift(k) for k in range(-TREND_MONTHS + 1, 1)] + [month.shift(-12)]


def months_in_full(month: Month) -> frozenset[Month]:
    """The months of :func:`months_needed` whose blocks are kept whole: the month, the
    one before and the same month last year, which the draft compares with; of the
    others the trend keeps the scalar KPIs only."""
    return frozenset({month, month.shift(-1), month.shift(-12)})


def month_partials(tickets: pd.DataFrame, bills: pd.DataFrame, payments: pd.DataFrame,
                   scope: Scope, available: frozenset[str],
                   names: list[str] | None = None) -> dict[Month, MonthPartial]:
    """The partial figures of every month metrics.json of ``scope.month`` needs.

    ``names`` are the run's community codes, the same for every part of a split run
    (:mod:`.parts`); by default, those of these rows.
    """
    prepared = prepare(tickets, bills, payments, scope, available, names)
    full = months_in_full(scope.month)
    return {month: month_partial(tickets, _shifted(scope, month), prepared, month in full)
            for month in months_needed(scope.month)}


def metrics_document(scope_id: str, blocks: dict, comparison: dict, month: Month,
                     timezone: str, data_quality: dict,
                     covered: dict[str, dict[str, str] | None] | None = None,
                     trends: dict[str, dict] | None = None) -> dict:
    """The metrics.json of one scope (kpis.md sections 5 and 7)."""
    return {
        "schema": SCHEMA,
        "month": str(month),
        "community": scope_id,
        "timezone": timezone,
        "coverage": covered or {},
        "tickets": blocks["tickets"],
        "fees": blocks["fees"],
        "compare": comparison,
        "trend": trends or {},
        "data_quality": data_quality,
    }


def build_scope(config: Config, month: Month, data_communities: list[str]) -> Scope:
    """The metrics scope of a run: configured communities first, then any others in the data.

    A community found in the data but not in the config is still computed and
    counted in the portfolio; its households are unknown. One named ``_portfolio``
    cannot be: every table of the run keys the portfolio by that name, so its own
    review would silently become the portfolio's. That stops the run, saying how to
    give it another id (the config cannot name it either: see ``config.py``).
    """
    if PORTFOLIO in data_communities:
        raise UsageError(
            f"the exports name a community {PORTFOLIO!r}, the name yuebao keeps for the "
            "company-wide review; rename it in the source system, or map it to another id "
            "in a lenient profile ([tickets.values.community] and [bills.values.community])")
    configured = [c.id for c in config.communities]
    communities = tuple(configured + sorted(set(data_communities) - set(configured)))
    rows = [
        {"community": c, "sla_class": name, "response_minutes": rule.response_minutes,
         "resolution_hours": rule.resolution_hours}
        for c in communities for name, rule in config.sla_for(c).items()
    ]
    households = {c: (found.households if (found := config.community(c)) else None)
                  for c in communities}
    return Scope(month=month, timezone=config.timezone, communities=communities,
                 households=households, sla=pd.DataFrame(rows), hotspot_min=config.hotspot_min)


def created_history(tickets: pd.DataFrame, scope: Scope) -> dict[str, dict[str, dict]]:
    """Tickets created per scope, month and category, for every month the data covers.

    Each month counts as its own ``tickets.by_category`` would: a ticket is left
    out only if it was cancelled as of the end of its creation month.
    """
    if tickets.empty:
        return {s: {} for s in scope.scopes}
    local = tickets["created_at"].dt.tz_localize(None)
    month = local.dt.to_period("M")
    month_end = (month + 1).dt.start_time.dt.tz_localize(scope.timezone)
    known = tickets["closed_at"].fillna(tickets["resolved_at"])
    cancelled = tickets["cancelled"] & (known.isna() | (known < month_end))
    last = pd.Period(str(scope.month), "M")
    keep = ~cancelled & (month <= last)
    frame = _with_portfolio(pd.DataFrame({
        "community": tickets["community"], "month": month.astype("str"),
        "category": tickets["category"],
    })[keep])
    counts = frame.groupby(["scope", "month", "category"]).size()
    covered = [str(p) for p in pd.period_range(month.min(), last, freq="M")]
    history: dict[str, dict[str, dict]] = {s: {m: {} for m in covered} for s in scope.scopes}
    for (s, m, category), n in counts.items():
        history[s][m][category] = int(n)
    return history


@dataclass(frozen=True)
class MonthMetrics:
    """metrics.json of every scope, and the previous month's blocks the draft compares with.

    ``last_year``: the same month a year before, for a seasonal category (heating
    in the heating-start month) that is compared with last year, not last month;
    a table not covered then is None, as in ``previous``.
    """

    documents: dict[str, dict]
    previous: dict[str, dict]
    last_year: dict[str, dict] = field(default_factory=dict)


@dataclass(frozen=True)
class Prepared:
    """The canonical tables as arrays, for every month computed from the same rows."""

    tickets: TicketRows | None
    fees: FeeRows | None


def prepare(tickets: pd.DataFrame, bills: pd.DataFrame, payments: pd.DataFrame, scope: Scope,
            available: frozenset[str], names: list[str] | None = None) -> Prepared:
    """Arrays of the tables a month's metrics need; they do not depend on the month.

    Like ingest, this makes large short-lived arrays, so it keeps freed memory for
    reuse (``yuebao.memory``) when it runs in a process of its own.
    """
    keep_freed_memory()
    names = names or community_codes(tickets, bills, payments, scope)
    # Payments alone (a receipts ledger) still give the cash figures; see fee_blocks.
    fees = "bills" in available or "payments" in available
    return Prepared(
        tickets=TicketRows.build(tickets, scope, names) if "tickets" in available else None,
        fees=FeeRows.build(bills, payments, names) if fees else None)


def community_codes(tickets: pd.DataFrame, bills: pd.DataFrame, payments: pd.DataFrame,
                    scope: Scope) -> list[str]:
    """The run's community codes: the scope's communities, then any other the rows name."""
    return _community_names([tickets, bills, payments], scope.communities)


def month_documents(tickets: pd.DataFrame, bills: pd.DataFrame, payments: pd.DataFrame,
                    scope: Scope, available: frozenset[str], targets: dict[str, dict],
                    data_quality: dict, spans: Coverage | None = None,
                    partials: dict[Month, MonthPartial] | None = None) -> MonthMetrics:
    """metrics.json of every scope, with ``compare`` from the months' own computation.

    The previous month and the same month last year are computed from the same
    canonical rows as the month itself, so a backfill and a monthly run agree.
    Where the exports do not cover one of them, its figures are left out: null
    in ``compare``, and no previous block for the draft to compare with.
    ``partials`` are the months' figures already computed (in parts, combined);
    without them they are computed here from the rows.
    """
    partials = partials or month_partials(tickets, bills, payments, scope, available)
    spans = spans or coverage(tickets, bills, payments, available & frozenset(TABLES))
    shifts = {"previous_month": scope.month.shift(-1),
              "same_month_last_year": scope.month.shift(-12)}

    def covered(key: str, which: str) -> bool:
        return spans.covers_kpi(shifts[which], key)

    def compute(month: Month) -> dict[str, dict]:
        return month_blocks(partials[month], _shifted(scope, month), available)

    # Of the trend's months only the scalars are kept, but for the month and the one before.
    months = months_needed(scope.month)[:TREND_MONTHS]
    kept: dict[Month, dict[str, dict]] = {}
    values: dict[Month, dict[str, dict]] = {}
    for month in months:
        blocks = compute(month)
        values[month] = {s: scalars(blocks[s]) for s in scope.scopes}
        if month in (scope.month, shifts["previous_month"]):
            kept[month] = blocks
    current, previous = kept[scope.month], kept[shifts["previous_month"]]
    last_year = compute(shifts["same_month_last_year"])
    documents = {
        s: metrics_document(
            s, current[s],
            compare(current[s], previous[s], last_year[s], targets[s], covered),
            scope.month, scope.timezone, data_quality, spans.as_json(),
            trend(months, [values[month][s] for month in months], spans.covers_kpi))
        for s in scope.scopes
    }
    before = shifts["previous_month"]
    ticket_known = spans.covers_all(before, ("tickets",))
    fees_known = spans.covers_all(before, tuple(t for t in ("bills", "payments")
                                                if t in available))
    known = {s: {"tickets": blocks["tickets"] if ticket_known else None,
                 "fees": blocks["fees"] if fees_known else None}
             for s, blocks in previous.items()}
    year_before = shifts["same_month_last_year"]
    year_tickets = spans.covers_all(year_before, ("tickets",))
    year_fees = spans.covers_all(year_before, tuple(t for t in ("bills", "payments")
                                                    if t in available))
    year_known = {s: {"tickets": blocks["tickets"] if year_tickets else None,
                      "fees": blocks["fees"] if year_fees else None}
                  for s, blocks in last_year.items()}
    return MonthMetrics(documents, known, year_known)


def _data_communities(ingested: Ingested) -> list[str]:
    return sorted(set(ingested.tickets["community"].dropna().unique())
                  | set(ingested.bills["community"].dropna().unique())
                  | set(ingested.payments["community"].dropna().unique()))


def export_coverage(ingested: Ingested) -> Coverage:
    """The months the run's exports cover, table by table."""
    return coverage(ingested.tickets, ingested.bills, ingested.payments,
                    ingested.available & frozenset(TABLES))


class NotCovered(RunFailed):
    """The exports do not reach the month yet, or begin after it."""


@task(name="coverage", task_run_name="coverage-{month}", cache_policy=NO_CACHE)
def coverage_task(ingested: Ingested, month: Month, language: str) -> Coverage:
    """Prefect task: the exports' coverage; :class:`NotCovered` when they miss ``month``.

    Checked before anything is computed, so a month the exports do not cover
    fails with one line and sends nothing, instead of a draft of zeros.
    """
    spans = export_coverage(ingested)
    gap = spans.gap(month)
    if gap is not None:
        code, fields = gap
        words = labels(language)
        fields["table"] = words["table"][fields["table"]]
        raise NotCovered(words["run"]["not_covered"][code].format(month=month, **fields))
    return spans


@task(name="metrics", task_run_name="metrics-{month}", cache_policy=NO_CACHE, retries=0)
def metrics_task(ingested: Ingested, config: Config, month: Month,
                 spans: Coverage | None = None,
                 partials: dict[Month, MonthPartial] | None = None) -> MonthMetrics:
    """Prefect task: metrics.json of every scope of the month.

    ``partials``: the months' figures computed in parts (:func:`metrics_in_parts`);
    without them, every figure is computed here in one pass.
    """
    scope = build_scope(config, month, _data_communities(ingested))
    configured = [c.id for c in config.communities]
    targets = {s: config.targets_for(s if s in configured else None) for s in scope.scopes}
    return month_documents(ingested.tickets, ingested.bills, ingested.payments, scope,
                           ingested.available, targets,
                           data_quality(ingested, scope, configured),
                           spans or export_coverage(ingested), partials)


@task(name="metrics-part", task_run_name="metrics-{month}-part-{number}", cache_policy=NO_CACHE,
      retries=0)
def metrics_part_task(rows: Rows, scope: Scope, available: frozenset[str], names: list[str],
                      month: Month, number: int) -> dict[Month, MonthPartial]:
    """Prefect task: the partial figures of one part's communities, every month needed.

    ``month`` and ``number`` name the task run (``metrics-2025-09-part-2``).
    """
    return month_partials(rows.tickets, rows.bills, rows.payments, scope, available, names)


def metrics_in_parts(ingested: Ingested, config: Config, month: Month, spans: Coverage,
                     workers: Workers) -> MonthMetrics:
    """metrics.json of every scope, the communities computed in a part per worker.

    Called inside a flow: each part (whole communities, of about equal size) is
    submitted to the workers' runner (processes, Dask workers), and the portfolio
    is combined exactly from the parts' partial figures, so the result is the same
    as :func:`metrics_task`'s in one pass, which one part is.
    """
    if workers.count <= 1:
        return metrics_task(ingested, config, month, spans)
    scope = build_scope(config, month, _data_communities(ingested))
    # The scope holds every community the rows name: its list is the run's codes.
    names = list(scope.communities)
    pieces = split(ingested.tickets, ingested.bills, ingested.payments, names, workers.count)
    futures = [workers.runner.submit(metrics_part_task, {
        "rows": piece, "scope": scope, "available": ingested.available, "names": names,
        "month": month, "number": number}) for number, piece in enumerate(pieces, start=1)]
    del pieces
    return metrics_task(ingested, config, month, spans,
                        combine([future.result() for future in futures]))


@task(name="ticket-history", task_run_name="ticket-history-{month}", cache_policy=NO_CACHE)
def history_task(ingested: Ingested, config: Config, month: Month) -> dict[str, dict]:
    """Prefect task: tickets created per month and category, for the workload forecast."""
    scope = build_scope(config, month, _data_communities(ingested))
    return created_history(ingested.tickets, scope)
