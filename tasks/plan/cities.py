"""A community's city and climate zone, with its config's overrides applied.

The plan is chosen by zone as much as by month (Harbin in November is frozen,
Shenzhen is in its dry season), so every lookup ends in a zone code of
``cities.toml`` or in ``None`` when nothing says which zone a site is in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from yuebao.errors import UsageError

from .knowledge import VERIFIED, CityFacts, Knowledge, check_month_day, load_knowledge, normalise

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CityInfo:
    """What the plan needs to know about a community's city, overrides applied.

    ``heating_verified`` says whether the start date can be trusted as is: set in
    the config, or reported publicly / taken from a standard. ``heating_from``
    and ``heating_end_from`` say where each date came from: ``"config"``,
    ``"city"`` (cities.toml), ``"zone"`` (the zone default) or ``None``.
    """

    name: str
    name_en: str
    climate_zone: str | None
    central_heating: bool
    heating_start: str | None
    heating_end: str | None
    heating_verified: bool
    coastal_typhoon: bool
    heating_end_verified: bool = False
    heating_from: str | None = None
    heating_end_from: str | None = None
    heating_source_note: str = ""
    flood_region: str | None = None
    plum_rain: bool = False
    known: bool = False


def zone_code(value: str, knowledge: Knowledge) -> str:
    """The zone code of a config's ``climate_zone`` (a code or an alias such as 寒冷)."""
    wanted = normalise(value)
    for code, facts in knowledge.zones.items():
        if wanted in {normalise(code), *(normalise(alias) for alias in facts.aliases)}:
            return code
    raise UsageError(
        f"climate_zone {value!r} is not a climate zone (known: {', '.join(knowledge.zones)}, "
        "or their Chinese names such as 寒冷)"
    )


def _find_city(name: str, knowledge: Knowledge) -> tuple[str, CityFacts] | None:
    wanted = normalise(name)
    for key, facts in knowledge.cities.items():
        if wanted in {normalise(n) for n in (key, facts.name_en, *facts.aliases)}:
            return key, facts
    return None


def _heating_date(
    given: str | None, listed: str | None, zone_default: str | None, central: bool
) -> tuple[str | None, str | None]:
    """(date, where it came from): the config, then cities.toml, then the zone."""
    if given is not None:
        return given, "config"
    if not central:
        return None, None
    if listed is not None:
        return listed, "city"
    if zone_default is not None:
        return zone_default, "zone"
    return None, None


def _date_verified(source: str | None, certainty: str | None) -> bool:
    return source == "config" or (source == "city" and certainty in VERIFIED)


def city_info(
    city: str | None,
    climate_zone: str | None = None,
    heating_start: str | None = None,
    heating_end: str | None = None,
    *,
    knowledge: Knowledge | None = None,
) -> CityInfo | None:
    """The seasonal facts of ``city`` (Chinese name, English name or alias).

    The other arguments are a community's config overrides and win over the
    table. A city missing from the table still gets a plan from its climate zone
    (the zone's heating defaults, marked unverified, and its usual flood region)
    or from given heating dates, which imply central heating. ``None`` when
    nothing at all is known.
    """
    knowledge = knowledge or load_knowledge()
    for label, value in (("heating_start", heating_start), ("heating_end", heating_end)):
        if value is not None:
            try:
                check_month_day(value)
            except ValueError as error:
                raise UsageError(f"{label}: {error}") from None
    found = _find_city(city, knowledge) if city else None
    if found is None and city:
        log.warning("city %r is not in the built-in city table: set climate_zone (and "
                    "heating_start / heating_end if it has central heating) for the "
                    "community in your config to get its seasonal plan", city)
    zone = zone_code(climate_zone, knowledge) if climate_zone else None
    if found is None and zone is None and heating_start is None and heating_end is None:
        return None

    name, facts = found if found else (city or "", None)
    zone = zone or (facts.climate_zone if facts else None)
    zone_facts = knowledge.zones[zone] if zone else None
    listed = facts if facts is not None else zone_facts
    overridden = heating_start is not None or heating_end is not None
    central = bool(listed and listed.central_heating) or overridden
    start, start_from = _heating_date(
        heating_start,
        facts.heating_start if facts else None,
        zone_facts.heating_start if zone_facts else None,
        central,
    )
    end, end_from = _heating_date(
        heating_end,
        facts.heating_end if facts else None,
        zone_facts.heating_end if zone_facts else None,
        central,
    )
    if "city" in (start_from, end_from):
        note = facts.heating_source_note if facts else ""
    elif "zone" in (start_from, end_from):
        note = zone_facts.heating_source_note if zone_facts else ""
    else:
        note = ""
    return CityInfo(
        name=name,
        name_en=facts.name_en if facts else name,
        climate_zone=zone,
        central_heating=central,
        heating_start=start,
        heating_end=end,
        heating_verified=_date_verified(
            start_from, facts.heating_start_certainty if facts else None
        ),
        coastal_typhoon=bool(facts and facts.coastal_typhoon),
        heating_end_verified=_date_verified(
            end_from, facts.heating_end_certainty if facts else None
        ),
        heating_from=start_from,
        heating_end_from=end_from,
        heating_source_note=note,
        flood_region=listed.flood_region if listed else None,
        plum_rain=bool(facts and facts.plum_rain),
        known=facts is not None,
    )
