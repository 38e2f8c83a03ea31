"""Expected tickets per household per day, by stream: the seasonal stories.

Heating start in the north, summer power trips, typhoons, plum rain, fallen
leaves, holiday noise and fee questions are all rates over the calendar of one
community (``_Context``); the ticket tables draw Poisson counts from them.
"""

from __future__ import annotations

import numpy as np

from yuebao.tasks.sample_data.calendar import _bump, _window
from yuebao.tasks.sample_data.communities import _Context

# Rates below are written per 1000 households per month and used per household per day.
_PER_MONTH = 1.0 / 30.44 / 1000.0


def _heating_rate(cx: _Context) -> np.ndarray:
    """A burst at heating start that fades over a few weeks, a floor through the season,
    a pressure-test week before it, and nothing in summer."""
    if cx.city.heating is None:
        return np.zeros(cx.cal.n_days)
    (start_month, start_day), (end_month, end_day) = cx.city.heating
    dates, year = cx.cal.dates, cx.cal.year

    def on(years: np.ndarray, month: int, day: int) -> np.ndarray:
        months = (years - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (month - 1)
        return months.astype("datetime64[D]") + (day - 1)

    start_this, start_prev = on(year, start_month, start_day), on(year - 1, start_month, start_day)
    current = dates >= start_this - 10
    since = np.where(current, dates - start_this, dates - start_prev).astype(np.int64)
    active = current | (dates <= on(year, end_month, end_day))
    rate = np.where(since < 0, 0.0012,
                    0.0005 + 0.0045 * np.exp(-np.maximum(since, 0) / 9.0)
                    + 0.0003 * _bump(cx.cal, 14, 12))
    return np.where(active, rate, 0.0) * (1.15 if cx.city.zone == "严寒" else 1.0)


def _leaves(cx: _Context) -> np.ndarray:
    """Fallen leaves: early autumn in the north, late autumn in the Yangtze valley, and
    spring as well in the far south, where evergreens change leaves in March."""
    md = cx.cal.md
    if cx.north:
        return _window(md, 1005, 1115).astype(float)
    if cx.city.zone == "夏热冬暖":
        return 0.6 * _window(md, 1115, 1225) + _window(md, 310, 420)
    return _window(md, 1025, 1210).astype(float)


def _fee_season(cx: _Context) -> np.ndarray:
    """Questions about fees come when the big bills are issued."""
    md, month = cx.cal.md, cx.cal.month
    billing = cx.community.public.property_fee_billing
    rate = np.zeros(cx.cal.n_days)
    if billing == "annual":
        rate += 35 * _window(md, 1215, 131)
    elif billing == "quarterly":
        rate += 15 * (np.isin(month, (1, 4, 7, 10)) & (md % 100 <= 20))
    if cx.city.heating_due is not None:
        rate += 30 * _window(md, 920, cx.city.heating_due[0] * 100 + cx.city.heating_due[1])
    return rate * _PER_MONTH


_SUMMER = 209  # day of year near the end of July


def _rates(cx: _Context) -> dict[str, np.ndarray]:
    """Expected tickets per household per day, by stream, for every day of the range."""
    cal, w, north = cx.cal, cx.weather, cx.north
    month = cal.month
    summer = _bump(cal, _SUMMER, 16)
    zone_heat = 0.8 if north else 1.2 if cx.city.zone == "夏热冬暖" else 1.0
    winter = np.isin(month, (12, 1, 2))
    lifts = float(cx.community.floors > 7)
    deep_cold = 1.0 if cx.city.zone == "严寒" else 0.3 if north else 0.0
    return {
        "plumbing": 40 * _PER_MONTH * (1 + 0.15 * (north & winter)),
        "elevator": 12 * _PER_MONTH * lifts * (1 + 0.2 * summer),
        "fire": 3 * _PER_MONTH * (1 + 0.5 * (north & np.isin(month, (11, 12, 1, 2, 3))))
        * (1 + 1.5 * np.minimum(cal.fireworks, 1)),
        "security": 10 * _PER_MONTH * (1 + 0.4 * cal.holiday),
        "cleaning": 14 * _PER_MONTH * (1 + 0.8 * np.minimum(cal.fireworks, 1)),
        "greening": 7 * _PER_MONTH * (1 + 0.6 * np.isin(month, (3, 4, 5))
                                      + 0.3 * np.isin(month, (6, 7, 8))),
        "parking": 12 * _PER_MONTH * np.ones(cal.n_days),
        "noise": 9 * _PER_MONTH * (1 + 0.3 * np.isin(month, (6, 7, 8, 9))
                                   + 0.2 * np.isin(month, (3, 4, 5, 9, 10, 11))),
        "facilities": 22 * _PER_MONTH * np.ones(cal.n_days),
        "other": 34 * _PER_MONTH * np.ones(cal.n_days),
        "heating": _heating_rate(cx),
        "frozen": 12 * _PER_MONTH * deep_cold * winter * (0.5 + _bump(cal, 14, 15)),
        "snow": 0.004 * w.snow if north else np.zeros(cal.n_days),
        "summer_power": 30 * _PER_MONTH * zone_heat * summer,
        "summer_facilities": 14 * _PER_MONTH * zone_heat * summer,
        "typhoon_facilities": 0.018 * w.typhoon,
        "typhoon_greening": 0.012 * w.typhoon,
        "rain_facilities": 0.004 * w.rain + 25 * _PER_MONTH * w.plum,
        "rain_plumbing": 0.002 * w.rain + 12 * _PER_MONTH * w.plum,
        "leaves_cleaning": 14 * _PER_MONTH * _leaves(cx),
        "leaves_greening": 8 * _PER_MONTH * _leaves(cx),
        "holiday_noise": 9 * _PER_MONTH * (1.8 * cal.holiday + 3.0 * cal.fireworks),
        "holiday_parking": 12 * _PER_MONTH * 2.5 * cal.holiday,
        "fee_inquiry": _fee_season(cx),
    }


def _hotspot_counts(cx: _Context, rng: np.random.Generator) -> np.ndarray:
    """3 to 8 tickets a month in the problem building, in episodes of a few months."""
    cal = cx.cal
    counts = np.zeros(cal.n_days, dtype=np.int64)
    active = bool(rng.random() < 0.5)
    for m in range(len(cal.months)):
        active = bool(rng.random() < (0.75 if active else 0.3))
        days = np.flatnonzero(cal.month_index == m)
        if active:
            picked = rng.choice(days, int(rng.integers(3, 9)))
            np.add.at(counts, picked, 1)
    return counts
