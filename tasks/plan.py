"""Next month's seasonal plan and holidays (review.md, "Seasonal knowledge").

The facts (cities, climate zones, heating dates and how sure they are, coastal
and flood-season exposure, when each work item applies) live in
``yuebao/knowledge/cities.toml``; every word a reader sees lives in
``templates/<lang>/seasonal.toml``. Both are user-editable, so both are validated
once when loaded and a bad entry becomes one :class:`UsageError` line naming the
file and the key. This module only selects what applies to a month and a city.

The heating-preparation month is the month *before* the month that contains the
city's heating start, whatever the day of the start (北京 11-15 -> October,
哈尔滨 10-20 -> September). The reason is in ``cities.toml`` next to the rule.
"""

from __future__ import annotations

import functools
import logging
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import holidays as holidays_package
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from yuebao.errors import UsageError, read_toml, validated
from yuebao.months import Month

log = logging.getLogger(__name__)

ZONES = ("severe_cold", "cold", "hot_summer_cold_winter", "hot_summer_warm_winter", "mild")
LANGUAGES = ("zh", "en")

Zone = Literal[ZONES]  # type: ignore[valid-type]
Certainty = Literal["reported", "standard", "disputed", "unverified"]
CityFlag = Literal["central_heating", "coastal_typhoon", "plum_rain"]
MonthNumber = Annotated[int, Field(ge=1, le=12)]

_VERIFIED = ("reported", "standard")



def _month_day(value: str) -> str:
    """``MM-DD`` that exists in a leap year (so 02-29 is allowed)."""
    try:
        date.fromisoformat(f"2000-{value}")
    except ValueError:
        raise ValueError(f"{value!r} is not a date of the form MM-DD (for example 11-15)") from None
    if len(value) != 5:
        raise ValueError(f"{value!r} is not a date of the form MM-DD (for example 11-15)")
    return value


