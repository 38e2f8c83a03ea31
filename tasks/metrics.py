"""Metrics: canonical tables -> the KPIs of one month (kpis.md sections 3 to 5).

Every community and the portfolio are computed together. The tables are
turned once into arrays (``prepare``: community codes, UTC times, fen, SLA
limits), which every month computed from them shares; a month's figures are
then vectorized sums per community code, and the portfolio is the sum over all
rows, never an average of rates. Counts and money stay integers (fen) and
rates, means and percentiles are exact fractions until they are rounded once,
half to even, at the end.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from importlib import resources

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from prefect import task
from prefect.cache_policies import NO_CACHE

from yuebao.config import SLA_CLASSES, Config
from yuebao.months import Month
from yuebao.schema import PORTFOLIO, PRIORITIES, TICKET_CATEGORIES, TICKET_TYPES
from yuebao.tasks.ingest import MEASURED, Ingested
from yuebao.tasks.ingest.parse import arrow_text

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


def _half_even(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded to an integer, half to even, in exact integers."""
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2):
        quotient += 1
    return quotient


def rate(numerator: int, denominator: int) -> float | None:
    """A share with 4 decimals, half to even; null when the denominator is 0.

    The same value as ``float(round(Fraction(numerator, denominator), 4))``, without
    building a Fraction (by_building calls this for every building of every month).
    """
    if not denominator:
        return None
    return _half_even(int(numerator) * 10_000, int(denominator)) / 10_000


def money(fen: int) -> float:
    """Integer fen as yuan; the float is only the JSON spelling of an exact value."""
    return int(fen) / 100


def _rounded(value: Fraction | None, digits: int = 2) -> float | None:
    return None if value is None else float(round(value, digits))


def _percentile(ordered: np.ndarray, numerator: int, denominator: int) -> Fraction:
    """The linear-interpolation percentile numerator/denominator of sorted integers, exactly."""
    position = numerator * (len(ordered) - 1)
    low, remainder = divmod(position, denominator)
    high = min(low + 1, len(ordered) - 1)
    v_low, v_high = int(ordered[low]), int(ordered[high])
    return Fraction(v_low * denominator + (v_high - v_low) * remainder, denominator)


def _summary(ordered: np.ndarray, unit: int) -> dict:
    """``mean``, ``median``, ``p90`` and ``count`` of sorted integer microseconds, in ``unit``."""
    count = len(ordered)
    if not count:
        return {"mean": None, "median": None, "p90": None, "count": 0}
    # the total in two halves, so that no int64 sum can overflow
    total = (int((ordered >> 32).sum()) << 32) + int((ordered & 0xFFFFFFFF).sum())
    return {
        "mean": _rounded(Fraction(total, count * unit)),
        "median": _rounded(_percentile(ordered, 1, 2) / unit),
        "p90": _rounded(_percentile(ordered, 9, 10) / unit),
        "count": count,
    }


def _stats(values: np.ndarray, codes: np.ndarray, unit: int, names: list[str],
           scopes: list[str]) -> dict[str, dict]:
    """:func:`_summary` per scope: one sort by (community, value), one of every value.

    Percentiles interpolate linearly between order statistics, computed in
    integers so the result is exact before its final rounding.
    """
    order = np.lexsort((values, codes))
    ordered, grouped = values[order], codes[order]
    bounds = np.searchsorted(grouped, np.arange(len(names) + 1))
    result = {}
    for s in scopes:
        if s == PORTFOLIO:
            result[s] = _summary(np.sort(values), unit)
        else:
            c = names.index(s)
            result[s] = _summary(ordered[bounds[c]:bounds[c + 1]], unit)
    return result


# --- rows as arrays -----------------------------------------------------------------------


def _with_portfolio(frame: pd.DataFrame) -> pd.DataFrame:
    """Each row once under its community and once under the portfolio."""
    own = frame.assign(scope=frame["community"].astype("str"))
    return pd.concat([own, frame.assign(scope=PORTFOLIO)], ignore_index=True)


def _community_names(frames: list[pd.DataFrame], communities: tuple[str, ...]) -> list[str]:
    """Community codes: the scope's communities, then any other the rows name."""
    found = set().union(*(set(f["community"].dropna().unique()) for f in frames))
    return [*communities, *sorted(found - set(communities))]


