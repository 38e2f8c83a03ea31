"""A seasonal category in the month the season turns: compared with last year, said why.

Heating in Beijing starts on 11-15 (cities.toml); in November heating complaints
jump from none, which is the calendar, not the service.
"""

from __future__ import annotations

from test_findings import _doc, _tickets

from yuebao.months import Month
from yuebao.tasks.draft import build_draft, complaint_findings
from yuebao.tasks.draft.season import heating_event, season_events
from yuebao.tasks.plan import city_info
from yuebao.tasks.render import environment


def _month(heating: int) -> dict:
    return _doc(_tickets({"heating": heating, "noise": 13}), {}) | {"month": "2026-11"}


def test_heating_starts_in_beijings_november_and_ends_before_april():
    beijing = city_info("北京")
    assert heating_event(beijing, Month.parse("2026-11")) == {
        "event": "start", "month": 11, "day": 15, "verified": True}
    assert heating_event(beijing, Month.parse("2026-04"))["event"] == "end"  # ended 03-15
    assert heating_event(beijing, Month.parse("2026-12")) is None
    assert heating_event(city_info("深圳"), Month.parse("2026-11")) is None
    events = season_events({"a": beijing, "b": city_info("深圳")}, {"a": "锦江小区", "b": "南山"},
                           Month.parse("2026-11"))
    assert events["b"] == [] and events["a"][0]["communities"] == []
    assert events["_portfolio"] == [{"event": "start", "month": 11, "day": 15,
                                     "verified": True, "communities": ["锦江小区"]}]


def test_heating_start_compares_heating_complaints_with_last_year():
    # 0 → 16 against last month would be z = 16 / √16 = 4.0, a problem; against last
    # November's 14 it is 2 / √30 = 0.37: not a finding.
    now, october, last_november = _month(16), _month(0), _month(14)
    assert complaint_findings(now, october)[1][0].score == 4.0
    assert complaint_findings(now, october, last_november, seasonal=True) == ([], [])
    # Last November 4 → 16: (16 − 4) / √20 = 2.683, a problem against last year.
    grew = complaint_findings(now, october, _month(4), seasonal=True)[1]
    assert [(f.value, f.reference, f.extra["since"], round(f.score, 3)) for f in grew] == [
        (16, 4, "last_year", 2.683)]


def test_without_last_year_the_change_is_said_with_the_season():
    season = season_events({"a": city_info("北京")}, {"a": "锦江小区"}, Month.parse("2026-11"))
    year_ago = {"tickets": None, "fees": None}  # the exports do not reach last November
    draft = build_draft(_month(16), previous=_month(0), scope_name="锦江小区", city="北京",
                        targets={}, plan_items=[], holidays_now=[], holidays_next=[],
                        workload=None, community_rows=[], names={"a": "锦江小区"},
                        year_ago=year_ago, season=season["a"])
    problem = draft["problems"][0]
    assert (problem["rule"], problem["extra"]["since"], problem["reference"]) == (
        "complaints_grew", "previous", 0)
    assert draft["season"]["complaints"]["heating"] == {"value": 16, "last_year": None}
    zh = environment("zh").get_template("_findings.md.j2").module.finding(problem, draft)
    assert zh.strip() == "供暖类投诉 16 件，较上月增加 16 件，增长明显（供暖已于 11月15日 开始）。"
    en = environment("en").get_template("_findings.md.j2").module.finding(problem, draft)
    assert "from last month (heating started on November 15)" in en
