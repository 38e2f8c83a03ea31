"""The seasonal plan and holidays: what lands in which month, for which city."""

from __future__ import annotations

import re
from datetime import date
from importlib import resources
from pathlib import Path

import pytest

from yuebao.config import config_from_dict
from yuebao.errors import UsageError
from yuebao.months import Month
from yuebao.tasks.plan import (
    CityInfo,
    city_info,
    holidays_in,
    load_knowledge,
    load_seasonal_text,
    seasonal_plan,
)

HEATING_ITEMS = {"heating_prep", "heating_start", "deep_winter", "heating_end"}
YEAR = [Month(2025, 9).shift(i) for i in range(12)]


def ids(month: Month, city: str | CityInfo | None, language: str = "zh") -> list[str]:
    info = city_info(city) if isinstance(city, str) else city
    return [item.id for item in seasonal_plan(month, info, language)]


def plan_item(month: Month, city: CityInfo | None, item_id: str, language: str = "zh"):
    return next(item for item in seasonal_plan(month, city, language) if item.id == item_id)


def prep_months(city: CityInfo | None) -> list[int]:
    return [m.month for m in YEAR if "heating_prep" in ids(m, city)]


def packaged_text(language: str) -> str:
    source = resources.files("yuebao.templates").joinpath(language, "seasonal.toml")
    return source.read_text(encoding="utf-8")


# --- heating --------------------------------------------------------------------


def test_beijing_october_prepares_for_heating():
    item = plan_item(Month(2025, 10), city_info("北京"), "heating_prep")
    assert "11月15日" in item.reason
    assert 3 <= len(item.actions) <= 6
    text = "".join(item.actions)
    for word in ("打压", "保温", "泄水", "融雪剂", "换热站", "通知"):
        assert word in text


def test_beijing_november_has_heating_start_duty_not_preparation():
    plan = ids(Month(2025, 11), "北京")
    assert "heating_start" in plan
    assert "heating_prep" not in plan
    item = plan_item(Month(2025, 11), city_info("北京"), "heating_start")
    assert any("24小时" in action for action in item.actions)


def test_preparation_is_the_month_before_the_start_month():
    assert prep_months(city_info("北京")) == [10]  # starts 11-15
    assert prep_months(city_info("哈尔滨")) == [9]  # starts 10-20, second half of October
    assert prep_months(city_info("天津")) == [10]


def test_harbin_prepares_earlier_than_beijing():
    assert "heating_prep" in ids(Month(2025, 9), "哈尔滨")
    assert "heating_prep" not in ids(Month(2025, 9), "北京")
    assert "heating_start" in ids(Month(2025, 10), "哈尔滨")


def test_beijing_deep_winter_and_heating_end():
    deep = [m.month for m in YEAR if "deep_winter" in ids(m, "北京")]
    assert sorted(deep) == [1, 2, 12]
    end = [m.month for m in YEAR if "heating_end" in ids(m, "北京")]
    assert end == [3]


@pytest.mark.parametrize("city", ["上海", "深圳", "广州", "昆明"])
def test_cities_without_central_heating_never_get_heating_items(city):
    for month in YEAR:
        assert not HEATING_ITEMS & set(ids(month, city)), (city, str(month))


def test_config_override_of_heating_start_moves_the_preparation_month():
    info = city_info("北京", heating_start="10-25")
    assert prep_months(info) == [9]
    item = plan_item(Month(2025, 9), info, "heating_prep")
    assert "10月25日" in item.reason and "按项目配置" in item.reason


def test_verified_and_unverified_dates_are_worded_differently():
    beijing = plan_item(Month(2025, 10), city_info("北京"), "heating_prep")
    shenyang = plan_item(Month(2025, 10), city_info("沈阳"), "heating_prep")
    assert "（默认值，请核对）" not in beijing.reason
    assert "（默认值，请核对）" in shenyang.reason
    harbin_end = plan_item(Month(2026, 4), city_info("哈尔滨"), "heating_end")
    assert "（默认值，请核对）" in harbin_end.reason  # review.md: end date unverified


