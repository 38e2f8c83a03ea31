"""Realistic, seeded sample exports, in two styles.

The demo, the tests and the benchmarks need exports that look like a real
property-management system's, so that every KPI of kpis.md and every seasonal
story of review.md has something to show: heating start in the north, typhoons
in the south, plum rain in Shanghai, summer power trips, holiday noise, a
building whose pipes keep leaking, late and partial payers, long arrears,
refunds, and a handful of defects for the data-quality report.

The ``canonical`` style writes three CSV files in the built-in canonical profile
(tests of the metrics and the benchmarks read it). The ``zh-generic`` style (the
demo's) writes the same events as each community's own system would export them,
for the built-in ``zh-generic`` profile: a folder per community, Chinese headers
and labels, a date and money shape per system, GBK, Excel workbooks, a system
with no category column. Every shape keeps seconds and fen, so both styles read
back to the same canonical rows and the same figures.

Every random draw comes from a ``numpy`` generator keyed by (seed, community,
table), and weather by (seed, city, year), so the same arguments give
byte-identical files, communities in one city share their typhoons and snow,
and a community's rows do not depend on how many others are generated (only
the running ids and where the few defects fall do). Rows are made as arrays,
one community at a time, and streamed to CSV through pyarrow (Excel through
openpyxl, row by row), so memory stays bounded by one community even at the
scales the benchmarks use.
"""

from __future__ import annotations

import contextlib
import functools
import io
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from yuebao.months import Month

__all__ = [
    "BILL_COLUMNS", "CATEGORIES", "FEE_ITEMS", "PAYMENT_COLUMNS", "TICKET_COLUMNS", "TYPES",
    "SampleCommunity", "SampleSet", "generate_sample",
]

TICKET_COLUMNS = (
    "ticket_id", "community", "building", "unit", "created_at", "first_response_at",
    "resolved_at", "closed_at", "type", "category", "priority", "satisfaction", "reopened",
    "cancelled", "description", "reporter_name", "reporter_phone",
)
BILL_COLUMNS = (
    "bill_id", "community", "building", "unit", "fee_item", "period", "due_date", "amount_due",
)
PAYMENT_COLUMNS = ("payment_id", "bill_id", "paid_at", "amount")

TYPES = ("repair", "complaint", "inquiry", "suggestion", "praise", "other")
CATEGORIES = (
    "plumbing_electric", "elevator", "fire", "heating", "security", "cleaning", "greening",
    "parking", "noise", "facilities", "other",
)
FEE_ITEMS = ("物业费", "停车费", "供暖费", "水费")
_PROPERTY, _PARKING, _HEATING, _WATER = range(4)

# Seed-sequence keys, so that each table of each community has its own stream.
_TRAITS, _TICKETS, _BILLS, _PAYMENTS = range(1, 5)
_WEATHER_KEY = 10_000
_DEFECTS_KEY = 99_999

_DAY = 86_400
# Rates below are written per 1000 households per month and used per household per day.
_PER_MONTH = 1.0 / 30.44 / 1000.0


# --------------------------------------------------------------------------- public types


@dataclass(frozen=True)
class SampleCommunity:
    """One generated community, with what a config file needs to describe it."""

    id: str
    name: str
    city: str
    households: int
    buildings: int
    property_fee_billing: str  # "monthly" | "quarterly" | "annual"


@dataclass(frozen=True)
class SampleSet:
    """Where the generated exports are and what they cover.

    In the ``canonical`` style each table is one CSV file (a ``Path``); in the
    ``zh-generic`` style it is one file per community (a list, in community order).
    ``patterns`` are the config globs, relative to the output folder, that match
    exactly those files; ``profile`` is the mapping profile that reads them.
    """

    exports_dir: Path
    tickets: Path | list[Path]
    bills: Path | list[Path]
    payments: Path | list[Path]
    communities: list[SampleCommunity]
    first_month: Month
    last_month: Month
    as_of: datetime  # naive local time of the export; no event is at or after it
    rows: dict[str, int]  # rows written per table, header excluded, defects included
    defects: dict[str, int]  # deliberate defects written, by kind
    profile: str = "canonical"
    patterns: dict[str, list[str]] = field(default_factory=dict)

    def files(self, table: str) -> list[Path]:
        """The files of one table, whatever the style."""
        paths = getattr(self, table)
        return [paths] if isinstance(paths, Path) else list(paths)


# --------------------------------------------------------------------------- cities


@dataclass(frozen=True)
class _City:
    name: str
    zone: str  # GB 50176 climate zone
    heating: tuple[tuple[int, int], tuple[int, int]] | None  # (start, end) as (month, day)
    heating_due: tuple[int, int] | None  # 供暖费 due date, before heating starts
    heating_price: int  # fen per m² per season
    typhoon: float  # 0 none, 1 direct hits every year
    plum_rain: bool  # 梅雨 in June and July
    tier: int  # 1 for the most expensive cities
    water_price: int  # fen per m³


_CITIES = (
    _City("北京", "寒冷", ((11, 15), (3, 15)), (10, 31), 3000, 0.0, False, 1, 500),
    _City("哈尔滨", "严寒", ((10, 20), (4, 20)), (10, 15), 4160, 0.0, False, 2, 400),
    _City("上海", "夏热冬冷", None, None, 0, 0.5, True, 1, 500),
    _City("深圳", "夏热冬暖", None, None, 0, 1.0, False, 1, 450),
    _City("天津", "寒冷", ((11, 15), (3, 15)), (10, 31), 2500, 0.0, False, 2, 490),
    _City("沈阳", "严寒", ((11, 1), (3, 31)), (10, 20), 2800, 0.0, False, 2, 380),
    _City("杭州", "夏热冬冷", None, None, 0, 0.6, True, 2, 400),
    _City("广州", "夏热冬暖", None, None, 0, 1.0, False, 1, 350),
    _City("济南", "寒冷", ((11, 15), (3, 15)), (10, 31), 2350, 0.0, False, 2, 400),
    _City("武汉", "夏热冬冷", None, None, 0, 0.0, True, 2, 350),
    _City("成都", "夏热冬冷", None, None, 0, 0.0, False, 2, 350),
    _City("西安", "寒冷", ((11, 15), (3, 15)), (10, 31), 2320, 0.0, False, 2, 390),
)
_NORTH = ("严寒", "寒冷")

# Community i lives in _CITIES[i % 12]; names line up with the cities.
_NAMES = (
    ("jinjiang", "锦江小区"), ("songhua", "松花苑"), ("pujiang", "浦江花园"),
    ("nanshan", "南山雅苑"), ("haihe", "海河家园"), ("hunhe", "浑河湾小区"),
    ("xixi", "西溪花苑"), ("zhujiang", "珠江新苑"), ("quancheng", "泉城花园"),
    ("donghu", "东湖雅居"), ("jinsha", "金沙苑"), ("qujiang", "曲江华府"),
)
_BILLING = ("monthly", "quarterly", "monthly", "annual")
# (floors, flats per floor, entrances) of the buildings: 6-storey walk-ups in Beijing and
# Harbin, 11-storey blocks in Shanghai, 18-storey towers in Shenzhen. Walk-ups have no lifts.
_LAYOUTS = ((6, 2, 3), (7, 2, 2), (11, 2, 2), (18, 4, 1))

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕"
    "丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严"
)
_GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红建国文辉鹏宇浩婷雪琳晨欣怡子轩梓涵"
    "睿博思佳俊峰波斌林燕萍海志永春德荣"
)
_MOBILE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152",
    "155", "156", "158", "159", "166", "176", "177", "180", "181", "182", "183", "185",
    "186", "187", "188", "189", "199",
)


# --------------------------------------------------------------------------- calendar


@dataclass(frozen=True)
class _Calendar:
    """Every day of the covered months, with what the seasons are computed from."""

    first_month: Month
    last_month: Month
    as_of: int  # naive local seconds since 1970-01-01
    day0: int  # day number of the first day
    dates: np.ndarray  # datetime64[D]
    year: np.ndarray
    month: np.ndarray
    md: np.ndarray  # month * 100 + day of month, for windows that recur every year
    doy: np.ndarray  # day of year, 0-based
    month_index: np.ndarray  # index of the day's month in the range
    holiday: np.ndarray  # 1 on public holidays and the days either side
    fireworks: np.ndarray  # Spring Festival eve to the Lantern Festival, fading

    @property
    def n_days(self) -> int:
        return len(self.dates)

    @property
    def months(self) -> list[Month]:
        return self.first_month.range_to(self.last_month)

    def offset(self, day: date) -> int:
        """Day index of ``day`` in the range (negative before it)."""
        return (day - self.first_month.first_day).days

    @classmethod
    def build(cls, first_month: Month, last_month: Month) -> _Calendar:
        first = np.datetime64(first_month.first_day, "D")
        end = np.datetime64(last_month.shift(1).first_day, "D")
        dates = np.arange(first, end)
        n = len(dates)
        months = dates.astype("datetime64[M]")
        year = dates.astype("datetime64[Y]").astype(np.int64) + 1970
        month = months.astype(np.int64) % 12 + 1
        dom = (dates - months.astype("datetime64[D]")).astype(np.int64) + 1
        doy = (dates - dates.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.int64)

        calendar = holidays.China(years=range(first_month.year - 1, last_month.year + 2),
                                  language="zh_CN")
        days_off = np.array(sorted((d - first_month.first_day).days for d in calendar),
                            dtype=np.int64)
        holiday = np.zeros(n)
        for shift in (-1, 0, 1):
            near = days_off + shift
            holiday[near[(near >= 0) & (near < n)]] = 1.0
        spring: dict[int, date] = {}  # year -> first day of the Spring Festival
        for day, name in sorted(calendar.items()):
            if "春节" in name:
                spring.setdefault(day.year, day)
        fireworks = np.zeros(n)
        for festival in spring.values():
            at = (festival - first_month.first_day).days
            span = np.arange(-1, 16)
            weight = np.where(span < 0, 0.8, np.exp(-np.maximum(span, 0) / 4.0))
            weight = weight + np.where(span == 14, 0.6, 0.0)  # 元宵节
            inside = (at + span >= 0) & (at + span < n)
            fireworks[at + span[inside]] += weight[inside]

        after = last_month.shift(1).first_day
        as_of = int(np.datetime64(datetime(after.year, after.month, after.day, 8), "s")
                    .astype(np.int64))
        return cls(first_month, last_month, as_of, int(first.astype(np.int64)), dates, year,
                   month, month * 100 + dom, doy,
                   months.astype(np.int64) - first.astype("datetime64[M]").astype(np.int64),
                   holiday, fireworks)


def _window(md: np.ndarray, start: int, end: int) -> np.ndarray:
    """Days whose month*100+day falls in [start, end], wrapping over the new year."""
    if start <= end:
        return (md >= start) & (md <= end)
    return (md >= start) | (md <= end)


def _bump(cal: _Calendar, center_doy: int, width: float) -> np.ndarray:
    """A yearly bell curve around a day of the year."""
    distance = np.abs(cal.doy - center_doy)
    distance = np.minimum(distance, 365 - distance)
    return np.exp(-0.5 * (distance / width) ** 2)


# --------------------------------------------------------------------------- weather


_TYPHOON_PROFILE = np.array([1.0, 0.7, 0.35, 0.15, 0.05])
_RAIN_PROFILE = np.array([1.0, 0.5, 0.2])
_SNOW_PROFILE = np.array([1.0, 0.6, 0.3])


@dataclass(frozen=True)
class _Weather:
    typhoon: np.ndarray
    rain: np.ndarray
    plum: np.ndarray
    snow: np.ndarray


