"""Next month's holidays, with the days off and swapped working days rosters need.

A roster is not drawn up from "国庆节 10月1日": it needs the whole break
(10月1日至10月8日, weekends included) and the weekend days that become working
days (调休: 9月28日（周日）、10月11日（周六）上班). Both come from the ``holidays``
package, which encodes each year's State Council notice: a swapped day off is
named "休息日（由 2025-09-28 调休）" after the working day it was swapped from,
and :meth:`HolidayBase.is_working_day` knows the weekend working days. The
package has no ``workday`` category for China (only ``public`` and
``half_day``), so the working days are read from those names.

For a year whose notice the package does not have yet (it is published in
November for the year after), nothing is worked out from weekends or the
package's own observed-day rule: the draft says the arrangement is missing and
shows only the statutory days off, so no roster is built on invented dates.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

import holidays as holidays_package

from yuebao.months import Month

from .cities import CityInfo
from .knowledge import HolidayText, Knowledge, SeasonalText, load_knowledge, load_seasonal_text

_LONGEST_BREAK = 31  # days searched either side of a holiday for the ends of its break


@dataclass(frozen=True)
class Holiday:
    """One holiday of the month; ``id`` as in cities.toml.

    ``date`` is the holiday itself (春节 = 正月初一). ``first_day`` to
    ``last_day`` is the whole break it is part of, weekends included, with
    ``days_off`` days; ``working_days`` are the weekend days worked instead
    (调休), given once per break, on the holiday that owns it.
    ``arrangement_known`` is false when the package lacks the year's notice:
    then the break is only the statutory days and there are no working days.
    ``shared_with`` is the id of the earlier holiday whose break this one shares
    (中秋节 in the 国庆节 break). ``schedule`` says all of it in the reader's
    language (for 元宵节: not a day off). Another country's holidays
    have no break and an empty ``schedule``: the package has no such data.
    """

    date: date
    name: str
    advice: tuple[str, ...]
    id: str = ""
    first_day: _dt.date | None = None
    last_day: _dt.date | None = None
    days_off: int = 0
    working_days: tuple[_dt.date, ...] = ()
    arrangement_known: bool = True
    shared_with: str = ""
    schedule: str = ""


@dataclass(frozen=True)
class _Break:
    first: date
    last: date
    working_days: tuple[date, ...]

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


# --- the package ----------------------------------------------------------------


@functools.cache
def _package_holidays(year: int, locale: str) -> holidays_package.HolidayBase:
    """The package's China holidays of ``year``; callers only read the result."""
    return holidays_package.China(years=year, language=locale)


@functools.cache
def _calendar(year: int, locale: str) -> holidays_package.HolidayBase:
    """China around ``year`` (a break may start in December or end in January)."""
    return holidays_package.China(years=(year - 1, year, year + 1), language=locale)


@functools.cache
def _statutory(year: int, locale: str) -> holidays_package.HolidayBase:
    """Only the days the law names, without the package's observed-day guesses."""
    return holidays_package.China(years=year, language=locale, observed=False)


@functools.cache
def _country_holidays(country: str, year: int, locale: str | None) -> holidays_package.HolidayBase:
    """The package's public holidays of ``country`` in ``year``, named in ``locale`` when
    the package has that language (else in the country's own)."""
    supported = holidays_package.country_holidays(country).supported_languages
    return holidays_package.country_holidays(
        country, years=year, language=locale if locale in supported else None)


def arrangement_known(year: int, locale: str = "zh_CN") -> bool:
    """Whether the package has the State Council's holiday arrangement for ``year``.

    The package keeps each notice's swapped days as that year's special holidays;
    a year without them is the statutory days only.
    """
    return year in getattr(_calendar(year, locale), "special_public_holidays", {})


