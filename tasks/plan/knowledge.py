"""The two seasonal knowledge files, validated once at the edge.

The facts (cities, climate zones, heating dates and how sure they are, coastal
and flood-season exposure, when and *where* each work item applies, what must
never be planned where) live in ``yuebao/knowledge/cities.toml``; every word a
reader sees lives in ``templates/<lang>/seasonal.toml``. Both are user-editable,
so both are validated when loaded and a bad entry becomes one :class:`UsageError`
line naming the file and the key. The rest of the package trusts what this
module hands on.

The zone check lives here too, because it is a check of the files against each
other: a line of words that is about frost may never be listed where
``cities.toml`` says frost does not happen (``zone_limits``), whatever month the
rule could put it in. It runs at load, not when a plan is drawn up, so a bad
edit is refused before any draft goes out.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Callable, Iterator
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from yuebao.errors import UsageError, read_toml, validated

ZONES = ("severe_cold", "cold", "hot_summer_cold_winter", "hot_summer_warm_winter", "mild")
LANGUAGES = ("zh", "en")
ALL_MONTHS = frozenset(range(1, 13))

Zone = Literal[ZONES]  # type: ignore[valid-type]
Certainty = Literal["reported", "standard", "disputed", "unverified"]
CityFlag = Literal["central_heating", "coastal_typhoon", "plum_rain"]
MonthNumber = Annotated[int, Field(ge=1, le=12)]
LineGroup = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]

VERIFIED = ("reported", "standard")


def check_month_day(value: str) -> str:
    """``MM-DD`` that exists in a leap year (so 02-29 is allowed)."""
    try:
        date.fromisoformat(f"2000-{value}")
    except ValueError:
        raise ValueError(f"{value!r} is not a date of the form MM-DD (for example 11-15)") from None
    if len(value) != 5:
        raise ValueError(f"{value!r} is not a date of the form MM-DD (for example 11-15)")
    return value


MonthDay = Annotated[str, AfterValidator(check_month_day)]


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


def _zone_set(zones: list[str] | None, not_zones: list[str] | None) -> frozenset[str]:
    if zones is not None:
        return frozenset(zones)
    return frozenset(ZONES) - frozenset(not_zones or ())


class ItemRule(_Strict):
    """When and where one seasonal work item applies; see the comment in cities.toml.

    Every item says where it belongs, because "anywhere" is how a Shenzhen plan
    came to read "绿化转入越冬准备": ``zones`` (only these; a city of unknown zone
    gets none) or ``not_zones`` (every zone but these; ``[]`` for every zone,
    and a city of unknown zone gets it).
    """

    priority: int
    zones: list[Zone] | None = None
    not_zones: list[Zone] | None = None
    requires: list[CityFlag] = []
    months: list[MonthNumber] | None = None
    zone_months: dict[Zone, list[MonthNumber]] = {}
    relative_to: Literal["heating_start", "heating_end"] | None = None
    offset_months: int = 0
    within: Literal["heating_season"] | None = None
    flood: Literal["prepare", "season"] | None = None
    peak_months: list[MonthNumber] = []
    zone_lines: dict[LineGroup, list[Zone]] = {}

    @model_validator(mode="after")
    def _one_when(self) -> ItemRule:
        given = [self.months, self.relative_to, self.within, self.flood]
        if sum(value is not None for value in given) != 1:
            raise ValueError("give exactly one of months, relative_to, within, flood")
        if self.zone_months and self.months is None:
            raise ValueError("zone_months needs months")
        if self.relative_to is None and self.offset_months:
            raise ValueError("offset_months needs relative_to")
        if (self.zones is None) == (self.not_zones is None):
            raise ValueError(
                "give exactly one of zones = [..] (the zones it applies to) and "
                "not_zones = [..] (the zones it must never apply to; [] for any zone)"
            )
        for where, zones in (("zone_months", self.zone_months), *self.zone_lines.items()):
            outside = sorted(set(zones) - self.zone_set)
            if outside:
                raise ValueError(f"{where}: zone(s) {', '.join(outside)} are not zones of the item")
        return self

    @property
    def zone_set(self) -> frozenset[str]:
        """The zones the item may be planned for."""
        return _zone_set(self.zones, self.not_zones)

    def applies_to_zone(self, zone: str | None) -> bool:
        if zone is None:
            return self.zones is None
        return zone in self.zone_set


class HolidayRule(_Strict):
    package_names: list[str] = []
    after: str | None = None
    offset_days: int = 0
    zone_lines: dict[LineGroup, list[Zone]] = {}

    @model_validator(mode="after")
    def _one_source(self) -> HolidayRule:
        if bool(self.package_names) == (self.after is not None):
            raise ValueError("give either package_names or after (with offset_days)")
        return self


class ZoneLimit(_Strict):
    """Where a topic of work (recognised by its words) must never be planned."""

    never_zones: list[Zone] = []
    never_months: dict[Zone, list[MonthNumber]] = {}
    source_note: str = ""

    @model_validator(mode="after")
    def _something(self) -> ZoneLimit:
        if not self.never_zones and not self.never_months:
            raise ValueError("give never_zones and/or never_months")
        return self

    def forbidden(self, zone: str) -> frozenset[int]:
        """The months in which the topic must not be planned in ``zone``."""
        if zone in self.never_zones:
            return ALL_MONTHS
        return frozenset(self.never_months.get(zone, ()))


class Knowledge(_Strict):
    """``cities.toml``: language-neutral seasonal facts."""

    holiday_names_locale: str = "zh_CN"
    holiday_priority: int = 50
    zones: dict[Zone, ZoneFacts]
    flood_regions: dict[str, FloodRegion] = {}
    zone_limits: dict[str, ZoneLimit] = {}
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


def _template(*fields: str) -> AfterValidator:
    return AfterValidator(_placeholders(frozenset(fields)))


_REASON_FIELDS = frozenset({"city", "date", "note", "month", "zone", "region"})
Reason = Annotated[str, Field(min_length=1), AfterValidator(_placeholders(_REASON_FIELDS))]
Words = Annotated[str, Field(min_length=1)]
DateWords = Annotated[str, Field(min_length=1), _template("month_name", "month", "day")]
RangeWords = Annotated[str, Field(min_length=1), _template("first", "last", "days")]
FirstWords = Annotated[str, Field(min_length=1), _template("first")]
OneDateWords = Annotated[str, Field(min_length=1), _template("date")]
WorkingDayWords = Annotated[str, Field(min_length=1), _template("date", "weekday")]
DaysWords = Annotated[str, Field(min_length=1), _template("days")]
SharedWords = Annotated[str, Field(min_length=1), _template("name", "first", "last")]
NoArrangementWords = Annotated[str, Field(min_length=1), _template("days", "year")]


class Meta(_Strict):
    language: str
    holidays_locale: str | None = None
    month_names: list[Words] = Field(min_length=12, max_length=12)
    weekday_names: list[Words] = Field(min_length=7, max_length=7)  # Monday first
    date_format: DateWords
    unnamed_city: Words
    note_config: str
    note_default: str
    note_unverified: str
    holiday_reason: Annotated[
        str, AfterValidator(_placeholders(frozenset({"date", "name"})))
    ]

    def date(self, month: int, day: int) -> str:
        """A day of the year in the reader's words (11月15日, November 15)."""
        return self.date_format.format(
            month_name=self.month_names[month - 1], month=month, day=day
        )