def _enum_codes(values: pd.Series, codes: tuple[str, ...]) -> np.ndarray:
    """Positions of enum values in their code list (-1 for anything else)."""
    found = pc.index_in(arrow_text(values), value_set=pa.array(codes, pa.large_string()))
    return np.asarray(found.fill_null(-1), dtype=np.int64)


def _instant(moment: pd.Timestamp) -> np.datetime64:
    """An aware instant as the naive UTC ``datetime64[us]`` the prepared arrays compare with."""
    return np.datetime64(moment.tz_convert("UTC").tz_localize(None).as_unit("us"))


def _utc(times: pd.Series) -> np.ndarray:
    """Aware timestamps as naive UTC ``datetime64[us]`` (NaT stays NaT and compares False)."""
    return times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]")


def _utc_ns(times: pd.Series) -> np.ndarray:
    """Aware timestamps as naive UTC ``datetime64[ns]`` (NaT stays NaT and compares False)."""
    return times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]")


def _instant_ns(moment: pd.Timestamp) -> np.datetime64:
    return np.datetime64(moment.tz_convert("UTC").tz_localize(None).as_unit("ns"))


def _codes(values: pd.Series, names: list[str]) -> np.ndarray:
    """Community codes: the position in ``names``, ``len(names)`` for a missing community."""
    found = pc.index_in(arrow_text(values), value_set=pa.array(names, pa.large_string()))
    return np.asarray(found.fill_null(len(names)), dtype=np.int64)


