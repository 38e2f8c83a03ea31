"""The scope of a month's metrics: month, time zone, communities, SLAs, and the
constants every part shares."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from yuebao.months import Month
from yuebao.schema import PORTFOLIO

US_PER_MINUTE = 60_000_000
US_PER_HOUR = 3_600_000_000
AGING_BUCKETS = ("1-30", "31-90", "91-180", "181-365", "366+")
SCHEMA = "yuebao.metrics/2"


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
        known = [v for v in values if v is not None]
        return None if len(known) < len(values) else sum(known)