class ScheduleText(_Strict):
    """How a holiday's days off and swapped working days (调休) are said."""

    days_off: RangeWords
    days_off_swapped: RangeWords
    one_day_off: FirstWords
    working_day: WorkingDayWords
    working_days_one: DaysWords
    working_days: DaysWords
    separator: str
    last_separator: str
    clause_separator: str
    shared: SharedWords
    not_off: OneDateWords
    no_arrangement: NoArrangementWords
    statutory_range: RangeWords


class ItemText(_Strict):
    title: Words
    reason: Reason
    reason_peak: Reason | None = None
    actions: list[Words] = Field(min_length=1)
    zone_lines: dict[LineGroup, list[Words]] = {}


class HolidayText(_Strict):
    name: Words
    advice: list[Words] = Field(min_length=1)
    zone_lines: dict[LineGroup, list[Words]] = {}


class SeasonalText(_Strict):
    """``templates/<lang>/seasonal.toml``: every word of the seasonal plan."""

    meta: Meta
    schedule: ScheduleText
    topics: dict[str, list[Words]] = {}  # the words that make a line about a zone-limited topic
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


def normalise(name: str) -> str:
    """A name as it is matched: spaces dropped, case folded."""
    return "".join(name.split()).casefold()


def lookup_names(knowledge: Knowledge) -> list[tuple[str, list[str]]]:
    """Every name a config may use for a city or a zone, by its key in cities.toml."""
    names = [(f"cities.{key}", [key, c.name_en, *c.aliases]) for key, c in knowledge.cities.items()]
    names += [(f"zones.{key}", [key, *z.aliases]) for key, z in knowledge.zones.items()]
    return names


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
    for key, names in lookup_names(knowledge):
        namespace = key.split(".", 1)[0]
        for name in names:
            other = seen.setdefault((namespace, normalise(name)), key)
            if other != key:
                raise UsageError(f"{shown}: {key}: name {name!r} is also used by {other}")
    return knowledge


