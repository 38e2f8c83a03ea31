"""Metrics in parts: the communities split into groups, each group's figures computed on
its own (a process or a Dask worker), and the portfolio combined exactly from them.

A part's figures are partial results keyed by the run's community codes (integer
sums, counts, the durations that medians and percentiles need, the rows of the
listings), so combining them (:func:`combine`) gives exactly what one pass over
every row gives, and the metrics are byte-identical whatever the number of parts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from yuebao.months import Month
from yuebao.tasks.metrics.fees import FeePartial, bill_rows, combine_fees
from yuebao.tasks.metrics.numbers import _codes
from yuebao.tasks.metrics.tickets import TicketPartial, combine_tickets


@dataclass(frozen=True)
class MonthPartial:
    """One month's partial figures of one part; None where the table is not exported."""

    tickets: TicketPartial | None
    fees: FeePartial | None


def combine(parts: list[dict[Month, MonthPartial]]) -> dict[Month, MonthPartial]:
    """The months' partials of every part as one: the figures of all their communities."""
    first = parts[0]
    if len(parts) == 1:
        return first
    return {month: MonthPartial(
        tickets=(combine_tickets([p[month].tickets for p in parts])  # type: ignore[misc]
                 if first[month].tickets is not None else None),
        fees=(combine_fees([p[month].fees for p in parts])  # type: ignore[misc]
              if first[month].fees is not None else None))
        for month in first}


@dataclass(frozen=True)
class Rows:
    """The canonical rows of one part: its communities' tickets, bills and payments."""

    tickets: pd.DataFrame
    bills: pd.DataFrame
    payments: pd.DataFrame


def _groups(weights: np.ndarray, count: int) -> np.ndarray:
    """A part for each community code, the heaviest first to the lightest part so far.

    The last code (rows naming no community) goes with the first part.
    """
    part = np.zeros(len(weights), dtype=np.int64)
    load = np.zeros(count, dtype=np.int64)
    for code in np.argsort(-weights[:-1], kind="stable").tolist():
        part[code] = int(np.argmin(load))
        load[part[code]] += weights[code]
    return part


def split(tickets: pd.DataFrame, bills: pd.DataFrame, payments: pd.DataFrame,
          names: list[str], count: int) -> list[Rows]:
    """The rows in at most ``count`` parts of whole communities, of about equal size.

    A community's tickets and bills are all in one part, and each payment goes with
    its bill (a payment of no known bill with its own community), since a bill's
    outstanding amount needs every payment of it. Payments keep their link to their
    bill as ``bill_row``, the bill's position in the part.
    """
    ticket_code = _codes(tickets["community"], names)
    bill_code = _codes(bills["community"], names)
    of_bill = bill_rows(bills, payments)
    payment_code = np.where(of_bill >= 0, bill_code[np.maximum(of_bill, 0)] if len(bills)
                            else 0, _codes(payments["community"], names))
    size = len(names) + 1
    weights = (np.bincount(ticket_code, minlength=size) + np.bincount(bill_code, minlength=size)
               + np.bincount(payment_code, minlength=size))
    count = max(1, min(count, len(names)))
    part = _groups(weights, count)
    ticket_part, bill_part, payment_part = part[ticket_code], part[bill_code], part[payment_code]
    result = []
    for p in range(count):
        chosen_bills = np.flatnonzero(bill_part == p)
        position = np.full(len(bills), -1, dtype=np.int64)
        position[chosen_bills] = np.arange(len(chosen_bills))
        chosen_payments = np.flatnonzero(payment_part == p)
        linked = of_bill[chosen_payments]
        result.append(Rows(
            tickets=tickets.iloc[np.flatnonzero(ticket_part == p)].reset_index(drop=True),
            bills=bills.iloc[chosen_bills].reset_index(drop=True),
            payments=payments.iloc[chosen_payments].reset_index(drop=True).assign(
                bill_row=np.where(linked >= 0, position[np.maximum(linked, 0)], -1)
                if len(bills) else -1)))
    return result