MonthDay = Annotated[str, AfterValidator(_month_day)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- cities.toml ------------------------------------------------------------


class ZoneFacts(_Strict):
    """Defaults for a city that is not listed, by climate zone."""

    aliases: list[str] = []
    central_heating: bool
    heating_start: MonthDay | None = None
    heating_end: MonthDay | None = None
    heating_source_note: str = ""
    flood_region: str | None = None


class FloodRegion(_Strict):
    prepare_months: list[MonthNumber]
    season_months: list[MonthNumber]
    peak_months: list[MonthNumber] = []
    source_note: str = ""


class CityFacts(_Strict):
    name_en: str = Field(min_length=1)
    aliases: list[str] = []
    climate_zone: Zone
    central_heating: bool
    heating_start: MonthDay | None = None
    heating_end: MonthDay | None = None
    heating_start_certainty: Certainty | None = None
    heating_end_certainty: Certainty | None = None
    heating_source_note: str = ""
    coastal_typhoon: bool = False
    typhoon_note: str = ""
    flood_region: str | None = None
    plum_rain: bool = False

    @model_validator(mode="after")
    def _heating_complete(self) -> CityFacts:
        dated = (self.heating_start, self.heating_end)
        sure = (self.heating_start_certainty, self.heating_end_certainty)
        if self.central_heating and None in (*dated, *sure):
            raise ValueError(
                "central_heating = true needs heating_start, heating_end, "
                "heating_start_certainty and heating_end_certainty"
            )
        if not self.central_heating and any(v is not None for v in (*dated, *sure)):
            raise ValueError("heating dates are given but central_heating = false")
        return self


class ItemRule(_Strict):
    """When one seasonal work item applies; see the comment in cities.toml."""

    priority: int
    zones: list[Zone] | None = None
    requires: list[CityFlag] = []
    months: list[MonthNumber] | None = None
    zone_months: dict[Zone, list[MonthNumber]] = {}
    relative_to: Literal["heating_start", "heating_end"] | None = None
    offset_months: int = 0
    within: Literal["heating_season"] | None = None
    flood: Literal["prepare", "season"] | None = None
    peak_months: list[MonthNumber] = []

    @model_validator(mode="after")
    def _one_when(self) -> ItemRule:
        given = [self.months, self.relative_to, self.within, self.flood]
        if sum(value is not None for value in given) != 1:
            raise ValueError("give exactly one of months, relative_to, within, flood")
        if self.zone_months and self.months is None:
            raise ValueError("zone_months needs months")
        if self.relative_to is None and self.offset_months:
            raise ValueError("offset_months needs relative_to")
        return self


class HolidayRule(_Strict):
    package_names: list[str] = []
    after: str | None = None
    offset_days: int = 0

    @model_validator(mode="after")
    def _one_source(self) -> HolidayRule:
        if bool(self.package_names) == (self.after is not None):
            raise ValueError("give either package_names or after (with offset_days)")
        return self


class Knowledge(_Strict):
    """``cities.toml``: language-neutral seasonal facts."""

    holiday_names_locale: str = "zh_CN"
    holiday_priority: int = 50
    zones: dict[Zone, ZoneFacts]
    flood_regions: dict[str, FloodRegion] = {}
    items: dict[str, ItemRule]
    holidays: dict[str, HolidayRule] = {}
    cities: dict[str, CityFacts] = {}


# --- templates/<lang>/seasonal.toml -------------------------------------------


def _placeholders(allowed: frozenset[str]) -> Callable[[str], str]:
    """A validator that rejects ``{unknown}`` placeholders and broken braces."""

    def check(value: str) -> str:
        try:
            used = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        except ValueError as error:
            raise ValueError(f"bad braces in {value!r}: {error}") from None
        unknown = sorted(used - allowed)
        if unknown:
            names = ", ".join("{" + name + "}" for name in unknown)
            known = ", ".join("{" + name + "}" for name in sorted(allowed))
            raise ValueError(f"unknown placeholder {names} (known: {known})")
        return value

    return check


_REASON_FIELDS = frozenset({"city", "date", "note", "month", "zone", "region"})
Reason = Annotated[str, Field(min_length=1), AfterValidator(_placeholders(_REASON_FIELDS))]
Words = Annotated[str, Field(min_length=1)]


class Meta(_Strict):
    language: str
    holidays_locale: str | None = None
    month_names: list[Words] = Field(min_length=12, max_length=12)
    date_format: Annotated[
        str, AfterValidator(_placeholders(frozenset({"month_name", "month", "day"})))
    ]
    unnamed_city: Words
    note_config: str
    note_default: str
    note_unverified: str
    holiday_reason: Annotated[str, AfterValidator(_placeholders(frozenset({"date", "name"})))]


class ItemText(_Strict):
    title: Words
    reason: Reason
    reason_peak: Reason | None = None
    actions: list[Words] = Field(min_length=1)


class HolidayText(_Strict):
    name: Words
    advice: list[Words] = Field(min_length=1)


class SeasonalText(_Strict):
    """``templates/<lang>/seasonal.toml``: every word of the seasonal plan."""

    meta: Meta
    zones: dict[Zone, Words]
    flood_regions: dict[str, Words] = {}
    items: dict[str, ItemText]
    holidays: dict[str, HolidayText] = {}
    public_holiday: HolidayText  # any public holiday of a country other than China

    @field_validator("zones")
    @classmethod
    def _every_zone(cls, value: dict[str, str]) -> dict[str, str]:
        missing = [zone for zone in ZONES if zone not in value]
        if missing:
            raise ValueError(f"no words for zone(s) {', '.join(missing)}")
        return value


# --- loading and validation -------------------------------------------------


def parse_knowledge(raw: dict, shown: str = "cities.toml") -> Knowledge:
    """Validate a parsed ``cities.toml``; ``shown`` names the file in errors."""
    knowledge = validated(Knowledge, raw, shown)
    regions = [(f"cities.{key}", c.flood_region) for key, c in knowledge.cities.items()]
    regions += [(f"zones.{key}", z.flood_region) for key, z in knowledge.zones.items()]
    for where, region in regions:
        if region is not None and region not in knowledge.flood_regions:
            raise UsageError(
                f"{shown}: {where}.flood_region: unknown region {region!r} "
                f"(known: {', '.join(knowledge.flood_regions)})"
            )
    missing_zones = [zone for zone in ZONES if zone not in knowledge.zones]
    if missing_zones:
        raise UsageError(f"{shown}: zones: missing {', '.join(missing_zones)}")
    for hid, rule in knowledge.holidays.items():
        target = knowledge.holidays.get(rule.after) if rule.after else None
        if rule.after is not None and (target is None or not target.package_names):
            raise UsageError(
                f"{shown}: holidays.{hid}.after: {rule.after!r} is not a holiday with package_names"
            )
    seen: dict[tuple[str, str], str] = {}
    for key, names in _lookup_names(knowledge):
        namespace = key.split(".", 1)[0]
        for name in names:
            other = seen.setdefault((namespace, _normalise(name)), key)
            if other != key:
                raise UsageError(f"{shown}: {key}: name {name!r} is also used by {other}")
    return knowledge


def parse_seasonal_text(
    raw: dict, shown: str = "seasonal.toml", knowledge: Knowledge | None = None
) -> SeasonalText:
    """Validate a parsed ``seasonal.toml`` and check it covers every id of ``knowledge``."""
    text = validated(SeasonalText, raw, shown)
    if knowledge is None:
        return text
    for section, needed, given in (
        ("items", knowledge.items, text.items),
        ("holidays", knowledge.holidays, text.holidays),
        ("flood_regions", knowledge.flood_regions, text.flood_regions),
    ):
        for key in needed:
            if key not in given:
                raise UsageError(f"{shown}: {section}.{key}: missing (cities.toml lists it)")
        for key in given:
            if key not in needed:
                raise UsageError(f"{shown}: {section}.{key}: not in cities.toml (misspelt id?)")
    return text


def load_knowledge(path: Path | str | None = None) -> Knowledge:
    """``cities.toml`` from ``path``, or the packaged one (read once, then cached)."""
    if path is None:
        return _packaged_knowledge()
    path = Path(path)
    return parse_knowledge(read_toml(path, str(path)), str(path))


def load_seasonal_text(
    language: str = "zh", path: Path | str | None = None, knowledge: Knowledge | None = None
) -> SeasonalText:
    """``templates/<language>/seasonal.toml`` (or the file at ``path``), validated.

    A file given by ``path`` is checked against ``knowledge`` (default: the packaged
    ``cities.toml``) so that every item and holiday has words.
    """
    if path is None and knowledge is None:
        return _packaged_text(language)
    knowledge = knowledge or load_knowledge()
    if path is None:
        return _packaged_text_for(language, knowledge)
    path = Path(path)
    return parse_seasonal_text(read_toml(path, str(path)), str(path), knowledge)


@functools.cache
def _packaged_knowledge() -> Knowledge:
    source = resources.files("yuebao.knowledge").joinpath("cities.toml")
    shown = "yuebao/knowledge/cities.toml"
    return parse_knowledge(read_toml(source, shown), shown)


@functools.cache
def _packaged_text(language: str) -> SeasonalText:
    return _packaged_text_for(language, _packaged_knowledge())


def _packaged_text_for(language: str, knowledge: Knowledge) -> SeasonalText:
    if language not in LANGUAGES:
        raise UsageError(f"language {language!r}: no seasonal templates (known: zh, en)")
    source = resources.files("yuebao.templates").joinpath(language, "seasonal.toml")
    shown = f"templates/{language}/seasonal.toml"
    return parse_seasonal_text(read_toml(source, shown), shown, knowledge)


# --- cities -------------------------------------------------------------------


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


def _normalise(name: str) -> str:
    return "".join(name.split()).casefold()


def _lookup_names(knowledge: Knowledge) -> list[tuple[str, list[str]]]:
    names = [(f"cities.{key}", [key, c.name_en, *c.aliases]) for key, c in knowledge.cities.items()]
    names += [(f"zones.{key}", [key, *z.aliases]) for key, z in knowledge.zones.items()]
    return names


def _zone_code(value: str, knowledge: Knowledge) -> str:
    wanted = _normalise(value)
    for code, facts in knowledge.zones.items():
        if wanted in {_normalise(code), *(_normalise(alias) for alias in facts.aliases)}:
            return code
    raise UsageError(
        f"climate_zone {value!r} is not a climate zone (known: {', '.join(knowledge.zones)}, "
        "or their Chinese names such as 寒冷)"
    )


def _find_city(name: str, knowledge: Knowledge) -> tuple[str, CityFacts] | None:
    wanted = _normalise(name)
    for key, facts in knowledge.cities.items():
        if wanted in {_normalise(n) for n in (key, facts.name_en, *facts.aliases)}:
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
    return source == "config" or (source == "city" and certainty in _VERIFIED)


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
                _month_day(value)
            except ValueError as error:
                raise UsageError(f"{label}: {error}") from None
    found = _find_city(city, knowledge) if city else None
    if found is None and city:
        log.warning("city %r is not in yuebao/knowledge/cities.toml; add it there", city)
    zone = _zone_code(climate_zone, knowledge) if climate_zone else None
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


# --- the plan -----------------------------------------------------------------


@dataclass(frozen=True)
class PlanItem:
    """One piece of next month's seasonal work; ``reason`` says why it is there."""

    id: str
    title: str
    actions: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Holiday:
    """One holiday of the month, at its first date; ``id`` as in cities.toml."""

    date: date
    name: str
    advice: tuple[str, ...]
    id: str = ""


def _month_of(month_day: str) -> int:
    return int(month_day[:2])


def _cyclic_between(first: int, last: int) -> set[int]:
    """Months strictly after ``first`` and before ``last``, wrapping at the year end."""
    count = (last - first) % 12
    return {(first - 1 + step) % 12 + 1 for step in range(1, count)}


def _rule_months(rule: ItemRule, city: CityInfo | None, knowledge: Knowledge) -> tuple[set, set]:
    """(months the rule applies in, months worded as its peak) for ``city``."""
    peak = set(rule.peak_months)
    if rule.months is not None:
        zone = city.climate_zone if city else None
        return set(rule.zone_months.get(zone, rule.months)), peak
    if city is None:
        return set(), peak
    if rule.relative_to is not None:
        anchor = city.heating_start if rule.relative_to == "heating_start" else city.heating_end
        if anchor is None:
            return set(), peak
        return {(_month_of(anchor) - 1 + rule.offset_months) % 12 + 1}, peak
    if rule.within == "heating_season":
        if city.heating_start is None or city.heating_end is None:
            return set(), peak
        return _cyclic_between(_month_of(city.heating_start), _month_of(city.heating_end)), peak
    region = knowledge.flood_regions.get(city.flood_region or "")
    if region is None:
        return set(), peak
    if rule.flood == "prepare":
        return set(region.prepare_months), peak
    return set(region.season_months), peak | set(region.peak_months)


def _applies(rule: ItemRule, city: CityInfo | None) -> bool:
    if rule.zones is not None and (city is None or city.climate_zone not in rule.zones):
        return False
    return all(city is not None and getattr(city, flag) for flag in rule.requires)


def _format_date(month_day: str, text: SeasonalText) -> str:
    month, day = int(month_day[:2]), int(month_day[3:])
    return text.meta.date_format.format(
        month_name=text.meta.month_names[month - 1], month=month, day=day
    )


def _date_note(source: str | None, verified: bool, text: SeasonalText) -> str:
    if source == "config":
        return text.meta.note_config
    return text.meta.note_default if verified else text.meta.note_unverified


def _reason(
    item_id: str,
    rule: ItemRule,
    month: Month,
    city: CityInfo | None,
    text: SeasonalText,
    peak: bool,
) -> str:
    words = text.items[item_id]
    template = words.reason_peak if peak and words.reason_peak else words.reason
    fields = {
        "city": text.meta.unnamed_city,
        "date": "",
        "note": "",
        "month": text.meta.month_names[month.month - 1],
        "zone": "",
        "region": "",
    }
    if city is not None:
        name = city.name if text.meta.language == "zh" else city.name_en
        fields["city"] = name or text.meta.unnamed_city
        fields["zone"] = text.zones.get(city.climate_zone, "") if city.climate_zone else ""
        fields["region"] = text.flood_regions.get(city.flood_region or "", "")
        if rule.relative_to == "heating_start" and city.heating_start:
            fields["date"] = _format_date(city.heating_start, text)
            fields["note"] = _date_note(city.heating_from, city.heating_verified, text)
        elif rule.relative_to == "heating_end" and city.heating_end:
            fields["date"] = _format_date(city.heating_end, text)
            fields["note"] = _date_note(city.heating_end_from, city.heating_end_verified, text)
    return template.format(**fields)


def seasonal_plan(
    month: Month,
    city: CityInfo | None,
    language: str = "zh",
    *,
    include_holidays: bool = True,
    country: str = "CN",
    knowledge: Knowledge | None = None,
    text: SeasonalText | None = None,
) -> list[PlanItem]:
    """The seasonal work for ``month`` (the caller passes the month being planned).

    Ordered by the priorities of cities.toml: heating, typhoon and flood work
    first, then the month's holidays (as ``holiday.<id>`` items, by date), then
    routine seasonal work. ``include_holidays=False`` leaves the holidays out
    for a caller that shows :func:`holidays_in` on its own; ``country`` is as there.
    """
    knowledge = knowledge or load_knowledge()
    text = text or load_seasonal_text(language, knowledge=knowledge)
    ranked: list[tuple[int, int, PlanItem]] = []
    for order, (item_id, rule) in enumerate(knowledge.items.items()):
        if not _applies(rule, city):
            continue
        months, peak = _rule_months(rule, city, knowledge)
        if month.month not in months:
            continue
        words = text.items[item_id]
        reason = _reason(item_id, rule, month, city, text, peak=month.month in peak)
        item = PlanItem(item_id, words.title, tuple(words.actions), reason)
        ranked.append((rule.priority, order, item))
    if include_holidays:
        month_holidays = holidays_in(month, language, country=country, knowledge=knowledge,
                                     text=text)
        for order, holiday in enumerate(month_holidays):
            reason = text.meta.holiday_reason.format(
                date=_format_date(holiday.date.strftime("%m-%d"), text), name=holiday.name
            )
            item = PlanItem(f"holiday.{holiday.id}", holiday.name, holiday.advice, reason)
            ranked.append((knowledge.holiday_priority, order, item))
    ranked.sort(key=lambda entry: (entry[0], entry[1]))
    return [item for _, _, item in ranked]


# --- holidays -----------------------------------------------------------------


@functools.cache
def _package_holidays(year: int, locale: str) -> holidays_package.HolidayBase:
    """The package's China holidays of ``year``; callers only read the result."""
    return holidays_package.China(years=year, language=locale)


@functools.cache
def _country_holidays(country: str, year: int, locale: str | None) -> holidays_package.HolidayBase:
    """The package's public holidays of ``country`` in ``year``, named in ``locale`` when
    the package has that language (else in the country's own)."""
    supported = holidays_package.country_holidays(country).supported_languages
    return holidays_package.country_holidays(
        country, years=year, language=locale if locale in supported else None)


_OBSERVED = re.compile(r"^(?P<name>.+) \(observed\)$", re.IGNORECASE)


def _public_holidays_in(month: Month, country: str, text: SeasonalText) -> list[Holiday]:
    """Another country's public holidays of ``month``, with the same advice for each.

    A day off in lieu ("Independence Day (observed)") is left out when the holiday
    itself falls in the month too.
    """
    days = _country_holidays(country, month.year, text.meta.holidays_locale)
    named = [(day, name) for day in sorted(days)
             if (day.year, day.month) == (month.year, month.month)
             for name in days.get_list(day)]
    actual = {name for _, name in named if not _OBSERVED.match(name)}
    first: dict[str, date] = {}
    for day, name in named:
        observed = _OBSERVED.match(name)
        if not (observed and observed["name"] in actual):
            first.setdefault(name, day)
    advice = tuple(text.public_holiday.advice)
    return [Holiday(date=day, name=name, advice=advice, id="public")
            for name, day in sorted(first.items(), key=lambda entry: (entry[1], entry[0]))]


def holidays_in(
    month: Month,
    language: str = "zh",
    *,
    country: str = "CN",
    knowledge: Knowledge | None = None,
    text: SeasonalText | None = None,
) -> list[Holiday]:
    """The holidays of ``month``, one entry each at its first date, by date.

    Days come from the ``holidays`` package for the month's calendar year: a day
    belongs to a holiday when the package names it with one of the holiday's
    ``package_names`` (in ``holiday_names_locale``), so observed days (补假) and
    swapped days (调休) fold into their holiday. Holidays that are not public
    holidays (元宵节) are derived from another's first date. Names come from the
    package in the template's ``holidays_locale`` when it supports it, otherwise
    from the template. For a ``country`` other than China (an ISO code the
    package knows) the month's public holidays are listed as the package names
    them, each with the template's ``public_holiday`` advice.
    """
    knowledge = knowledge or load_knowledge()
    text = text or load_seasonal_text(language, knowledge=knowledge)
    if country != "CN":
        return _public_holidays_in(month, country, text)
    canonical = _package_holidays(month.year, knowledge.holiday_names_locale)
    locale = text.meta.holidays_locale
    shown = (
        _package_holidays(month.year, locale)
        if locale and locale in holidays_package.China.supported_languages
        else None
    )
    owner = {name: hid for hid, rule in knowledge.holidays.items() for name in rule.package_names}
    first: dict[str, tuple[date, str | None]] = {}
    for day in sorted(canonical):
        names = canonical.get_list(day)
        shown_names = shown.get_list(day) if shown is not None else []
        for index, name in enumerate(names):
            hid = owner.get(name)
            if hid is None or hid in first:
                continue
            package_name = shown_names[index] if len(shown_names) == len(names) else None
            first[hid] = (day, package_name)
    for hid, rule in knowledge.holidays.items():
        if rule.after is not None and rule.after in first:
            first[hid] = (first[rule.after][0] + timedelta(days=rule.offset_days), None)

    order = {hid: index for index, hid in enumerate(knowledge.holidays)}
    found = [
        Holiday(
            date=day,
            name=package_name or text.holidays[hid].name,
            advice=tuple(text.holidays[hid].advice),
            id=hid,
        )
        for hid, (day, package_name) in first.items()
        if (day.year, day.month) == (month.year, month.month)
    ]
    return sorted(found, key=lambda holiday: (holiday.date, order[holiday.id]))
