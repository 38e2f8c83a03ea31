"""The sample exports: canonical format, determinism, and the stories they must tell.

The files are read back with pandas exactly as written (every cell as text), so
the tests see what the pipeline's ``canonical`` profile will see.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from yuebao.months import Month
from yuebao.tasks.sample_data import (
    BILL_COLUMNS,
    CATEGORIES,
    PAYMENT_COLUMNS,
    TICKET_COLUMNS,
    TYPES,
    SampleSet,
    generate_sample,
)

LAST = Month(2026, 10)
TIMESTAMP = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"
MONEY = r"^-?\d+\.\d{2}$"
TIME_FIELDS = ("created_at", "first_response_at", "resolved_at", "closed_at")


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")


@dataclass_like := None  # noqa: B018 - placeholder removed below
