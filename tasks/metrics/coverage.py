"""Which months the exports cover (kpis.md section 7, ``coverage``).

An export taken on the 28th does not cover its month yet, and a month before
the exports begin is not covered at all: computed anyway, both give zeros that
read like facts ("本月共受理报事工单 0 件"). So a month is checked before it is
computed, and a comparison with a month the exports do not cover is ``null``.

Tickets and payments cover a month when they begin before its end and reach
its last day; bills cover a month when some bill is due in it. The span is the
whole run's used rows, local dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from yuebao.months import Month
from yuebao.schema import TABLES, TICKET_TIMES


@dataclass(frozen=True)
class Span:
    """The local dates of a table's earliest and latest event."""

    first: date
    last: date


@dataclass(frozen=True)
class Coverage:
    """The configured tables' spans, and the months some bill is due in."""

    spans: dict[str, Span | None]  # a configured table with no used row has None
    bill_months: frozenset[Month] = frozenset()

    def covers(self, month: Month, table: str) -> bool:
        if table not in self.spans:
            return True  # not exported: nothing to cover
        span = self.spans[table]
        if span is None:
            return False
        if table == "bills":
            return month in self.bill_months
        last_day = month.shift(1).first_day - timedelta(days=1)
        return span.first <= last_day and span.last >= last_day

    def covers_all(self, month: Month, tables: tuple[str, ...] = TABLES) -> bool:
        return all(self.covers(month, table) for table in tables)

    def covers_kpi(self, month: Month, key: str) -> bool:
        """Whether ``month`` is covered by the tables the KPI ``key`` reads."""
        return self.covers_all(month, kpi_tables(key))

    def gap(self, month: Month) -> tuple[str, dict] | None:
        """Why ``month`` is not covered, as a message code and its fields; None if it is."""
        for table, span in self.spans.items():
            if self.covers(month, table):
                continue
            if span is None:
                return "empty", {"table": table}
            if span.first >= month.shift(1).first_day:
                return "before", {"table": table, "first": str(span.first)}
            if table == "bills":
                return "no_bills", {"table": table}
            return "after", {"table": table, "last": str(span.last)}
        return None

    def as_json(self) -> dict[str, dict[str, str] | None]:
        return {table: ({"first": str(span.first), "last": str(span.last)} if span else None)
                for table, span in self.spans.items()}


def kpi_tables(key: str) -> tuple[str, ...]:
    """The tables a KPI is computed from: ticket KPIs from tickets, cash from payments,
    every other fee KPI from bills and their payments."""
    if key.startswith("tickets."):
        return ("tickets",)
    if key in ("fees.cash_collected",):
        return ("payments",)
    return ("bills", "payments")


def _span(times: list[pd.Series]) -> Span | None:
    firsts = [t.min() for t in times if t.notna().any()]
    lasts = [t.max() for t in times if t.notna().any()]
    if not firsts:
        return None
    return Span(min(firsts).date(), max(lasts).date())


def coverage(tickets: pd.DataFrame, bills: pd.DataFrame, payments: pd.DataFrame,
             tables: frozenset[str]) -> Coverage:
    """The coverage of the exported ``tables`` (timestamps are already local)."""
    spans: dict[str, Span | None] = {}
    if "tickets" in tables:
        latest = _span([tickets[name] for name in TICKET_TIMES])
        created = _span([tickets["created_at"]])
        spans["tickets"] = Span(created.first, latest.last) if created and latest else None
    months: frozenset[Month] = frozenset()
    if "bills" in tables:
        spans["bills"] = _span([bills["due_date"]])
        due = bills["due_date"].dropna()
        months = frozenset(Month(int(y), int(m)) for y, m in
                           pd.DataFrame({"y": due.dt.year, "m": due.dt.month})
                           .drop_duplicates().itertuples(index=False))
    if "payments" in tables:
        spans["payments"] = _span([payments["paid_at"]])
    return Coverage(spans, months)