def test_heating_table_cities_are_all_known_with_heating():
    table = "北京 天津 济南 哈尔滨 乌鲁木齐 沈阳 长春 呼和浩特 石家庄 太原 西安 郑州 兰州 西宁 银川"
    for name in table.split():
        info = city_info(name)
        assert info is not None and info.known and info.central_heating, name
        assert re.fullmatch(r"\d{2}-\d{2}", info.heating_start or ""), name
    others = (
        "上海 深圳 广州 杭州 南京 武汉 成都 重庆 福州 厦门 海口 昆明 南宁 长沙 合肥 南昌 大连 青岛"
    )
    for name in others.split():
        assert city_info(name) is not None, name


# --- water and wind ---------------------------------------------------------------


def test_shenzhen_august_has_typhoon_at_its_peak():
    item = plan_item(Month(2025, 8), city_info("深圳"), "typhoon")
    assert "盛期" in item.reason
    assert "typhoon" not in ids(Month(2025, 8), "北京")


def test_shanghai_june_has_plum_rain_and_shenzhen_does_not():
    assert "plum_rain" in ids(Month(2025, 6), "上海")
    assert "plum_rain" not in ids(Month(2025, 6), "深圳")
    assert "plum_rain" not in ids(Month(2025, 7), "上海")


def test_flood_season_by_region():
    assert "flood_season" in ids(Month(2025, 7), "北京")
    assert "flood_season" not in ids(Month(2025, 6), "北京")
    assert "flood_prepare" in ids(Month(2025, 6), "北京")
    assert "flood_prepare" in ids(Month(2025, 4), "深圳")  # the south prepares by end of April
    assert "flood_season" in ids(Month(2025, 6), "武汉")


def test_whitewashing_and_frost_watering_only_in_the_north():
    assert "autumn_north" in ids(Month(2025, 11), "北京")
    assert "autumn" in ids(Month(2025, 11), "上海")
    assert "autumn_north" not in ids(Month(2025, 11), "上海")


def test_order_is_urgent_work_then_holidays_then_routine():
    plan = ids(Month(2025, 10), "北京")
    assert plan == [
        "heating_prep",
        "holiday.national_day",
        "holiday.mid_autumn",
        "autumn",
        "autumn_north",
    ]
    assert ids(Month(2025, 8), "深圳")[0] == "typhoon"


def test_include_holidays_false_leaves_them_out():
    plan = seasonal_plan(Month(2025, 10), city_info("北京"), include_holidays=False)
    assert not [item for item in plan if item.id.startswith("holiday.")]


# --- cities -----------------------------------------------------------------------


def test_city_lookup_by_english_name_and_alias():
    assert city_info("Beijing").name == "北京"
    assert city_info(" beijing ").name == "北京"
    assert city_info("北京市").name == "北京"
    assert city_info("Harbin").heating_start == "10-20"


def test_unknown_city_with_only_a_zone_still_gets_a_plan():
    info = city_info("廊坊", climate_zone="寒冷")
    assert info is not None and not info.known
    assert info.climate_zone == "cold" and info.central_heating
    assert not info.heating_verified
    item = plan_item(Month(2025, 10), info, "heating_prep")
    assert item.reason.startswith("廊坊") and "（默认值，请核对）" in item.reason
    assert plan_item(Month(2025, 10), city_info(None, climate_zone="cold"), "heating_prep")


def test_unknown_city_without_a_zone_is_none_and_bad_overrides_are_errors():
    assert city_info("火星") is None
    assert city_info(None) is None
    with pytest.raises(UsageError, match="climate_zone"):
        city_info("北京", climate_zone="tropical")
    with pytest.raises(UsageError, match="heating_start"):
        city_info("北京", heating_start="11-31")


