"""Calendar months as half-open local-time intervals (kpis.md section 1)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pandas as pd

from yuebao.errors import UsageError

_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, order=True)
class Month:
    """One calendar month, e.g. ``Month(2025, 9)`` printed as ``2025-09``."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        match = _MONTH_RE.match(text.strip())
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise UsageError(f"month {text!r} is not of the form YYYY-MM (for example 2025-09)")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def containing(cls, moment: datetime, timezone: str) -> Month:
        local = moment.astimezone(ZoneInfo(timezone))
        return cls(local.year, local.month)

    @classmethod
    def last_complete(cls, moment: datetime, timezone: str) -> Month:
        """The month before the one that contains ``moment`` in ``timezone``."""
        return cls.containing(moment, timezone).shift(-1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def shift(self, months: int) -> Month:
        index = self.year * 12 + (self.month - 1) + months
        return Month(index // 12, index % 12 + 1)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def jan1(self) -> date:
        return date(self.year, 1, 1)

    def start(self, timezone: str) -> pd.Timestamp:
        """First instant of the month, local midnight, as an aware timestamp."""
        return pd.Timestamp(self.first_day).tz_localize(timezone)

    def end(self, timezone: str) -> pd.Timestamp:
        """First instant of the next month: the month is ``[start, end)``."""
        return self.shift(1).start(timezone)

    def range_to(self, last: Month) -> list[Month]:
        """This month through ``last``, inclusive."""
        count = (last.year * 12 + last.month) - (self.year * 12 + self.month)
        return [self.shift(i) for i in range(count + 1)]
