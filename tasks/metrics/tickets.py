"""Ticket metrics of a month (kpis.md section 3)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pandas as pd

from yuebao.config import SLA_CLASSES
from yuebao.schema import PORTFOLIO, PRIORITIES, TICKET_CATEGORIES, TICKET_TYPES
from yuebao.tasks.ingest import MEASURED
from yuebao.tasks.metrics.numbers import (
    _added,
    _codes,
    _enum_codes,
    _factorized,
    _group_sum,
    _instant_ns,
    _joined,
    _rounded,
    _same_codes,
    _stats,
    _utc_ns,
    rate,
)
from yuebao.tasks.metrics.scope import US_PER_HOUR, US_PER_MINUTE, Scope

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

# The enum breakdowns of the block: (which tickets, which column, its codes).
_BREAKDOWNS = {
    "by_type": ("created_in", "type", TICKET_TYPES),
    "by_category": ("created_in", "category", TICKET_CATEGORIES),
    "complaints": ("complaint", "category", TICKET_CATEGORIES),
}
_BREACH_BREAKDOWNS = {"by_type": TICKET_TYPES, "by_category": TICKET_CATEGORIES,
                      "by_priority": PRIORITIES}
_DURATIONS = {  # which tickets, until when, in what unit
    "response_minutes": ("responded", "response", US_PER_MINUTE),
    "resolution_hours": ("resolved_in", "resolved", US_PER_HOUR),
    "urgent_response": ("urgent_responded", "response", US_PER_MINUTE),
}


@dataclass(frozen=True)
class TicketPartial:
    """A month's ticket figures of some communities, before they are told per scope.

    Everything is keyed by the run's community codes (``names``, the same in every
    part), so the partials of disjoint sets of communities combine exactly
    (:func:`combine_tickets`): counts and breakdowns add up, the durations that
    medians and percentiles need are concatenated, and listings (hotspots,
    buildings, overdue tickets) are the union of their rows, cut per scope only
    when the block is made. A community's tickets must all be in one part, since
    a hotspot or a building counts within its community.
    """

    names: list[str]
    counts: dict[str, np.ndarray]  # per community code (+1: no community)
    tables: dict[str, np.ndarray]  # (code, enum code) counts
    durations: dict[str, tuple[np.ndarray, np.ndarray]]  # microseconds, community codes
    listings: dict[str, dict[str, np.ndarray]]  # columns, "community" among them


def combine_tickets(parts: list[TicketPartial]) -> TicketPartial:
    """The partial of the union of the parts' communities (see :class:`TicketPartial`)."""
    durations = {k: (np.concatenate([p.durations[k][0] for p in parts]),
                     np.concatenate([p.durations[k][1] for p in parts]))
                 for k in parts[0].durations}
    return TicketPartial(names=_same_codes(parts), counts=_added([p.counts for p in parts]),
                         tables=_added([p.tables for p in parts]), durations=durations,
                         listings=_joined([p.listings for p in parts]))


def _breakdown_table(rows: TicketRows, mask: np.ndarray, column: np.ndarray,
                     codes: tuple[str, ...]) -> np.ndarray:
    """Counts per (community code, enum code) of the tickets in ``mask``."""
    keep = mask & (column >= 0)
    return np.bincount(rows.community[keep] * len(codes) + column[keep],
                       minlength=(len(rows.names) + 1) * len(codes)).reshape(-1, len(codes))


def _breakdown(table: np.ndarray, codes: tuple[str, ...], names: list[str],
               scopes: list[str]) -> dict[str, dict[str, int]]:
    """Counts per enum code, every code listed (0 where none), per scope."""
    result = {}
    for s in scopes:
        counts = table.sum(axis=0) if s == PORTFOLIO else table[names.index(s)]
        result[s] = {code: int(n) for code, n in zip(codes, counts, strict=True)}
    return result


def _ranks(labels: np.ndarray) -> np.ndarray:
    """Dense ranks of text labels in code-point order (Python's order of ``str``)."""
    if not len(labels):
        return np.zeros(0, dtype=np.int64)
    return np.unique(labels, return_inverse=True)[1].reshape(-1).astype(np.int64)


def _per_scope(names: list[str], community: np.ndarray, order: np.ndarray, scopes: list[str],
               limit: int | None = None) -> dict[str, np.ndarray]:
    """Per scope, the positions in ``order`` (already sorted) that belong to it, in that
    order, at most ``limit``: the portfolio has all of them, a community its own.

    One stable sort by community code and one search for every community's slice, instead
    of a filtered copy per scope (there may be hundreds of communities).
    """
    mine = order[np.argsort(community[order], kind="stable")]
    bounds = np.searchsorted(community[mine], np.arange(len(names) + 1))
    result = {}
    for s in scopes:
        if s == PORTFOLIO:
            chosen = order
        else:
            c = names.index(s)
            chosen = mine[bounds[c]:bounds[c + 1]]
        result[s] = chosen[:limit]
    return result


