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
    arrangement_known,
    city_info,
    holidays_in,
    load_knowledge,
    load_seasonal_text,
    seasonal_plan,
)

HEATING_ITEMS = {"heating_prep", "heating_start", "deep_winter", "heating_end"}
YEAR = [Month(2025, 9).shift(i) for i in range(12)]
# One city of each climate zone, as cities.toml lists them.
ZONE_CITIES = {"severe_cold": "哈尔滨", "cold": "北京", "hot_summer_cold_winter": "上海",
               "hot_summer_warm_winter": "深圳", "mild": "昆明"}


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


def test_every_item_has_three_to_six_actions_in_every_zone():
    for language in ("zh", "en"):
        for zone, city in ZONE_CITIES.items():
            for month in YEAR:
                for item in seasonal_plan(month, city_info(city), language,
                                          include_holidays=False):
                    assert 3 <= len(item.actions) <= 6, (language, zone, item.id)


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


# --- zones --------------------------------------------------------------------------

# Items that belong to some zones only, written out by hand from what each zone's
# climate allows (not read from cities.toml): no other zone may ever get them.
EXCLUSIVE = {
    "winter_cold_snap": {"hot_summer_cold_winter"},  # cold snaps without central heating
    "plum_rain": {"hot_summer_cold_winter"},  # 梅雨 of the middle and lower Yangtze
    "autumn_south": {"hot_summer_warm_winter"},  # dry season instead of 越冬准备
    "autumn_north": {"severe_cold", "cold"},  # 浇冻水、树干涂白
    **{item: {"severe_cold", "cold"} for item in HEATING_ITEMS},  # central heating
}
# Words no plan may use in a zone and month, as a reader would spot them.
FROST = ("冻", "冰", "雪", "防寒", "freez", "frost", "snow", "icicle", "de-icing")
LAWN = ("草坪", "修剪", "剪草", "lawn", "mow", "prun", "trim")
OVERWINTERING = ("越冬", "过冬", "入秋", "overwinter", "winter preparation", "through the winter")
NEVER = {
    "hot_summer_warm_winter": {month: FROST + OVERWINTERING for month in range(1, 13)},
    "severe_cold": {month: LAWN for month in (11, 12, 1, 2, 3)},
}


def plan_words(item) -> str:
    return " ".join((item.title, item.reason, *item.actions)).lower()


@pytest.mark.parametrize("month", range(1, 13))
@pytest.mark.parametrize("zone", list(ZONE_CITIES))
def test_no_zone_gets_another_zones_items_or_words(zone, month):
    info = city_info(ZONE_CITIES[zone])
    assert info is not None and info.climate_zone == zone
    # 2026 has every holiday in its own months (Spring Festival in February).
    for language in ("zh", "en"):
        plan = seasonal_plan(Month(2026, month), info, language)
        for item in plan:
            allowed = EXCLUSIVE.get(item.id)
            assert allowed is None or zone in allowed, (item.id, zone, month)
            words = plan_words(item)
            for word in NEVER.get(zone, {}).get(month, ()):
                assert word not in words, (language, item.id, word)


def test_shenzhen_november_is_the_dry_season_not_autumn():
    plan = seasonal_plan(Month(2025, 11), city_info("深圳"))
    assert [item.id for item in plan] == ["autumn_south"]
    item = plan[0]
    assert item.reason == "深圳属夏热冬暖地区，11月雨季结束、进入旱季，雨水少、空气干燥"
    assert "入秋" not in plan_words(item) and "越冬" not in plan_words(item)
    assert "autumn" in ids(Month(2025, 11), "上海")  # 夏热冬冷 still has its autumn


def test_harbin_november_is_winter_without_lawn_work():
    plan = seasonal_plan(Month(2025, 11), city_info("哈尔滨"), include_holidays=False)
    assert [item.id for item in plan] == ["deep_winter"]  # heating started 10-20
    assert not [item for item in plan if "草坪" in plan_words(item) or "修剪" in plan_words(item)]
    october = ids(Month(2025, 10), "哈尔滨")
    assert "autumn" in october and "autumn_north" in october  # the last mowing is in October
    assert "autumn" in ids(Month(2025, 11), "北京")  # 寒冷 Beijing still prunes in November


