"""The public types and constants of the sample generator.

What a caller of ``generate_sample`` gets back (``SampleSet``, ``SampleCommunity``)
and the canonical column names and codes the ``canonical`` exports use, which
tests compare against. They live apart from ``__init__`` because the generator's
own modules need them too (a community carries its ``SampleCommunity``), and a
module importing the package façade would be a circular import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from yuebao.months import Month

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
