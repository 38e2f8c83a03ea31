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

This package only re-exports the public API. The modules, each importing only
from those before it: ``public`` (result types, canonical columns and codes),
``common`` (seed keys, units, draw helpers), ``formatting`` (text of dates,
times, money, ids), ``cities``, ``calendar`` (days and weather),
``communities``, ``streams`` (kinds of tickets), ``rates`` (their seasons),
``phrases`` (descriptions), ``tickets``, ``fees`` (bills and payments),
``systems`` (the zh-generic export shapes), ``exports`` (styles and file
writing) and ``generate`` (``generate_sample``).
"""

from __future__ import annotations

from yuebao.tasks.sample_data.exports import STYLES
from yuebao.tasks.sample_data.generate import generate_sample
from yuebao.tasks.sample_data.public import (
    BILL_COLUMNS,
    CATEGORIES,
    FEE_ITEMS,
    PAYMENT_COLUMNS,
    TICKET_COLUMNS,
    TYPES,
    SampleCommunity,
    SampleSet,
)

__all__ = [
    "BILL_COLUMNS", "CATEGORIES", "FEE_ITEMS", "PAYMENT_COLUMNS", "STYLES", "TICKET_COLUMNS",
    "TYPES", "SampleCommunity", "SampleSet", "generate_sample",
]
