"""Next month's seasonal plan and holidays (review.md, "Seasonal knowledge").

One concern per module:

``knowledge``  the two knowledge files (cities.toml, templates/<lang>/seasonal.toml),
               validated at load, including the check that no line is planned in a
               zone and month where its topic cannot happen (frost in Shenzhen);
``cities``     a community's city and climate zone, config overrides applied;
``seasonal``   which work items apply to a city in a month, in words;
``holidays``   the month's holidays with their breaks and swapped working days (调休).

This module is the public face: what ``tasks/draft.py`` and the tests import.
"""

from __future__ import annotations

from .cities import CityInfo, city_info
from .holidays import Holiday, arrangement_known, holidays_in
from .knowledge import (
    LANGUAGES,
    ZONES,
    Knowledge,
    SeasonalText,
    load_knowledge,
    load_seasonal_text,
    parse_knowledge,
    parse_seasonal_text,
)
from .seasonal import PlanItem, seasonal_plan

__all__ = [
    "LANGUAGES",
    "ZONES",
    "CityInfo",
    "Holiday",
    "Knowledge",
    "PlanItem",
    "SeasonalText",
    "arrangement_known",
    "city_info",
    "holidays_in",
    "load_knowledge",
    "load_seasonal_text",
    "parse_knowledge",
    "parse_seasonal_text",
    "seasonal_plan",
]