def _factorized(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes of a text column (-1 where missing) and the labels they stand for."""
    codes, labels = pd.factorize(values, use_na_sentinel=True)
    return codes.astype(np.int64), [str(label) for label in labels]


def _group_sum(codes: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Exact int64 sums per code (``np.bincount`` with weights would go through floats)."""
    result = np.zeros(size, dtype=np.int64)
    np.add.at(result, codes, values.astype(np.int64))
    return result


# --- tickets ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketRows:
    """Tickets as arrays, prepared once for every month computed from them.

    Times are naive UTC ``datetime64[ns]`` (NaT compares False, as in pandas);
    SLA limits are looked up once per ticket from its community and SLA class.
    """

    names: list[str]  # community codes
    community: np.ndarray
    created: np.ndarray
    response: np.ndarray
    resolved: np.ndarray  # resolved_at, else closed_at
    known: np.ndarray  # closed_at, else resolved_at: when a rating or cancellation is known
    cancelled: np.ndarray
    type: np.ndarray  # codes into TICKET_TYPES, -1 for anything else
    category: np.ndarray  # codes into TICKET_CATEGORIES
    urgent: np.ndarray
    building: np.ndarray  # codes into buildings, -1 when missing
    buildings: list[str]
    rating: np.ndarray  # 1..5, 0 when there is none
    reopened: np.ndarray  # reopened at least once
    response_limit: np.ndarray  # timedelta64[ns], NaT: no SLA (praise)
    resolution_limit: np.ndarray

    @classmethod
    def build(cls, tickets: pd.DataFrame, scope: Scope, names: list[str]) -> TicketRows:
        community = _codes(tickets["community"], names)
        kind = _enum_codes(tickets["type"], TICKET_TYPES)
        urgent = (tickets["priority"] == "urgent").fillna(False).to_numpy(dtype=bool)
        # SLA class per ticket: repairs by priority, others by type, praise none.
        classes = SLA_CLASSES
        by_type = {"repair": 1, "complaint": 2, "inquiry": 3, "suggestion": 4, "other": 5}
        of_type = np.array([by_type.get(t, -1) for t in TICKET_TYPES] + [-1])
        sla_class = of_type[kind]  # kind -1 picks the trailing -1
        repair = kind == TICKET_TYPES.index("repair")
        sla_class[repair & urgent] = 0
        sla_class[repair & (_enum_codes(tickets["priority"], PRIORITIES) < 0)] = -1
        limits = {name: np.full((len(names) + 1, len(classes) + 1), np.timedelta64("NaT", "ns"))
                  for name in ("response", "resolution")}
        if len(scope.sla):
            sla = scope.sla[scope.sla["community"].isin(names)
                            & scope.sla["sla_class"].isin(classes)]
            row = _codes(sla["community"], names)
            col = np.array([classes.index(c) for c in sla["sla_class"]], dtype=np.int64)
            limits["response"][row, col] = pd.to_timedelta(
                sla["response_minutes"], unit="m").to_numpy("timedelta64[ns]")
            limits["resolution"][row, col] = pd.to_timedelta(
                sla["resolution_hours"], unit="h").to_numpy("timedelta64[ns]")
        building, buildings = _factorized(tickets["building"])
        closed, resolved_at = _utc_ns(tickets["closed_at"]), _utc_ns(tickets["resolved_at"])
        rating = tickets["satisfaction"].astype("Int64")
        return cls(
            names=names, community=community, created=_utc_ns(tickets["created_at"]),
            response=_utc_ns(tickets["first_response_at"]),
            resolved=np.where(np.isnat(resolved_at), closed, resolved_at),
            known=np.where(np.isnat(closed), resolved_at, closed),
            cancelled=tickets["cancelled"].fillna(False).to_numpy(dtype=bool),
            type=kind, category=_enum_codes(tickets["category"], TICKET_CATEGORIES),
            urgent=urgent, building=building, buildings=buildings,
            rating=rating.fillna(0).to_numpy(dtype=np.int64),
            reopened=(tickets["reopened"].to_numpy(dtype=np.int64) > 0),
            response_limit=limits["response"][community, sla_class],
            resolution_limit=limits["resolution"][community, sla_class],
        )


def _ticket_flags(rows: TicketRows, scope: Scope) -> dict[str, np.ndarray]:
    """Every per-ticket fact of the month, as boolean (or integer) arrays over all tickets.

    A ticket cancelled as of the end of the month counts nowhere.
    """
    start = _instant_ns(scope.month.start(scope.timezone))
    end = _instant_ns(scope.month.end(scope.timezone))
    created, response, resolved, known = rows.created, rows.response, rows.resolved, rows.known
    counted = ~(rows.cancelled & (np.isnat(known) | (known < end)))
    has_sla = ~np.isnat(rows.response_limit)
    f = {}
    f["created_in"] = counted & (created >= start) & (created < end)
    resolved_before_end = resolved < end
    f["resolved_in"] = counted & (resolved >= start) & resolved_before_end
    f["open_at_start"] = counted & (created < start) & ~(resolved < start)
    f["open_at_end"] = counted & (created < end) & ~resolved_before_end
    f["completed"] = f["created_in"] & resolved_before_end
    f["responded"] = f["created_in"] & (response < end)
    response_deadline = created + rows.response_limit
    pending = f["created_in"] & has_sla & ~(response < end) & (response_deadline >= end)
    f["response_sla"] = f["created_in"] & has_sla & ~pending
    f["response_on_time"] = f["response_sla"] & (response <= response_deadline)
    f["resolution_sla"] = f["resolved_in"] & has_sla
    resolution_deadline = created + rows.resolution_limit
    f["resolution_on_time"] = f["resolution_sla"] & (resolved <= resolution_deadline)
    f["overdue"] = f["open_at_end"] & has_sla & (resolution_deadline < end)
    f["rated"] = f["resolved_in"] & (rows.rating > 0) & (np.isnat(known) | (known < end))
    f["satisfied"] = f["rated"] & (rows.rating >= 4)
    f["rating_points"] = np.where(f["rated"], rows.rating, 0)
    f["reopened_resolved"] = f["resolved_in"] & rows.reopened
    f["complaint"] = f["created_in"] & (rows.type == TICKET_TYPES.index("complaint"))
    f["urgent"] = f["created_in"] & rows.urgent
    f["urgent_responded"] = f["urgent"] & f["responded"]
    return f


_TICKET_COUNTS = [
    "created_in", "resolved_in", "open_at_start", "open_at_end", "completed", "response_sla",
    "response_on_time", "resolution_sla", "resolution_on_time", "overdue", "rated",
    "satisfied", "rating_points", "reopened_resolved", "complaint", "urgent",
]  # all counts of tickets, but rating_points: a sum of ratings


def _breakdown(rows: TicketRows, mask: np.ndarray, column: np.ndarray, codes: tuple[str, ...],
               scopes: list[str]) -> dict[str, dict[str, int]]:
    """Counts per enum code of the tickets in ``mask``, every code listed (0 where none)."""
    keep = mask & (column >= 0)
    table = np.bincount(rows.community[keep] * len(codes) + column[keep],
                        minlength=(len(rows.names) + 1) * len(codes)).reshape(-1, len(codes))
    result = {}
    for s in scopes:
        counts = table.sum(axis=0) if s == PORTFOLIO else table[rows.names.index(s)]
        result[s] = {code: int(n) for code, n in zip(codes, counts, strict=True)}
    return result


def _hotspots(rows: TicketRows, f: dict[str, np.ndarray], scope: Scope) -> dict[str, list[dict]]:
    """Buildings where repairs or complaints of one category keep coming back."""
    kinds = [TICKET_TYPES.index("repair"), TICKET_TYPES.index("complaint")]
    keep = f["created_in"] & np.isin(rows.type, kinds) & (rows.building >= 0) \
        & (rows.category >= 0) & (rows.community < len(rows.names))
    width = len(TICKET_CATEGORIES)
    key = (rows.community[keep] * (len(rows.buildings) + 1) + rows.building[keep]) * width \
        + rows.category[keep]
    groups, counts = np.unique(key, return_counts=True)
    chosen = counts >= scope.hotspot_min
    groups, counts = groups[chosen], counts[chosen]
    place, category = np.divmod(groups, width)
    community, building = np.divmod(place, len(rows.buildings) + 1)
    found = pd.DataFrame({
        "community": np.array(rows.names, dtype=object)[community],
        "building": np.array(rows.buildings, dtype=object)[building],
        "category": np.array(TICKET_CATEGORIES, dtype=object)[category],
        "count": counts.astype(np.int64), "code": community,
    }).sort_values(["count", "community", "building", "category"],
                   ascending=[False, True, True, True], kind="stable")
    records = {}
    for s in scope.scopes:
        mine = found if s == PORTFOLIO else found[found["code"] == rows.names.index(s)]
        records[s] = [
            {"community": c, "building": b, "category": k, "count": int(n)}
            for c, b, k, n in mine[["community", "building", "category", "count"]]
            .head(10).itertuples(index=False)
        ]
    return records


def ticket_metrics(tickets: pd.DataFrame, scope: Scope,
                   measured: set[str] = frozenset(MEASURED),
                   rows: TicketRows | None = None) -> dict[str, dict]:
    """The ``tickets`` block of metrics.json for every scope.

    ``measured`` names the optional fields the exports provide; the KPIs of a
    field no export has (response time, rating, reopen count) are null.
    ``rows`` is the tickets prepared once (``TicketRows.build``) when several
    months are computed from them.
    """
    scopes = scope.scopes
    rows = rows or TicketRows.build(tickets, scope, _community_names([tickets], scope.communities))
    f = _ticket_flags(rows, scope)
    size = len(rows.names) + 1
    n = {name: np.bincount(rows.community[f[name]], minlength=size) for name in _TICKET_COUNTS
         if name != "rating_points"}
    n["rating_points"] = _group_sum(rows.community[f["rated"]], f["rating_points"][f["rated"]],
                                    size)
    by_type = _breakdown(rows, f["created_in"], rows.type, TICKET_TYPES, scopes)
    by_category = _breakdown(rows, f["created_in"], rows.category, TICKET_CATEGORIES, scopes)
    complaints = _breakdown(rows, f["complaint"], rows.category, TICKET_CATEGORIES, scopes)

    def stats(mask: np.ndarray, end: np.ndarray, unit: int) -> dict[str, dict]:
        micros = ((end[mask] - rows.created[mask]) // np.timedelta64(1, "us")).astype(np.int64)
        return _stats(micros, rows.community[mask], unit, rows.names, scopes)

    response = stats(f["responded"], rows.response, US_PER_MINUTE)
    resolution = stats(f["resolved_in"], rows.resolved, US_PER_HOUR)
    urgent_response = stats(f["urgent_responded"], rows.response, US_PER_MINUTE)
    hotspots = _hotspots(rows, f, scope)

    result = {}
    for s in scopes:
        c = {name: int(v.sum() if s == PORTFOLIO else v[rows.names.index(s)])
             for name, v in n.items()}
        households = scope.households_of(s)
        result[s] = _without_unmeasured({
            "created": c["created_in"],
            "by_type": by_type[s],
            "by_category": by_category[s],
            "resolved": c["resolved_in"],
            "open_at_start": c["open_at_start"],
            "open_at_end": c["open_at_end"],
            "completion_rate": rate(c["completed"], c["created_in"]),
            "response_minutes": response[s],
            "response_on_time_rate": rate(c["response_on_time"], c["response_sla"]),
            "resolution_hours": resolution[s],
            "resolution_on_time_rate": rate(c["resolution_on_time"], c["resolution_sla"]),
            "overdue_open_at_end": c["overdue"],
            "satisfaction": {
                "rated": c["rated"],
                "rate": rate(c["satisfied"], c["rated"]),
                "mean": _rounded(Fraction(c["rating_points"], c["rated"]))
                if c["rated"] else None,
                "revisit_rate": rate(c["rated"], c["resolved_in"]),
            },
            "reopen_rate": rate(c["reopened_resolved"], c["resolved_in"]),
            "complaints": {
                "count": c["complaint"],
                "by_category": complaints[s],
                "per_100_households": _rounded(Fraction(c["complaint"] * 100, households))
                if households else None,
            },
            "hotspots": hotspots[s],
            "urgent": {
                "count": c["urgent"],
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


def _prefix(values: np.ndarray) -> np.ndarray:
    """Prefix sums with a leading 0: the sum of values[lo:hi] is prefix[hi] - prefix[lo]."""
    result = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(values, out=result[1:])
    return result


def _ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The indices of the slices [lo, hi), one per community, as one array."""
    return np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True)])


@dataclass(frozen=True)
class FeeRows:
    """Bills and payments as arrays, prepared once for every month computed from them.

    Bills are sorted by community, then due date: the bills of one community due
    in a date range are one slice, and a sum over it is a difference of prefix
    sums. Payments of known bills are sorted by bill, so ``paid_b(t)`` of every
    bill is one masked ``np.add.reduceat`` per instant. Money stays int64 fen.
    """

    names: list[str]  # community codes: the scope's communities, then any other
    community: np.ndarray  # per bill
    key: np.ndarray  # community * stride + due day - day0 (sorted; stride - 1 for no date)
    stride: int
    day0: int
    due: np.ndarray  # amount due, fen
    due_prefix: np.ndarray
    due_date: np.ndarray  # naive datetime64[us]
    fee_item: np.ndarray  # codes into fee_items, -1 when missing
    fee_items: list[str]
    building: np.ndarray  # codes into buildings, -1 when missing
    buildings: list[str]
    household: np.ndarray  # (community, building, unit) codes, -1 for a bill without a unit
    household_community: np.ndarray  # community code of each household
    paid_bill: np.ndarray  # each bill with payments, in the order of paid_starts
    paid_starts: np.ndarray
    paid_at: np.ndarray  # payments of known bills, sorted by bill (naive UTC datetime64[us])
    paid_amount: np.ndarray
    cash_at: np.ndarray  # every payment, as in the table
    cash_amount: np.ndarray
    cash_community: np.ndarray
    cash_due_date: np.ndarray  # due date of the payment's bill, NaT when it is unknown

    @classmethod
    def build(cls, bills: pd.DataFrame, payments: pd.DataFrame, names: list[str]) -> FeeRows:
        community = _codes(bills["community"], names)
        due_date = bills["due_date"].to_numpy("datetime64[us]")
        day = due_date.astype("datetime64[D]").astype(np.int64)
        dated = ~np.isnat(due_date)
        day0 = int(day[dated].min()) - 1 if dated.any() else 0
        stride = (int(day[dated].max()) - day0 + 2) if dated.any() else 2
        key = community * stride + np.where(dated, day - day0, stride - 1)
        order = np.argsort(key, kind="stable")

        fee_item, fee_items = _factorized(bills["fee_item"])
        building, buildings = _factorized(bills["building"])
        # A household is (community, building, unit); a missing building counts as "".
        unit = _factorized(bills["unit"])[0][order]
        filled = _factorized(bills["building"].fillna(""))[0][order]
        community = community[order]
        has_unit = unit >= 0
        place = (community * (filled.max(initial=0) + 1) + filled) * (unit.max(initial=0) + 1) \
            + unit
        household = np.full(len(order), -1, dtype=np.int64)
        household[has_unit] = pd.factorize(place[has_unit])[0]
        household_community = np.zeros(household.max(initial=-1) + 1, dtype=np.int64)
        household_community[household[has_unit]] = community[has_unit]

        found = pc.index_in(arrow_text(payments["bill_id"]),
                            value_set=arrow_text(bills["bill_id"]))
        known = np.asarray(found.is_valid(), dtype=bool)
        position = np.asarray(found.fill_null(0), dtype=np.int64)[known]
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        bill = rank[position]
        by_bill = np.argsort(bill, kind="stable")
        bill = bill[by_bill]
        paid_starts = np.flatnonzero(np.r_[True, bill[1:] != bill[:-1]]) if len(bill) \
            else np.zeros(0, dtype=np.int64)
        paid_at = _utc(payments["paid_at"])
        amount = payments["amount"].to_numpy(dtype=np.int64)
        cash_due_date = np.full(len(payments), np.datetime64("NaT", "us"))
        cash_due_date[known] = due_date[position]
        due = bills["amount_due"].to_numpy(dtype=np.int64)[order]
        return cls(
            names=names, community=community, key=key[order], stride=stride, day0=day0,
            due=due, due_prefix=_prefix(due), due_date=due_date[order],
            fee_item=fee_item[order], fee_items=fee_items,
            building=building[order], buildings=buildings,
            household=household, household_community=household_community,
            paid_bill=bill[paid_starts], paid_starts=paid_starts,
            paid_at=paid_at[known][by_bill], paid_amount=amount[known][by_bill],
            cash_at=paid_at, cash_amount=amount,
            cash_community=_codes(payments["community"], names), cash_due_date=cash_due_date,
        )

    @property
    def size(self) -> int:
        """Community codes, with one more for rows without a community."""
        return len(self.names) + 1

    def due_before(self, day: date | None) -> np.ndarray:
        """Per community code, the end of the slice of its bills due before ``day``
        (``None``: the start of its slice)."""
        offset = 0 if day is None else min(max(
            (np.datetime64(day, "D") - np.datetime64(0, "D")).astype(np.int64) - self.day0, 0),
            self.stride - 1)
        return np.searchsorted(self.key, np.arange(self.size) * self.stride + offset)

    def paid_before(self, moment: pd.Timestamp) -> np.ndarray:
        """paid_b(t) of every bill: the sum of its payments made before ``moment``, in fen."""
        paid = np.zeros(len(self.due), dtype=np.int64)
        if len(self.paid_starts):
            counted = np.where(self.paid_at < _instant(moment), self.paid_amount, 0)
            paid[self.paid_bill] = np.add.reduceat(counted, self.paid_starts)
        return paid

    def outstanding(self, moment: pd.Timestamp) -> np.ndarray:
        """outstanding_b(t) = min(max(due - paid, 0), due): overpayment never counts twice."""
        owed = self.paid_before(moment)
        np.subtract(self.due, owed, out=owed)
        np.maximum(owed, 0, out=owed)
        return np.minimum(owed, self.due, out=owed)


@dataclass
class _Month:
    """A month's fee figures: sums per community code, and the bills the groups need."""

    sums: dict[str, np.ndarray]
    due_in: np.ndarray  # indices of the bills due in M
    owing: np.ndarray  # indices of the bills due before the end with outstanding_b(end) > 0
    out_end: np.ndarray  # outstanding_b(end) of every bill


def _fee_month(rows: FeeRows, scope: Scope) -> _Month:
    """The month's sums per community: slices of bills by due date, prefix sums of amounts."""
    month, tz = scope.month, scope.timezone
    begin = rows.due_before(None)
    first = rows.due_before(month.first_day)
    after = rows.due_before(month.shift(1).first_day)
    jan1 = rows.due_before(month.jan1)
    out_end = rows.outstanding(month.end(tz))
    end_prefix = _prefix(out_end)
    start_prefix = _prefix(rows.outstanding(month.start(tz)))
    jan1_prefix = _prefix(rows.outstanding(pd.Timestamp(month.jan1).tz_localize(tz)))

    def total(prefix: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return prefix[hi] - prefix[lo]

    sums = {
        "due_in": total(rows.due_prefix, first, after),
        "due_ytd": total(rows.due_prefix, jan1, after),
        "arrears_at_start": total(start_prefix, begin, first),
        "arrears_jan1": total(jan1_prefix, begin, jan1),
        "arrears_at_end": total(end_prefix, begin, after),
    }
    sums["collected_in"] = sums["due_in"] - total(end_prefix, first, after)
    sums["collected_ytd"] = sums["due_ytd"] - total(end_prefix, jan1, after)
    sums["arrears_collected"] = sums["arrears_at_start"] - total(end_prefix, begin, first)
    sums["arrears_collected_ytd"] = sums["arrears_jan1"] - total(end_prefix, begin, jan1)
    owing = np.flatnonzero(out_end > 0)
    owing = owing[owing < after[rows.community[owing]]]
    return _Month(sums, _ranges(first, after), owing, out_end)


def _fee_group(due_in: int, collected: int, arrears: int) -> dict:
    return {"due_in_month": money(due_in), "collected_for_month": money(collected),
            "collection_rate_month": rate(collected, due_in), "arrears_at_end": money(arrears)}


def _group_fees(rows: FeeRows, m: _Month, column: str, scopes: list[str]) -> dict[str, dict]:
    """``by_fee_item`` / ``by_building``: groups with a bill due in M or arrears at end.

    A group is shown exactly when one of its bills is due in M or owing at the
    end, so only those bills are summed. At the portfolio fee items are summed
    over communities, and buildings are keyed ``"<community>/<building>"``.
    """
    codes, labels = ((rows.fee_item, rows.fee_items) if column == "fee_item"
                     else (rows.building, rows.buildings))
    shape = (rows.size, max(len(labels), 1))
    due_in = m.due_in[codes[m.due_in] >= 0]
    owing = m.owing[codes[m.owing] >= 0]
    g_due = rows.community[due_in] * shape[1] + codes[due_in]
    g_owing = rows.community[owing] * shape[1] + codes[owing]
    cells = shape[0] * shape[1]
    count = (np.bincount(g_due, minlength=cells) + np.bincount(g_owing, minlength=cells)
             ).reshape(shape)
    due = _group_sum(g_due, rows.due[due_in], cells).reshape(shape)
    collected = due - _group_sum(g_due, m.out_end[due_in], cells).reshape(shape)
    arrears = _group_sum(g_owing, m.out_end[owing], cells).reshape(shape)
    result: dict[str, dict] = {}
    for s in scopes:
        if s != PORTFOLIO:
            c = rows.names.index(s)
            items = {labels[k]: _fee_group(due[c, k], collected[c, k], arrears[c, k])
                     for k in np.flatnonzero(count[c])}
        elif column == "fee_item":
            items = {labels[k]: _fee_group(due[:, k].sum(), collected[:, k].sum(),
                                           arrears[:, k].sum())
                     for k in np.flatnonzero(count.sum(axis=0))}
        else:
            items = {f"{rows.names[c]}/{labels[k]}":
                     _fee_group(due[c, k], collected[c, k], arrears[c, k])
                     for c, k in zip(*np.nonzero(count[:len(rows.names)]), strict=True)}
        result[s] = dict(sorted(items.items()))
    return result


def _households(rows: FeeRows, m: _Month) -> dict[str, np.ndarray]:
    """Household counts per community code: billed in M, fully paid, in arrears at end."""
    size = len(rows.household_community)

    def households(bills: np.ndarray) -> np.ndarray:
        of = rows.household[bills]
        return np.bincount(of[of >= 0], minlength=size) > 0

    billed = households(m.due_in)
    fully_paid = billed & ~households(m.due_in[m.out_end[m.due_in] > 0])
    in_arrears = households(m.owing)
    return {name: np.bincount(rows.household_community[mask], minlength=rows.size)
            for name, mask in (("billed", billed), ("fully_paid", fully_paid),
                               ("in_arrears", in_arrears))}


def _aging(rows: FeeRows, m: _Month, next_first: np.datetime64) -> np.ndarray:
    """Arrears at end per community code and bucket of AGING_BUCKETS."""
    days = (next_first - rows.due_date[m.owing]) // np.timedelta64(1, "D")
    owing, days = m.owing[days > 0], days[days > 0]
    # (0, 30], (30, 90], (90, 180], (180, 365], more: days overdue at the first day of M+1
    bucket = np.searchsorted(np.array([30, 90, 180, 365]), days, side="left")
    return _group_sum(rows.community[owing] * len(AGING_BUCKETS) + bucket, m.out_end[owing],
                      rows.size * len(AGING_BUCKETS)).reshape(rows.size, len(AGING_BUCKETS))


def fee_metrics(bills: pd.DataFrame, payments: pd.DataFrame, scope: Scope,
                rows: FeeRows | None = None) -> dict[str, dict]:
    """The ``fees`` block of metrics.json for every scope.

    ``rows`` is the tables prepared once (``FeeRows.build``) when several months
    are computed from them. Per community code everything is an exact int64
    sum; the portfolio is the sum over every community's rows.
    """
    rows = rows or FeeRows.build(
        bills, payments, _community_names([bills, payments], scope.communities))
    month, tz = scope.month, scope.timezone
    start, end = _instant(month.start(tz)), _instant(month.end(tz))
    next_first = np.datetime64(month.shift(1).first_day, "us")
    m = _fee_month(rows, scope)
    in_month = (rows.cash_at >= start) & (rows.cash_at < end)
    prepaid = in_month & (rows.cash_due_date >= next_first)
    cash = _group_sum(rows.cash_community[in_month], rows.cash_amount[in_month], rows.size)
    advance = _group_sum(rows.cash_community[prepaid], rows.cash_amount[prepaid], rows.size)
    aging = _aging(rows, m, next_first)
    by_fee_item = _group_fees(rows, m, "fee_item", scope.scopes)
    by_building = _group_fees(rows, m, "building", scope.scopes)
    households = _households(rows, m)

    def at(values: np.ndarray, s: str) -> int:
        return int(values.sum(axis=0) if s == PORTFOLIO else values[rows.names.index(s)])

    result = {}
    for s in scope.scopes:
        c = {name: at(values, s) for name, values in m.sums.items()}
        h = {name: at(values, s) for name, values in households.items()}
        result[s] = {
            "due_in_month": money(c["due_in"]),
            "collected_for_month": money(c["collected_in"]),
            "collection_rate_month": rate(c["collected_in"], c["due_in"]),
            "due_ytd": money(c["due_ytd"]),
            "collected_ytd": money(c["collected_ytd"]),
            "collection_rate_ytd": rate(c["collected_ytd"], c["due_ytd"]),
            "arrears_at_start": money(c["arrears_at_start"]),
            "arrears_collected": money(c["arrears_collected"]),
            "arrears_recovery_rate": rate(c["arrears_collected"], c["arrears_at_start"]),
            "arrears_recovery_rate_ytd": rate(c["arrears_collected_ytd"], c["arrears_jan1"]),
            "cash_collected": money(at(cash, s)),
            "prepaid": money(at(advance, s)),
            "arrears_at_end": money(c["arrears_at_end"]),
            "aging": {k: money(at(aging[:, i], s)) for i, k in enumerate(AGING_BUCKETS)},
            "households_billed": h["billed"],
            "household_payment_rate": rate(h["fully_paid"], h["billed"]),
            "households_in_arrears": h["in_arrears"],
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
                  scope: Scope, available: frozenset[str], *,
                  prepared: Prepared | None = None) -> dict[str, dict]:
    """``tickets`` and ``fees`` blocks for every scope of one month.

    A table the company does not export gives ``None`` for its block, so the
    draft can say the figures are not available instead of printing zeros.
    ``prepared`` is the tables as arrays, built once when several months are
    computed from the same rows.
    """
    prepared = prepared or prepare(tickets, bills, payments, scope, available)
    measured = {name.split(".", 1)[1] for name in available if name.startswith("tickets.")}
    ticket_blocks = (ticket_metrics(tickets, scope, measured, prepared.tickets)
                     if prepared.tickets is not None else {})
    fee_blocks = (fee_metrics(bills, payments, scope, prepared.fees)
                  if prepared.fees is not None else {})
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


@dataclass(frozen=True)
class Prepared:
    """The canonical tables as arrays, for every month computed from the same rows."""

    tickets: TicketRows | None
    fees: FeeRows | None



def prepare(tickets: pd.DataFrame, bills: pd.DataFrame, payments: pd.DataFrame, scope: Scope,
            available: frozenset[str]) -> Prepared:
    """Arrays of the tables a month's metrics need; they do not depend on the month."""
    names = _community_names([tickets, bills, payments], scope.communities)
    return Prepared(
        tickets=TicketRows.build(tickets, scope, names) if "tickets" in available else None,
        fees=FeeRows.build(bills, payments, names) if "bills" in available else None)


def month_documents(tickets: pd.DataFrame, bills: pd.DataFrame, payments: pd.DataFrame,
                    scope: Scope, available: frozenset[str], targets: dict[str, dict],
                    data_quality: dict) -> MonthMetrics:
    """metrics.json of every scope, with ``compare`` from the months' own computation.

    The previous month and the same month last year are computed from the same
    canonical rows as the month itself, so a backfill and a monthly run agree.
    """
    prepared = prepare(tickets, bills, payments, scope, available)

    def compute(month: Month) -> dict[str, dict]:
        shifted = Scope(month, scope.timezone, scope.communities, scope.households,
                        scope.sla, scope.hotspot_min)
        return month_metrics(tickets, bills, payments, shifted, available, prepared=prepared)

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
    return sorted(set(ingested.tickets["community"].dropna().unique())
                  | set(ingested.bills["community"].dropna().unique()))


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