def test_no_city_gets_only_general_work():
    assert ids(Month(2025, 10), None) == ["holiday.national_day", "holiday.mid_autumn", "autumn"]


# --- holidays -----------------------------------------------------------------------


def test_october_2025_national_day_and_mid_autumn():
    found = [(h.id, h.date, h.name) for h in holidays_in(Month(2025, 10))]
    assert found == [
        ("national_day", date(2025, 10, 1), "国庆节"),
        ("mid_autumn", date(2025, 10, 6), "中秋节"),
    ]
    assert all(h.advice for h in holidays_in(Month(2025, 10)))


def test_spring_festival_2026_and_lantern_festival_in_march():
    february = holidays_in(Month(2026, 2))
    assert [(h.id, h.date) for h in february] == [("spring_festival", date(2026, 2, 17))]
    march = holidays_in(Month(2026, 3))
    assert [(h.id, h.date, h.name) for h in march] == [
        ("lantern_festival", date(2026, 3, 3), "元宵节")
    ]


def test_lantern_festival_2025_is_derived_not_hard_coded():
    found = {h.id: h.date for h in holidays_in(Month(2025, 2))}
    assert found == {"lantern_festival": date(2025, 2, 12)}
    assert {h.id: h.date for h in holidays_in(Month(2025, 1))}["spring_festival"] == date(
        2025, 1, 29
    )


def test_multi_day_and_substitute_days_collapse_to_one_entry():
    may = holidays_in(Month(2026, 5))
    assert [(h.id, h.date) for h in may] == [("labour_day", date(2026, 5, 1))]
    january = holidays_in(Month(2026, 1))  # 01-02 is a swapped day off
    assert [(h.id, h.date) for h in january] == [("new_year", date(2026, 1, 1))]


def test_holiday_names_in_english():
    names = {h.id: h.name for h in holidays_in(Month(2025, 10), "en")}
    assert names == {"national_day": "National Day", "mid_autumn": "Mid-Autumn Festival"}
    lantern = holidays_in(Month(2026, 3), "en")[0]
    assert lantern.name == "Lantern Festival"
    assert lantern.advice[0].isascii()


def test_another_countrys_public_holidays_with_common_advice():
    july = holidays_in(Month(2021, 7), "en", country="US")  # July 5 was the day off in lieu
    assert [(h.id, h.date, h.name) for h in july] == [
        ("public", date(2021, 7, 4), "Independence Day")]
    december = holidays_in(Month(2021, 12), "en", country="US")
    assert [(h.date, h.name) for h in december] == [
        (date(2021, 12, 25), "Christmas Day"),
        (date(2021, 12, 31), "New Year's Day (observed)"),  # the day itself is in January
    ]
    assert july[0].advice == december[0].advice and july[0].advice[0].isascii()
    zh = holidays_in(Month(2021, 7), "zh", country="US")  # names as the package has them
    assert [(h.date, h.name) for h in zh] == [(date(2021, 7, 4), "Independence Day")]
    assert "消防" in zh[0].advice[0]
    assert holidays_in(Month(2021, 8), "en", country="US") == []
    plan = seasonal_plan(Month(2021, 7), None, "en", country="US")
    assert [(i.id, i.title) for i in plan] == [("holiday.public", "Independence Day")]


def test_an_unknown_country_is_a_configuration_error(tmp_path):
    with pytest.raises(UsageError, match="country 'XX'"):
        config_from_dict({"country": "XX"}, tmp_path)


# --- languages and data files ----------------------------------------------------------


def test_english_plan_is_complete_and_english():
    for month in YEAR:
        for city in ("北京", "上海", "深圳", "哈尔滨"):
            zh = seasonal_plan(month, city_info(city), "zh")
            en = seasonal_plan(month, city_info(city), "en")
            assert [i.id for i in zh] == [i.id for i in en]
            for item in en:
                words = " ".join((item.title, item.reason, *item.actions))
                assert not re.search(r"[\u4e00-\u9fff]", words), (item.id, words)


