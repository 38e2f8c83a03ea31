"""Season: when a category's change against last month is the calendar, not the service.

In the month heating starts, heating complaints jump from nothing; in the month
after it ends, they vanish. Neither is news against last month. For those
months a *seasonal category* is compared with the same month last year (where
the exports cover it), and the draft says that heating started or ended, from
the heating dates the plan already knows per city (``cities.toml`` or the
community's config). See ``docs/review.md``.
"""

from __future__ import annotations

from yuebao.months import Month
from yuebao.schema import PORTFOLIO
from yuebao.tasks.plan.cities import CityInfo

# Categories whose volume follows the heating season.
SEASONAL_CATEGORIES = frozenset({"heating"})


def heating_event(city: CityInfo | None, month: Month) -> dict | None:
    """Heating started in ``month``, or ended in the month before (None otherwise)."""
    if city is None or not city.central_heating:
        return None
    if city.heating_start and int(city.heating_start[:2]) == month.month:
        event, day = "start", city.heating_start
    elif city.heating_end and int(city.heating_end[:2]) % 12 + 1 == month.month:
        event, day = "end", city.heating_end
    else:
        return None
    return {"event": event, "month": int(day[:2]), "day": int(day[3:5]),
            "verified": city.heating_verified if event == "start"
            else city.heating_end_verified}


def season_events(cities: dict[str, CityInfo | None], names: dict[str, str],
                  month: Month) -> dict[str, list[dict]]:
    """Each scope's heating events of the month; the portfolio's name their communities."""
    own = {cid: heating_event(city, month) for cid, city in cities.items()}
    events: dict[str, list[dict]] = {cid: [e | {"communities": []}] if e else []
                                     for cid, e in own.items()}
    grouped: dict[tuple, dict] = {}
    for cid, e in own.items():
        if e:
            key = (e["event"], e["month"], e["day"])
            grouped.setdefault(key, e | {"communities": []})["communities"].append(names[cid])
    events[PORTFOLIO] = [grouped[key] for key in sorted(grouped)]
    return events
