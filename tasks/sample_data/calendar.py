"""Every day of the covered months, and the weather of each city on them.

The calendar holds the day-level arrays the seasonal rates are computed from
(month, day of year, public holidays, the Spring Festival's fireworks); the
weather adds typhoons, storms, plum rain and snow, drawn per city and year so
that communities in one city share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import holidays
import numpy as np

from yuebao.months import Month
from yuebao.tasks.sample_data.cities import _CITIES, _NORTH
from yuebao.tasks.sample_data.common import _WEATHER_KEY, _rng

# --------------------------------------------------------------------------- calendar


@dataclass(frozen=True)
class _Calendar:
    """Every day of the covered months, with what the seasons are computed from."""

    first_month: Month
    last_month: Month
    as_of: int  # naive local seconds since 1970-01-01
    day0: int  # day number of the first day
    dates: np.ndarray  # datetime64[D]
    year: np.ndarray
    month: np.ndarray
    md: np.ndarray  # month * 100 + day of month, for windows that recur every year
    doy: np.ndarray  # day of year, 0-based
    month_index: np.ndarray  # index of the day's month in the range
    holiday: np.ndarray  # 1 on public holidays and the days either side
    fireworks: np.ndarray  # Spring Festival eve to the Lantern Festival, fading

    @property
    def n_days(self) -> int:
        return len(self.dates)

    @property
    def months(self) -> list[Month]:
        return self.first_month.range_to(self.last_month)

    def offset(self, day: date) -> int:
        """Day index of ``day`` in the range (negative before it)."""
        return (day - self.first_month.first_day).days

    @classmethod
    def build(cls, first_month: Month, last_month: Month) -> _Calendar:
        first = np.datetime64(first_month.first_day, "D")
        end = np.datetime64(last_month.shift(1).first_day, "D")
        dates = np.arange(first, end)
        n = len(dates)
        months = dates.astype("datetime64[M]")
        year = dates.astype("datetime64[Y]").astype(np.int64) + 1970
        month = months.astype(np.int64) % 12 + 1
        dom = (dates - months.astype("datetime64[D]")).astype(np.int64) + 1
        doy = (dates - dates.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.int64)

        calendar = holidays.China(years=range(first_month.year - 1, last_month.year + 2),
                                  language="zh_CN")
        days_off = np.array(sorted((d - first_month.first_day).days for d in calendar),
                            dtype=np.int64)
        holiday = np.zeros(n)
        for shift in (-1, 0, 1):
            near = days_off + shift
            holiday[near[(near >= 0) & (near < n)]] = 1.0
        spring: dict[int, date] = {}  # year -> first day of the Spring Festival
        for day, name in sorted(calendar.items()):
            if "春节" in name:
                spring.setdefault(day.year, day)
        fireworks = np.zeros(n)
        for festival in spring.values():
            at = (festival - first_month.first_day).days
            span = np.arange(-1, 16)
            weight = np.where(span < 0, 0.8, np.exp(-np.maximum(span, 0) / 4.0))
            weight = weight + np.where(span == 14, 0.6, 0.0)  # 元宵节
            inside = (at + span >= 0) & (at + span < n)
            fireworks[at + span[inside]] += weight[inside]

        after = last_month.shift(1).first_day
        as_of = int(np.datetime64(datetime(after.year, after.month, after.day, 8), "s")
                    .astype(np.int64))
        return cls(first_month, last_month, as_of, int(first.astype(np.int64)), dates, year,
                   month, month * 100 + dom, doy,
                   months.astype(np.int64) - first.astype("datetime64[M]").astype(np.int64),
                   holiday, fireworks)


def _window(md: np.ndarray, start: int, end: int) -> np.ndarray:
    """Days whose month*100+day falls in [start, end], wrapping over the new year."""
    if start <= end:
        return (md >= start) & (md <= end)
    return (md >= start) | (md <= end)


def _bump(cal: _Calendar, center_doy: int, width: float) -> np.ndarray:
    """A yearly bell curve around a day of the year."""
    distance = np.abs(cal.doy - center_doy)
    distance = np.minimum(distance, 365 - distance)
    return np.exp(-0.5 * (distance / width) ** 2)


# --------------------------------------------------------------------------- weather


_TYPHOON_PROFILE = np.array([1.0, 0.7, 0.35, 0.15, 0.05])
_RAIN_PROFILE = np.array([1.0, 0.5, 0.2])
_SNOW_PROFILE = np.array([1.0, 0.6, 0.3])


@dataclass(frozen=True)
class _Weather:
    typhoon: np.ndarray
    rain: np.ndarray
    plum: np.ndarray
    snow: np.ndarray


def _weather(seed: int, city_index: int, cal: _Calendar) -> _Weather:
    """Typhoons, storms, plum rain and snow of one city, shared by its communities."""
    city = _CITIES[city_index % len(_CITIES)]
    n = cal.n_days
    typhoon, rain, plum, snow = (np.zeros(n) for _ in range(4))

    def add(target: np.ndarray, start: int, profile: np.ndarray, strength: float) -> None:
        span = start + np.arange(len(profile))
        inside = (span >= 0) & (span < n)
        target[span[inside]] += strength * profile[inside]

    for year in range(cal.first_month.year, cal.last_month.year + 1):
        rng = _rng(seed, _WEATHER_KEY + city_index, year)

        def at(month: int, day: int, year: int = year) -> int:
            return cal.offset(date(year, month, day))

        if city.typhoon > 0:
            hits = 1 + int(rng.poisson(0.7)) if city.typhoon >= 1 else int(
                rng.random() < city.typhoon + 0.2)
            for k in range(hits):
                low, high = (at(8, 1), at(9, 25)) if k == 0 else (at(7, 10), at(10, 10))
                add(typhoon, int(rng.integers(low, high)), _TYPHOON_PROFILE,
                    float(rng.uniform(0.6, 1.4)) * min(city.typhoon, 1.0))
                add(rain, int(rng.integers(low, high)), _RAIN_PROFILE, 0.3)
        if city.plum_rain:
            start = at(6, 8) + int(rng.integers(0, 13))
            length = int(rng.integers(22, 36))
            plum[max(start, 0):max(min(start + length, n), 0)] = 1.0
            for day in rng.integers(start, start + length, int(rng.integers(2, 5))):
                add(rain, int(day), _RAIN_PROFILE, float(rng.uniform(0.5, 1.0)))
        if city.zone in _NORTH:
            storms, low, high = int(rng.integers(1, 3)), at(7, 10), at(8, 20)  # 七下八上
        elif city.zone == "夏热冬暖":
            storms, low, high = int(rng.integers(2, 4)), at(5, 10), at(6, 20)  # 龙舟水
        else:
            storms, low, high = int(rng.integers(1, 3)), at(7, 1), at(8, 15)
        for day in rng.integers(low, high, storms):
            add(rain, int(day), _RAIN_PROFILE, float(rng.uniform(0.6, 1.0)))
        if city.zone in _NORTH:
            winter = np.concatenate([np.arange(at(1, 1), at(3, 1)),
                                     np.arange(at(11, 20), at(12, 31) + 1)])
            count = int(rng.integers(6, 13)) if city.zone == "严寒" else int(rng.integers(2, 6))
            for day in rng.choice(winter, count, replace=False):
                add(snow, int(day), _SNOW_PROFILE, float(rng.uniform(0.5, 1.0)))
    return _Weather(typhoon, rain, plum, snow)