def _weather(seed: int, city_index: int, cal: _Calendar) -> _Weather:
    """Typhoons, storms, plum rain and snow of one city, shared by its communities."""
    city = _CITIES[city_index % len(_CITIES)]
    n = cal.n_days
    typhoon, rain, plum, snow = (np.zeros(n) for _ in range(4))

    def add(target: np.ndarray, start: int, profile: np.ndarray, strength: float) -> None:
        span = start + np.arange(len(profile))
        inside = (span >= 0) & (span < n)
        target[span[inside]] += strength * profile[inside]

    for year in range(cal.first_month.year, cal.last_month.year + 1):
        rng = _rng(seed, _WEATHER_KEY + city_index, year)

        def at(month: int, day: int, year: int = year) -> int:
            return cal.offset(date(year, month, day))

        if city.typhoon > 0:
            hits = 1 + int(rng.poisson(0.7)) if city.typhoon >= 1 else int(
                rng.random() < city.typhoon + 0.2)
            for k in range(hits):
                low, high = (at(8, 1), at(9, 25)) if k == 0 else (at(7, 10), at(10, 10))
                add(typhoon, int(rng.integers(low, high)), _TYPHOON_PROFILE,
                    float(rng.uniform(0.6, 1.4)) * min(city.typhoon, 1.0))
                add(rain, int(rng.integers(low, high)), _RAIN_PROFILE, 0.3)
        if city.plum_rain:
            start = at(6, 8) + int(rng.integers(0, 13))
            length = int(rng.integers(22, 36))
            plum[max(start, 0):max(min(start + length, n), 0)] = 1.0
            for day in rng.integers(start, start + length, int(rng.integers(2, 5))):
                add(rain, int(day), _RAIN_PROFILE, float(rng.uniform(0.5, 1.0)))
        if city.zone in _NORTH:
            storms, low, high = int(rng.integers(1, 3)), at(7, 10), at(8, 20)  # 七下八上
        elif city.zone == "夏热冬暖":
            storms, low, high = int(rng.integers(2, 4)), at(5, 10), at(6, 20)  # 龙舟水
        else:
            storms, low, high = int(rng.integers(1, 3)), at(7, 1), at(8, 15)
        for day in rng.integers(low, high, storms):
            add(rain, int(day), _RAIN_PROFILE, float(rng.uniform(0.6, 1.0)))
        if city.zone in _NORTH:
            winter = np.concatenate([np.arange(at(1, 1), at(3, 1)),
                                     np.arange(at(11, 20), at(12, 31) + 1)])
            count = int(rng.integers(6, 13)) if city.zone == "严寒" else int(rng.integers(2, 6))
            for day in rng.choice(winter, count, replace=False):
                add(snow, int(day), _SNOW_PROFILE, float(rng.uniform(0.5, 1.0)))
    return _Weather(typhoon, rain, plum, snow)


# --------------------------------------------------------------------------- communities


@dataclass(frozen=True)
class _Community:
    index: int
    public: SampleCommunity
    city: _City
    households: int
    building_of: np.ndarray  # household -> building index
    building_names: pa.Array
    units: pa.Array  # household -> "3-1-502"
    names: pa.Array
    phones: pa.Array
    area: np.ndarray  # 0.01 m²
    property_monthly: np.ndarray  # fen
    parking_households: np.ndarray
    parking_fee: np.ndarray  # fen, per parking household
    water: bool
    water_median: float  # m³ a month
    due_day: int  # 15, or 0 for the last day of the month
    volume: float  # ticket volume factor
    volume_trend: float  # per year
    quality: float  # response and resolution time factor
    quality_trend: float  # per year; negative is getting faster
    floors: int
    hotspot: str  # stream name
    hotspot_building: int
    chronic_from: np.ndarray  # household -> first day (index) it stops paying
    payer: np.ndarray  # household -> 0 prompt, 1 ordinary, 2 late


