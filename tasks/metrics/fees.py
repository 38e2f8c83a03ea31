"""Fee metrics of a month (kpis.md section 4), from ``outstanding_b(t)``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from yuebao.schema import PORTFOLIO
from yuebao.tasks.ingest.parse import positions
from yuebao.tasks.metrics.numbers import (
    _added,
    _codes,
    _factorized,
    _group_sum,
    _instant,
    _joined,
    _same_codes,
    _utc,
    money,
    rate,
)
from yuebao.tasks.metrics.scope import AGING_BUCKETS, Scope

# --- fees -------------------------------------------------------------------------------

# A month reads outstanding_b at its start, its end and January 1st; the next month's
# start is this one's end, and January 1st is the same all year.
KEPT_INSTANTS = 3


def _prefix(values: np.ndarray) -> np.ndarray:
    """Prefix sums with a leading 0: the sum of values[lo:hi] is prefix[hi] - prefix[lo]."""
    result = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(values, out=result[1:])
    return result


def _ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The indices of the slices [lo, hi), one per community, as one array."""
    return np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True)])


def _stable_order(values: np.ndarray) -> np.ndarray:
    """``np.argsort(values, kind="stable")`` of non-negative integers below 2**32, as two
    radix passes of 16 bits: NumPy's stable sort is a radix sort only for integers of 16
    bits or fewer (timsort otherwise). The 6.7 M payments of a fifth of the operator
    shape sorted by bill: 0.73 s -> 0.29 s; the full shape's 34 M: 4.8 s -> 2.4 s."""
    if not len(values) or values.min() < 0 or values.max() >= 2**32:
        return np.argsort(values, kind="stable")
    low = np.argsort((values & 0xFFFF).astype(np.uint16), kind="stable")
    return low[np.argsort((values[low] >> 16).astype(np.uint16), kind="stable")]


def bill_rows(bills: pd.DataFrame, payments: pd.DataFrame) -> np.ndarray:
    """The row of each payment's bill in ``bills`` (-1 for none).

    Ingest ties every payment to its bill once and keeps the row (``bill_row``);
    tables made another way are tied here by ``bill_id``.
    """
    if "bill_row" in payments:
        return payments["bill_row"].to_numpy(dtype=np.int64)
    found = positions(payments["bill_id"], bills["bill_id"])
    return np.asarray(found.fill_null(-1), dtype=np.int64)


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
    # outstanding_b(t) of the last few instants asked for (read-only arrays): months
    # computed in a row share them, one month's end being the next one's start.
    _outstanding: dict = field(default_factory=dict, compare=False, repr=False)

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
        building = building[order]
        # A household is (community, building, unit); a missing building is one more code.
        unit = _factorized(bills["unit"])[0][order]
        filled = building + 1
        community = community[order]
        has_unit = unit >= 0
        place = (community * (filled.max(initial=0) + 1) + filled) * (unit.max(initial=0) + 1) \
            + unit
        household = np.full(len(order), -1, dtype=np.int64)
        household[has_unit] = pd.factorize(place[has_unit])[0]
        household_community = np.zeros(household.max(initial=-1) + 1, dtype=np.int64)
        household_community[household[has_unit]] = community[has_unit]

        row = bill_rows(bills, payments)
        known = row >= 0
        position = row[known]
        cash_at = _utc(payments["paid_at"])
        cash_amount = payments["amount"].to_numpy(dtype=np.int64)
        paid_at, amount = ((cash_at, cash_amount) if known.all()
                           else (cash_at[known], cash_amount[known]))
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        bill = rank[position]
        by_bill = _stable_order(bill)
        bill = bill[by_bill]
        paid_starts = np.flatnonzero(np.r_[True, bill[1:] != bill[:-1]]) if len(bill) \
            else np.zeros(0, dtype=np.int64)
        cash_due_date = np.full(len(payments), np.datetime64("NaT", "us"))
        cash_due_date[known] = due_date[position]
        due = bills["amount_due"].to_numpy(dtype=np.int64)[order]
        return cls(
            names=names, community=community, key=key[order], stride=stride, day0=day0,
            due=due, due_prefix=_prefix(due), due_date=due_date[order],
            fee_item=fee_item[order], fee_items=fee_items,
            building=building, buildings=buildings,
            household=household, household_community=household_community,
            paid_bill=bill[paid_starts], paid_starts=paid_starts,
            paid_at=paid_at[by_bill], paid_amount=amount[by_bill],
            cash_at=cash_at, cash_amount=cash_amount,
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
            int((np.datetime64(day, "D") - np.datetime64(0, "D")).astype(np.int64)) - self.day0,
            0), self.stride - 1)
        return np.searchsorted(self.key, np.arange(self.size) * self.stride + offset)

    def paid_before(self, moment: pd.Timestamp) -> np.ndarray:
        """paid_b(t) of every bill: the sum of its payments made before ``moment``, in fen."""
        paid = np.zeros(len(self.due), dtype=np.int64)
        if len(self.paid_starts):
            counted = np.where(self.paid_at < _instant(moment), self.paid_amount, 0)
            paid[self.paid_bill] = np.add.reduceat(counted, self.paid_starts)
        return paid

    def outstanding(self, moment: pd.Timestamp) -> np.ndarray:
        """outstanding_b(t) = min(max(due - paid, 0), due): overpayment never counts twice.

        The array is read-only: the last ``KEPT_INSTANTS`` are kept for the next months.
        """
        instant = _instant(moment)
        kept = self._outstanding.pop(instant, None)
        if kept is None:
            kept = self.paid_before(moment)
            np.subtract(self.due, kept, out=kept)
            np.maximum(kept, 0, out=kept)
            np.minimum(kept, self.due, out=kept)
            kept.flags.writeable = False
        self._outstanding[instant] = kept  # the most recent last
        while len(self._outstanding) > KEPT_INSTANTS:
            del self._outstanding[next(iter(self._outstanding))]
        return kept


