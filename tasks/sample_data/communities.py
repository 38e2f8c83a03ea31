"""One generated community: its households, people, fees and habits.

Each community's traits are drawn from its own seed stream, so a community is
the same however many others are generated. ``_Context`` joins a community to
its city's calendar and weather: it is what the tickets, bills and payments of
that community are all drawn from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from yuebao.tasks.sample_data.calendar import _Calendar, _Weather
from yuebao.tasks.sample_data.cities import (
    _BILLING,
    _CITIES,
    _GIVEN,
    _LAYOUTS,
    _MOBILE_PREFIXES,
    _NAMES,
    _NORTH,
    _SURNAMES,
    _City,
)
from yuebao.tasks.sample_data.common import _TRAITS, _rng
from yuebao.tasks.sample_data.formatting import _str
from yuebao.tasks.sample_data.public import SampleCommunity


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


@dataclass(frozen=True)
class _Context:
    cal: _Calendar
    city: _City
    weather: _Weather
    community: _Community

    @property
    def north(self) -> bool:
        return self.city.zone in _NORTH