def _listed(listing: dict[str, np.ndarray], names: list[str], fields: tuple[str, ...],
            order: np.ndarray, scopes: list[str], limit: int | None) -> dict[str, list[dict]]:
    """A listing's rows in ``order``, per scope, as ``{field: value}`` items."""
    community = listing["community"]
    columns = {**listing, "community": np.array([*names, None], dtype=object)[community]}
    return {s: [dict(zip(fields, values, strict=True)) for values in zip(
                *(columns[name][chosen].tolist() for name in fields), strict=True)]
            for s, chosen in _per_scope(names, community, order, scopes, limit).items()}


def _building_counts(rows: TicketRows, mask: np.ndarray) -> dict[str, np.ndarray]:
    """Tickets in ``mask`` per (community, building), tickets without either left out."""
    keep = mask & (rows.building >= 0) & (rows.community < len(rows.names))
    width = max(len(rows.buildings), 1)
    groups, counts = np.unique(rows.community[keep] * width + rows.building[keep],
                               return_counts=True)
    community, building = np.divmod(groups, width)
    return {"community": community, "building": np.array(rows.buildings, dtype=object)[building],
            "count": counts.astype(np.int64)}


def _by_building(listing: dict[str, np.ndarray], names: list[str], scopes: list[str],
                 limit: int = 10) -> dict[str, list[dict]]:
    """The buildings with most tickets: items ``{community, building, count}``, count
    descending, then community and building ascending by code point, at most ``limit``."""
    order = np.lexsort((_ranks(listing["building"]),
                        _ranks(np.array(names, dtype=object))[listing["community"]],
                        -listing["count"]))
    return _listed(listing, names, ("community", "building", "count"), order, scopes, limit)


_OVERDUE_FIELDS = ("ticket_id", "community", "building", "category", "type", "priority")