@dataclass
class _Month:
    """A month's fee figures: sums per community code, and the bills the groups need."""

    sums: dict[str, np.ndarray]
    due_in: np.ndarray  # indices of the bills due in M
    owing: np.ndarray  # indices of the bills due before the end with outstanding_b(end) > 0
    out_end: np.ndarray  # outstanding_b(end) of every bill
    owing_start: np.ndarray  # indices of the bills due before the start, owing at the start
    out_start: np.ndarray  # outstanding_b(start) of every bill
    before_start: np.ndarray  # per bill of ``owing``: due before the start


def _fee_month(rows: FeeRows, scope: Scope) -> _Month:
    """The month's sums per community: slices of bills by due date, prefix sums of amounts."""
    month, tz = scope.month, scope.timezone
    begin = rows.due_before(None)
    first = rows.due_before(month.first_day)
    after = rows.due_before(month.shift(1).first_day)
    jan1 = rows.due_before(month.jan1)
    # The start first: for months computed in a row it is the end kept from the last one.
    out_start = rows.outstanding(month.start(tz))
    out_end = rows.outstanding(month.end(tz))
    end_prefix = _prefix(out_end)
    start_prefix = _prefix(out_start)
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
    # outstanding_b(end) over the bills due in M: with arrears at the start less those
    # collected, it makes up arrears at the end exactly (the slices [begin, first) and
    # [first, after) are the bills due before the end).
    sums["new_arrears"] = total(end_prefix, first, after)
    sums["collected_in"] = sums["due_in"] - sums["new_arrears"]
    sums["collected_ytd"] = sums["due_ytd"] - total(end_prefix, jan1, after)
    sums["arrears_collected"] = sums["arrears_at_start"] - total(end_prefix, begin, first)
    sums["arrears_collected_ytd"] = sums["arrears_jan1"] - total(end_prefix, begin, jan1)
    owing = np.flatnonzero(out_end > 0)
    owing = owing[owing < after[rows.community[owing]]]
    owing_start = np.flatnonzero(out_start > 0)
    owing_start = owing_start[owing_start < first[rows.community[owing_start]]]
    return _Month(sums, _ranges(first, after), owing, out_end, owing_start, out_start,
                  owing < first[rows.community[owing]])


_GROUP_MONEY = ("due_in_month", "collected_for_month", "arrears_at_end", "arrears_at_start",
                "arrears_collected", "new_arrears")