def _swapped_from(calendar: holidays_package.HolidayBase, day: date) -> date | None:
    """The working day a swapped day off was moved from, read from its package name."""
    label = getattr(calendar, "substituted_label", None)
    form = getattr(calendar, "substituted_date_format", None)
    if not label or not form:
        return None
    pattern = re.compile(re.escape(label).replace("%s", "(?P<day>.+?)") + "$")
    for name in calendar.get_list(day):
        found = pattern.match(name)
        if found:
            try:
                return datetime.strptime(found["day"], form).date()
            except ValueError:
                return None
    return None


def _break_around(day: date, calendar: holidays_package.HolidayBase) -> _Break:
    """The run of days off (holidays, swapped days off, free weekends) containing ``day``."""
    step = timedelta(days=1)
    first = last = day
    for _ in range(_LONGEST_BREAK):
        if calendar.is_working_day(first - step):
            break
        first -= step
    for _ in range(_LONGEST_BREAK):
        if calendar.is_working_day(last + step):
            break
        last += step
    working = set()
    current = first
    while current <= last:
        source = _swapped_from(calendar, current)
        if source and calendar.is_weekend(source) and calendar.is_working_day(source):
            working.add(source)
        current += step
    return _Break(first, last, tuple(sorted(working)))


def _statutory_run(day: date, calendar: holidays_package.HolidayBase) -> _Break:
    """The consecutive statutory days containing ``day`` (春节: 除夕 to 初三)."""
    step = timedelta(days=1)
    first = last = day
    while first - step in calendar:
        first -= step
    while last + step in calendar:
        last += step
    return _Break(first, last, ())


# --- words ------------------------------------------------------------------------


def _day(day: date, text: SeasonalText) -> str:
    return text.meta.date(day.month, day.day)


def _listed(parts: list[str], text: SeasonalText) -> str:
    words = text.schedule
    if len(parts) <= 1:
        return "".join(parts)
    return words.separator.join(parts[:-1]) + words.last_separator + parts[-1]


def _days_off(span: _Break, text: SeasonalText) -> str:
    words = text.schedule
    first, last = _day(span.first, text), _day(span.last, text)
    if span.first == span.last:
        return words.one_day_off.format(first=first)
    template = words.days_off_swapped if span.working_days else words.days_off
    return template.format(first=first, last=last, days=span.days)


def _working_days(days: tuple[date, ...], text: SeasonalText) -> str:
    words = text.schedule
    weekdays = text.meta.weekday_names
    named = [words.working_day.format(date=_day(d, text), weekday=weekdays[d.weekday()])
             for d in days]
    template = words.working_days_one if len(days) == 1 else words.working_days
    return template.format(days=_listed(named, text))


def _schedule(span: _Break, text: SeasonalText) -> str:
    clauses = [_days_off(span, text)]
    if span.working_days:
        clauses.append(_working_days(span.working_days, text))
    return text.schedule.clause_separator.join(clauses)


def _unknown_schedule(span: _Break, text: SeasonalText) -> str:
    words = text.schedule
    if span.first == span.last:
        days = _day(span.first, text)
    else:
        days = words.statutory_range.format(
            first=_day(span.first, text), last=_day(span.last, text), days=span.days)
    return words.no_arrangement.format(days=days, year=span.first.year)


def _advice(words: HolidayText, groups: dict[str, list[str]], city: CityInfo | None
            ) -> tuple[str, ...]:
    """The holiday's advice, with the lines meant for the city's zone (none if unknown)."""
    zone = city.climate_zone if city else None
    extra = [line for group, lines in words.zone_lines.items()
             if zone is not None and zone in groups.get(group, ()) for line in lines]
    return (*words.advice, *extra)


# --- holidays_in --------------------------------------------------------------------


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


