"""Metrics: canonical tables -> the KPIs of one month (kpis.md sections 3 to 5).

Every community and the portfolio are computed in one pass: rows are tagged
with their ``scope`` (their community, and ``_portfolio``) and aggregated by
scope, so the portfolio is computed from all rows, never as an average of
rates. Counts and money stay integers (fen) and rates, means and percentiles are
exact fractions until they are rounded once, half to even, at the end.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from fractions import Fraction
from importlib import resources

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from yuebao.config import Config
from yuebao.months import Month
from yuebao.schema import PORTFOLIO, TICKET_CATEGORIES, TICKET_TYPES
from yuebao.tasks.ingest import MEASURED, Ingested

US_PER_MINUTE = 60_000_000
US_PER_HOUR = 3_600_000_000
AGING_BUCKETS = ("1-30", "31-90", "91-180", "181-365", "366+")
SCHEMA = "yuebao.metrics/1"


@dataclass(frozen=True)
class Scope:
    """What the metrics need to know beyond the rows: month, zone, communities."""

    month: Month
    timezone: str
    communities: tuple[str, ...]
    households: dict[str, int | None]
    sla: pd.DataFrame  # community, sla_class, response_minutes, resolution_hours
    hotspot_min: int = 3

    @property
    def scopes(self) -> list[str]:
        return [*self.communities, PORTFOLIO]

    def households_of(self, scope: str) -> int | None:
        if scope != PORTFOLIO:
            return self.households.get(scope)
        values = [self.households.get(c) for c in self.communities]
        return None if any(v is None for v in values) else sum(values)


def kpi_catalogue() -> dict[str, dict]:
    """The scalar KPIs that ``compare`` follows, with their kind and direction."""
    text = resources.files("yuebao.knowledge").joinpath("kpis.toml").read_text("utf-8")
    return tomllib.loads(text)["kpi"]


# --- exact numbers -------------------------------------------------------------------


def rate(numerator: int, denominator: int) -> float | None:
    """A share with 4 decimals, half to even; null when the denominator is 0."""
    if not denominator:
        return None
    return float(round(Fraction(int(numerator), int(denominator)), 4))


def money(fen: int) -> float:
    """Integer fen as yuan; the float is only the JSON spelling of an exact value."""
    return int(fen) / 100


def _rounded(value: Fraction | None, digits: int = 2) -> float | None:
    return None if value is None else float(round(value, digits))


def _stats(values: pd.Series, scope: pd.Series, unit: int, scopes: list[str]) -> dict[str, dict]:
    """``mean``, ``median``, ``p90`` and ``count`` per scope of integer microseconds.

    Percentiles interpolate linearly between order statistics, computed in
    integers so the result is exact before its final rounding.
    """
    frame = pd.DataFrame({"scope": scope.to_numpy(), "v": values.to_numpy(dtype=np.int64)})
    frame = frame.sort_values(["scope", "v"], kind="stable")
    ordered = frame["v"].to_numpy()
    groups = frame.groupby("scope", sort=False)["v"]
    n = groups.size()
    offset = n.cumsum() - n
    total = groups.sum()

    def percentile(numerator: int, denominator: int) -> pd.Series:
        position = numerator * (n - 1)
        low, remainder = position // denominator, position % denominator
        high = np.minimum(low + 1, n - 1)
        v_low = ordered[(offset + low).to_numpy()]
        v_high = ordered[(offset + high).to_numpy()]
        scaled = v_low * denominator + (v_high - v_low) * remainder.to_numpy()
        return pd.Series(scaled, index=n.index), denominator

    median, median_den = percentile(1, 2)
    p90, p90_den = percentile(9, 10)
    result = {}
    for name in scopes:
        count = int(n.get(name, 0))
        if not count:
            result[name] = {"mean": None, "median": None, "p90": None, "count": 0}
            continue
        result[name] = {
            "mean": _rounded(Fraction(int(total[name]), count * unit)),
            "median": _rounded(Fraction(int(median[name]), median_den * unit)),
            "p90": _rounded(Fraction(int(p90[name]), p90_den * unit)),
            "count": count,
        }
    return result


def _microseconds(delta: pd.Series) -> pd.Series:
    return pd.Series(delta.to_numpy().astype("timedelta64[us]").astype(np.int64),
                     index=delta.index)


def _with_portfolio(frame: pd.DataFrame) -> pd.DataFrame:
    """Each row once under its community and once under the portfolio."""
    own = frame.assign(scope=frame["community"].astype("str"))
    return pd.concat([own, frame.assign(scope=PORTFOLIO)], ignore_index=True)


def _sums(frame: pd.DataFrame, columns: list[str], scopes: list[str]) -> pd.DataFrame:
    sums = frame.groupby("scope")[columns].sum()
    return sums.reindex(scopes, fill_value=0).astype(np.int64)


# --- tickets ----------------------------------------------------------------------------


def _ticket_flags(tickets: pd.DataFrame, scope: Scope) -> pd.DataFrame:
    """One row per ticket counted in the month, with every per-ticket fact as a column."""
    start, end = scope.month.start(scope.timezone), scope.month.end(scope.timezone)
    resolved = tickets["resolved_at"].fillna(tickets["closed_at"])
    known = tickets["closed_at"].fillna(tickets["resolved_at"])
    cancelled = tickets["cancelled"] & (known.isna() | (known < end))
    t = tickets.loc[~cancelled, ["community", "building", "type", "category", "priority",
                                 "created_at", "first_response_at", "satisfaction",
                                 "reopened"]].copy()
    t["resolved"], t["known"] = resolved[~cancelled], known[~cancelled]

    sla_class = np.where(t["type"] == "repair", "repair_" + t["priority"], t["type"])
    t["sla_class"] = pd.Series(sla_class, index=t.index).mask(t["type"] == "praise")
    t = t.merge(scope.sla, on=["community", "sla_class"], how="left")
    response_limit = pd.to_timedelta(t["response_minutes"], unit="m")
    resolution_limit = pd.to_timedelta(t["resolution_hours"], unit="h")
    has_sla = t["response_minutes"].notna()

    created, response = t["created_at"], t["first_response_at"]
    t["created_in"] = (created >= start) & (created < end)
    resolved_before_end = t["resolved"] < end
    t["resolved_in"] = (t["resolved"] >= start) & resolved_before_end
    t["open_at_start"] = (created < start) & ~(t["resolved"] < start)
    t["open_at_end"] = (created < end) & ~resolved_before_end
    t["completed"] = t["created_in"] & resolved_before_end
    t["responded"] = t["created_in"] & (response < end)
    response_deadline = created + response_limit
    pending = t["created_in"] & has_sla & ~(response < end) & (response_deadline >= end)
    t["response_sla"] = t["created_in"] & has_sla & ~pending
    t["response_on_time"] = t["response_sla"] & (response <= response_deadline)
    t["resolution_sla"] = t["resolved_in"] & has_sla
    t["resolution_on_time"] = t["resolution_sla"] & (t["resolved"] <= created + resolution_limit)
    t["overdue"] = t["open_at_end"] & has_sla & (created + resolution_limit < end)
    t["rated"] = (t["resolved_in"] & t["satisfaction"].notna()
                  & (t["known"].isna() | (t["known"] < end))).fillna(False).astype(bool)
    t["satisfied"] = t["rated"] & (t["satisfaction"] >= 4).fillna(False).astype(bool)
    t["rating_points"] = t["satisfaction"].where(t["rated"], 0).fillna(0).astype(np.int64)
    t["reopened_resolved"] = t["resolved_in"] & (t["reopened"] > 0)
    t["complaint"] = t["created_in"] & (t["type"] == "complaint")
    t["urgent"] = t["created_in"] & (t["priority"] == "urgent")
    t["urgent_responded"] = t["urgent"] & t["responded"]
    t["response_us"] = _microseconds(response - created)
    t["resolution_us"] = _microseconds(t["resolved"] - created)
    return t


_TICKET_COUNTS = [
    "created_in", "resolved_in", "open_at_start", "open_at_end", "completed", "response_sla",
    "response_on_time", "resolution_sla", "resolution_on_time", "overdue", "rated",
    "satisfied", "rating_points", "reopened_resolved", "complaint", "urgent",
]


def _breakdown(frame: pd.DataFrame, mask: str, column: str, codes: tuple[str, ...],
               scopes: list[str]) -> dict[str, dict[str, int]]:
    table = (frame[frame[mask]].groupby(["scope", column]).size().unstack(fill_value=0)
             .reindex(index=scopes, columns=list(codes), fill_value=0))
    return {s: {c: int(table.at[s, c]) for c in codes} for s in scopes}


def _hotspots(flags: pd.DataFrame, scope: Scope) -> dict[str, list[dict]]:
    """Buildings where repairs or complaints of one category keep coming back."""
    rows = flags[flags["created_in"] & flags["type"].isin(["repair", "complaint"])
                 & flags["building"].notna()]
    counts = (rows.groupby(["scope", "community", "building", "category"]).size()
              .rename("count").reset_index())
    counts = counts[counts["count"] >= scope.hotspot_min]
    counts = counts.sort_values(["scope", "count", "community", "building", "category"],
                                ascending=[True, False, True, True, True], kind="stable")
    top = counts.groupby("scope").head(10)
    records = {s: [] for s in scope.scopes}
    for name, group in top.groupby("scope"):
        records[name] = [
            {"community": c, "building": b, "category": k, "count": int(n)}
            for c, b, k, n in group[["community", "building", "category", "count"]]
            .itertuples(index=False)
        ]
    return records


def ticket_metrics(tickets: pd.DataFrame, scope: Scope,
                   measured: set[str] = frozenset(MEASURED)) -> dict[str, dict]:
    """The ``tickets`` block of metrics.json for every scope.

    ``measured`` names the optional fields the exports provide; the KPIs of a
    field no export has (response time, rating, reopen count) are null.
    """
    scopes = scope.scopes
    flags = _with_portfolio(_ticket_flags(tickets, scope))
    n = _sums(flags, _TICKET_COUNTS, scopes)
    by_type = _breakdown(flags, "created_in", "type", TICKET_TYPES, scopes)
    by_category = _breakdown(flags, "created_in", "category", TICKET_CATEGORIES, scopes)
    complaints = _breakdown(flags, "complaint", "category", TICKET_CATEGORIES, scopes)
    responded = flags[flags["responded"]]
    response = _stats(responded["response_us"], responded["scope"], US_PER_MINUTE, scopes)
    resolved = flags[flags["resolved_in"]]
    resolution = _stats(resolved["resolution_us"], resolved["scope"], US_PER_HOUR, scopes)
    urgent = flags[flags["urgent_responded"]]
    urgent_response = _stats(urgent["response_us"], urgent["scope"], US_PER_MINUTE, scopes)
    hotspots = _hotspots(flags, scope)

    result = {}
    for s in scopes:
        c = n.loc[s]
        households = scope.households_of(s)
        result[s] = _without_unmeasured({
            "created": int(c.created_in),
            "by_type": by_type[s],
            "by_category": by_category[s],
            "resolved": int(c.resolved_in),
            "open_at_start": int(c.open_at_start),
            "open_at_end": int(c.open_at_end),
            "completion_rate": rate(c.completed, c.created_in),
            "response_minutes": response[s],
            "response_on_time_rate": rate(c.response_on_time, c.response_sla),
            "resolution_hours": resolution[s],
            "resolution_on_time_rate": rate(c.resolution_on_time, c.resolution_sla),
            "overdue_open_at_end": int(c.overdue),
            "satisfaction": {
                "rated": int(c.rated),
                "rate": rate(c.satisfied, c.rated),
                "mean": _rounded(Fraction(int(c.rating_points), int(c.rated)))
                if c.rated else None,
                "revisit_rate": rate(c.rated, c.resolved_in),
            },
            "reopen_rate": rate(c.reopened_resolved, c.resolved_in),
            "complaints": {
                "count": int(c.complaint),
                "by_category": complaints[s],
                "per_100_households": _rounded(Fraction(int(c.complaint) * 100, households))
                if households else None,
            },
            "hotspots": hotspots[s],
            "urgent": {
                "count": int(c.urgent),
                "response_minutes_median": urgent_response[s]["median"],
            },
        }, measured)
    return result


def _without_unmeasured(block: dict, measured: set[str]) -> dict:
    """Null the KPIs whose source field no export provides."""
    if "first_response_at" not in measured:
        block["response_minutes"] = {"mean": None, "median": None, "p90": None, "count": 0}
        block["response_on_time_rate"] = None
        block["urgent"]["response_minutes_median"] = None
    if "satisfaction" not in measured:
        block["satisfaction"] = {"rated": 0, "rate": None, "mean": None, "revisit_rate": None}
    if "reopened" not in measured:
        block["reopen_rate"] = None
    return block


# --- fees -------------------------------------------------------------------------------


def _paid_before(payments: pd.DataFrame, bill_ids: pd.Series, moment: pd.Timestamp) -> pd.Series:
    """paid_b(t): the sum of each bill's payments made before ``moment``, in fen."""
    paid = payments.loc[payments["paid_at"] < moment].groupby("bill_id")["amount"].sum()
    return bill_ids.map(paid).fillna(0).astype(np.int64)