def _group_rows(rows: FeeRows, m: _Month, column: str) -> dict[str, np.ndarray]:
    """``by_fee_item`` / ``by_building`` before they are told per scope: one row per
    (community, group) with a bill due in M or arrears at start or at end.

    A group is shown exactly when one of its bills is due in M, or owing at the
    start or at the end, so only those bills are summed (a bill due before the
    start owing at neither time adds 0 to every figure). ``left`` is
    outstanding_b(end) over its bills due before the start, so that what was
    collected of the start's arrears is the rest. Sums in fen.
    """
    codes, labels = ((rows.fee_item, rows.fee_items) if column == "fee_item"
                     else (rows.building, rows.buildings))
    shape = (rows.size, max(len(labels), 1))
    cells = shape[0] * shape[1]

    def bills(chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        chosen = chosen[codes[chosen] >= 0]
        return chosen, rows.community[chosen] * shape[1] + codes[chosen]

    due_in, g_due = bills(m.due_in)
    owing, g_owing = bills(m.owing)
    owing_start, g_start = bills(m.owing_start)
    earlier = m.before_start[codes[m.owing] >= 0]
    count = (np.bincount(g_due, minlength=cells) + np.bincount(g_owing, minlength=cells)
             + np.bincount(g_start, minlength=cells))
    cell = np.flatnonzero(count)
    due = _group_sum(g_due, rows.due[due_in], cells)
    figures = {
        "due": due, "collected": due - _group_sum(g_due, m.out_end[due_in], cells),
        "arrears": _group_sum(g_owing, m.out_end[owing], cells),
        "at_start": _group_sum(g_start, m.out_start[owing_start], cells),
        "left": _group_sum(g_owing[earlier], m.out_end[owing[earlier]], cells),
    }
    community, label = np.divmod(cell, shape[1])
    return {"community": community, "label": np.array(labels, dtype=object)[label],
            **{name: values[cell] for name, values in figures.items()}}


def _fee_groups(names: list[str], due: np.ndarray, collected: np.ndarray, arrears: np.ndarray,
                at_start: np.ndarray, left_of_start: np.ndarray) -> dict[str, dict]:
    """Groups' figures from their sums in fen, one array per figure, a group a position.

    Yuan are the fen divided by 100 as :func:`money` divides them (float64 holds
    every int64 fen below 2**53 exactly, and one correctly rounded division gives
    the same float). Sorted by name.
    """
    money_of = {"due_in_month": due, "collected_for_month": collected,
                "arrears_at_end": arrears, "arrears_at_start": at_start,
                "arrears_collected": at_start - left_of_start, "new_arrears": due - collected}
    yuan = [(money_of[key] / 100).tolist() for key in _GROUP_MONEY]
    rates = [rate(c, d) for c, d in zip(collected.tolist(), due.tolist(), strict=True)]
    items = {name: {"due_in_month": d, "collected_for_month": c, "collection_rate_month": r,
                    "arrears_at_end": e, "arrears_at_start": a, "arrears_collected": g,
                    "new_arrears": n}
             for name, d, c, r, e, a, g, n in zip(names, yuan[0], yuan[1], rates, *yuan[2:],
                                                  strict=True)}
    return dict(sorted(items.items()))


_FIGURES = ("due", "collected", "arrears", "at_start", "left")


def _group_fees(groups: dict[str, np.ndarray], names: list[str], column: str,
                scopes: list[str]) -> dict[str, dict]:
    """``by_fee_item`` / ``by_building`` per scope. At the portfolio fee items are
    summed over communities, and buildings are keyed ``"<community>/<building>"``."""
    community, label = groups["community"], groups["label"]
    result: dict[str, dict] = {}
    for s in scopes:
        if s != PORTFOLIO:
            mine = community == names.index(s)
            result[s] = _fee_groups(label[mine].tolist(),
                                    *(groups[f][mine] for f in _FIGURES))
        elif column == "fee_item":
            kinds, of = (np.unique(label, return_inverse=True) if len(label)
                         else (label, np.zeros(0, dtype=np.int64)))
            result[s] = _fee_groups(kinds.tolist(), *(
                _group_sum(of.reshape(-1), groups[f], len(kinds)) for f in _FIGURES))
        else:
            known = community < len(names)
            keys = [f"{names[a]}/{b}" for a, b in zip(community[known].tolist(),
                                                      label[known].tolist(), strict=True)]
            result[s] = _fee_groups(keys, *(groups[f][known] for f in _FIGURES))
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


# What payments alone give: money received in the month, by community. Everything else
# (due, collected for the month, rates, arrears, ageing, prepaid, households, groups)
# is about bills, and is null when the company exports no bills.
CASH_KPIS = ("cash_collected",)


@dataclass(frozen=True)
class FeePartial:
    """A month's fee figures of some communities, before they are told per scope.

    As :class:`~yuebao.tasks.metrics.tickets.TicketPartial`: keyed by the run's
    community codes, so the partials of disjoint sets of communities combine
    exactly (:func:`combine_fees`); every figure is an int64 sum in fen or a count.
    A community's bills must all be in one part, each payment with its bill.
    """

    names: list[str]
    sums: dict[str, np.ndarray]  # per community code (+1: no community)
    aging: np.ndarray  # (community code, bucket of AGING_BUCKETS)
    groups: dict[str, dict[str, np.ndarray]]  # fee_item / building rows, "community" among them


def combine_fees(parts: list[FeePartial]) -> FeePartial:
    """The partial of the union of the parts' communities (see :class:`FeePartial`)."""
    return FeePartial(names=_same_codes(parts), sums=_added([p.sums for p in parts]),
                      aging=np.sum([p.aging for p in parts], axis=0),
                      groups=_joined([p.groups for p in parts]))


def _no_groups() -> dict[str, np.ndarray]:
    """The group rows of a month not shown in full: none."""
    none = np.zeros(0, dtype=np.int64)
    return {"community": none, "label": np.zeros(0, dtype=object),
            **{name: none for name in _FIGURES}}


def fee_partial(rows: FeeRows, scope: Scope, detailed: bool = True) -> FeePartial:
    """The month's fee figures of the communities in ``rows`` (see :class:`FeePartial`);
    without ``detailed``, its scalar KPIs only (no group rows, no ageing)."""
    month, tz = scope.month, scope.timezone
    start, end = _instant(month.start(tz)), _instant(month.end(tz))
    next_first = np.datetime64(month.shift(1).first_day, "us")
    m = _fee_month(rows, scope)
    in_month = (rows.cash_at >= start) & (rows.cash_at < end)
    prepaid = in_month & (rows.cash_due_date >= next_first)
    sums = {
        **m.sums,
        "cash": _group_sum(rows.cash_community[in_month], rows.cash_amount[in_month], rows.size),
        "prepaid": _group_sum(rows.cash_community[prepaid], rows.cash_amount[prepaid],
                              rows.size),
        **{f"households_{name}": values for name, values in _households(rows, m).items()},
    }
    if not detailed:
        return FeePartial(rows.names, sums, np.zeros((rows.size, len(AGING_BUCKETS)), np.int64),
                          {column: _no_groups() for column in ("fee_item", "building")})
    return FeePartial(rows.names, sums, _aging(rows, m, next_first),
                      {column: _group_rows(rows, m, column) for column in ("fee_item", "building")})


def fee_blocks(part: FeePartial, scope: Scope, *, cash_only: bool = False) -> dict[str, dict]:
    """The ``fees`` block of metrics.json for every scope, from the month's partial.

    ``cash_only``: there is no bills export, so every figure but CASH_KPIS is null
    (not 0, which would read as "nothing owed"), and the groups are empty.
    """
    names = part.names
    by_fee_item = _group_fees(part.groups["fee_item"], names, "fee_item", scope.scopes)
    by_building = _group_fees(part.groups["building"], names, "building", scope.scopes)

    def at(values: np.ndarray, s: str) -> int:
        return int(values.sum(axis=0) if s == PORTFOLIO else values[names.index(s)])

    result = {}
    for s in scope.scopes:
        c = {name: at(values, s) for name, values in part.sums.items()}
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
            "cash_collected": money(c["cash"]),
            "prepaid": money(c["prepaid"]),
            "arrears_at_end": money(c["arrears_at_end"]),
            "new_arrears": money(c["new_arrears"]),
            "aging": {k: money(at(part.aging[:, i], s)) for i, k in enumerate(AGING_BUCKETS)},
            "households_billed": c["households_billed"],
            "household_payment_rate": rate(c["households_fully_paid"], c["households_billed"]),
            "households_in_arrears": c["households_in_arrears"],
            "by_fee_item": by_fee_item[s],
            "by_building": by_building[s],
        }
        if cash_only:
            result[s] = {key: (value if key in CASH_KPIS else
                               {} if key in ("by_fee_item", "by_building") else None)
                         for key, value in result[s].items()}
    return result