def _first_days(year: int, knowledge: Knowledge, locale: str | None
                ) -> dict[str, tuple[date, str | None]]:
    """Each holiday's own date in ``year`` and its name in ``locale`` if the package has it."""
    canonical = _package_holidays(year, knowledge.holiday_names_locale)
    shown = (
        _package_holidays(year, locale)
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
    return first


def _with_breaks(found: list[Holiday], knowledge: Knowledge, text: SeasonalText,
                 year_holidays: list[tuple[date, str]]) -> list[Holiday]:
    """``found`` with each public holiday's break, working days and schedule filled in."""
    locale = knowledge.holiday_names_locale
    public = {hid for hid, rule in knowledge.holidays.items() if rule.package_names}
    names = {hid: text.holidays[hid].name for hid in knowledge.holidays}
    owner_of_break: dict[tuple[date, date], str] = {}
    for day, hid in year_holidays:  # the year's holidays by date: the first one owns a break
        if hid in public and arrangement_known(day.year, locale):
            span = _break_around(day, _calendar(day.year, locale))
            owner_of_break.setdefault((span.first, span.last), hid)
    result = []
    for holiday in found:
        if holiday.id not in public:
            result.append(replace(holiday, schedule=text.schedule.not_off.format(
                date=_day(holiday.date, text))))
            continue
        if not arrangement_known(holiday.date.year, locale):
            span = _statutory_run(holiday.date, _statutory(holiday.date.year, locale))
            result.append(replace(
                holiday, first_day=span.first, last_day=span.last, days_off=span.days,
                arrangement_known=False, schedule=_unknown_schedule(span, text)))
            continue
        span = _break_around(holiday.date, _calendar(holiday.date.year, locale))
        owner = owner_of_break.get((span.first, span.last), holiday.id)
        if owner != holiday.id:
            schedule = text.schedule.shared.format(
                name=names[owner], first=_day(span.first, text), last=_day(span.last, text))
        else:
            schedule = _schedule(span, text)
        result.append(replace(
            holiday, first_day=span.first, last_day=span.last, days_off=span.days,
            working_days=span.working_days if owner == holiday.id else (),
            shared_with="" if owner == holiday.id else owner,
            schedule=schedule))
    return result


def holidays_in(
    month: Month,
    language: str = "zh",
    *,
    country: str = "CN",
    city: CityInfo | None = None,
    knowledge: Knowledge | None = None,
    text: SeasonalText | None = None,
) -> list[Holiday]:
    """The holidays of ``month``, one entry each at its own date, by date.

    Days come from the ``holidays`` package for the month's calendar year: a day
    belongs to a holiday when the package names it with one of the holiday's
    ``package_names`` (in ``holiday_names_locale``). Holidays that are not public
    holidays (元宵节) are derived from another's date. Each public holiday of
    China carries its break and swapped working days (see the module docstring).
    Names come from the package in the template's ``holidays_locale`` when it
    supports it, otherwise from the template. Advice lines limited to some zones
    (``zone_lines``) are given only for a ``city`` of those zones, never when the
    zone is unknown. For a ``country`` other than China (an ISO code the package
    knows) the month's public holidays are listed as the package names them,
    each with the template's ``public_holiday`` advice.
    """
    knowledge = knowledge or load_knowledge()
    text = text or load_seasonal_text(language, knowledge=knowledge)
    if country != "CN":
        return _public_holidays_in(month, country, text)
    first = _first_days(month.year, knowledge, text.meta.holidays_locale)
    order = {hid: index for index, hid in enumerate(knowledge.holidays)}
    found = [
        Holiday(
            date=day,
            name=package_name or text.holidays[hid].name,
            advice=_advice(text.holidays[hid], knowledge.holidays[hid].zone_lines, city),
            id=hid,
        )
        for hid, (day, package_name) in first.items()
        if (day.year, day.month) == (month.year, month.month)
    ]
    found.sort(key=lambda holiday: (holiday.date, order[holiday.id]))
    year_holidays = sorted(((day, hid) for hid, (day, _) in first.items()),
                           key=lambda entry: (entry[0], order[entry[1]]))
    return _with_breaks(found, knowledge, text, year_holidays)