def _outstanding(amount_due: pd.Series, paid: pd.Series) -> pd.Series:
    """outstanding_b(t) = min(max(due - paid, 0), due): overpayment never counts twice."""
    return (amount_due - paid).clip(lower=0).clip(upper=amount_due)


def _bill_flags(bills: pd.DataFrame, payments: pd.DataFrame, scope: Scope) -> pd.DataFrame:
    month, tz = scope.month, scope.timezone
    first = pd.Timestamp(month.first_day)
    next_first = pd.Timestamp(month.shift(1).first_day)
    jan1 = pd.Timestamp(month.jan1)
    b = bills[["bill_id", "community", "building", "unit", "fee_item", "due_date"]].copy()
    due = bills["amount_due"].astype(np.int64)
    b["amount_due"] = due
    out_start = _outstanding(due, _paid_before(payments, bills["bill_id"], month.start(tz)))
    out_end = _outstanding(due, _paid_before(payments, bills["bill_id"], month.end(tz)))
    out_jan1 = _outstanding(due, _paid_before(
        payments, bills["bill_id"], pd.Timestamp(month.jan1).tz_localize(tz)))
    due_date = bills["due_date"]
    due_in = (due_date >= first) & (due_date < next_first)
    due_ytd = (due_date >= jan1) & (due_date < next_first)
    before_start = due_date < first
    before_end = due_date < next_first
    before_jan1 = due_date < jan1
    b["due_in"] = due.where(due_in, 0)
    b["collected_in"] = (due - out_end).where(due_in, 0)
    b["due_ytd"] = due.where(due_ytd, 0)
    b["collected_ytd"] = (due - out_end).where(due_ytd, 0)
    b["arrears_at_start"] = out_start.where(before_start, 0)
    b["arrears_collected"] = (out_start - out_end).where(before_start, 0)
    b["arrears_jan1"] = out_jan1.where(before_jan1, 0)
    b["arrears_collected_ytd"] = (out_jan1 - out_end).where(before_jan1, 0)
    b["arrears_at_end"] = out_end.where(before_end, 0)
    b["is_due_in"] = due_in
    b["unpaid_at_end"] = out_end > 0
    b["in_arrears_at_end"] = before_end & (out_end > 0)
    days = (next_first - due_date).dt.days
    b["aging"] = pd.cut(days, bins=[0, 30, 90, 180, 365, np.inf], labels=AGING_BUCKETS)
    return b


