"""The bills of one community and the payments made on them.

Bills follow each community's billing (monthly, quarterly or annual property
fees, parking, water, the heating season); payments follow its payers (prompt,
ordinary, late, chronic arrears) with partial, excess and doubled payments and
refunds. Both are canonical tables here; the zh-generic columns are built from
the same ``_Bills`` and ``_Payments`` in ``systems``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from yuebao.tasks.sample_data.common import _DAY, _cum
from yuebao.tasks.sample_data.communities import _Community, _Context
from yuebao.tasks.sample_data.formatting import _const, _dates, _ids, _money, _take, _timestamps
from yuebao.tasks.sample_data.public import FEE_ITEMS

_PROPERTY, _PARKING, _HEATING, _WATER = range(4)


# --------------------------------------------------------------------------- bills


@dataclass
class _Bills:
    household: np.ndarray
    item: np.ndarray
    period: np.ndarray  # index into periods
    due: np.ndarray  # day number
    amount: np.ndarray  # fen
    periods: list[str]

    def take(self, order: np.ndarray) -> _Bills:
        return _Bills(self.household[order], self.item[order], self.period[order],
                      self.due[order], self.amount[order], self.periods)


def _day_number(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def _bills(cx: _Context, rng: np.random.Generator) -> _Bills:
    """Every bill whose period touches the range: monthly ones for each month, quarterly
    and annual ones for each quarter and year touched, heating for each season touched."""
    cal, comm, city = cx.cal, cx.community, cx.city
    everyone = np.arange(comm.households)
    periods: list[str] = []
    parts: list[tuple[np.ndarray, int, int, int, np.ndarray]] = []

    def add(households: np.ndarray, item: int, period: str, due: date, amount) -> None:
        periods.append(period)
        amount = np.broadcast_to(np.asarray(amount, dtype=np.int64), households.shape)
        parts.append((households, item, len(periods) - 1, _day_number(due), amount))

    billing = comm.public.property_fee_billing
    for month in cal.months:
        last = month.shift(1).first_day.toordinal() - 1
        due = date(month.year, month.month, comm.due_day) if comm.due_day else \
            date.fromordinal(last)
        if billing == "monthly":
            add(everyone, _PROPERTY, str(month), due, comm.property_monthly)
        add(comm.parking_households, _PARKING, str(month), due, comm.parking_fee)
        if comm.water:
            season = 1.0 + 0.25 * np.cos((month.month - 7.5) / 12 * 2 * np.pi)
            usage = np.maximum(1, np.round(comm.water_median * season * np.exp(
                0.45 * rng.standard_normal(comm.households)))).astype(np.int64)
            add(everyone, _WATER, str(month), date.fromordinal(last), usage * city.water_price)
    first, last = cal.first_month, cal.last_month
    if billing == "quarterly":
        q = first.shift(-((first.month - 1) % 3))
        while q <= last:
            add(everyone, _PROPERTY, f"{q.year}Q{(q.month - 1) // 3 + 1}",
                date(q.year, q.month, 15), 3 * comm.property_monthly)
            q = q.shift(3)
    if billing == "annual":
        for year in range(first.year, last.year + 1):
            add(everyone, _PROPERTY, str(year), date(year, 1, 31),
                (12 * comm.property_monthly * 95 + 50) // 100)  # 5% off for paying a year
    if city.heating is not None and city.heating_due is not None:
        (sm, sd), (em, ed) = city.heating
        begin, end = first.first_day, last.shift(1).first_day
        for year in range(first.year - 1, last.year + 1):
            due = date(year, *city.heating_due)
            touched = date(year, sm, sd) < end and date(year + 1, em, ed) >= begin
            if touched or begin <= due < end:
                add(everyone, _HEATING, str(year), due,
                    (comm.area * city.heating_price + 50) // 100)
    bills = _Bills(
        household=np.concatenate([p[0] for p in parts]),
        item=np.concatenate([np.full(len(p[0]), p[1]) for p in parts]),
        period=np.concatenate([np.full(len(p[0]), p[2]) for p in parts]),
        due=np.concatenate([np.full(len(p[0]), p[3]) for p in parts]),
        amount=np.concatenate([p[4] for p in parts]), periods=periods)
    return bills.take(np.lexsort((bills.household, bills.item, bills.due)))


def _bill_table(b: _Bills, comm: _Community, first_id: int) -> pa.Table:
    n = len(b.due)
    return pa.table({
        "bill_id": _ids("ZD", first_id + np.arange(n)),
        "community": _const(comm.public.id, n),
        "building": _take(comm.building_names, comm.building_of[b.household]),
        "unit": _take(comm.units, b.household),
        "fee_item": _take(pa.array(FEE_ITEMS), b.item),
        "period": _take(pa.array(b.periods), b.period),
        "due_date": _dates(b.due),
        "amount_due": _money(b.amount),
    })


# --------------------------------------------------------------------------- payments

_PAY_HOURS = _cum([[.2, .1, .05, .05, .05, .1, .3, .8, 1.5, 2.2, 2.4, 2.2, 1.8, 1.6, 1.8, 2.0,
                    2.0, 1.9, 1.8, 2.0, 2.2, 2.0, 1.4, .7]])[0]


@dataclass
class _Payments:
    bill: np.ndarray  # bill index within the community
    paid: np.ndarray  # seconds
    amount: np.ndarray  # fen


def _payments(cx: _Context, b: _Bills, rng: np.random.Generator) -> _Payments:
    """Prompt, ordinary and late payers; partial, excess and doubled payments; refunds.

    A household pays the bills of one month together (property, parking and water in
    one visit or one app payment), so lateness is drawn per household and month, not
    per bill; a large bill (a quarter, a year, a heating season) is its own decision.
    """
    comm, cal = cx.community, cx.cal
    n = len(b.due)
    large = (b.item == _HEATING) | ((b.item == _PROPERTY)
                                    & (comm.public.property_fee_billing != "monthly"))
    month = b.due.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    month = month - month.min()
    key = (b.household * 2 + large) * (month.max() + 1) + month
    _, group = np.unique(key, return_inverse=True)
    groups = int(group.max()) + 1
    due = np.full(groups, np.iinfo(np.int64).max)
    np.minimum.at(due, group, b.due)
    household = np.zeros(groups, dtype=np.int64)
    household[group] = b.household
    big = np.zeros(groups, dtype=bool)
    big[group] = large

    payer = comm.payer[household]
    due_on_last_day = (due + 1).astype("datetime64[D]").astype("datetime64[M]") \
        .astype("datetime64[D]").astype(np.int64) == due + 1
    lead = np.where(due_on_last_day, 9.0, 3.0)  # bills due on the last day get paid earlier
    z = rng.standard_normal(groups)
    on_time = np.where(big, -14 + 12 * z,
                       np.where(payer == 0, -lead + 5 * z, -lead + 5 + 7 * z))
    late = rng.random(groups) < np.array([0.02, 0.12, 0.5])[payer]
    offset = np.where(late, 25 + np.minimum(rng.exponential(45, groups), 175),
                      np.maximum(on_time, -45))
    day = due + np.round(offset).astype(np.int64)

    # 年底清欠: part of what late payers would pay in Jan-Mar is collected in December.
    paid_month = day.astype("datetime64[D]").astype("datetime64[M]")
    dec1 = (paid_month.astype("datetime64[Y]") - 1).astype("datetime64[M]") + 11
    dec1_day = dec1.astype("datetime64[D]").astype(np.int64)
    push = (late & (paid_month.astype(np.int64) % 12 < 3) & (due < dec1_day)
            & (rng.random(groups) < 0.4))
    day = np.where(push, dec1_day + rng.integers(4, 31, groups), day)
    at = day * _DAY + np.searchsorted(_PAY_HOURS, rng.random(groups)) * 3600 \
        + rng.integers(0, 3600, groups)

    paid = at[group] + rng.integers(0, 90, n)
    pays = ~(comm.chronic_from[b.household] <= b.due - cal.day0)
    idx = np.arange(n)
    u = rng.random(n)
    partial = pays & (u < 0.015)
    excess = pays & (u >= 0.015) & (u < 0.0165)
    doubled = pays & (u >= 0.0165) & (u < 0.017)

    first_part = np.clip((b.amount * rng.uniform(0.3, 0.7, n)).astype(np.int64), 1,
                         b.amount - 1)
    extra = 10_000 - b.amount % 10_000  # rounded up to the next hundred yuan
    main_amount = np.where(partial, first_part, np.where(excess, b.amount + extra, b.amount))
    rest_at = paid + rng.integers(15, 121, n) * _DAY + rng.integers(-3600, 3600, n)
    refund_at = paid + rng.integers(3, 46, n) * _DAY + rng.integers(0, 8 * 3600, n)
    again_at = paid + rng.integers(60, 2 * _DAY, n)
    back_at = again_at + rng.integers(1, 16, n) * _DAY
    refunded = excess & (rng.random(n) < 0.6)

    pieces = [
        (idx[pays], paid[pays], main_amount[pays]),
        (idx[partial], rest_at[partial], (b.amount - first_part)[partial]),
        (idx[refunded], refund_at[refunded], -extra[refunded]),
        (idx[doubled], again_at[doubled], b.amount[doubled]),
        (idx[doubled], back_at[doubled], -b.amount[doubled]),
    ]
    bill = np.concatenate([p[0] for p in pieces])
    at = np.concatenate([p[1] for p in pieces])
    amount = np.concatenate([p[2] for p in pieces])
    kept = at < cal.as_of
    bill, at, amount = bill[kept], at[kept], amount[kept]
    order = np.lexsort((bill, at))
    return _Payments(bill[order], at[order], amount[order])


def _payment_bill_ids(p: _Payments, first_bill_id: int, unknown: int | None) -> pa.Array:
    bill_id = _ids("ZD", first_bill_id + p.bill)
    if unknown is not None:
        # A bill number typed one digit short: it names no bill.
        row = np.zeros(len(p.paid), dtype=bool)
        row[unknown] = True
        short = pc.utf8_slice_codeunits(bill_id, 0, -1)
        bill_id = pc.if_else(pa.array(row), short, bill_id)
    return bill_id


def _payment_table(p: _Payments, first_bill_id: int, first_id: int,
                   unknown: int | None) -> pa.Table:
    n = len(p.paid)
    return pa.table({
        "payment_id": _ids("SK", first_id + np.arange(n)),
        "bill_id": _payment_bill_ids(p, first_bill_id, unknown),
        "paid_at": _timestamps(p.paid),
        "amount": _money(p.amount),
    })