def _community(seed: int, index: int, scale: float) -> _Community:
    rng = _rng(seed, index, _TRAITS)
    city = _CITIES[index % len(_CITIES)]
    ident, name = _NAMES[index % len(_NAMES)]
    if index >= len(_NAMES):
        phase = index // len(_NAMES) + 1
        ident, name = f"{ident}{phase}", f"{name}{phase}期"
    households = max(1, round(int(rng.integers(600, 1601)) * scale))
    floors, rooms, entrances = _LAYOUTS[index] if index < len(_LAYOUTS) else \
        _LAYOUTS[int(rng.integers(0, len(_LAYOUTS)))]
    buildings = min(households, max(3, round(households / (floors * rooms * entrances))))

    j = np.arange(households)
    building_of = j % buildings
    k = j // buildings
    entrance = k // (floors * rooms) + 1
    room = (k // rooms) % floors * 100 + 100 + k % rooms + 1
    units = pc.binary_join_element_wise(
        _str(building_of + 1), _str(entrance), _str(room), "-")
    building_names = pc.binary_join_element_wise(_str(np.arange(1, buildings + 1)), "栋", "")

    surname = pc.take(pa.array(list(_SURNAMES)),
                      pa.array(_zipf_index(rng, len(_SURNAMES), households)))
    given = pa.array(list(_GIVEN))
    first = pc.take(given, pa.array(rng.integers(0, len(_GIVEN), households)))
    second = pc.take(given, pa.array(rng.integers(0, len(_GIVEN), households)))
    second = pc.if_else(pa.array(rng.random(households) < 0.3), "", second)
    names = pc.binary_join_element_wise(surname, first, second, "")
    phones = pc.binary_join_element_wise(
        pc.take(pa.array(_MOBILE_PREFIXES),
                pa.array(rng.integers(0, len(_MOBILE_PREFIXES), households))),
        pc.utf8_lpad(_str(rng.integers(0, 100_000_000, households)), 8, "0"), "")

    mean_area = float(rng.uniform(78, 118))
    area = np.round(np.clip(rng.normal(mean_area, 18, households), 45, 180) * 100).astype(np.int64)
    rate = int(rng.integers(25, 41)) * 10 if city.tier == 1 else int(rng.integers(18, 31)) * 10
    property_monthly = (area * rate + 50) // 100

    parking_households = np.flatnonzero(rng.random(households) < rng.uniform(0.25, 0.35))
    prices = (300, 350, 400, 450, 500) if city.tier == 1 else (150, 200, 250, 300)
    price = int(rng.choice(prices)) * 100
    surface = rng.random(len(parking_households)) < 0.3
    parking_fee = np.where(surface, price * 6 // 10, price).astype(np.int64)

    chronic = rng.random(households) < rng.uniform(0.03, 0.05)
    from_start = rng.random(households) < 0.6
    start_day = rng.integers(0, 450, households)
    chronic_from = np.where(chronic, np.where(from_start, -(10**6), start_day), 10**9)
    payer = np.searchsorted([0.72, 0.92], rng.random(households), side="right")

    hotspot = ("hotspot_plumbing", "hotspot_facilities", "hotspot_plumbing",
               "hotspot_elevator")[index % 4]
    if floors <= 7 and hotspot == "hotspot_elevator":  # walk-ups have no lifts
        hotspot = "hotspot_plumbing"
    public = SampleCommunity(ident, name, city.name, households, buildings,
                             _BILLING[index % len(_BILLING)])
    return _Community(
        index=index, public=public, city=city, households=households, building_of=building_of,
        building_names=building_names, units=units, names=names, phones=phones, area=area,
        property_monthly=property_monthly, parking_households=parking_households,
        parking_fee=parking_fee, water=index % 4 in (2, 3),
        water_median=float(rng.uniform(7, 12)), due_day=15 if index % 2 == 0 else 0,
        volume=float(rng.uniform(0.85, 1.2)), volume_trend=float(rng.uniform(-0.08, 0.12)),
        quality=float(rng.uniform(0.9, 1.25)), quality_trend=float(rng.uniform(-0.25, 0.05)),
        floors=floors, hotspot=hotspot, hotspot_building=min(2, buildings - 1),
        chronic_from=chronic_from, payer=payer,
    )


def _zipf_index(rng: np.random.Generator, size: int, n: int) -> np.ndarray:
    """Common surnames are common: weight 1/(rank+3)."""
    weights = 1.0 / (np.arange(size) + 3.0)
    return np.searchsorted(np.cumsum(weights / weights.sum()), rng.random(n)).clip(0, size - 1)


# --------------------------------------------------------------------------- ticket streams


@dataclass(frozen=True)
class _Stream:
    """One source of tickets: a category, its mix of types, where and when it happens."""

    name: str
    category: str
    types: dict[str, float]
    urgent: float  # share of its repairs that are urgent
    building: float  # share with a building
    unit: float  # share of those with a unit too
    phrases: dict[str, tuple[str, ...]]  # by type, and "urgent" for urgent repairs
    hours: str = "day"


_STREAMS = (
    _Stream("plumbing", "plumbing_electric", {"repair": .90, "complaint": .05, "inquiry": .05},
            .06, 1.0, .97, {
                "repair": ("厨房水管漏水", "卫生间下水道堵塞", "水龙头漏水", "马桶堵塞",
                           "家中停电", "电表箱跳闸", "插座没电", "水压太低", "卫生间地漏返臭",
                           "阳台下水管漏水"),
                "urgent": ("水管爆裂", "楼上漏水淹到家里", "整个单元停电", "污水管道堵塞返水"),
                "complaint": ("维修师傅迟迟未上门", "漏水多次维修未修好", "停水未提前通知"),
                "inquiry": ("停水时间咨询", "电费充值咨询", "水表读数咨询")}),
    _Stream("elevator", "elevator", {"repair": .82, "complaint": .13, "inquiry": .05},
            .20, 1.0, 0.0, {
                "repair": ("电梯按键失灵", "电梯运行有异响", "电梯门关不上", "电梯停运",
                           "电梯显示屏不亮", "电梯平层不准"),
                "urgent": ("电梯困人", "电梯急停"),
                "complaint": ("电梯经常停运", "电梯维保不及时"),
                "inquiry": ("电梯年检时间咨询", "电梯维保时间咨询")}),
    _Stream("fire", "fire", {"repair": .60, "complaint": .30, "inquiry": .10},
            .20, .9, 0.0, {
                "repair": ("消防栓漏水", "烟感报警器误报", "灭火器过期", "安全出口指示灯不亮",
                           "消防门闭门器损坏"),
                "urgent": ("烟感报警需要查看", "楼道有烟味"),
                "complaint": ("消防通道被占用", "楼道堆放杂物"),
                "inquiry": ("消防检查时间咨询",)}),
    _Stream("security", "security",
            {"repair": .50, "complaint": .20, "inquiry": .22, "suggestion": .08},
            .04, .8, .1, {
                "repair": ("门禁卡失灵", "单元门禁损坏", "监控摄像头不亮", "可视对讲故障",
                           "人脸识别门禁失灵"),
                "urgent": ("单元门锁损坏无法进出",),
                "complaint": ("外来人员随意进出", "夜间巡逻不到位", "外卖快递随意进小区"),
                "inquiry": ("门禁卡办理咨询", "访客登记咨询"),
                "suggestion": ("建议增加监控探头", "建议加强夜间巡逻")}),
    _Stream("cleaning", "cleaning",
            {"repair": .08, "complaint": .42, "suggestion": .12, "praise": .15, "inquiry": .23},
            0.0, .6, .1, {
                "repair": ("垃圾桶破损", "垃圾房门损坏"),
                "complaint": ("楼道卫生差", "垃圾桶满溢未清运", "垃圾清运不及时", "楼道有小广告",
                              "宠物粪便无人清理"),
                "suggestion": ("建议增加垃圾分类投放点", "建议增加清扫频次"),
                "praise": ("保洁阿姨工作认真", "楼道打扫得很干净"),
                "inquiry": ("垃圾分类投放时间咨询", "大件垃圾清运咨询")}),
    _Stream("greening", "greening",
            {"repair": .40, "complaint": .25, "suggestion": .20, "praise": .10, "inquiry": .05},
            .02, .4, 0.0, {
                "repair": ("树枝遮挡窗户", "喷灌管漏水", "草坪枯黄需补种"),
                "urgent": ("树枝断裂悬空",),
                "complaint": ("绿化带杂草丛生", "树木修剪不及时", "绿化带被占用种菜"),
                "suggestion": ("建议补种绿植", "建议修剪树木"),
                "praise": ("小区绿化打理得很好",),
                "inquiry": ("绿化养护时间咨询",)}),
    _Stream("parking", "parking",
            {"repair": .12, "complaint": .40, "inquiry": .38, "suggestion": .10},
            .02, .2, 0.0, {
                "repair": ("道闸不抬杆", "车位地锁损坏"),
                "urgent": ("道闸故障车辆无法出入",),
                "complaint": ("车位被占用", "消防通道乱停车", "外来车辆乱停", "电动车充电位不足"),
                "inquiry": ("月租车位续费咨询", "访客车辆登记咨询", "车位租赁咨询"),
                "suggestion": ("建议增加充电桩", "建议规划临时停车位")}, "evening"),
    _Stream("noise", "noise", {"complaint": .92, "inquiry": .08}, 0.0, 1.0, .9, {
        "complaint": ("楼上装修噪音", "广场舞音乐扰民", "夜间施工噪音", "宠物狗叫扰民",
                      "楼上夜间噪音", "底商音响扰民"),
        "inquiry": ("装修施工时间咨询",)}, "evening"),
    _Stream("facilities", "facilities",
            {"repair": .78, "complaint": .10, "suggestion": .07, "inquiry": .05},
            .05, .6, 0.0, {
                "repair": ("楼道灯不亮", "单元门闭门器损坏", "路灯不亮", "健身器材损坏", "地砖松动",
                           "信报箱损坏", "井盖松动", "楼道窗户玻璃破损", "儿童游乐设施损坏"),
                "urgent": ("外墙瓷砖脱落", "井盖缺失"),
                "complaint": ("公共设施维修不及时", "路灯长期不亮"),
                "suggestion": ("建议增加休闲座椅", "建议加装无障碍扶手"),
                "inquiry": ("公共设施维修进度咨询",)}),
    _Stream("other", "other",
            {"inquiry": .66, "other": .12, "praise": .11, "suggestion": .07, "complaint": .04},
            0.0, 1.0, .9, {
                "inquiry": ("物业费缴费咨询", "装修申请咨询", "快递代收咨询", "出具证明咨询",
                            "房屋出租登记咨询", "发票开具咨询"),
                "other": ("物品遗失求助", "钥匙遗落求助", "寻找走失宠物", "邻里纠纷求助"),
                "praise": ("物业管家服务热情", "感谢维修师傅及时上门", "感谢保安帮忙搬运"),
                "suggestion": ("建议组织社区活动", "建议开通线上缴费"),
                "complaint": ("物业服务态度差", "物业费收费标准有疑问")}),
    _Stream("heating", "heating", {"repair": .70, "complaint": .20, "inquiry": .10},
            .06, 1.0, .98, {
                "repair": ("暖气不热", "暖气片漏水", "暖气阀门漏水", "暖气管道有异响",
                           "暖气片需要放气", "地暖不热"),
                "urgent": ("暖气管爆裂漏水", "暖气跑水"),
                "complaint": ("室温不达标", "暖气不热多次报修未解决"),
                "inquiry": ("供暖开始时间咨询", "供暖费缴费咨询", "暖气试水时间咨询")}),
    _Stream("frozen", "plumbing_electric", {"repair": .90, "complaint": .10}, .20, 1.0, .8, {
        "repair": ("水管冻裂", "水表冻裂", "下水管冻堵", "楼道水管冻住"),
        "urgent": ("水管冻裂跑水",),
        "complaint": ("水管冻裂维修不及时",)}),
    _Stream("snow", "cleaning", {"complaint": .70, "repair": .10, "suggestion": .20},
            .05, .4, 0.0, {
                "complaint": ("积雪未及时清理", "路面结冰湿滑", "单元门口结冰"),
                "repair": ("屋檐冰溜子需清除",),
                "urgent": ("屋檐冰溜子有坠落风险",),
                "suggestion": ("建议及时撒融雪剂",)}),
    _Stream("summer_power", "plumbing_electric",
            {"repair": .85, "complaint": .10, "inquiry": .05}, .05, 1.0, .95, {
                "repair": ("家中频繁跳闸", "空调插座没电", "空调排水管漏水", "二次供水水压低",
                           "电表箱过热跳闸"),
                "urgent": ("高温停电", "配电箱冒烟"),
                "complaint": ("夏季频繁停电",),
                "inquiry": ("停电原因咨询",)}),
    _Stream("summer_facilities", "facilities", {"repair": .88, "complaint": .12},
            .08, .5, 0.0, {
                "repair": ("大堂空调不制冷", "会所空调漏水", "水泵房水泵故障", "地下车库排风扇不转",
                           "公共区域空调不制冷"),
                "urgent": ("水泵故障高层停水",),
                "complaint": ("大堂空调温度太高",)}),
    _Stream("typhoon_facilities", "facilities", {"repair": .90, "complaint": .10},
            .45, .6, .2, {
                "repair": ("台风刮坏楼道窗户", "雨棚被吹落", "围挡被吹倒", "单元门被风吹坏",
                           "空调外机支架松动", "广告牌松动"),
                "urgent": ("地下车库进水", "玻璃被吹碎有坠落风险", "外墙装饰物松动"),
                "complaint": ("台风后清理不及时",)}, "flat"),
    _Stream("typhoon_greening", "greening", {"repair": .90, "complaint": .10},
            .40, .3, 0.0, {
                "repair": ("树枝被吹断", "绿化带树木倾斜", "树木倒伏"),
                "urgent": ("大树倒伏挡住道路", "断枝压到车辆"),
                "complaint": ("台风后倒伏树木未清理",)}, "flat"),
    _Stream("rain_facilities", "facilities", {"repair": .88, "complaint": .12},
            .15, .9, .6, {
                "repair": ("外墙渗水", "屋顶漏水", "窗台渗水", "地下室渗水", "雨水井堵塞积水"),
                "urgent": ("地下车库积水", "电梯井进水"),
                "complaint": ("雨后小区积水严重",)}, "flat"),
    _Stream("rain_plumbing", "plumbing_electric", {"repair": .90, "complaint": .10},
            .15, 1.0, .9, {
                "repair": ("潮湿漏电跳闸", "阳台排水管堵塞", "雨水管倒灌", "地漏返水"),
                "urgent": ("地下室进水需要抽水",),
                "complaint": ("排水不畅多次报修",)}, "flat"),
    _Stream("leaves_cleaning", "cleaning", {"complaint": .80, "suggestion": .20},
            0.0, .4, 0.0, {
                "complaint": ("落叶清扫不及时", "落叶堵塞雨水口", "楼前落叶堆积"),
                "suggestion": ("建议增加落叶清扫频次",)}),
    _Stream("leaves_greening", "greening", {"repair": .50, "complaint": .30, "suggestion": .20},
            0.0, .4, 0.0, {
                "repair": ("树枝遮挡路灯需修剪", "枯枝需清理"),
                "complaint": ("树叶落满车顶",),
                "suggestion": ("建议秋季修剪树木",)}),
    _Stream("holiday_noise", "noise", {"complaint": .93, "inquiry": .07}, 0.0, 1.0, .9, {
        "complaint": ("燃放烟花爆竹扰民", "节日聚会深夜喧哗", "楼下深夜喧哗", "节日期间装修噪音"),
        "inquiry": ("烟花燃放规定咨询",)}, "evening"),
    _Stream("holiday_parking", "parking", {"complaint": .85, "inquiry": .15}, 0.0, .3, 0.0, {
        "complaint": ("节日访客车辆多停车难", "车位被访客车辆占用", "访客车辆堵塞通道"),
        "inquiry": ("访客停车收费咨询",)}, "evening"),
    _Stream("fee_inquiry", "other", {"inquiry": .85, "complaint": .15}, 0.0, 1.0, 1.0, {
        "inquiry": ("物业费收费标准咨询", "缴费方式咨询", "电子发票开具咨询", "预缴优惠咨询"),
        "complaint": ("收费标准有疑问", "催缴通知不清楚")}),
    _Stream("hotspot_plumbing", "plumbing_electric", {"repair": .85, "complaint": .15},
            .10, 1.0, .7, {
                "repair": ("楼道水管反复漏水", "水管又漏水了", "单元总水管渗漏", "楼道配电箱跳闸",
                           "楼内频繁停电"),
                "urgent": ("楼道水管爆裂",),
                "complaint": ("同一处漏水多次维修未解决",)}),
    _Stream("hotspot_elevator", "elevator", {"repair": .85, "complaint": .15}, .20, 1.0, 0.0, {
        "repair": ("电梯又停运了", "电梯频繁故障", "电梯门反复卡住"),
        "urgent": ("电梯困人",),
        "complaint": ("电梯一个月坏了好几次",)}),
    _Stream("hotspot_facilities", "facilities", {"repair": .85, "complaint": .15},
            .10, 1.0, .5, {
                "repair": ("楼顶防水层反复渗漏", "单元门反复损坏", "楼道灯反复不亮"),
                "urgent": ("外墙瓷砖再次脱落",),
                "complaint": ("同一问题多次报修未解决",)}),
)
_STREAM_INDEX = {stream.name: i for i, stream in enumerate(_STREAMS)}


@dataclass(frozen=True)
class _Context:
    cal: _Calendar
    city: _City
    weather: _Weather
    community: _Community

    @property
    def north(self) -> bool:
        return self.city.zone in _NORTH


def _heating_rate(cx: _Context) -> np.ndarray:
    """A burst at heating start that fades over a few weeks, a floor through the season,
    a pressure-test week before it, and nothing in summer."""
    if cx.city.heating is None:
        return np.zeros(cx.cal.n_days)
    (start_month, start_day), (end_month, end_day) = cx.city.heating
    dates, year = cx.cal.dates, cx.cal.year

    def on(years: np.ndarray, month: int, day: int) -> np.ndarray:
        months = (years - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (month - 1)
        return months.astype("datetime64[D]") + (day - 1)

    start_this, start_prev = on(year, start_month, start_day), on(year - 1, start_month, start_day)
    current = dates >= start_this - 10
    since = np.where(current, dates - start_this, dates - start_prev).astype(np.int64)
    active = current | (dates <= on(year, end_month, end_day))
    rate = np.where(since < 0, 0.0012,
                    0.0005 + 0.0045 * np.exp(-np.maximum(since, 0) / 9.0)
                    + 0.0003 * _bump(cx.cal, 14, 12))
    return np.where(active, rate, 0.0) * (1.15 if cx.city.zone == "严寒" else 1.0)


def _leaves(cx: _Context) -> np.ndarray:
    """Fallen leaves: early autumn in the north, late autumn in the Yangtze valley, and
    spring as well in the far south, where evergreens change leaves in March."""
    md = cx.cal.md
    if cx.north:
        return _window(md, 1005, 1115).astype(float)
    if cx.city.zone == "夏热冬暖":
        return 0.6 * _window(md, 1115, 1225) + _window(md, 310, 420)
    return _window(md, 1025, 1210).astype(float)


def _fee_season(cx: _Context) -> np.ndarray:
    """Questions about fees come when the big bills are issued."""
    md, month = cx.cal.md, cx.cal.month
    billing = cx.community.public.property_fee_billing
    rate = np.zeros(cx.cal.n_days)
    if billing == "annual":
        rate += 35 * _window(md, 1215, 131)
    elif billing == "quarterly":
        rate += 15 * (np.isin(month, (1, 4, 7, 10)) & (md % 100 <= 20))
    if cx.city.heating_due is not None:
        rate += 30 * _window(md, 920, cx.city.heating_due[0] * 100 + cx.city.heating_due[1])
    return rate * _PER_MONTH


_SUMMER = 209  # day of year near the end of July


def _rates(cx: _Context) -> dict[str, np.ndarray]:
    """Expected tickets per household per day, by stream, for every day of the range."""
    cal, w, north = cx.cal, cx.weather, cx.north
    month = cal.month
    summer = _bump(cal, _SUMMER, 16)
    zone_heat = 0.8 if north else 1.2 if cx.city.zone == "夏热冬暖" else 1.0
    winter = np.isin(month, (12, 1, 2))
    lifts = float(cx.community.floors > 7)
    deep_cold = 1.0 if cx.city.zone == "严寒" else 0.3 if north else 0.0
    return {
        "plumbing": 40 * _PER_MONTH * (1 + 0.15 * (north & winter)),
        "elevator": 12 * _PER_MONTH * lifts * (1 + 0.2 * summer),
        "fire": 3 * _PER_MONTH * (1 + 0.5 * (north & np.isin(month, (11, 12, 1, 2, 3))))
        * (1 + 1.5 * np.minimum(cal.fireworks, 1)),
        "security": 10 * _PER_MONTH * (1 + 0.4 * cal.holiday),
        "cleaning": 14 * _PER_MONTH * (1 + 0.8 * np.minimum(cal.fireworks, 1)),
        "greening": 7 * _PER_MONTH * (1 + 0.6 * np.isin(month, (3, 4, 5))
                                      + 0.3 * np.isin(month, (6, 7, 8))),
        "parking": 12 * _PER_MONTH * np.ones(cal.n_days),
        "noise": 9 * _PER_MONTH * (1 + 0.3 * np.isin(month, (6, 7, 8, 9))
                                   + 0.2 * np.isin(month, (3, 4, 5, 9, 10, 11))),
        "facilities": 22 * _PER_MONTH * np.ones(cal.n_days),
        "other": 34 * _PER_MONTH * np.ones(cal.n_days),
        "heating": _heating_rate(cx),
        "frozen": 12 * _PER_MONTH * deep_cold * winter * (0.5 + _bump(cal, 14, 15)),
        "snow": 0.004 * w.snow if north else np.zeros(cal.n_days),
        "summer_power": 30 * _PER_MONTH * zone_heat * summer,
        "summer_facilities": 14 * _PER_MONTH * zone_heat * summer,
        "typhoon_facilities": 0.018 * w.typhoon,
        "typhoon_greening": 0.012 * w.typhoon,
        "rain_facilities": 0.004 * w.rain + 25 * _PER_MONTH * w.plum,
        "rain_plumbing": 0.002 * w.rain + 12 * _PER_MONTH * w.plum,
        "leaves_cleaning": 14 * _PER_MONTH * _leaves(cx),
        "leaves_greening": 8 * _PER_MONTH * _leaves(cx),
        "holiday_noise": 9 * _PER_MONTH * (1.8 * cal.holiday + 3.0 * cal.fireworks),
        "holiday_parking": 12 * _PER_MONTH * 2.5 * cal.holiday,
        "fee_inquiry": _fee_season(cx),
    }


def _hotspot_counts(cx: _Context, rng: np.random.Generator) -> np.ndarray:
    """3 to 8 tickets a month in the problem building, in episodes of a few months."""
    cal = cx.cal
    counts = np.zeros(cal.n_days, dtype=np.int64)
    active = bool(rng.random() < 0.5)
    for m in range(len(cal.months)):
        active = bool(rng.random() < (0.75 if active else 0.3))
        days = np.flatnonzero(cal.month_index == m)
        if active:
            picked = rng.choice(days, int(rng.integers(3, 9)))
            np.add.at(counts, picked, 1)
    return counts


# --------------------------------------------------------------------------- ticket tables

def _cum(rows: list[list[float]]) -> np.ndarray:
    weights = np.asarray(rows, dtype=float)
    cum = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    cum[:, -1] = 1.0
    return cum


def _pick(rng: np.random.Generator, cum: np.ndarray) -> np.ndarray:
    """One categorical draw per row, each row with its own cumulative probabilities."""
    return (rng.random(len(cum))[:, None] >= cum).sum(axis=1)


_HOURS = {
    "day": [.3, .2, .1, .1, .1, .2, .5, 1.2, 2.5, 3.0, 2.8, 2.2, 1.6, 1.8, 2.4, 2.5, 2.3, 2.0,
            2.0, 2.2, 2.0, 1.5, 1.0, .6],
    "evening": [1.5, 1.0, .5, .2, .1, .1, .3, .6, .8, 1.0, 1.0, 1.0, 1.2, 1.3, 1.0, 1.0, 1.0,
                1.2, 1.6, 2.2, 2.8, 3.2, 3.0, 2.3],
    "flat": [.6, .5, .5, .5, .5, .7, 1.0, 1.3, 1.5, 1.5, 1.5, 1.4, 1.3, 1.3, 1.4, 1.4, 1.4, 1.3,
             1.3, 1.3, 1.2, 1.1, .9, .7],
}
_HOUR_PROFILES = tuple(_HOURS)
_HOUR_CUM = _cum([_HOURS[name] for name in _HOUR_PROFILES])
_STREAM_HOURS = np.array([_HOUR_PROFILES.index(s.hours) for s in _STREAMS])
_TYPE_CUM = _cum([[s.types.get(t, 0.0) for t in TYPES] for s in _STREAMS])
_STREAM_CATEGORY = np.array([CATEGORIES.index(s.category) for s in _STREAMS])
_STREAM_URGENT = np.array([s.urgent for s in _STREAMS])
_STREAM_BUILDING = np.array([s.building for s in _STREAMS])
_STREAM_UNIT = np.array([s.unit for s in _STREAMS])


def _phrase_table() -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """All descriptions in one array; start and count per (stream, type slot).

    Slots are the six types, then 6 for urgent repairs (falling back to repairs)."""
    texts: list[str] = []
    start = np.zeros((len(_STREAMS), len(TYPES) + 1), dtype=np.int64)
    count = np.zeros_like(start)
    for i, stream in enumerate(_STREAMS):
        for slot, key in enumerate((*TYPES, "urgent")):
            phrases = stream.phrases.get(key) or stream.phrases.get("repair", ())
            start[i, slot], count[i, slot] = len(texts), len(phrases)
            texts.extend(phrases)
    return pa.array(texts), start, count


_PHRASES, _PHRASE_START, _PHRASE_COUNT = _phrase_table()

# By type index * 2 + urgent: response in minutes, resolution in hours (kpis.md section 3).
_INF = np.inf
_SLA_RESPONSE = np.array([30, 15, 240, 240, 240, 240, 240, 240, _INF, _INF, 240, 240]) * 60.0
_SLA_RESOLUTION = np.array([24, 4, 72, 72, 72, 72, 72, 72, _INF, _INF, 72, 72]) * 3600.0
_RESPONSE_MEDIAN = np.array([12, 6, 60, 35, 40, 25, 70, 45, 120, 120, 55, 35]) * 60.0
_RESPONSE_SIGMA = np.array([.62, .58, .95, .9, 1.0, 1.0, .9, .9, 1.0, 1.0, 1.0, 1.0])
_RESOLUTION_MEDIAN = np.array([6.5, 1.4, 28, 12, 1.5, 1, 20, 10, .5, .5, 5, 3]) * 3600.0
_RESOLUTION_SIGMA = np.array([.9, .65, .72, .7, 1.1, 1.1, 1.0, 1.0, 1.0, 1.0, 1.2, 1.2])
# Vendors, parts and weather make some categories slower to fix.
_CATEGORY_RESOLUTION = np.array([1.0, 1.2, 1.3, 1.1, 1.0, 1.0, 1.4, 1.0, 1.0, 1.25, 1.0])
_RATING_CUM = _cum([[.005, .01, .04, .25, .695],  # on time
                    [.05, .09, .20, .33, .33],   # slow
                    [.20, .20, .25, .20, .15]])  # slow complaint, or reopened


@dataclass
class _Tickets:
    """Tickets of one community as arrays; times in naive local seconds, -1 when missing."""

    household: np.ndarray
    show_building: np.ndarray
    show_unit: np.ndarray
    created: np.ndarray
    response: np.ndarray
    resolved: np.ndarray
    closed: np.ndarray
    type: np.ndarray
    category: np.ndarray
    urgent: np.ndarray
    satisfaction: np.ndarray  # 0 when not rated
    reopened: np.ndarray
    cancelled: np.ndarray
    phrase: np.ndarray
    day: np.ndarray  # day number of creation, kept for the id when created_at is blanked
    seq: np.ndarray  # number within the community and day, from 1

    def take(self, order: np.ndarray) -> _Tickets:
        return _Tickets(**{k: v[order] for k, v in vars(self).items()})


def _tickets(cx: _Context, rng: np.random.Generator) -> _Tickets:
    cal, comm = cx.cal, cx.community
    years = np.arange(cal.n_days) / 365.25
    volume = comm.volume * np.exp(comm.volume_trend * years)
    stream_counts = []
    for name, rate in _rates(cx).items():
        stream_counts.append((_STREAM_INDEX[name], rng.poisson(rate * volume * comm.households)))
    stream_counts.append((_STREAM_INDEX[comm.hotspot], _hotspot_counts(cx, rng)))
    day = np.concatenate([np.repeat(np.arange(cal.n_days), c) for _, c in stream_counts])
    stream = np.concatenate([np.full(c.sum(), s) for s, c in stream_counts])
    n = len(day)

    tp = _pick(rng, _TYPE_CUM[stream])
    repair = tp == 0
    urgent = rng.random(n) < _STREAM_URGENT[stream] * np.where(repair, 1.0, 0.1)
    hour = _pick(rng, _HOUR_CUM[_STREAM_HOURS[stream]])
    created = (cal.day0 + day) * _DAY + hour * 3600 + rng.integers(0, 3600, n)
    category = _STREAM_CATEGORY[stream]

    household = rng.integers(0, comm.households, n)
    hot = stream == _STREAM_INDEX[comm.hotspot]
    in_building = np.flatnonzero(comm.building_of == comm.hotspot_building)
    household[hot] = in_building[rng.integers(0, len(in_building), hot.sum())]
    show_building = rng.random(n) < _STREAM_BUILDING[stream]
    show_unit = show_building & (rng.random(n) < _STREAM_UNIT[stream])

    slot = tp * 2 + urgent
    per_day = np.bincount(day, minlength=cal.n_days)
    load = np.clip(per_day[day] / max(per_day.mean(), 1e-9), 0.6, 6.0)
    service = comm.quality * np.exp(comm.quality_trend * years[day])
    night = (hour >= 22) | (hour < 7)
    response = (_RESPONSE_MEDIAN[slot] * service * load**0.55
                * np.where(night & ~urgent, 1.6, 1.0)
                * np.exp(_RESPONSE_SIGMA[slot] * rng.standard_normal(n)))
    response = np.maximum(response, 20.0)
    resolution = (_RESOLUTION_MEDIAN[slot] * _CATEGORY_RESOLUTION[category] * service
                  * load**0.5 * np.exp(_RESOLUTION_SIGMA[slot] * rng.standard_normal(n)))
    stuck = rng.random(n) < 0.004  # waiting for parts, an owner, or a dispute
    resolution = resolution + stuck * rng.uniform(10, 90, n) * _DAY
    resolution = np.maximum(resolution, response + rng.uniform(60, 1800, n))
    visit = np.maximum(np.exp(np.log(18 * 3600) + 0.9 * rng.standard_normal(n)), 600)

    cancelled = (rng.random(n) < 0.02) & (tp != 4)
    no_response = rng.random(n) < 0.01
    no_visit = (rng.random(n) < 0.08) & ~cancelled
    closed_only = (rng.random(n) < 0.015) & ~cancelled & ~no_visit
    response_at = created + response.astype(np.int64)
    resolved_at = created + resolution.astype(np.int64)
    cancel_gap = np.maximum(np.exp(np.log(3600) + rng.standard_normal(n)), 120)
    closed_at = np.where(cancelled, created + cancel_gap.astype(np.int64),
                         resolved_at + visit.astype(np.int64))

    as_of = cal.as_of
    has_response = ~no_response & (response_at < as_of) & (~cancelled | (response_at < closed_at))
    has_resolved = ~cancelled & ~closed_only & (resolved_at < as_of)
    has_closed = ~no_visit & (closed_at < as_of)

    reopen_p = np.where(hot, 0.15, np.where(tp <= 1, 0.04, 0.01))
    u = rng.random(n)
    reopened = np.where((has_resolved | (closed_only & has_closed)) & (u < reopen_p),
                        1 + (u < reopen_p * 0.15) + (u < reopen_p * 0.03), 0)
    slow = (resolution > _SLA_RESOLUTION[slot]) | (response > _SLA_RESPONSE[slot])
    profile = np.where((reopened > 0) | (slow & (tp == 1)), 2, np.where(slow, 1, 0))
    rating = 1 + _pick(rng, _RATING_CUM[profile])
    rated = has_closed & ~cancelled & (rng.random(n) < 0.75)
    satisfaction = np.where(rated, np.where(tp == 4, 5, rating), 0)

    phrase_slot = np.where(urgent & repair, len(TYPES), tp)
    phrase = (_PHRASE_START[stream, phrase_slot]
              + (rng.random(n) * _PHRASE_COUNT[stream, phrase_slot]).astype(np.int64))

    tickets = _Tickets(
        household=household, show_building=show_building, show_unit=show_unit,
        created=created, response=np.where(has_response, response_at, -1),
        resolved=np.where(has_resolved, resolved_at, -1),
        closed=np.where(has_closed, closed_at, -1), type=tp, category=category,
        urgent=urgent, satisfaction=satisfaction, reopened=reopened,
        cancelled=cancelled & has_closed, phrase=phrase, day=created // _DAY,
        seq=np.zeros(n, dtype=np.int64),
    ).take(np.argsort(created, kind="stable"))
    tickets.seq = np.arange(n) - np.searchsorted(tickets.day, tickets.day) + 1
    return tickets


def _ticket_defects(t: _Tickets, wanted: dict[str, int], rng: np.random.Generator,
                    ) -> tuple[_Tickets, dict[str, int]]:
    """Blank created_at, resolved before created, and rows written twice, on distinct rows."""
    n = len(t.created)
    order = rng.permutation(n)
    done = {kind: 0 for kind in wanted}

    def take(count: int, eligible: np.ndarray) -> np.ndarray:
        nonlocal order
        picked = order[eligible[order]][:count]
        order = order[~np.isin(order, picked)]
        return picked

    missing = take(wanted["ticket_missing_created_at"], np.ones(n, dtype=bool))
    t.created[missing] = -1
    done["ticket_missing_created_at"] = len(missing)
    backwards = take(wanted["ticket_resolved_before_created"], t.resolved >= 0)
    t.resolved[backwards] = t.created[backwards] - rng.integers(3600, 3 * _DAY, len(backwards))
    done["ticket_resolved_before_created"] = len(backwards)
    twice = take(wanted["duplicate_ticket_rows"], np.ones(n, dtype=bool))
    done["duplicate_ticket_rows"] = len(twice)
    rows = np.sort(np.concatenate([np.arange(n), twice]), kind="stable")
    return t.take(rows), done


def _ticket_ids(t: _Tickets, code: str) -> pa.Array:
    """GD + day of creation + community code + number within the day."""
    id_day = pc.replace_substring(_dates(t.day), "-", "")
    return pc.binary_join_element_wise("GD", id_day, code, pc.utf8_lpad(_str(t.seq), 4, "0"), "")


def _ticket_table(t: _Tickets, comm: _Community, code: str) -> pa.Table:
    n = len(t.created)
    return pa.table({
        "ticket_id": _ticket_ids(t, code),
        "community": _const(comm.public.id, n),
        "building": _take(comm.building_names, comm.building_of[t.household], t.show_building),
        "unit": _take(comm.units, t.household, t.show_unit),
        "created_at": _timestamps(t.created),
        "first_response_at": _timestamps(t.response),
        "resolved_at": _timestamps(t.resolved),
        "closed_at": _timestamps(t.closed),
        "type": _take(pa.array(TYPES), t.type),
        "category": _take(pa.array(CATEGORIES), t.category),
        "priority": _take(pa.array(["normal", "urgent"]), t.urgent.astype(np.int64)),
        "satisfaction": _take(_str(np.arange(6)), t.satisfaction, t.satisfaction > 0),
        "reopened": _str(t.reopened),
        "cancelled": _take(pa.array(["false", "true"]), t.cancelled.astype(np.int64)),
        "description": _take(_PHRASES, t.phrase),
        "reporter_name": _take(comm.names, t.household),
        "reporter_phone": _take(comm.phones, t.household),
    })


# --------------------------------------------------------------------------- bills


@dataclass
class _Bills:
    household: np.ndarray
    item: np.ndarray
    period: np.ndarray  # index into periods
    due: np.ndarray  # day number
    amount: np.ndarray  # fen
    periods: list[str]

    def take(self, order: np.ndarray) -> _Bills:
        return _Bills(self.household[order], self.item[order], self.period[order],
                      self.due[order], self.amount[order], self.periods)


def _day_number(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def _bills(cx: _Context, rng: np.random.Generator) -> _Bills:
    """Every bill whose period touches the range: monthly ones for each month, quarterly
    and annual ones for each quarter and year touched, heating for each season touched."""
    cal, comm, city = cx.cal, cx.community, cx.city
    everyone = np.arange(comm.households)
    periods: list[str] = []
    parts: list[tuple[np.ndarray, int, int, int, np.ndarray]] = []

    def add(households: np.ndarray, item: int, period: str, due: date, amount) -> None:
        periods.append(period)
        amount = np.broadcast_to(np.asarray(amount, dtype=np.int64), households.shape)
        parts.append((households, item, len(periods) - 1, _day_number(due), amount))

    billing = comm.public.property_fee_billing
    for month in cal.months:
        last = month.shift(1).first_day.toordinal() - 1
        due = date(month.year, month.month, comm.due_day) if comm.due_day else \
            date.fromordinal(last)
        if billing == "monthly":
            add(everyone, _PROPERTY, str(month), due, comm.property_monthly)
        add(comm.parking_households, _PARKING, str(month), due, comm.parking_fee)
        if comm.water:
            season = 1.0 + 0.25 * np.cos((month.month - 7.5) / 12 * 2 * np.pi)
            usage = np.maximum(1, np.round(comm.water_median * season * np.exp(
                0.45 * rng.standard_normal(comm.households)))).astype(np.int64)
            add(everyone, _WATER, str(month), date.fromordinal(last), usage * city.water_price)
    first, last = cal.first_month, cal.last_month
    if billing == "quarterly":
        q = first.shift(-((first.month - 1) % 3))
        while q <= last:
            add(everyone, _PROPERTY, f"{q.year}Q{(q.month - 1) // 3 + 1}",
                date(q.year, q.month, 15), 3 * comm.property_monthly)
            q = q.shift(3)
    if billing == "annual":
        for year in range(first.year, last.year + 1):
            add(everyone, _PROPERTY, str(year), date(year, 1, 31),
                (12 * comm.property_monthly * 95 + 50) // 100)  # 5% off for paying a year
    if city.heating is not None and city.heating_due is not None:
        (sm, sd), (em, ed) = city.heating
        begin, end = first.first_day, last.shift(1).first_day
        for year in range(first.year - 1, last.year + 1):
            due = date(year, *city.heating_due)
            touched = date(year, sm, sd) < end and date(year + 1, em, ed) >= begin
            if touched or begin <= due < end:
                add(everyone, _HEATING, str(year), due,
                    (comm.area * city.heating_price + 50) // 100)
    bills = _Bills(
        household=np.concatenate([p[0] for p in parts]),
        item=np.concatenate([np.full(len(p[0]), p[1]) for p in parts]),
        period=np.concatenate([np.full(len(p[0]), p[2]) for p in parts]),
        due=np.concatenate([np.full(len(p[0]), p[3]) for p in parts]),
        amount=np.concatenate([p[4] for p in parts]), periods=periods)
    return bills.take(np.lexsort((bills.household, bills.item, bills.due)))


def _bill_table(b: _Bills, comm: _Community, first_id: int) -> pa.Table:
    n = len(b.due)
    return pa.table({
        "bill_id": _ids("ZD", first_id + np.arange(n)),
        "community": _const(comm.public.id, n),
        "building": _take(comm.building_names, comm.building_of[b.household]),
        "unit": _take(comm.units, b.household),
        "fee_item": _take(pa.array(FEE_ITEMS), b.item),
        "period": _take(pa.array(b.periods), b.period),
        "due_date": _dates(b.due),
        "amount_due": _money(b.amount),
    })


# --------------------------------------------------------------------------- payments

_PAY_HOURS = _cum([[.2, .1, .05, .05, .05, .1, .3, .8, 1.5, 2.2, 2.4, 2.2, 1.8, 1.6, 1.8, 2.0,
                    2.0, 1.9, 1.8, 2.0, 2.2, 2.0, 1.4, .7]])[0]


@dataclass
class _Payments:
    bill: np.ndarray  # bill index within the community
    paid: np.ndarray  # seconds
    amount: np.ndarray  # fen


def _payments(cx: _Context, b: _Bills, rng: np.random.Generator) -> _Payments:
    """Prompt, ordinary and late payers; partial, excess and doubled payments; refunds.

    A household pays the bills of one month together (property, parking and water in
    one visit or one app payment), so lateness is drawn per household and month, not
    per bill; a large bill (a quarter, a year, a heating season) is its own decision.
    """
    comm, cal = cx.community, cx.cal
    n = len(b.due)
    large = (b.item == _HEATING) | ((b.item == _PROPERTY)
                                    & (comm.public.property_fee_billing != "monthly"))
    month = b.due.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    month = month - month.min()
    key = (b.household * 2 + large) * (month.max() + 1) + month
    _, group = np.unique(key, return_inverse=True)
    groups = int(group.max()) + 1
    due = np.full(groups, np.iinfo(np.int64).max)
    np.minimum.at(due, group, b.due)
    household = np.zeros(groups, dtype=np.int64)
    household[group] = b.household
    big = np.zeros(groups, dtype=bool)
    big[group] = large

    payer = comm.payer[household]
    due_on_last_day = (due + 1).astype("datetime64[D]").astype("datetime64[M]") \
        .astype("datetime64[D]").astype(np.int64) == due + 1
    lead = np.where(due_on_last_day, 9.0, 3.0)  # bills due on the last day get paid earlier
    z = rng.standard_normal(groups)
    on_time = np.where(big, -14 + 12 * z,
                       np.where(payer == 0, -lead + 5 * z, -lead + 5 + 7 * z))
    late = rng.random(groups) < np.array([0.02, 0.12, 0.5])[payer]
    offset = np.where(late, 25 + np.minimum(rng.exponential(45, groups), 175),
                      np.maximum(on_time, -45))
    day = due + np.round(offset).astype(np.int64)

    # 年底清欠: part of what late payers would pay in Jan-Mar is collected in December.
    paid_month = day.astype("datetime64[D]").astype("datetime64[M]")
    dec1 = (paid_month.astype("datetime64[Y]") - 1).astype("datetime64[M]") + 11
    dec1_day = dec1.astype("datetime64[D]").astype(np.int64)
    push = (late & (paid_month.astype(np.int64) % 12 < 3) & (due < dec1_day)
            & (rng.random(groups) < 0.4))
    day = np.where(push, dec1_day + rng.integers(4, 31, groups), day)
    at = day * _DAY + np.searchsorted(_PAY_HOURS, rng.random(groups)) * 3600 \
        + rng.integers(0, 3600, groups)

    paid = at[group] + rng.integers(0, 90, n)
    pays = ~(comm.chronic_from[b.household] <= b.due - cal.day0)
    idx = np.arange(n)
    u = rng.random(n)
    partial = pays & (u < 0.015)
    excess = pays & (u >= 0.015) & (u < 0.0165)
    doubled = pays & (u >= 0.0165) & (u < 0.017)

    first_part = np.clip((b.amount * rng.uniform(0.3, 0.7, n)).astype(np.int64), 1,
                         b.amount - 1)
    extra = 10_000 - b.amount % 10_000  # rounded up to the next hundred yuan
    main_amount = np.where(partial, first_part, np.where(excess, b.amount + extra, b.amount))
    rest_at = paid + rng.integers(15, 121, n) * _DAY + rng.integers(-3600, 3600, n)
    refund_at = paid + rng.integers(3, 46, n) * _DAY + rng.integers(0, 8 * 3600, n)
    again_at = paid + rng.integers(60, 2 * _DAY, n)
    back_at = again_at + rng.integers(1, 16, n) * _DAY
    refunded = excess & (rng.random(n) < 0.6)

    pieces = [
        (idx[pays], paid[pays], main_amount[pays]),
        (idx[partial], rest_at[partial], (b.amount - first_part)[partial]),
        (idx[refunded], refund_at[refunded], -extra[refunded]),
        (idx[doubled], again_at[doubled], b.amount[doubled]),
        (idx[doubled], back_at[doubled], -b.amount[doubled]),
    ]
    bill = np.concatenate([p[0] for p in pieces])
    at = np.concatenate([p[1] for p in pieces])
    amount = np.concatenate([p[2] for p in pieces])
    kept = at < cal.as_of
    bill, at, amount = bill[kept], at[kept], amount[kept]
    order = np.lexsort((bill, at))
    return _Payments(bill[order], at[order], amount[order])


def _payment_bill_ids(p: _Payments, first_bill_id: int, unknown: int | None) -> pa.Array:
    bill_id = _ids("ZD", first_bill_id + p.bill)
    if unknown is not None:
        # A bill number typed one digit short: it names no bill.
        row = np.zeros(len(p.paid), dtype=bool)
        row[unknown] = True
        short = pc.utf8_slice_codeunits(bill_id, 0, -1)
        bill_id = pc.if_else(pa.array(row), short, bill_id)
    return bill_id


def _payment_table(p: _Payments, first_bill_id: int, first_id: int,
                   unknown: int | None) -> pa.Table:
    n = len(p.paid)
    return pa.table({
        "payment_id": _ids("SK", first_id + np.arange(n)),
        "bill_id": _payment_bill_ids(p, first_bill_id, unknown),
        "paid_at": _timestamps(p.paid),
        "amount": _money(p.amount),
    })


# --------------------------------------------------------------------------- formatting


def _str(values: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(values, dtype=np.int64)).cast(pa.string())


def _const(text: str, n: int) -> pa.Array:
    return pc.take(pa.array([text]), pa.array(np.zeros(n, dtype=np.int64)))


def _take(values: pa.Array, index: np.ndarray, present: np.ndarray | None = None) -> pa.Array:
    """values[index], empty (null) where not present."""
    mask = None if present is None else ~np.asarray(present, dtype=bool)
    return pc.take(values, pa.array(np.asarray(index, dtype=np.int64), mask=mask))


@functools.cache
def _clock() -> pa.Array:
    """"HH:MM:SS" for every second of a day."""
    text = np.datetime_as_string(np.arange(_DAY).astype("datetime64[s]"))
    return pc.utf8_slice_codeunits(pa.array(text), 11, 19)


@functools.cache
def _cents() -> pa.Array:
    return pa.array([f"{i:02d}" for i in range(100)])


def _day_texts(days: np.ndarray) -> tuple[pa.Array, int]:
    low = int(days.min()) if len(days) else 0
    high = int(days.max()) if len(days) else 0
    text = np.datetime_as_string(np.arange(low, high + 1).astype("datetime64[D]"))
    return pa.array(text), low


def _dates(days: np.ndarray) -> pa.Array:
    table, low = _day_texts(days)
    return pc.take(table, pa.array(days - low))


def _timestamps(seconds: np.ndarray) -> pa.Array:
    """"YYYY-MM-DD HH:MM:SS" from naive local seconds; empty where negative (missing)."""
    missing = seconds < 0
    days = seconds // _DAY
    table, low = _day_texts(days[~missing])
    day_text = pc.take(table, pa.array(np.where(missing, 0, days - low), mask=missing))
    clock = pc.take(_clock(), pa.array(seconds % _DAY))
    return pc.binary_join_element_wise(day_text, clock, " ")


def _money(fen: np.ndarray) -> pa.Array:
    """Yuan with exactly two decimals, built from integer fen (no float ever)."""
    fen = np.asarray(fen, dtype=np.int64)
    whole = np.abs(fen)
    text = pc.binary_join_element_wise(
        _str(whole // 100), pc.take(_cents(), pa.array(whole % 100)), ".")
    if (fen < 0).any():
        text = pc.if_else(pa.array(fen < 0), pc.binary_join_element_wise("-", text, ""), text)
    return text


def _ids(prefix: str, numbers: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(_str(numbers), 10, "0"), "")


class _CsvOut:
    """One CSV file written community by community, with an unquoted header row."""

    def __init__(self, path: Path, columns: tuple[str, ...]) -> None:
        self.path, self.columns, self.rows = path, columns, 0
        self._sink = pa.OSFile(str(path), "wb")
        self._sink.write((",".join(columns) + "\n").encode())
        schema = pa.schema([(c, pa.string()) for c in columns])
        # quoting "none" makes pyarrow refuse a comma, quote or newline in a value.
        self._writer = pacsv.CSVWriter(self._sink, schema, write_options=pacsv.WriteOptions(
            include_header=False, quoting_style="none"))

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table.select(list(self.columns)))
        self.rows += table.num_rows

    def close(self) -> None:
        self._writer.close()
        self._sink.close()


# --------------------------------------------------------------------------- zh-generic style

STYLES = ("canonical", "zh-generic")
_EXTRAS = 5  # seed-sequence key of the columns only the zh-generic exports have
_TABLES = ("tickets", "bills", "payments")
_FILE_NAMES = {"tickets": "工单", "bills": "账单", "payments": "收款"}
_ZH_PATTERNS = {table: [f"exports/*/{name}.*"] for table, name in _FILE_NAMES.items()}
_ZH_SUFFIXES = (".csv", ".xlsx")


@dataclass(frozen=True)
class _System:
    """How one company's property system writes its exports (the ``zh-generic`` style).

    Headers are alternatives the zh-generic profile lists, in the order the system
    prints its columns; a field a system does not export is simply not listed.
    """

    suffix: str  # ".csv" or ".xlsx" (one workbook per table, real date cells)
    encoding: str  # CSV only: "utf-8", "utf-8-sig" or "gbk"
    crlf: bool
    quote_all: bool  # every text cell in quotes; needed where money has thousands commas
    day_shape: str  # "iso" 2025-09-01, "slash" 2025/9/1, "zh" 2025年9月1日
    clock_shape: str  # "hms" 08:05:07, "h:mm:ss" 8:05:07, "zh" 8时5分7秒
    money_shape: str  # "plain" 1234.50, "grouped" 1,234.50, "yuan" ¥1,234.50
    tickets: tuple[tuple[str, str], ...]  # (field, header)
    bills: tuple[tuple[str, str], ...]
    payments: tuple[tuple[str, str], ...]
    type_labels: tuple[str, ...]  # by TYPES index
    category_labels: tuple[str, ...]  # by CATEGORIES index
    priority_labels: tuple[str, str]  # normal, urgent

    @property
    def excel(self) -> bool:
        return self.suffix == ".xlsx"

    def times(self, seconds: np.ndarray) -> pa.Array | list:
        """Naive local seconds as this system prints them; empty where negative."""
        if self.excel:
            values = seconds.astype("datetime64[s]").astype(object)
            values[seconds < 0] = None
            return values.tolist()
        return _styled_timestamps(seconds, self.day_shape, self.clock_shape)

    def dates(self, days: np.ndarray) -> pa.Array | list:
        if self.excel:
            return days.astype("datetime64[D]").astype(object).tolist()
        table, low = _day_table(days, self.day_shape)
        return pc.take(table, pa.array(days - low))

    def money(self, fen: np.ndarray) -> pa.Array | list:
        """Lossless either way: text built from integer fen, or a float whose shortest
        repr is the two-decimal amount (an Excel number cell)."""
        if self.excel:
            return (np.asarray(fen, dtype=np.int64) / 100).tolist()
        return _styled_money(fen, self.money_shape)

    def counts(self, values: np.ndarray) -> pa.Array | list:
        return values.tolist() if self.excel else _str(values)


_TYPE_LABELS = ("报修", "投诉", "咨询", "建议", "表扬", "其他")
_CATEGORY_LABELS = ("水电", "电梯", "消防", "供暖", "安防门禁", "清洁", "绿化", "停车", "噪音",
                    "公共设施", "其他")
_STATUS_LABELS = ("已取消", "已关闭", "已完成", "处理中", "待处理")
_RATING_LABELS = ("", "非常不满意", "不满意", "基本满意", "满意", "非常满意")
_CHANNELS = ("电话", "业主APP", "微信公众号", "前台", "巡检发现")
_CHANNEL_CUM = _cum([[.35, .25, .25, .10, .05]])[0]
_PAY_METHODS = ("微信支付", "支付宝", "银行代扣", "现金", "POS刷卡")
_PAY_METHOD_CUM = _cum([[.40, .25, .15, .10, .10]])[0]

# Community i is exported by system i % 4: 锦江小区 UTF-8 with BOM, 松花苑 GBK from an
# old Windows system, 浦江花园 Excel workbooks, 南山雅苑 UTF-8 with no category column.
_SYSTEMS = (
    _System(
        ".csv", "utf-8-sig", True, True, "slash", "h:mm:ss", "grouped",
        tickets=(("ticket_id", "工单编号"), ("community", "项目名称"), ("building", "楼栋"),
                 ("unit", "房号"), ("reporter_name", "报事人"), ("reporter_phone", "联系电话"),
                 ("channel", "报事渠道"), ("type", "工单类型"), ("category", "报事类别"),
                 ("description", "报事内容"), ("priority", "紧急程度"),
                 ("created_at", "报事时间"), ("first_response_at", "派单时间"),
                 ("resolved_at", "完成时间"), ("closed_at", "关闭时间"), ("status", "工单状态"),
                 ("satisfaction", "回访满意度"), ("reopened", "返工次数")),
        bills=(("bill_id", "账单编号"), ("community", "项目名称"), ("building", "楼栋"),
               ("unit", "房号"), ("fee_item", "收费项目"), ("period", "计费周期"),
               ("due_date", "应收日期"), ("amount_due", "应收金额")),
        payments=(("payment_id", "收款单号"), ("bill_id", "账单编号"), ("community", "项目名称"),
                  ("building", "楼栋"), ("unit", "房号"), ("fee_item", "收费项目"),
                  ("period", "计费周期"), ("paid_at", "收款时间"), ("amount", "实收金额"),
                  ("method", "收款方式")),
        type_labels=_TYPE_LABELS, category_labels=_CATEGORY_LABELS,
        priority_labels=("一般", "紧急")),
    _System(
        ".csv", "gbk", True, False, "zh", "zh", "plain",
        tickets=(("ticket_id", "单号"), ("community", "小区名称"), ("building", "楼号"),
                 ("unit", "房屋编号"), ("reporter_name", "联系人"), ("reporter_phone", "手机号"),
                 ("type", "报事类型"), ("category", "问题类别"), ("description", "问题描述"),
                 ("priority", "优先级"), ("created_at", "报修时间"),
                 ("first_response_at", "接单时间"), ("resolved_at", "处理完成时间"),
                 ("closed_at", "回访时间"), ("status", "状态"), ("satisfaction", "满意度"),
                 ("reopened", "重开次数")),
        bills=(("bill_id", "单据编号"), ("community", "小区名称"), ("building", "楼号"),
               ("unit", "房屋编号"), ("fee_item", "费项"), ("period", "所属期间"),
               ("due_date", "缴费截止日"), ("amount_due", "应缴金额")),
        payments=(("payment_id", "收据编号"), ("bill_id", "单据编号"), ("community", "小区名称"),
                  ("building", "楼号"), ("unit", "房屋编号"), ("fee_item", "费项"),
                  ("period", "所属期间"), ("paid_at", "缴费时间"), ("amount", "收款金额"),
                  ("method", "支付方式")),
        type_labels=("维修", *_TYPE_LABELS[1:]),
        category_labels=("水电维修", "电梯", "消防", "暖气", "安防", "保洁", "绿化", "车辆",
                         "噪声", "公共区域", "其他"),
        priority_labels=("普通", "加急")),
    _System(
        ".xlsx", "", False, False, "", "", "",
        tickets=(("ticket_id", "工单号"), ("community", "项目"), ("building", "楼栋名称"),
                 ("unit", "房间号"), ("reporter_name", "业主姓名"), ("reporter_phone", "电话"),
                 ("channel", "报事渠道"), ("type", "工单类型"), ("category", "报修类别"),
                 ("description", "内容描述"), ("priority", "紧急程度"),
                 ("created_at", "创建时间"), ("first_response_at", "响应时间"),
                 ("resolved_at", "完成时间"), ("closed_at", "关闭时间"), ("status", "工单状态"),
                 ("satisfaction", "评价"), ("reopened", "返工次数")),
        bills=(("bill_id", "应收编号"), ("community", "项目"), ("building", "楼栋"),
               ("unit", "房号"), ("fee_item", "收费项目"), ("period", "账期"),
               ("due_date", "应收日期"), ("amount_due", "应收金额")),
        payments=(("payment_id", "流水号"), ("bill_id", "应收编号"), ("community", "项目"),
                  ("building", "楼栋"), ("unit", "房号"), ("fee_item", "收费项目"),
                  ("period", "账期"), ("paid_at", "收款日期"), ("amount", "实收金额"),
                  ("method", "收款方式")),
        type_labels=_TYPE_LABELS,
        category_labels=("水电", "电梯", "消防", "供暖", "门禁", "环境卫生", "绿化", "停车", "噪音",
                         "公共设施", "其他"),
        priority_labels=("正常", "紧急")),
    _System(
        ".csv", "utf-8", False, True, "iso", "hms", "yuan",
        tickets=(("ticket_id", "工单编号"), ("community", "项目名称"), ("building", "楼栋"),
                 ("unit", "房号"), ("reporter_name", "报事人"), ("reporter_phone", "联系电话"),
                 ("type", "工单类型"), ("description", "报事内容"), ("priority", "紧急程度"),
                 ("created_at", "报事时间"), ("first_response_at", "派单时间"),
                 ("resolved_at", "完成时间"), ("closed_at", "回访时间"), ("status", "工单状态"),
                 ("satisfaction", "回访满意度"), ("reopened", "返工次数")),
        bills=(("bill_id", "账单编号"), ("community", "项目名称"), ("building", "楼栋"),
               ("unit", "房号"), ("fee_item", "收费项目"), ("period", "计费周期"),
               ("due_date", "应缴日期"), ("amount_due", "应收金额")),
        payments=(("payment_id", "收款单号"), ("bill_id", "账单编号"), ("community", "项目名称"),
                  ("building", "楼栋"), ("unit", "房号"), ("fee_item", "收费项目"),
                  ("period", "计费周期"), ("paid_at", "缴费时间"), ("amount", "实收金额")),
        type_labels=_TYPE_LABELS, category_labels=_CATEGORY_LABELS,
        priority_labels=("一般", "紧急")),
)

# 报事内容 as a service desk types it. A system with no category column leaves the
# category to the profile's keyword rules, so every description here names its kind
# of trouble with a word of those rules, and the rules find the same category the
# generator meant; descriptions of the "other" category name none. Phrases that
# already do are kept as they are.
_FREE_TEXT = {
    # plumbing_electric
    "卫生间地漏返臭": "卫生间下水返臭",
    "地漏返水": "地漏返水，下水不畅",
    "排水不畅多次报修": "下水不畅多次报修",
    "地下室进水需要抽水": "地下室进水，下水不畅需要抽水",
    "电费充值咨询": "电表充值后仍停电咨询",
    "水表读数咨询": "入户水管水表读数咨询",
    "维修师傅迟迟未上门": "漏水报修后师傅迟迟未上门",
    "水表冻裂": "水表冻裂漏水",
    "配电箱冒烟": "配电箱冒烟跳闸",
    # fire
    "安全出口指示灯不亮": "消防安全出口指示灯不亮",
    "楼道堆放杂物": "楼道堆放杂物占用消防通道",
    "楼道有烟味": "楼道有烟味，请消防检查",
    # security
    "访客登记咨询": "访客门禁登记咨询",
    "建议加强夜间巡逻": "建议加强夜间巡逻和监控",
    "夜间巡逻不到位": "夜间巡逻和监控不到位",
    "外卖快递随意进小区": "外卖快递随意进出门禁",
    "单元门锁损坏无法进出": "单元门禁锁损坏无法进出",
    "外来人员随意进出": "外来人员随意进出门禁",
    # parking
    "消防通道乱停车": "楼前通道乱停车",
    "外来车辆乱停": "外来车辆乱停车",
    "访客车辆登记咨询": "访客停车登记咨询",
    "访客车辆堵塞通道": "访客车辆占道停车",
    "建议增加充电桩": "建议增加充电车位",
    "电动车充电位不足": "电动车充电车位不足",
    # noise
    "楼下深夜喧哗": "楼下深夜喧哗扰民",
    "节日聚会深夜喧哗": "节日聚会深夜吵闹",
    "烟花燃放规定咨询": "燃放烟花噪音规定咨询",
    "装修施工时间咨询": "装修噪音时段咨询",
    # cleaning
    "楼前落叶堆积": "楼前落叶堆积无人清扫",
    "宠物粪便无人清理": "宠物粪便无人清理，影响环境卫生",
    "楼道打扫得很干净": "保洁打扫得很干净",
    "积雪未及时清理": "积雪未及时清扫",
    "单元门口结冰": "单元门口结冰未清扫",
    "建议及时撒融雪剂": "建议保洁及时撒融雪剂",
    "路面结冰湿滑": "路面结冰湿滑，需要清扫",
    "落叶堵塞雨水口": "雨水口落叶未清扫",
    "楼道有小广告": "楼道有小广告影响卫生",
    "屋檐冰溜子需清除": "屋檐冰溜子需保洁清除",
    "屋檐冰溜子有坠落风险": "屋檐冰溜子有坠落风险，请保洁清除",
    # greening
    "枯枝需清理": "树木枯枝需清理",
    "断枝压到车辆": "树木断枝压到车辆",
    "喷灌管漏水": "绿化喷灌管破损",
    "建议补种绿植": "建议补种绿化植物",
    # heating
    "室温不达标": "供暖室温不达标",
    # facilities
    "楼道灯不亮": "楼道照明设施不亮",
    "楼道灯反复不亮": "楼道照明设施反复损坏",
    "路灯不亮": "路灯损坏不亮",
    "单元门闭门器损坏": "单元门闭门器等设施损坏",
    "单元门被风吹坏": "单元门窗被风吹坏",
    "单元门反复损坏": "单元门窗反复损坏",
    "地砖松动": "路面地砖松动",
    "信报箱损坏": "信报箱设施损坏",
    "楼道窗户玻璃破损": "楼道门窗玻璃破损",
    "健身器材损坏": "健身设施损坏",
    "建议增加休闲座椅": "建议增加休闲座椅等设施",
    "建议加装无障碍扶手": "建议加装无障碍扶手设施",
    "同一问题多次报修未解决": "同一公共设施问题多次报修未解决",
    "大堂空调不制冷": "大堂空调设施不制冷",
    "公共区域空调不制冷": "公共区域空调设施不制冷",
    "大堂空调温度太高": "大堂空调设施温度太高",
    "会所空调漏水": "会所空调设施滴水",
    "水泵房水泵故障": "水泵房设施故障",
    "水泵故障高层停水": "水泵设施故障，高层供水中断",
    "地下车库排风扇不转": "地下车库排风设施不转",
    "台风刮坏楼道窗户": "台风刮坏楼道门窗",
    "雨棚被吹落": "单元雨棚设施被吹落",
    "围挡被吹倒": "围挡设施被吹倒",
    "广告牌松动": "外墙广告牌松动",
    "空调外机支架松动": "外墙空调外机支架松动",
    "玻璃被吹碎有坠落风险": "门窗玻璃被吹碎有坠落风险",
    "台风后清理不及时": "台风后路面清理不及时",
    "屋顶漏水": "屋顶及外墙雨天渗水",
    "窗台渗水": "门窗窗台渗水",
    "地下室渗水": "地下室外墙渗水",
    "雨水井堵塞积水": "雨水井不通畅，路面积水",
    "雨后小区积水严重": "雨后小区路面积水严重",
    "地下车库积水": "地下车库路面积水",
    "地下车库进水": "地下车库进水，路面积水",
    "电梯井进水": "设备井进水，公共设施受损",
    "楼顶防水层反复渗漏": "楼顶外墙防水层反复渗漏",
}
_FREE_PHRASES = pa.array([_FREE_TEXT.get(text, text) for text in _PHRASES.to_pylist()])


@functools.cache
def _clock_table(style: str) -> pa.Array:
    """Every second of a day as a system prints it."""
    if style == "hms":
        return _clock()
    second = np.arange(_DAY)
    hour, minute, sec = _str(second // 3600), _str(second // 60 % 60), _str(second % 60)
    if style == "zh":
        return pc.binary_join_element_wise(hour, "时", minute, "分", sec, "秒", "")
    return pc.binary_join_element_wise(
        hour, pc.utf8_lpad(minute, 2, "0"), pc.utf8_lpad(sec, 2, "0"), ":")


def _day_table(days: np.ndarray, style: str) -> tuple[pa.Array, int]:
    """Every day from the first to the last of ``days`` in one style, and the first day."""
    if style == "iso":
        return _day_texts(days)
    low = int(days.min()) if len(days) else 0
    high = int(days.max()) if len(days) else 0
    span = np.arange(low, high + 1).astype("datetime64[D]")
    months = span.astype("datetime64[M]")
    year = _str(months.astype(np.int64) // 12 + 1970)
    month = _str(months.astype(np.int64) % 12 + 1)
    day = _str((span - months.astype("datetime64[D]")).astype(np.int64) + 1)
    if style == "zh":
        return pc.binary_join_element_wise(year, "年", month, "月", day, "日", ""), low
    return pc.binary_join_element_wise(year, month, day, "/"), low


def _styled_timestamps(seconds: np.ndarray, day: str, clock: str) -> pa.Array:
    """Naive local seconds in one system's shape, always with the seconds (so lossless);
    empty where negative (missing)."""
    missing = seconds < 0
    days = seconds // _DAY
    table, low = _day_table(days[~missing], day)
    day_text = pc.take(table, pa.array(np.where(missing, 0, days - low), mask=missing))
    return pc.binary_join_element_wise(
        day_text, pc.take(_clock_table(clock), pa.array(seconds % _DAY)), " ")


def _grouped(yuan: np.ndarray) -> pa.Array:
    """Whole yuan with thousands separators: 1234567 -> "1,234,567"."""
    groups = np.ones(len(yuan), dtype=np.int64)
    rest = yuan // 1000
    while (rest > 0).any():
        groups += rest > 0
        rest //= 1000
    text = _str(yuan // 1000 ** (groups - 1))
    for j in range(int(groups.max(initial=1)) - 2, -1, -1):
        three = pc.utf8_lpad(_str(yuan // 1000**j % 1000), 3, "0")
        text = pc.if_else(pa.array(groups - 1 > j), pc.binary_join_element_wise(text, three, ","),
                          text)
    return text


def _styled_money(fen: np.ndarray, style: str) -> pa.Array:
    """``plain`` 1234.50, ``grouped`` 1,234.50, ``yuan`` ¥1,234.50; a leading minus for
    refunds; from integer fen, like the canonical amounts."""
    if style == "plain":
        return _money(fen)
    fen = np.asarray(fen, dtype=np.int64)
    whole = np.abs(fen)
    text = pc.binary_join_element_wise(
        _grouped(whole // 100), pc.take(_cents(), pa.array(whole % 100)), ".")
    if style == "yuan":
        text = pc.binary_join_element_wise("¥", text, "")
    if (fen < 0).any():
        text = pc.if_else(pa.array(fen < 0), pc.binary_join_element_wise("-", text, ""), text)
    return text


def _status(t: _Tickets) -> np.ndarray:
    """工单状态 on the export day, index into _STATUS_LABELS."""
    return np.select([t.cancelled, t.closed >= 0, t.resolved >= 0, t.response >= 0],
                     [0, 1, 2, 3], 4)


def _zh_ticket_fields(t: _Tickets, comm: _Community, code: str, system: _System,
                      rng: np.random.Generator) -> dict[str, pa.Array | list]:
    n = len(t.created)
    return {
        "ticket_id": _ticket_ids(t, code),
        "community": _const(comm.public.id, n),
        "building": _take(comm.building_names, comm.building_of[t.household], t.show_building),
        "unit": _take(comm.units, t.household, t.show_unit),
        "reporter_name": _take(comm.names, t.household),
        "reporter_phone": _take(comm.phones, t.household),
        "channel": _take(pa.array(_CHANNELS), np.searchsorted(_CHANNEL_CUM, rng.random(n))),
        "type": _take(pa.array(system.type_labels), t.type),
        "category": _take(pa.array(system.category_labels), t.category),
        "description": _take(_FREE_PHRASES, t.phrase),
        "priority": _take(pa.array(system.priority_labels), t.urgent.astype(np.int64)),
        "created_at": system.times(t.created),
        "first_response_at": system.times(t.response),
        "resolved_at": system.times(t.resolved),
        "closed_at": system.times(t.closed),
        "status": _take(pa.array(_STATUS_LABELS), _status(t)),
        "satisfaction": _take(pa.array(_RATING_LABELS), t.satisfaction, t.satisfaction > 0),
        "reopened": system.counts(t.reopened),
    }


def _zh_bill_fields(b: _Bills, comm: _Community, first_id: int,
                    system: _System) -> dict[str, pa.Array | list]:
    return {
        "bill_id": _ids("ZD", first_id + np.arange(len(b.due))),
        "community": _const(comm.public.id, len(b.due)),
        "building": _take(comm.building_names, comm.building_of[b.household]),
        "unit": _take(comm.units, b.household),
        "fee_item": _take(pa.array(FEE_ITEMS), b.item),
        "period": _take(pa.array(b.periods), b.period),
        "due_date": system.dates(b.due),
        "amount_due": system.money(b.amount),
    }


def _zh_payment_fields(p: _Payments, b: _Bills, comm: _Community, first_bill_id: int,
                       first_id: int, unknown: int | None, system: _System,
                       rng: np.random.Generator) -> dict[str, pa.Array | list]:
    """Payments with their bill's number, and the bill's house, fee and period besides."""
    household = b.household[p.bill]
    return {
        "payment_id": _ids("SK", first_id + np.arange(len(p.paid))),
        "bill_id": _payment_bill_ids(p, first_bill_id, unknown),
        "community": _const(comm.public.id, len(p.paid)),
        "building": _take(comm.building_names, comm.building_of[household]),
        "unit": _take(comm.units, household),
        "fee_item": _take(pa.array(FEE_ITEMS), b.item[p.bill]),
        "period": _take(pa.array(b.periods), b.period[p.bill]),
        "paid_at": system.times(p.paid),
        "amount": system.money(p.amount),
        "method": _take(pa.array(_PAY_METHODS),
                        np.searchsorted(_PAY_METHOD_CUM, rng.random(len(p.paid)))),
    }


def _write_csv_export(path: Path, system: _System, headers: list[str],
                      columns: list[pa.Array]) -> None:
    buffer = io.BytesIO()
    pacsv.write_csv(pa.table(columns, names=headers), buffer, write_options=pacsv.WriteOptions(
        include_header=False, quoting_style="needed" if system.quote_all else "none"))
    data = (",".join(headers) + "\n").encode() + buffer.getvalue()
    if system.crlf:
        data = data.replace(b"\n", b"\r\n")  # no value holds a line break
    if system.encoding == "gbk":
        data = data.decode("utf-8").encode("gbk")
    elif system.encoding == "utf-8-sig":
        data = b"\xef\xbb\xbf" + data
    path.write_bytes(data)


def _write_xlsx_export(path: Path, sheet: str, headers: list[str], columns: list,
                       saved: datetime) -> None:
    """One sheet, written row by row in openpyxl's streaming mode, with real date cells.

    openpyxl stamps the workbook's modified time and every zip entry with the
    current time; both are set to ``saved`` (the export moment, UTC) so that the
    same arguments give the same bytes.
    """
    from openpyxl import Workbook
    from openpyxl.xml.functions import tostring

    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(sheet)
    worksheet.append(headers)
    rows = [c.to_pylist() if isinstance(c, pa.Array) else c for c in columns]
    for row in zip(*rows, strict=True):
        worksheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    workbook.properties.created = workbook.properties.modified = saved
    core = tostring(workbook.properties.to_tree())
    with zipfile.ZipFile(buffer) as source, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=saved.timetuple()[:6])
            entry.compress_type, entry.external_attr = zipfile.ZIP_DEFLATED, info.external_attr
            target.writestr(entry, core if info.filename == "docProps/core.xml"
                            else source.read(info.filename))


class _ZhSink:
    """Each community's exports in its own folder, as its system writes them."""

    profile = "zh-generic"

    def __init__(self, exports: Path, seed: int, saved: datetime) -> None:
        self.exports, self.seed, self.saved = exports, seed, saved
        self.rows = dict.fromkeys(_TABLES, 0)
        self.paths: dict[str, list[Path]] = {table: [] for table in _TABLES}

    def write(self, comm: _Community, code: str, tickets: _Tickets, bills: _Bills,
              payments: _Payments, unknown: int | None) -> None:
        system = _SYSTEMS[comm.index % len(_SYSTEMS)]
        rng = _rng(self.seed, comm.index, _EXTRAS)
        first_bill = self.rows["bills"] + 1
        fields = {
            "tickets": _zh_ticket_fields(tickets, comm, code, system, rng),
            "bills": _zh_bill_fields(bills, comm, first_bill, system),
            "payments": _zh_payment_fields(payments, bills, comm, first_bill,
                                           self.rows["payments"] + 1, unknown, system, rng),
        }
        folder = self.exports / comm.public.name
        folder.mkdir(parents=True, exist_ok=True)
        for table in _TABLES:
            layout = getattr(system, table)
            headers = [header for _, header in layout]
            columns = [fields[table][name] for name, _ in layout]
            path = folder / f"{_FILE_NAMES[table]}{system.suffix}"
            if system.excel:
                _write_xlsx_export(path, _FILE_NAMES[table], headers, columns, self.saved)
            else:
                _write_csv_export(path, system, headers, columns)
            self.rows[table] += len(tickets.created) if table == "tickets" else \
                len(bills.due) if table == "bills" else len(payments.paid)
            self.paths[table].append(path)

    def close(self) -> None:
        pass

    def prune(self) -> None:
        """Remove exports an earlier, larger run left here: the config's globs would read them."""
        written = {path for paths in self.paths.values() for path in paths}
        for name in _FILE_NAMES.values():
            for suffix in _ZH_SUFFIXES:
                for path in self.exports.glob(f"*/{name}{suffix}"):
                    if path not in written:
                        path.unlink()
                        with contextlib.suppress(OSError):
                            path.parent.rmdir()  # only when now empty

    def result(self) -> tuple[dict[str, list[Path]], dict[str, list[str]]]:
        return self.paths, {table: list(p) for table, p in _ZH_PATTERNS.items()}


class _CanonicalSink:
    """One CSV file per table for all communities, in the canonical profile."""

    profile = "canonical"

    def __init__(self, exports: Path) -> None:
        self.exports = exports
        self.outs = {"tickets": _CsvOut(exports / "tickets.csv", TICKET_COLUMNS),
                     "bills": _CsvOut(exports / "bills.csv", BILL_COLUMNS),
                     "payments": _CsvOut(exports / "payments.csv", PAYMENT_COLUMNS)}

    @property
    def rows(self) -> dict[str, int]:
        return {name: out.rows for name, out in self.outs.items()}

    def write(self, comm: _Community, code: str, tickets: _Tickets, bills: _Bills,
              payments: _Payments, unknown: int | None) -> None:
        first_bill = self.outs["bills"].rows + 1
        self.outs["tickets"].write(_ticket_table(tickets, comm, code))
        self.outs["bills"].write(_bill_table(bills, comm, first_bill))
        self.outs["payments"].write(_payment_table(payments, first_bill,
                                                   self.outs["payments"].rows + 1, unknown))

    def close(self) -> None:
        for out in self.outs.values():
            out.close()

    def result(self) -> tuple[dict[str, Path], dict[str, list[str]]]:
        return ({name: out.path for name, out in self.outs.items()},
                {name: [f"exports/{out.path.name}"] for name, out in self.outs.items()})


# --------------------------------------------------------------------------- entry point


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *keys]))


# Deliberate defects, so the data-quality report has something to say: rows written
# twice, rows the validation must quarantine, and a payment for a bill that is not there.
_DEFECTS = {
    "duplicate_ticket_rows": 5,
    "ticket_missing_created_at": 2,
    "ticket_resolved_before_created": 1,
    "payment_unknown_bill": 1,
}
_TICKET_DEFECTS = ("duplicate_ticket_rows", "ticket_missing_created_at",
                   "ticket_resolved_before_created")


def generate_sample(out_dir: Path, *, seed: int = 7, communities: int = 4, months: int = 24,
                    scale: float = 1.0, last_month: Month | None = None,
                    timezone: str = "Asia/Shanghai", style: str = "zh-generic") -> SampleSet:
    """Write the exports of ``communities`` communities under ``out_dir/exports``.

    ``style="canonical"`` writes ``tickets.csv``, ``bills.csv`` and ``payments.csv``
    in the built-in canonical profile (what tests of the metrics and the benchmarks
    read). ``style="zh-generic"`` (the demo's) writes each community's exports as its
    company system would, to ``exports/<community name>/工单|账单|收款.csv|xlsx``, for
    the built-in ``zh-generic`` profile: Chinese headers and labels, a different date
    and money shape per system, one system in GBK, one in Excel workbooks, one with
    no category column. Both styles hold the same events for the same arguments:
    read through their profiles they give the same canonical rows, except the
    descriptions (see ``_FREE_TEXT``).

    The data covers ``months`` months ending with ``last_month`` (default: the last
    complete month in ``timezone``) and looks like an export taken at 08:00 on the
    day after: nothing at or after that moment is in it. Times are naive local
    times of ``timezone``; ``scale`` multiplies households, and so tickets and bills.
    Raises ``ValueError`` for a negative seed, no communities, no months, scale <= 0
    or an unknown style.
    """
    if seed < 0 or communities < 1 or months < 1 or not scale > 0:
        raise ValueError("generate_sample needs seed >= 0, communities >= 1, months >= 1 "
                         "and scale > 0")
    if style not in STYLES:
        raise ValueError(f"generate_sample: style must be one of {', '.join(STYLES)}, "
                         f"not {style!r}")
    if last_month is None:
        last_month = Month.last_complete(datetime.now(ZoneInfo(timezone)), timezone)
    first_month = last_month.shift(-(months - 1))
    cal = _Calendar.build(first_month, last_month)
    after = last_month.shift(1).first_day
    as_of = datetime(after.year, after.month, after.day, 8)

    plan_rng = _rng(seed, _DEFECTS_KEY)
    plan = {kind: np.bincount(plan_rng.integers(0, communities, count), minlength=communities)
            for kind, count in _DEFECTS.items()}
    defects = dict.fromkeys(_DEFECTS, 0)

    exports = Path(out_dir) / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    saved = as_of.replace(tzinfo=ZoneInfo(timezone)).astimezone(UTC).replace(tzinfo=None)
    sink = _CanonicalSink(exports) if style == "canonical" else _ZhSink(exports, seed, saved)
    weather: dict[int, _Weather] = {}
    made: list[SampleCommunity] = []
    code_width = max(3, len(str(communities)))
    try:
        for index in range(communities):
            comm = _community(seed, index, scale)
            city_index = index % len(_CITIES)
            if city_index not in weather:
                weather[city_index] = _weather(seed, city_index, cal)
            cx = _Context(cal, comm.city, weather[city_index], comm)
            made.append(comm.public)

            rng = _rng(seed, index, _TICKETS)
            tickets = _tickets(cx, rng)
            wanted = {kind: int(plan[kind][index]) for kind in _TICKET_DEFECTS}
            tickets, done = _ticket_defects(tickets, wanted, rng)
            for kind, count in done.items():
                defects[kind] += count

            bills = _bills(cx, _rng(seed, index, _BILLS))
            pay_rng = _rng(seed, index, _PAYMENTS)
            payments = _payments(cx, bills, pay_rng)
            unknown = None
            if plan["payment_unknown_bill"][index] and len(payments.paid):
                unknown = int(pay_rng.integers(0, len(payments.paid)))
                defects["payment_unknown_bill"] += 1
            sink.write(comm, f"{index + 1:0{code_width}d}", tickets, bills, payments, unknown)
    finally:
        sink.close()
    if isinstance(sink, _ZhSink):
        sink.prune()

    paths, patterns = sink.result()
    return SampleSet(
        exports_dir=exports, tickets=paths["tickets"], bills=paths["bills"],
        payments=paths["payments"], communities=made, first_month=first_month,
        last_month=last_month, as_of=as_of, rows=sink.rows, defects=defects,
        profile=sink.profile, patterns=patterns,
    )