_FEE_SUMS = ["due_in", "collected_in", "due_ytd", "collected_ytd", "arrears_at_start",
             "arrears_collected", "arrears_jan1", "arrears_collected_ytd", "arrears_at_end"]


def _group_fees(b: pd.DataFrame, column: str, scopes: list[str]) -> dict[str, dict]:
    """``by_fee_item`` / ``by_building``: groups with a bill due in M or arrears at end."""
    groups = (b.dropna(subset=[column]).groupby(["scope", column])
              [["due_in", "collected_in", "arrears_at_end", "is_due_in"]].sum())
    groups = groups[(groups["is_due_in"] > 0) | (groups["arrears_at_end"] > 0)]
    result: dict[str, dict] = {s: {} for s in scopes}
    for (s, key), row in groups.iterrows():
        result[s][key] = {
            "due_in_month": money(row.due_in),
            "collected_for_month": money(row.collected_in),
            "collection_rate_month": rate(row.collected_in, row.due_in),
            "arrears_at_end": money(row.arrears_at_end),
        }
    return result


def _households(b: pd.DataFrame, scopes: list[str]) -> pd.DataFrame:
    """Household counts: a household is (community, building, unit); no unit, no household."""
    h = b[b["unit"].notna()].assign(building=b["building"].fillna(""))
    key = ["scope", "community", "building", "unit"]
    billed = h[h["is_due_in"]].groupby(key)["unpaid_at_end"].any()
    in_arrears = h[h["in_arrears_at_end"]].groupby(key).size()
    return pd.DataFrame({
        "billed": billed.groupby(level="scope").size(),
        "fully_paid": (~billed).groupby(level="scope").sum(),
        "in_arrears": in_arrears.groupby(level="scope").size(),
    }).reindex(scopes).fillna(0).astype(np.int64)


