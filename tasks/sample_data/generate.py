"""``generate_sample``: the generator's one entry point, and its plan of defects.

It walks the communities in order, drawing each table from its own seed stream
and handing the rows to the style's sink, so memory stays bounded by one
community. The few deliberate defects are planned up front from their own
stream and spread over the communities.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from yuebao.months import Month
from yuebao.tasks.sample_data.calendar import _Calendar, _Weather, _weather
from yuebao.tasks.sample_data.cities import _CITIES
from yuebao.tasks.sample_data.common import _BILLS, _DEFECTS_KEY, _PAYMENTS, _TICKETS, _rng
from yuebao.tasks.sample_data.communities import _community, _Context
from yuebao.tasks.sample_data.exports import STYLES, _CanonicalSink, _ZhSink
from yuebao.tasks.sample_data.fees import _bills, _payments
from yuebao.tasks.sample_data.public import SampleCommunity, SampleSet
from yuebao.tasks.sample_data.tickets import _ticket_defects, _tickets

# Deliberate defects, so the data-quality report has something to say: rows written
# twice, rows the validation must quarantine, and a payment for a bill that is not there.
_DEFECTS = {
    "duplicate_ticket_rows": 5,
    "ticket_missing_created_at": 2,
    "ticket_resolved_before_created": 1,
    "payment_unknown_bill": 1,
}
_TICKET_DEFECTS = ("duplicate_ticket_rows", "ticket_missing_created_at",
                   "ticket_resolved_before_created")


def generate_sample(out_dir: Path, *, seed: int = 7, communities: int = 4, months: int = 24,
                    scale: float = 1.0, last_month: Month | None = None,
                    timezone: str = "Asia/Shanghai", style: str = "zh-generic") -> SampleSet:
    """Write the exports of ``communities`` communities under ``out_dir/exports``.

    ``style="canonical"`` writes ``tickets.csv``, ``bills.csv`` and ``payments.csv``
    in the built-in canonical profile (what tests of the metrics and the benchmarks
    read). ``style="zh-generic"`` (the demo's) writes each community's exports as its
    company system would, to ``exports/<community name>/工单|账单|收款.csv|xlsx``, for
    the built-in ``zh-generic`` profile: Chinese headers and labels, a different date
    and money shape per system, one system in GBK, one in Excel workbooks, one with
    no category column. Both styles hold the same events for the same arguments:
    read through their profiles they give the same canonical rows, except the
    descriptions (see ``phrases._FREE_TEXT``).

    The data covers ``months`` months ending with ``last_month`` (default: the last
    complete month in ``timezone``) and looks like an export taken at 08:00 on the
    day after: nothing at or after that moment is in it. Times are naive local
    times of ``timezone``; ``scale`` multiplies households, and so tickets and bills.
    Raises ``ValueError`` for a negative seed, no communities, no months, scale <= 0
    or an unknown style.
    """
    if seed < 0 or communities < 1 or months < 1 or not scale > 0:
        raise ValueError("generate_sample needs seed >= 0, communities >= 1, months >= 1 "
                         "and scale > 0")
    if style not in STYLES:
        raise ValueError(f"generate_sample: style must be one of {', '.join(STYLES)}, "
                         f"not {style!r}")
    if last_month is None:
        last_month = Month.last_complete(datetime.now(ZoneInfo(timezone)), timezone)
    first_month = last_month.shift(-(months - 1))
    cal = _Calendar.build(first_month, last_month)
    after = last_month.shift(1).first_day
    as_of = datetime(after.year, after.month, after.day, 8)

    plan_rng = _rng(seed, _DEFECTS_KEY)
    plan = {kind: np.bincount(plan_rng.integers(0, communities, count), minlength=communities)
            for kind, count in _DEFECTS.items()}
    defects = dict.fromkeys(_DEFECTS, 0)

    exports = Path(out_dir) / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    saved = as_of.replace(tzinfo=ZoneInfo(timezone)).astimezone(UTC).replace(tzinfo=None)
    sink = _CanonicalSink(exports) if style == "canonical" else _ZhSink(exports, seed, saved)
    weather: dict[int, _Weather] = {}
    made: list[SampleCommunity] = []
    code_width = max(3, len(str(communities)))
    try:
        for index in range(communities):
            comm = _community(seed, index, scale)
            city_index = index % len(_CITIES)
            if city_index not in weather:
                weather[city_index] = _weather(seed, city_index, cal)
            cx = _Context(cal, comm.city, weather[city_index], comm)
            made.append(comm.public)

            rng = _rng(seed, index, _TICKETS)
            tickets = _tickets(cx, rng)
            wanted = {kind: int(plan[kind][index]) for kind in _TICKET_DEFECTS}
            tickets, done = _ticket_defects(tickets, wanted, rng)
            for kind, count in done.items():
                defects[kind] += count

            bills = _bills(cx, _rng(seed, index, _BILLS))
            pay_rng = _rng(seed, index, _PAYMENTS)
            payments = _payments(cx, bills, pay_rng)
            unknown = None
            if plan["payment_unknown_bill"][index] and len(payments.paid):
                unknown = int(pay_rng.integers(0, len(payments.paid)))
                defects["payment_unknown_bill"] += 1
            sink.write(comm, f"{index + 1:0{code_width}d}", tickets, bills, payments, unknown)
    finally:
        sink.close()
    if isinstance(sink, _ZhSink):
        sink.prune()

    paths, patterns = sink.result()
    return SampleSet(
        exports_dir=exports, tickets=paths["tickets"], bills=paths["bills"],
        payments=paths["payments"], communities=made, first_month=first_month,
        last_month=last_month, as_of=as_of, rows=sink.rows, defects=defects,
        profile=sink.profile, patterns=patterns,
    )