def test_spring_festival_warns_of_frozen_pipes_only_where_pipes_freeze():
    february = Month(2026, 2)  # Spring Festival 2026-02-17
    for city in ("哈尔滨", "北京", "上海"):  # severe_cold, cold, hot_summer_cold_winter
        item = plan_item(february, city_info(city), "holiday.spring_festival")
        assert any("防范管道冻裂漏水" in line for line in item.actions), city
    for city in ("深圳", "广州", "海口", "昆明"):
        item = plan_item(february, city_info(city), "holiday.spring_festival")
        assert not any("冻" in line for line in item.actions), city
        assert "对空置房和外出住户加强巡查" in item.actions  # the burglary patrol stays
    english = plan_item(february, city_info("深圳"), "holiday.spring_festival", "en")
    assert not any("frozen" in line or "burst" in line for line in english.actions)
    # Without a city the zone is unknown: no frost line, whatever the site.
    (festival,) = holidays_in(february)
    assert not any("冻" in line for line in festival.advice)


def test_spring_is_worded_for_the_zone():
    def spring(city: str) -> str:
        return "".join(plan_item(Month(2026, 3), city_info(city), "spring").actions)
    assert "受冻" in spring("北京") and "风干物燥" in spring("北京")
    assert "受冻" not in spring("深圳") and "回南天" in spring("深圳")
    assert "受冻" not in spring("昆明") and "风干物燥" in spring("昆明")


def test_a_frost_line_for_shenzhen_is_refused_at_load(tmp_path: Path):
    path = tmp_path / "seasonal.toml"
    path.write_text(packaged_text("zh").replace(
        '"持续灭蚊，清理积水容器，做好登革热防控"', '"室外水管包扎防冻"'), "utf-8")
    with pytest.raises(UsageError) as error:
        load_seasonal_text(path=path)
    message = str(error.value)
    assert message.startswith(f"{path}: items.autumn_south.actions[3]: '室外水管包扎防冻'")
    assert "zone_limits.freeze" in message
    assert "hot_summer_warm_winter in month(s) 10, 11" in message
    patrol = '"对空置房和外出住户加强巡查'
    path.write_text(packaged_text("zh").replace(f'{patrol}",', f'{patrol}，防范管道冻裂漏水",'),
                    "utf-8")
    with pytest.raises(UsageError, match=r"holidays\.spring_festival\.advice\[3\]: .* every month"):
        load_seasonal_text(path=path)


def test_lawn_work_in_a_harbin_november_is_refused_at_load(tmp_path: Path):
    source = resources.files("yuebao.knowledge").joinpath("cities.toml")
    text = source.read_text(encoding="utf-8").replace(
        "zone_months = { severe_cold = [9, 10] }\n\n[items.autumn_south]",
        "zone_months = { severe_cold = [9, 10, 11] }\n\n[items.autumn_south]")
    path = tmp_path / "cities.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(UsageError, match=r"items\.autumn\.actions\[2\]: '修剪草坪.*"
                                         r"severe_cold in month\(s\) 11"):
        load_seasonal_text("zh", knowledge=load_knowledge(path))


def test_every_item_must_say_where_it_applies(tmp_path: Path):
    source = resources.files("yuebao.knowledge").joinpath("cities.toml")
    text = source.read_text(encoding="utf-8").replace(
        '[items.flood_season]\nnot_zones = []\n', "[items.flood_season]\n")
    path = tmp_path / "cities.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(UsageError, match=r"items\.flood_season: .*zones .* not_zones"):
        load_knowledge(path)


# --- holiday breaks and swapped working days (调休) ---------------------------------
# Expected values from the State Council notices (国务院办公厅关于2025年/2026年部分
# 节假日安排的通知), which the holidays package encodes.