def fee_metrics(bills: pd.DataFrame, payments: pd.DataFrame, scope: Scope) -> dict[str, dict]:
    """The ``fees`` block of metrics.json for every scope."""
    scopes = scope.scopes
    start, end = scope.month.start(scope.timezone), scope.month.end(scope.timezone)
    next_first = pd.Timestamp(scope.month.shift(1).first_day)
    b = _with_portfolio(_bill_flags(bills, payments, scope))
    n = _sums(b, _FEE_SUMS, scopes)

    p = payments[(payments["paid_at"] >= start) & (payments["paid_at"] < end)]
    due_dates = bills.set_index("bill_id")["due_date"]
    p = _with_portfolio(p.assign(
        amount=p["amount"].astype(np.int64),
        prepaid=p["amount"].astype(np.int64).where(p["bill_id"].map(due_dates) >= next_first, 0),
    ))
    cash = _sums(p, ["amount", "prepaid"], scopes)
    aging = (b[b["arrears_at_end"] > 0].groupby(["scope", "aging"], observed=False)
             ["arrears_at_end"].sum().unstack(fill_value=0)
             .reindex(index=scopes, columns=list(AGING_BUCKETS), fill_value=0))
    by_fee_item = _group_fees(b, "fee_item", scopes)
    b["building_key"] = b["building"].where(
        b["scope"] != PORTFOLIO, b["community"].astype("str") + "/" + b["building"])
    by_building = _group_fees(b, "building_key", scopes)
    households = _households(b, scopes)

    result = {}
    for s in scopes:
        c, h = n.loc[s], households.loc[s]
        result[s] = {
            "due_in_month": money(c.due_in),
            "collected_for_month": money(c.collected_in),
            "collection_rate_month": rate(c.collected_in, c.due_in),
            "due_ytd": money(c.due_ytd),
            "collected_ytd": money(c.collected_ytd),
            "collection_rate_ytd": rate(c.collected_ytd, c.due_ytd),
            "arrears_at_start": money(c.arrears_at_start),
            "arrears_collected": money(c.arrears_collected),
            "arrears_recovery_rate": rate(c.arrears_collected, c.arrears_at_start),
            "arrears_recovery_rate_ytd": rate(c.arrears_collected_ytd, c.arrears_jan1),
            "cash_collected": money(cash.at[s, "amount"]),
            "prepaid": money(cash.at[s, "prepaid"]),
            "arrears_at_end": money(c.arrears_at_end),
            "aging": {k: money(aging.at[s, k]) for k in AGING_BUCKETS},
            "households_billed": int(h.billed),
            "household_payment_rate": rate(h.fully_paid, h.billed),
            "households_in_arrears": int(h.in_arrears),
            "by_fee_item": by_fee_item[s],
            "by_building": by_building[s],
        }
    return result


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
            targets: dict[str, float]) -> dict[str, dict]:
    """Every scalar KPI that has a target or a history, with its status."""
    result = {}
    for key, kpi in kpi_catalogue().items():
        value = scalar(current, key)
        before = scalar(previous, key) if previous else None
        year_ago = scalar(last_year, key) if last_year else None
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


