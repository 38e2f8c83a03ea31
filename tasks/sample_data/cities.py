"""The cities, community names and people the sample communities are made of.

Pure reference data, no randomness: community ``i`` lives in ``_CITIES[i % 12]``
with the name ``_NAMES[i % 12]``, and its people get names and mobile numbers
drawn from the lists here. Cities carry what the seasons need (climate zone,
heating season and price, typhoons, plum rain, price tier).
"""

from __future__ import annotations

from dataclasses import dataclass


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
