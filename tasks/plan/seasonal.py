"""Next month's seasonal work for one city: which items of cities.toml apply, in words.

An item applies when the city's zone is one of the item's zones and the month
is one of its months for that zone (or of the city's heating or flood dates).
The zone comes first because the same month means different work: November is
leaf-clearing and 越冬准备 in Shanghai, deep winter in Harbin and the start of
the dry season in Shenzhen. Lines meant for only some of an item's zones
(``zone_lines``) are added for a city of those zones, and left out when its
zone is unknown.

The heating-preparation month is the month *before* the month that contains the
city's heating start, whatever the day of the start (北京 11-15 -> October,
哈尔滨 10-20 -> September). The reason is in ``cities.toml`` next to the rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from yuebao.months import Month

from .cities import CityInfo
from .holidays import holidays_in
from .knowledge import ItemRule, Knowledge, SeasonalText, load_knowledge, load_seasonal_text


@dataclass(frozen=True)
class PlanItem:
    """One piece of next month's seasonal work; ``reason`` says why it is there."""

    id: str
    title: str
    actions: tuple[str, ...]
    reason: str


def _month_of(month_day: str) -> int:
    return int(month_day[:2])


def _cyclic_between(first: int, last: int) -> set[int]:
    """Months strictly after ``first`` and before ``last``, wrapping at the year end."""
    count = (last - first) % 12
    return {(first - 1 + step) % 12 + 1 for step in range(1, count)}


def _rule_months(
    rule: ItemRule, city: CityInfo | None, knowledge: Knowledge
) -> tuple[set[int], set[int]]:
    """(months the rule applies in, months worded as its peak) for ``city``."""
    peak = set(rule.peak_months)
    if rule.months is not None:
        zone = city.climate_zone if city else None
        return set(rule.zone_months.get(zone, rule.months) if zone else rule.months), peak
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
    if not rule.applies_to_zone(city.climate_zone if city else None):
        return False
    return all(city is not None and getattr(city, flag) for flag in rule.requires)


def _date_note(source: str | None, verified: bool, text: SeasonalText) -> str:
    if source == "config":
        return text.meta.note_config
    return text.meta.note_default if verified else text.meta.note_unverified


def _month_day(month_day: str, text: SeasonalText) -> str:
    return text.meta.date(int(month_day[:2]), int(month_day[3:]))


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
            fields["date"] = _month_day(city.heating_start, text)
            fields["note"] = _date_note(city.heating_from, city.heating_verified, text)
        elif rule.relative_to == "heating_end" and city.heating_end:
            fields["date"] = _month_day(city.heating_end, text)
            fields["note"] = _date_note(city.heating_end_from, city.heating_end_verified, text)
    return template.format(**fields)


def _actions(item_id: str, rule: ItemRule, city: CityInfo | None, text: SeasonalText
             ) -> tuple[str, ...]:
    words = text.items[item_id]
    zone = city.climate_zone if city else None
    extra = [line for group, lines in words.zone_lines.items()
             if zone is not None and zone in rule.zone_lines[group] for line in lines]
    return (*words.actions, *extra)


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
    first, then the month's holidays (as ``holiday.<id>`` items, by date, with
    the advice for the city's zone), then routine seasonal work.
    ``include_holidays=False`` leaves the holidays out for a caller that shows
    :func:`holidays_in` on its own; ``country`` is as there.
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
        reason = _reason(item_id, rule, month, city, text, peak=month.month in peak)
        actions = _actions(item_id, rule, city, text)
        ranked.append((rule.priority, order, PlanItem(item_id, text.items[item_id].title,
                                                      actions, reason)))
    if include_holidays:
        month_holidays = holidays_in(month, language, country=country, city=city,
                                     knowledge=knowledge, text=text)
        for order, holiday in enumerate(month_holidays):
            reason = text.meta.holiday_reason.format(
                date=text.meta.date(holiday.date.month, holiday.date.day), name=holiday.name)
            if holiday.schedule:
                reason += text.schedule.clause_separator + holiday.schedule
            item = PlanItem(f"holiday.{holiday.id}", holiday.name, holiday.advice, reason)
            ranked.append((knowledge.holiday_priority, order, item))
    ranked.sort(key=lambda entry: (entry[0], entry[1]))
    return [item for _, _, item in ranked]