def parse_seasonal_text(
    raw: dict, shown: str = "seasonal.toml", knowledge: Knowledge | None = None
) -> SeasonalText:
    """Validate a parsed ``seasonal.toml``, check it covers every id of ``knowledge``
    and that no line of it is planned where ``knowledge`` forbids its topic."""
    text = validated(SeasonalText, raw, shown)
    if knowledge is None:
        return text
    for section, needed, given in (
        ("items", knowledge.items, text.items),
        ("holidays", knowledge.holidays, text.holidays),
        ("flood_regions", knowledge.flood_regions, text.flood_regions),
        ("topics", knowledge.zone_limits, text.topics),
    ):
        for key in needed:
            if key not in given:
                raise UsageError(f"{shown}: {section}.{key}: missing (cities.toml lists it)")
        for key in given:
            if key not in needed:
                raise UsageError(f"{shown}: {section}.{key}: not in cities.toml (misspelt id?)")
    for section, rules, words in (
        ("items", knowledge.items, text.items),
        ("holidays", knowledge.holidays, text.holidays),
    ):
        for key, rule in rules.items():
            given = words[key].zone_lines
            for group in sorted(rule.zone_lines.keys() ^ given.keys()):
                problem = ("missing (cities.toml lists it)" if group in rule.zone_lines
                           else "not in cities.toml (misspelt group?)")
                raise UsageError(f"{shown}: {section}.{key}.zone_lines.{group}: {problem}")
    check_zones(text, knowledge, shown)
    return text


# --- the zone check -----------------------------------------------------------


def possible_months(rule: ItemRule, zone: str, knowledge: Knowledge) -> frozenset[int]:
    """Every month ``rule`` could put its item in for a city of ``zone``.

    Heating items follow dates a community's config may move, so they could land
    in any month; flood items follow the city's region, so any region's months.
    """
    if rule.months is not None:
        return frozenset(rule.zone_months.get(zone, rule.months))
    if rule.flood is not None:
        regions = knowledge.flood_regions.values()
        field = "prepare_months" if rule.flood == "prepare" else "season_months"
        return frozenset(m for region in regions for m in getattr(region, field))
    return ALL_MONTHS


def _topic_pattern(words: list[str]) -> re.Pattern[str]:
    """Latin words match at a word start (``ice`` not in ``notice``); CJK anywhere."""
    parts = [(r"\b" if word[:1].isascii() and word[:1].isalnum() else "") + re.escape(word)
             for word in words]
    return re.compile("|".join(parts), re.IGNORECASE)


def _lines(
    words: ItemText | HolidayText, groups: dict[str, list[str]], zones: frozenset[str]
) -> Iterator[tuple[str, str, frozenset[str]]]:
    """(key, text, zones it may be shown in) of every line of one item or holiday."""
    if isinstance(words, ItemText):
        yield "title", words.title, zones
        yield "reason", words.reason, zones
        if words.reason_peak:
            yield "reason_peak", words.reason_peak, zones
        base = words.actions
        field = "actions"
    else:
        base = words.advice
        field = "advice"
    for index, line in enumerate(base):
        yield f"{field}[{index}]", line, zones
    for group, lines in words.zone_lines.items():
        for index, line in enumerate(lines):
            yield f"zone_lines.{group}[{index}]", line, zones & frozenset(groups[group])


def check_zones(text: SeasonalText, knowledge: Knowledge, shown: str) -> None:
    """Refuse a line whose topic ``cities.toml`` forbids where and when it can be planned.

    A holiday may fall in any month over the years, so its lines are checked
    against every month.
    """
    patterns = {topic: _topic_pattern(words) for topic, words in text.topics.items()}
    entries: list[tuple[str, ItemText | HolidayText, dict, frozenset[str], Callable]] = []
    for key, rule in knowledge.items.items():
        entries.append((f"items.{key}", text.items[key], rule.zone_lines, rule.zone_set,
                        functools.partial(possible_months, rule, knowledge=knowledge)))
    for key, holiday in knowledge.holidays.items():
        entries.append((f"holidays.{key}", text.holidays[key], holiday.zone_lines,
                        frozenset(ZONES), lambda zone: ALL_MONTHS))
    for where, words, groups, zones, months_of in entries:
        for line_key, line, line_zones in _lines(words, groups, zones):
            for topic, pattern in patterns.items():
                found = pattern.search(line)
                if found is None:
                    continue
                limit = knowledge.zone_limits[topic]
                for zone in ZONES:
                    if zone not in line_zones:
                        continue
                    clash = sorted(limit.forbidden(zone) & months_of(zone))
                    when = ("every month" if len(clash) == 12
                            else "month(s) " + ", ".join(map(str, clash)))
                    if clash:
                        raise UsageError(
                            f"{shown}: {where}.{line_key}: {line!r} is about {topic} "
                            f"({found.group(0)!r}), which cities.toml zone_limits.{topic} "
                            f"forbids for {zone} in {when}, "
                            f"where the entry can be planned; narrow its zones or months "
                            f"in cities.toml, or move the line to zone_lines"
                        )


# --- the packaged files -------------------------------------------------------


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
