"""Ingest: exports -> canonical tables (kpis.md section 2).

``read`` turns files into text rows named by canonical field (profiles,
encodings, Excel), ``parse`` reads cell values, ``validate`` types the rows,
quarantines what cannot be used and resolves duplicates. Every row of every
file ends as exactly one of *used*, *quarantined* or *duplicate*, and the
per-file counts are kept so that ``read = used + quarantined + duplicate`` can
be shown to the user.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from yuebao.config import Config
from yuebao.memory import keep_freed_memory
from yuebao.profile import Profile, load_profile
from yuebao.schema import TABLES
from yuebao.tasks.ingest.read import find_exports, payments_from_bills, read_source
from yuebao.tasks.ingest.validate import (
    ACCOUNT_COLUMNS,
    QUARANTINE_COLUMNS,
    Reader,
    date_bound,
    empty_table,
    validate_table,
)

MEASURED = ("first_response_at", "satisfaction", "reopened")

__all__ = ["Ingested", "find_exports", "ingest", "ingest_task"]


@dataclass
class Ingested:
    """The canonical tables of one run, and what was rejected on the way."""

    tickets: pd.DataFrame
    bills: pd.DataFrame
    payments: pd.DataFrame
    quarantine: pd.DataFrame
    files: pd.DataFrame
    notes: list[dict] = field(default_factory=list)
    available: frozenset[str] = frozenset()
    approximate_payments: bool = False
    columns: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)  # (table, file)
    # The plausible dates of the run, for the implausible_date reason (labels.toml).
    date_bounds: dict[str, str] = field(default_factory=dict)

    def totals(self) -> dict[str, dict[str, int]]:
        """Row counts per table, the ``data_quality`` block of metrics.json."""
        sums = self.files.groupby("table")[["read", "used", "quarantined", "duplicate"]].sum()
        return {
            table: {
                key: int(sums.loc[table, key]) if table in sums.index else 0
                for key in ("read", "used", "quarantined", "duplicate")
            }
            for table in TABLES
        }


def _per_bill_columns(profile: Profile) -> dict[str, list[str]] | None:
    if profile.payments_mode != "per_bill":
        return None
    assert profile.per_bill is not None
    return {"_amount_paid": profile.per_bill.amount_paid,
            "_last_paid_at": profile.per_bill.last_paid_at}


def _available(columns: dict[str, list[dict[str, str]]], profile: Profile) -> frozenset[str]:
    """The tables exported, and the measured ticket fields some file provides.

    A KPI built on a field the company's system does not export (no response
    time, no rating) is then null rather than a misleading 0. ``columns`` has,
    per table read, each file's canonical field -> source column.
    """
    provided = {field for found in columns.get("tickets", []) for field in found}
    provided |= set(profile.tickets.constants)
    return frozenset(columns) | {f"tickets.{field}" for field in MEASURED if field in provided}


def ingest(sources: dict[str, list[str]], base_dir: Path, timezone: str,
           profile: Profile | str = "canonical", today: date | None = None) -> Ingested:
    """Read every configured export into the canonical tables.

    ``sources`` maps a table name to its paths or globs; a table left out is
    simply not available (the draft then says its figures are missing). With a
    per-bill profile, payments come from the bills export itself. Large exports
    make many large short-lived arrays, so the process first keeps freed memory
    for reuse (``yuebao.memory``).
    """
    keep_freed_memory()
    if isinstance(profile, str):
        profile = load_profile(profile, base_dir)
    # Dates more than [dates] latest_days_ahead after this day are implausible.
    today = today or datetime.now(ZoneInfo(timezone)).date()
    per_bill = _per_bill_columns(profile)
    # Payments without bills (a receipts-only ledger) give the cash figures; the
    # figures that need bills are then null (metrics: "bills" not available).
    found = {table: find_exports(sources[table], base_dir, table)
             for table in TABLES if sources.get(table)}

    # One table at a time, its files' text let go once the table is validated:
    # the text of every export at once would be most of the run's peak memory.
    tables, quarantines, accounts, notes = {}, [], [], []
    columns: dict[str, list[dict[str, str]]] = {}
    shown: dict[tuple[str, str], dict[str, str]] = {}
    bill_files: list | None = None
    for table in TABLES:
        if table == "payments" and per_bill and bill_files is not None:
            files = payments_from_bills(bill_files, profile)
            bill_files = None
        elif table in found:
            files = [read_source(path, base_dir, profile, table,
                                 per_bill if table == "bills" else None,
                                 bills="bills" in found)
                     for path in found[table]]
        else:
            tables[table] = empty_table(table, timezone)
            continue
        if table == "bills" and per_bill:
            bill_files = files
        columns[table] = [f.columns for f in files]
        shown.update({(table, f.shown): f.columns for f in files})
        rows, quarantine, account, table_notes = validate_table(
            table, files, Reader(profile, table, timezone, today),
            tables.get("bills") if "bills" in found else None)
        del files
        tables[table] = rows
        quarantines.append(quarantine)
        accounts.append(account)
        notes += table_notes
    if per_bill and "payments" in columns:
        notes.append({"code": "approximate_payments", "table": "payments"})
    return Ingested(
        tickets=tables["tickets"], bills=tables["bills"], payments=tables["payments"],
        quarantine=(pd.concat(quarantines, ignore_index=True) if quarantines
                    else pd.DataFrame(columns=QUARANTINE_COLUMNS)),
        files=(pd.concat(accounts, ignore_index=True) if accounts
               else pd.DataFrame(columns=ACCOUNT_COLUMNS)),
        notes=notes,
        available=_available(columns, profile),
        approximate_payments=per_bill is not None,
        columns=shown,
        date_bounds={"earliest": profile.dates.earliest.isoformat(),
                     "latest": (date_bound(today, profile.dates.latest_days_ahead)
                                - timedelta(days=1)).isoformat(),  # the last plausible day
                     "days": str(profile.dates.latest_days_ahead)},
    )


@task(name="ingest", cache_policy=NO_CACHE)
def ingest_task(config: Config) -> Ingested:
    """Prefect task: the configured exports as canonical tables."""
    sources = {t: getattr(config.sources, t) for t in TABLES}
    return ingest(sources, config.base_dir, config.timezone, config.sources.profile)