def test_national_day_2025_break_and_working_days():
    national, mid_autumn = holidays_in(Month(2025, 10))
    # 国庆节、中秋节：10月1日（周三）至8日（周三）放假调休，共8天。
    # 9月28日（周日）、10月11日（周六）上班。
    assert (national.first_day, national.last_day, national.days_off) == (
        date(2025, 10, 1), date(2025, 10, 8), 8)
    assert national.working_days == (date(2025, 9, 28), date(2025, 10, 11))
    assert national.schedule == (
        "10月1日至10月8日放假调休，共8天；9月28日（周日）、10月11日（周六）上班")
    assert mid_autumn.shared_with == "national_day" and mid_autumn.working_days == ()
    assert mid_autumn.schedule == "与国庆节连休（10月1日至10月8日）"


def test_national_day_2025_in_english():
    national, mid_autumn = holidays_in(Month(2025, 10), "en")
    assert national.schedule == (
        "days off October 1 to October 8 (8 days, with swapped working days); "
        "working days Sunday September 28 and Saturday October 11")
    assert mid_autumn.schedule == "part of the National Day break (October 1 to October 8)"


def test_spring_festival_breaks_of_2025_and_2026():
    # 2025: 1月28日（除夕）至2月4日放假调休，共8天；1月26日（周日）、2月8日（周六）上班。
    festival = next(h for h in holidays_in(Month(2025, 1)) if h.id == "spring_festival")
    assert festival.date == date(2025, 1, 29)  # 正月初一 stays the holiday's date
    assert (festival.first_day, festival.last_day, festival.days_off) == (
        date(2025, 1, 28), date(2025, 2, 4), 8)
    assert festival.working_days == (date(2025, 1, 26), date(2025, 2, 8))
    # 2026: 2月15日至23日放假调休，共9天；2月14日（周六）、2月28日（周六）上班。
    (festival,) = holidays_in(Month(2026, 2), "en")
    assert festival.schedule == (
        "days off February 15 to February 23 (9 days, with swapped working days); "
        "working days Saturday February 14 and Saturday February 28")


def test_breaks_without_swaps_and_a_single_day():
    new_year, = (h for h in holidays_in(Month(2025, 1)) if h.id == "new_year")
    assert new_year.schedule == "1月1日放假，共1天"  # 2025: 放假1天，不调休
    # 2025 端午节: 5月31日（周六）至6月2日（周一）放假，共3天 (no 调休).
    dragon = next(h for h in holidays_in(Month(2025, 5)) if h.id == "dragon_boat")
    assert dragon.schedule == "5月31日至6月2日放假，共3天" and dragon.working_days == ()
    # 2026 元旦: 1月1日（周四）至3日（周六）放假调休，共3天；1月4日（周日）上班。
    (new_year,) = holidays_in(Month(2026, 1), "en")
    assert new_year.schedule == (
        "days off January 1 to January 3 (3 days, with swapped working days); "
        "working day Sunday January 4")


def test_a_year_the_package_lacks_shows_only_statutory_days():
    assert arrangement_known(2026) and not arrangement_known(2030)
    new_year, = (h for h in holidays_in(Month(2030, 1)) if h.id == "new_year")
    assert not new_year.arrangement_known and new_year.working_days == ()
    assert new_year.schedule == (
        "法定假日1月1日；holidays 包尚未收录2030年国务院放假调休安排，请以国务院办公厅通知为准排班")
    # 春节 2030: 除夕 2月2日 to 初三 2月5日, the four statutory days; no weekends added.
    festival = next(h for h in holidays_in(Month(2030, 2), "en") if h.id == "spring_festival")
    assert (festival.first_day, festival.last_day, festival.days_off) == (
        date(2030, 2, 2), date(2030, 2, 5), 4)
    assert festival.schedule.startswith(
        "statutory days off February 2 to February 5 (4 days); the holidays package does not "
        "have the State Council's 2030 arrangement yet")


def test_lantern_festival_is_not_a_day_off_and_other_countries_have_no_schedule():
    (lantern,) = holidays_in(Month(2026, 3))
    assert lantern.schedule == "不放假（非法定假日）" and lantern.first_day is None
    (independence,) = holidays_in(Month(2021, 7), "en", country="US")
    assert independence.schedule == "" and independence.working_days == ()