def _overdue_rows(tickets: pd.DataFrame, rows: TicketRows, f: dict[str, np.ndarray],
                  scope: Scope) -> dict[str, np.ndarray]:
    """Every ticket counted in ``overdue_open_at_end``, with its deadline and days overdue.

    ``deadline`` is ``created_at`` + the resolution SLA in local time; ``days_overdue``
    the whole days from it to the month's end, rounded down.
    """
    end = _instant_ns(scope.month.end(scope.timezone))
    where = np.flatnonzero(f["overdue"])
    deadline = rows.created[where] + rows.resolution_limit[where]

    def local(times: np.ndarray) -> np.ndarray:
        index = pd.DatetimeIndex(times).tz_localize("UTC").tz_convert(scope.timezone)
        return np.array(index.strftime("%Y-%m-%d %H:%M:%S").tolist(), dtype=object)

    text = {name: np.asarray(tickets[name].iloc[where].to_numpy(dtype=object, na_value=None))
            for name in _OVERDUE_FIELDS if name != "community"}
    return {**text, "community": rows.community[where],
            "created_at": local(rows.created[where]), "deadline": local(deadline),
            "days_overdue": ((end - deadline) // np.timedelta64(1, "D")).astype(np.int64)}


def _overdue_open(listing: dict[str, np.ndarray], names: list[str],
                  scopes: list[str]) -> dict[str, list[dict]]:
    """``tickets.overdue_open``, sorted by days overdue descending, then community and
    ticket_id ascending by code point."""
    order = np.lexsort((_ranks(listing["ticket_id"]),
                        _ranks(np.array(names, dtype=object))[listing["community"]],
                        -listing["days_overdue"]))
    fields = (*_OVERDUE_FIELDS, "created_at", "deadline", "days_overdue")
    return _listed(listing, names, fields, order, scopes, None)


def _hotspot_counts(rows: TicketRows, f: dict[str, np.ndarray],
                    scope: Scope) -> dict[str, np.ndarray]:
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
    return {"community": community, "building": np.array(rows.buildings, dtype=object)[building],
            "category": np.array(TICKET_CATEGORIES, dtype=object)[category],
            "count": counts.astype(np.int64)}


def _hotspots(listing: dict[str, np.ndarray], names: list[str],
              scopes: list[str]) -> dict[str, list[dict]]:
    """Hotspots by count descending, then community, building and category ascending by
    code point, at most 10 per scope."""
    order = np.lexsort((_ranks(listing["category"]), _ranks(listing["building"]),
                        _ranks(np.array(names, dtype=object))[listing["community"]],
                        -listing["count"]))
    return _listed(listing, names, ("community", "building", "category", "count"), order,
                   scopes, 10)


def ticket_partial(tickets: pd.DataFrame, scope: Scope, rows: TicketRows) -> TicketPartial:
    """The month's ticket figures of the communities in ``tickets`` (see :class:`TicketPartial`)."""
    f = _ticket_flags(rows, scope)
    size = len(rows.names) + 1
    counts = {name: np.bincount(rows.community[f[name]], minlength=size)
              for name in _TICKET_COUNTS if name != "rating_points"}
    counts["rating_points"] = _group_sum(rows.community[f["rated"]],
                                         f["rating_points"][f["rated"]], size)
    columns = {"type": rows.type, "category": rows.category,
               # Anything but urgent is normal (kpis.md section 2): the codes add up.
               "priority": np.where(rows.urgent, PRIORITIES.index("urgent"),
                                    PRIORITIES.index("normal"))}
    tables = {name: _breakdown_table(rows, f[mask], columns[column], codes)
              for name, (mask, column, codes) in _BREAKDOWNS.items()}
    listings = {"hotspots": _hotspot_counts(rows, f, scope),
                "overdue_open": _overdue_rows(tickets, rows, f, scope)}
    breaches = {"response": f["response_sla"] & ~f["response_on_time"],
                "resolution": f["resolution_sla"] & ~f["resolution_on_time"]}
    for kind, mask in breaches.items():
        counts[f"{kind}_breaches"] = np.bincount(rows.community[mask], minlength=size)
        for name, codes in _BREACH_BREAKDOWNS.items():
            tables[f"{kind}_breaches.{name}"] = _breakdown_table(rows, mask, columns[name[3:]],
                                                                 codes)
        listings[f"{kind}_breaches.by_building"] = _building_counts(rows, mask)
    ends = {"response": rows.response, "resolved": rows.resolved}
    durations = {}
    for name, (mask, until, _unit) in _DURATIONS.items():
        chosen = f[mask]
        micros = ((ends[until][chosen] - rows.created[chosen])
                  // np.timedelta64(1, "us")).astype(np.int64)
        durations[name] = (micros, rows.community[chosen])
    return TicketPartial(rows.names, counts, tables, durations, listings)


def _breaches(part: TicketPartial, kind: str, scopes: list[str]) -> dict[str, dict]:
    """``tickets.sla_breaches.<kind>``: the SLA tickets missed by type, category,
    priority and building (kpis.md section 7)."""
    names = part.names
    tables = {name: _breakdown(part.tables[f"{kind}_breaches.{name}"], codes, names, scopes)
              for name, codes in _BREACH_BREAKDOWNS.items()}
    by_building = _by_building(part.listings[f"{kind}_breaches.by_building"], names, scopes)
    counts = part.counts[f"{kind}_breaches"]
    return {s: {"count": int(counts.sum() if s == PORTFOLIO else counts[names.index(s)]),
                **{name: table[s] for name, table in tables.items()},
                "by_building": by_building[s]}
            for s in scopes}


def ticket_blocks(part: TicketPartial, scope: Scope,
                  measured: set[str] | frozenset[str] = frozenset(MEASURED)) -> dict[str, dict]:
    """The ``tickets`` block of metrics.json for every scope, from the month's partial.

    ``measured`` names the optional fields the exports provide; the KPIs of a
    field no export has (response time, rating, reopen count) are null.
    """
    scopes, names = scope.scopes, part.names
    breakdowns = {name: _breakdown(part.tables[name], codes, names, scopes)
                  for name, (_mask, _column, codes) in _BREAKDOWNS.items()}
    stats = {name: _stats(*part.durations[name], unit, names, scopes)
             for name, (_mask, _until, unit) in _DURATIONS.items()}
    hotspots = _hotspots(part.listings["hotspots"], names, scopes)
    breaches = {kind: _breaches(part, kind, scopes) for kind in ("response", "resolution")}
    overdue = _overdue_open(part.listings["overdue_open"], names, scopes)

    result = {}
    for s in scopes:
        c = {name: int(v.sum() if s == PORTFOLIO else v[names.index(s)])
             for name, v in part.counts.items()}
        households = scope.households_of(s)
        result[s] = _without_unmeasured({
            "created": c["created_in"],
            "by_type": breakdowns["by_type"][s],
            "by_category": breakdowns["by_category"][s],
            "resolved": c["resolved_in"],
            "open_at_start": c["open_at_start"],
            "open_at_end": c["open_at_end"],
            "completion_rate": rate(c["completed"], c["created_in"]),
            "response_minutes": stats["response_minutes"][s],
            "response_on_time_rate": rate(c["response_on_time"], c["response_sla"]),
            "resolution_hours": stats["resolution_hours"][s],
            "resolution_on_time_rate": rate(c["resolution_on_time"], c["resolution_sla"]),
            "overdue_open_at_end": c["overdue"],
            "overdue_open": overdue[s],
            "sla_breaches": {"response": breaches["response"][s],
                             "resolution": breaches["resolution"][s]},
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
                "by_category": breakdowns["complaints"][s],
                "per_100_households": _rounded(Fraction(c["complaint"] * 100, households))
                if households else None,
            },
            "hotspots": hotspots[s],
            "urgent": {
                "count": c["urgent"],
                "response_minutes_median": stats["urgent_response"][s]["median"],
            },
        }, measured)
    return result


def _without_unmeasured(block: dict, measured: set[str] | frozenset[str]) -> dict:
    """Null the KPIs whose source field no export provides."""
    if "first_response_at" not in measured:
        block["response_minutes"] = {"mean": None, "median": None, "p90": None, "count": 0}
        block["response_on_time_rate"] = None
        block["urgent"]["response_minutes_median"] = None
        block["sla_breaches"]["response"] = None
    if "satisfaction" not in measured:
        block["satisfaction"] = {"rated": 0, "rate": None, "mean": None, "revisit_rate": None}
    if "reopened" not in measured:
        block["reopen_rate"] = None
    return block