def test_english_reason_uses_english_city_name():
    item = plan_item(Month(2025, 10), city_info("北京"), "heating_prep", "en")
    assert item.reason.startswith("Heating in Beijing usually starts on November 15")


def test_every_item_has_three_to_six_actions():
    for language in ("zh", "en"):
        text = load_seasonal_text(language)
        for item_id, item in text.items.items():
            assert 3 <= len(item.actions) <= 6, (language, item_id)


def test_unknown_language_is_a_usage_error():
    with pytest.raises(UsageError, match="fr"):
        seasonal_plan(Month(2025, 10), city_info("北京"), "fr")


def test_malformed_seasonal_entry_names_the_file_and_key(tmp_path: Path):
    broken = packaged_text("zh").replace(
        'reason = "{city}地处沿海，{month}处于台风季"', 'reason = "{citty}地处沿海"'
    )
    path = tmp_path / "seasonal.toml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(UsageError) as error:
        load_seasonal_text(path=path)
    message = str(error.value)
    assert str(path) in message and "items.typhoon.reason" in message and "{citty}" in message


def test_seasonal_entry_with_no_actions_names_the_key(tmp_path: Path):
    text = packaged_text("en")
    spring = text.index("[items.spring]")
    actions = text.index("actions = [", spring)
    closing = text.index("]\n", actions)
    path = tmp_path / "seasonal.toml"
    path.write_text(text[:actions] + "actions = []" + text[closing + 1 :], encoding="utf-8")
    with pytest.raises(UsageError, match=r"seasonal\.toml: items\.spring\.actions: List should"):
        load_seasonal_text("en", path=path)


def test_seasonal_ids_must_match_the_knowledge_file(tmp_path: Path):
    path = tmp_path / "seasonal.toml"
    path.write_text(packaged_text("zh").replace("[items.plum_rain]", "[items.plum_rian]"), "utf-8")
    with pytest.raises(UsageError, match=r"seasonal\.toml: items\.plum_rain: missing"):
        load_seasonal_text(path=path)
    extra = "[holidays.christmas]\nname = '圣诞节'\nadvice = ['布置圣诞树']\n"
    path.write_text(packaged_text("zh") + extra, "utf-8")
    with pytest.raises(UsageError, match=r"holidays\.christmas: not in cities\.toml"):
        load_seasonal_text(path=path)


def test_malformed_city_entry_names_the_file_and_key(tmp_path: Path):
    source = resources.files("yuebao.knowledge").joinpath("cities.toml")
    text = source.read_text(encoding="utf-8")
    path = tmp_path / "cities.toml"
    path.write_text(text.replace('heating_start = "10-20"', 'heating_start = "10-32"'), "utf-8")
    with pytest.raises(UsageError, match=r"cities\.toml: cities\.哈尔滨\.heating_start: '10-32'"):
        load_knowledge(path)
    path.write_text(
        text.replace('aliases = ["天津市"]', 'aliases = ["天津市", "Beijing"]'), "utf-8"
    )
    with pytest.raises(UsageError, match=r"cities\.天津: name 'Beijing' is also used by"):
        load_knowledge(path)


def test_edited_knowledge_changes_the_plan(tmp_path: Path):
    source = resources.files("yuebao.knowledge").joinpath("cities.toml")
    text = source.read_text(encoding="utf-8").replace(
        "months = [7, 8, 9]\npeak_months = [8]", "months = [6, 7, 8, 9, 10]\npeak_months = [9]"
    )
    path = tmp_path / "cities.toml"
    path.write_text(text, encoding="utf-8")
    knowledge = load_knowledge(path)
    info = city_info("深圳", knowledge=knowledge)
    october = seasonal_plan(Month(2025, 10), info, knowledge=knowledge)
    assert "typhoon" in [item.id for item in october]
