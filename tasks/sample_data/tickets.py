"""The tickets of one community: counts, times, types, ratings, defects, the table.

Per-stream lookup arrays (hours of the day, type mix, category, where) turn a
Poisson draw per stream and day into rows in a few vectorised steps; response
and resolution times follow the SLAs of kpis.md with load, night and a
community's own service quality and trend. ``_ticket_table`` is the canonical
CSV table; the zh-generic columns are built from the same ``_Tickets`` in
``systems``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from yuebao.tasks.sample_data.common import _DAY, _cum
from yuebao.tasks.sample_data.communities import _Community, _Context
from yuebao.tasks.sample_data.formatting import _const, _dates, _str, _take, _timestamps
from yuebao.tasks.sample_data.phrases import _PHRASE_COUNT, _PHRASE_START, _PHRASES
from yuebao.tasks.sample_data.public import CATEGORIES, TYPES
from yuebao.tasks.sample_data.rates import _hotspot_counts, _rates
from yuebao.tasks.sample_data.streams import _STREAM_INDEX, _STREAMS


def _pick(rng: np.random.Generator, cum: np.ndarray) -> np.ndarray:
    """One categorical draw per row, each row with its own cumulative probabilities."""
    return (rng.random(len(cum))[:, None] >= cum).sum(axis=1)


_HOURS = {
    "day": [.3, .2, .1, .1, .1, .2, .5, 1.2, 2.5, 3.0, 2.8, 2.2, 1.6, 1.8, 2.4, 2.5, 2.3, 2.0,
            2.0, 2.2, 2.0, 1.5, 1.0, .6],
    "evening": [1.5, 1.0, .5, .2, .1, .1, .3, .6, .8, 1.0, 1.0, 1.0, 1.2, 1.3, 1.0, 1.0, 1.0,
                1.2, 1.6, 2.2, 2.8, 3.2, 3.0, 2.3],
    "flat": [.6, .5, .5, .5, .5, .7, 1.0, 1.3, 1.5, 1.5, 1.5, 1.4, 1.3, 1.3, 1.4, 1.4, 1.4, 1.3,
             1.3, 1.3, 1.2, 1.1, .9, .7],
}
_HOUR_PROFILES = tuple(_HOURS)
_HOUR_CUM = _cum([_HOURS[name] for name in _HOUR_PROFILES])
_STREAM_HOURS = np.array([_HOUR_PROFILES.index(s.hours) for s in _STREAMS])
_TYPE_CUM = _cum([[s.types.get(t, 0.0) for t in TYPES] for s in _STREAMS])
_STREAM_CATEGORY = np.array([CATEGORIES.index(s.category) for s in _STREAMS])
_STREAM_URGENT = np.array([s.urgent for s in _STREAMS])
_STREAM_BUILDING = np.array([s.building for s in _STREAMS])
_STREAM_UNIT = np.array([s.unit for s in _STREAMS])


# By type index * 2 + urgent: response in minutes, resolution in hours (kpis.md section 3).
_INF = np.inf
_SLA_RESPONSE = np.array([30, 15, 240, 240, 240, 240, 240, 240, _INF, _INF, 240, 240]) * 60.0
_SLA_RESOLUTION = np.array([24, 4, 72, 72, 72, 72, 72, 72, _INF, _INF, 72, 72]) * 3600.0
_RESPONSE_MEDIAN = np.array([12, 6, 60, 35, 40, 25, 70, 45, 120, 120, 55, 35]) * 60.0
_RESPONSE_SIGMA = np.array([.62, .58, .95, .9, 1.0, 1.0, .9, .9, 1.0, 1.0, 1.0, 1.0])
_RESOLUTION_MEDIAN = np.array([6.5, 1.4, 28, 12, 1.5, 1, 20, 10, .5, .5, 5, 3]) * 3600.0
_RESOLUTION_SIGMA = np.array([.9, .65, .72, .7, 1.1, 1.1, 1.0, 1.0, 1.0, 1.0, 1.2, 1.2])
# Vendors, parts and weather make some categories slower to fix.
_CATEGORY_RESOLUTION = np.array([1.0, 1.2, 1.3, 1.1, 1.0, 1.0, 1.4, 1.0, 1.0, 1.25, 1.0])
_RATING_CUM = _cum([[.005, .01, .04, .25, .695],  # on time
                    [.05, .09, .20, .33, .33],   # slow
                    [.20, .20, .25, .20, .15]])  # slow complaint, or reopened


@dataclass
class _Tickets:
    """Tickets of one community as arrays; times in naive local seconds, -1 when missing."""

    household: np.ndarray
    show_building: np.ndarray
    show_unit: np.ndarray
    created: np.ndarray
    response: np.ndarray
    resolved: np.ndarray
    closed: np.ndarray
    type: np.ndarray
    category: np.ndarray
    urgent: np.ndarray
    satisfaction: np.ndarray  # 0 when not rated
    reopened: np.ndarray
    cancelled: np.ndarray
    phrase: np.ndarray
    day: np.ndarray  # day number of creation, kept for the id when created_at is blanked
    seq: np.ndarray  # number within the community and day, from 1

    def take(self, order: np.ndarray) -> _Tickets:
        return _Tickets(**{k: v[order] for k, v in vars(self).items()})


def _tickets(cx: _Context, rng: np.random.Generator) -> _Tickets:
    cal, comm = cx.cal, cx.community
    years = np.arange(cal.n_days) / 365.25
    volume = comm.volume * np.exp(comm.volume_trend * years)
    stream_counts = []
    for name, rate in _rates(cx).items():
        stream_counts.append((_STREAM_INDEX[name], rng.poisson(rate * volume * comm.households)))
    stream_counts.append((_STREAM_INDEX[comm.hotspot], _hotspot_counts(cx, rng)))
    day = np.concatenate([np.repeat(np.arange(cal.n_days), c) for _, c in stream_counts])
    stream = np.concatenate([np.full(c.sum(), s) for s, c in stream_counts])
    n = len(day)

    tp = _pick(rng, _TYPE_CUM[stream])
    repair = tp == 0
    urgent = rng.random(n) < _STREAM_URGENT[stream] * np.where(repair, 1.0, 0.1)
    hour = _pick(rng, _HOUR_CUM[_STREAM_HOURS[stream]])
    created = (cal.day0 + day) * _DAY + hour * 3600 + rng.integers(0, 3600, n)
    category = _STREAM_CATEGORY[stream]

    household = rng.integers(0, comm.households, n)
    hot = stream == _STREAM_INDEX[comm.hotspot]
    in_building = np.flatnonzero(comm.building_of == comm.hotspot_building)
    household[hot] = in_building[rng.integers(0, len(in_building), hot.sum())]
    show_building = rng.random(n) < _STREAM_BUILDING[stream]
    show_unit = show_building & (rng.random(n) < _STREAM_UNIT[stream])

    slot = tp * 2 + urgent
    per_day = np.bincount(day, minlength=cal.n_days)
    load = np.clip(per_day[day] / max(per_day.mean(), 1e-9), 0.6, 6.0)
    service = comm.quality * np.exp(comm.quality_trend * years[day])
    night = (hour >= 22) | (hour < 7)
    response = (_RESPONSE_MEDIAN[slot] * service * load**0.55
                * np.where(night & ~urgent, 1.6, 1.0)
                * np.exp(_RESPONSE_SIGMA[slot] * rng.standard_normal(n)))
    response = np.maximum(response, 20.0)
    resolution = (_RESOLUTION_MEDIAN[slot] * _CATEGORY_RESOLUTION[category] * service
                  * load**0.5 * np.exp(_RESOLUTION_SIGMA[slot] * rng.standard_normal(n)))
    stuck = rng.random(n) < 0.004  # waiting for parts, an owner, or a dispute
    resolution = resolution + stuck * rng.uniform(10, 90, n) * _DAY
    resolution = np.maximum(resolution, response + rng.uniform(60, 1800, n))
    visit = np.maximum(np.exp(np.log(18 * 3600) + 0.9 * rng.standard_normal(n)), 600)

    cancelled = (rng.random(n) < 0.02) & (tp != 4)
    no_response = rng.random(n) < 0.01
    no_visit = (rng.random(n) < 0.08) & ~cancelled
    closed_only = (rng.random(n) < 0.015) & ~cancelled & ~no_visit
    response_at = created + response.astype(np.int64)
    resolved_at = created + resolution.astype(np.int64)
    cancel_gap = np.maximum(np.exp(np.log(3600) + rng.standard_normal(n)), 120)
    closed_at = np.where(cancelled, created + cancel_gap.astype(np.int64),
                         resolved_at + visit.astype(np.int64))

    as_of = cal.as_of
    has_response = ~no_response & (response_at < as_of) & (~cancelled | (response_at < closed_at))
    has_resolved = ~cancelled & ~closed_only & (resolved_at < as_of)
    has_closed = ~no_visit & (closed_at < as_of)

    reopen_p = np.where(hot, 0.15, np.where(tp <= 1, 0.04, 0.01))
    u = rng.random(n)
    reopened = np.where((has_resolved | (closed_only & has_closed)) & (u < reopen_p),
                        1 + (u < reopen_p * 0.15) + (u < reopen_p * 0.03), 0)
    slow = (resolution > _SLA_RESOLUTION[slot]) | (response > _SLA_RESPONSE[slot])
    profile = np.where((reopened > 0) | (slow & (tp == 1)), 2, np.where(slow, 1, 0))
    rating = 1 + _pick(rng, _RATING_CUM[profile])
    rated = has_closed & ~cancelled & (rng.random(n) < 0.75)
    satisfaction = np.where(rated, np.where(tp == 4, 5, rating), 0)

    phrase_slot = np.where(urgent & repair, len(TYPES), tp)
    phrase = (_PHRASE_START[stream, phrase_slot]
              + (rng.random(n) * _PHRASE_COUNT[stream, phrase_slot]).astype(np.int64))

    tickets = _Tickets(
        household=household, show_building=show_building, show_unit=show_unit,
        created=created, response=np.where(has_response, response_at, -1),
        resolved=np.where(has_resolved, resolved_at, -1),
        closed=np.where(has_closed, closed_at, -1), type=tp, category=category,
        urgent=urgent, satisfaction=satisfaction, reopened=reopened,
        cancelled=cancelled & has_closed, phrase=phrase, day=created // _DAY,
        seq=np.zeros(n, dtype=np.int64),
    ).take(np.argsort(created, kind="stable"))
    tickets.seq = np.arange(n) - np.searchsorted(tickets.day, tickets.day) + 1
    return tickets


def _ticket_defects(t: _Tickets, wanted: dict[str, int], rng: np.random.Generator,
                    ) -> tuple[_Tickets, dict[str, int]]:
    """Blank created_at, resolved before created, and rows written twice, on distinct rows."""
    n = len(t.created)
    order = rng.permutation(n)
    done = {kind: 0 for kind in wanted}

    def take(count: int, eligible: np.ndarray) -> np.ndarray:
        nonlocal order
        picked = order[eligible[order]][:count]
        order = order[~np.isin(order, picked)]
        return picked

    missing = take(wanted["ticket_missing_created_at"], np.ones(n, dtype=bool))
    t.created[missing] = -1
    done["ticket_missing_created_at"] = len(missing)
    backwards = take(wanted["ticket_resolved_before_created"], t.resolved >= 0)
    t.resolved[backwards] = t.created[backwards] - rng.integers(3600, 3 * _DAY, len(backwards))
    done["ticket_resolved_before_created"] = len(backwards)
    twice = take(wanted["duplicate_ticket_rows"], np.ones(n, dtype=bool))
    done["duplicate_ticket_rows"] = len(twice)
    rows = np.sort(np.concatenate([np.arange(n), twice]), kind="stable")
    return t.take(rows), done


def _ticket_ids(t: _Tickets, code: str) -> pa.Array:
    """GD + day of creation + community code + number within the day."""
    id_day = pc.replace_substring(_dates(t.day), "-", "")
    return pc.binary_join_element_wise("GD", id_day, code, pc.utf8_lpad(_str(t.seq), 4, "0"), "")


def _ticket_table(t: _Tickets, comm: _Community, code: str) -> pa.Table:
    n = len(t.created)
    return pa.table({
        "ticket_id": _ticket_ids(t, code),
        "community": _const(comm.public.id, n),
        "building": _take(comm.building_names, comm.building_of[t.household], t.show_building),
        "unit": _take(comm.units, t.household, t.show_unit),
        "created_at": _timestamps(t.created),
        "first_response_at": _timestamps(t.response),
        "resolved_at": _timestamps(t.resolved),
        "closed_at": _timestamps(t.closed),
        "type": _take(pa.array(TYPES), t.type),
        "category": _take(pa.array(CATEGORIES), t.category),
        "priority": _take(pa.array(["normal", "urgent"]), t.urgent.astype(np.int64)),
        "satisfaction": _take(_str(np.arange(6)), t.satisfaction, t.satisfaction > 0),
        "reopened": _str(t.reopened),
        "cancelled": _take(pa.array(["false", "true"]), t.cancelled.astype(np.int64)),
        "description": _take(_PHRASES, t.phrase),
        "reporter_name": _take(comm.names, t.household),
        "reporter_phone": _take(comm.phones, t.household),
    })