def month_metrics(tickets: pd.DataFrame, bills: pd.DataFrame, payments: pd.DataFrame,
                  scope: Scope, available: frozenset[str]) -> dict[str, dict]:
    """``tickets`` and ``fees`` blocks for every scope of one month.

    A table the company does not export gives ``None`` for its block, so the
    draft can say the figures are not available instead of printing zeros.
    """
    measured = {name.split(".", 1)[1] for name in available if name.startswith("tickets.")}
    ticket_blocks = ticket_metrics(tickets, scope, measured) if "tickets" in available else {}
    fee_blocks = fee_metrics(bills, payments, scope) if "bills" in available else {}
    return {
        s: {"tickets": ticket_blocks.get(s), "fees": fee_blocks.get(s)} for s in scope.scopes
    }


def metrics_document(scope_id: str, blocks: dict, comparison: dict, month: Month,
                     timezone: str, data_quality: dict) -> dict:
    """The metrics.json of one scope (kpis.md section 5)."""
    return {
        "schema": SCHEMA,
        "month": str(month),
        "community": scope_id,
        "timezone": timezone,
        "tickets": blocks["tickets"],
        "fees": blocks["fees"],
        "compare": comparison,
        "data_quality": data_quality,
    }


def build_scope(config: Config, month: Month, data_communities: list[str]) -> Scope:
    """The metrics scope of a run: configured communities first, then any others in the data.

    A community found in the data but not in the config is still computed and
    counted in the portfolio; its households are unknown.
    """
    configured = [c.id for c in config.communities]
    communities = tuple(configured + sorted(set(data_communities) - set(configured)))
    rows = [
        {"community": c, "sla_class": name, "response_minutes": rule.response_minutes,
         "resolution_hours": rule.resolution_hours}
        for c in communities for name, rule in config.sla_for(c).items()
    ]
    households = {c: (config.community(c).households if config.community(c) else None)
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
    """metrics.json of every scope, and the previous month's blocks the draft compares with."""

    documents: dict[str, dict]
    previous: dict[str, dict]


def month_documents(tickets: pd.DataFrame, bills: pd.DataFrame, payments: pd.DataFrame,
                    scope: Scope, available: frozenset[str], targets: dict[str, dict],
                    data_quality: dict) -> MonthMetrics:
    """metrics.json of every scope, with ``compare`` from the months' own computation.

    The previous month and the same month last year are computed from the same
    canonical rows as the month itself, so a backfill and a monthly run agree.
    """
    def compute(month: Month) -> dict[str, dict]:
        shifted = Scope(month, scope.timezone, scope.communities, scope.households,
                        scope.sla, scope.hotspot_min)
        return month_metrics(tickets, bills, payments, shifted, available)

    current = compute(scope.month)
    previous = compute(scope.month.shift(-1))
    last_year = compute(scope.month.shift(-12))
    documents = {
        s: metrics_document(
            s, current[s], compare(current[s], previous[s], last_year[s], targets[s]),
            scope.month, scope.timezone, data_quality)
        for s in scope.scopes
    }
    return MonthMetrics(documents, previous)


def data_quality(ingested: Ingested, scope: Scope, configured: list[str]) -> dict:
    """The run's row counts and notes: the ``data_quality`` block of every metrics.json."""
    notes = list(ingested.notes)
    notes += [{"code": "unconfigured_community", "community": c}
              for c in scope.communities if c not in configured]
    if "tickets" in ingested.available:
        notes.append({"code": "snapshot_limits"})
    return {**ingested.totals(), "notes": notes}


def _data_communities(ingested: Ingested) -> list[str]:
    return sorted(set(ingested.tickets["community"].dropna())
                  | set(ingested.bills["community"].dropna()))


@task(name="metrics", cache_policy=NO_CACHE)
def metrics_task(ingested: Ingested, config: Config, month: Month) -> MonthMetrics:
    """Prefect task: metrics.json of every scope of the month."""
    scope = build_scope(config, month, _data_communities(ingested))
    configured = [c.id for c in config.communities]
    targets = {s: config.targets_for(s if s in configured else None) for s in scope.scopes}
    return month_documents(ingested.tickets, ingested.bills, ingested.payments, scope,
                           ingested.available, targets,
                           data_quality(ingested, scope, configured))


@task(name="ticket-history", cache_policy=NO_CACHE)
def history_task(ingested: Ingested, config: Config, month: Month) -> dict[str, dict]:
    """Prefect task: tickets created per month and category, for the workload forecast."""
    scope = build_scope(config, month, _data_communities(ingested))
    return created_history(ingested.tickets, scope)
