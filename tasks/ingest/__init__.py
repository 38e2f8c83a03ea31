"""Ingest: exports -> canonical tables (kpis.md section 2).

``read`` turns files into text rows named by canonical field (profiles,
encodings, Excel), ``parse`` reads cell values, ``validate`` types the rows,
quarantines what cannot be used and resolves duplicates. Every row of every
file ends as exactly one of *used*, *quarantined* or *duplicate*, and the
per-file counts are kept so that ``read = used + quarantined + duplicate`` can
be shown to the user.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from yuebao.config import Config
from yuebao.memory import keep_freed_memory
from yuebao.profile import ROW_ID, Profile, load_profile
from yuebao.runners import Workers
from yuebao.schema import TABLES
from yuebao.tasks.ingest.cache import Cache, Key, Pruned, cache_folder
from yuebao.tasks.ingest.combine import MissingRecords, combine
from yuebao.tasks.ingest.parse import Lookup
from yuebao.tasks.ingest.read import (
    Export,
    SourceFile,
    find_exports,
    payments_from_bills,
    read_source,
    shown_path,
)
from yuebao.tasks.ingest.validate import (
    ACCOUNT_COLUMNS,
    QUARANTINE_COLUMNS,
    Checked,
    Reader,
    check_file,
    date_bound,
    empty_table,
    holds,
)

MEASURED = ("first_response_at", "satisfaction", "reopened")

__all__ = ["Cache", "Export", "Ingested", "config_cache", "find_exports", "ingest",
           "ingest_task", "prune_cache_task"]


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


def _shown_key(profile: Profile, table: str, derived: bool) -> bool:
    """Whether a file's rows hold its own name: a made id of file and line (@row)."""
    mapping = profile.table("bills" if derived else table)
    return mapping.id == ROW_ID


class _Files:
    """One table's files through the cache: each one's own checks, read or made."""

    def __init__(self, cache: Cache | None, base_dir: Path, profile: Profile, timezone: str,
                 today: date, per_bill: dict[str, list[str]] | None, linked: bool) -> None:
        self.cache, self.base_dir, self.profile = cache, base_dir, profile
        self.timezone, self.today, self.per_bill, self.linked = timezone, today, per_bill, linked
        # Per-bill exports: the bills file read on a miss, kept for its payments.
        self.bill_sources: dict[Path, SourceFile] = {}

    def _source(self, export: Export, table: str, derived: bool) -> SourceFile:
        if derived:
            bills = self.bill_sources.pop(export.path, None) or self._read(export, "bills")
            return payments_from_bills([bills], self.profile)[0]
        source = self._read(export, table)
        if table == "bills" and self.per_bill:
            self.bill_sources[export.path] = source
        return source

    def _read(self, export: Export, table: str) -> SourceFile:
        return read_source(export.path, self.base_dir, self.profile, table,
                           self.per_bill if table == "bills" else None, bills=self.linked,
                           shown=export.shown)

    def check(self, export: Export, table: str, bills: Lookup | None,
              derived: bool = False, refresh: bool = False) -> Checked:
        reader = Reader(self.profile, table, self.timezone, self.today)
        shown = export.shown

        def made() -> Checked:
            return check_file(table, self._source(export, table, derived), reader, bills,
                              linked=bills is not None)

        if self.cache is None:
            return made()
        key = self.cache.key(export.path, Key(
            table=table, timezone=self.timezone, profile=self.profile,
            linked=bills is not None, derived=derived,
            shown=shown if _shown_key(self.profile, table, derived) else None))
        found = None if refresh else self.cache.load(key, shown)
        if found is not None and holds(found.seen, reader):
            self.cache.hits += 1
            return found
        with self.cache.lock(key):  # another process may have filled it meanwhile
            found = None if refresh else self.cache.load(key, shown)
            if found is not None and holds(found.seen, reader):
                self.cache.hits += 1
                return found
            checked = made()
            self.cache.store(key, checked)
            self.cache.misses += 1
            return checked


# How a table's files are checked: one by one here, or each a task of the flow's runner.
FileChecks = Callable[[Callable[[Export], Checked], list[Export], str], list[Checked]]


def one_by_one(check: Callable[[Export], Checked], found: list[Export],
               table: str) -> list[Checked]:
    return [check(export) for export in found]


def exports(entries: Sequence[str | Export], base_dir: Path, table: str) -> list[Export]:
    """The files of one table: local paths and globs found, exports already fetched kept."""
    patterns = [e for e in entries if isinstance(e, str)]
    found = [Export(path, shown_path(path, base_dir))
             for path in (find_exports(patterns, base_dir, table) if patterns else [])]
    return found + [e for e in entries if isinstance(e, Export)]


def ingest(sources: Mapping[str, Sequence[str | Export]], base_dir: Path, timezone: str,
           profile: Profile | str = "canonical", today: date | None = None,
           cache: Cache | None = None, checks: FileChecks = one_by_one) -> Ingested:
    """Read every configured export into the canonical tables.

    ``sources`` maps a table name to its paths or globs, or to the exports
    ``tasks/fetch`` resolved (pulled from URLs); a table left out is simply not
    available (the draft then says its figures are missing). With a per-bill
    profile, payments come from the bills export itself. With a ``cache``, a
    file seen before (same bytes, profile and code) is not read again: its own
    checks come from the cache, and only what spans files (bill links,
    duplicates) is made anew. Large exports make many large short-lived arrays,
    so the process first keeps freed memory for reuse (``yuebao.memory``).
    ``checks`` runs each file's own checks: one by one, or at once on workers
    (:func:`on_runner`); a per-bill profile reads bills and payments from one
    file, so one by one.
    """
    keep_freed_memory()
    if isinstance(profile, str):
        profile = load_profile(profile, base_dir)
    # Dates more than [dates] latest_days_ahead after this day are implausible.
    today = today or datetime.now(ZoneInfo(timezone)).date()
    per_bill = _per_bill_columns(profile)
    # Payments without bills (a receipts-only ledger) give the cash figures; the
    # figures that need bills are then null (metrics: "bills" not available).
    found = {table: exports(sources[table], base_dir, table)
             for table in TABLES if sources.get(table)}
    if per_bill and "bills" in found:
        found["payments"] = found["bills"]
    files = _Files(cache, base_dir, profile, timezone, today, per_bill, "bills" in found)
    checks = one_by_one if per_bill else checks

    # One table at a time, each file's rows let go once it is checked: the text of
    # every export at once would be most of the run's peak memory.
    tables, quarantines, accounts, notes = {}, [], [], []
    bill_lookup: Lookup | None = None
    columns: dict[str, list[dict[str, str]]] = {}
    shown: dict[tuple[str, str], dict[str, str]] = {}
    for table in TABLES:
        if table not in found:
            tables[table] = empty_table(table, timezone)
            continue
        bills = tables.get("bills") if table == "payments" and "bills" in found else None
        derived = table == "payments" and per_bill is not None and "bills" in found
        # Only payments look bills up: the lookup is made from the bills table, before them.
        checked = checks(partial(files.check, table=table, bills=bill_lookup, derived=derived),
                         found[table], table)
        columns[table] = [c.columns for c in checked]
        shown.update({(table, c.shown): c.columns for c in checked})
        try:
            combined = combine(table, checked, bills, bill_lookup)
        except MissingRecords as missing:  # the bills changed since those files were cached
            for number in missing.files:
                checked[number] = files.check(found[table][number], table, bill_lookup,
                                              derived, refresh=True)
            combined = combine(table, checked, bills, bill_lookup)
        del checked
        tables[table] = combined.rows
        if table == "bills" and "payments" in found:  # for each payments file and the link
            bill_lookup = Lookup(combined.rows["bill_id"], combined.key_hashes)
        quarantines.append(combined.quarantine)
        accounts.append(combined.accounts)
        notes += combined.notes
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


def config_cache(config: Config) -> Cache | None:
    """The cache the config names (``cache``, ``cache_dir``), or None when it is off."""
    folder = cache_folder(config.cache, config.resolve(config.cache_dir))
    return Cache(folder) if folder is not None else None


def _check_run_name() -> str:
    from prefect.runtime import task_run

    parameters = task_run.parameters
    return f"read-{parameters['table']}-{parameters['number']}"


@task(name="read-export", task_run_name=_check_run_name, cache_policy=NO_CACHE, retries=0)
def check_export_task(check: Callable[[Export], Checked], export: Export, table: str,
                      number: int) -> Checked:
    """Prefect task: one export's own checks (read, parse, validate, through the cache)."""
    return check(export)


def on_runner(runner: Any) -> FileChecks:
    """Each file's checks a task of its own on ``runner`` (a started Prefect task
    runner: processes, Dask workers), the results in the files' order."""
    def checks(check: Callable[[Export], Checked], found: list[Export],
               table: str) -> list[Checked]:
        futures = [runner.submit(check_export_task, {
            "check": check, "export": export, "table": table, "number": number})
            for number, export in enumerate(found, start=1)]
        return [future.result() for future in futures]
    return checks


@task(name="ingest", cache_policy=NO_CACHE)
def ingest_task(config: Config, fetched: Mapping[str, list[Export]] | None = None,
                workers: Workers | None = None) -> Ingested:
    """Prefect task: the configured exports as canonical tables.

    ``fetched`` is what the fetch stage resolved (local files and downloads, with
    the names reports give them); without it, the config's local sources are read.
    With ``workers`` (the run's scale-out runner) the files are checked at once on them.
    """
    sources = fetched if fetched is not None else {t: getattr(config.sources, t)
                                                   for t in TABLES}
    return ingest(sources, config.base_dir, config.timezone, config.sources.profile,
                  cache=config_cache(config),
                  checks=on_runner(workers.runner) if workers is not None else one_by_one)


@task(name="prune-cache", cache_policy=NO_CACHE, retries=0)
def prune_cache_task(config: Config) -> Pruned | None:
    """Prefect task: the cache's entries no run has used for ``cache_keep_days`` removed
    (none when the cache is off or the setting is 0). An entry it cannot remove is left
    for the next run: the housekeeping never fails a month."""
    cache = config_cache(config)
    if cache is None or not config.cache_keep_days:
        return None
    pruned = cache.prune(config.cache_keep_days)
    if pruned.entries:
        get_run_logger().info("Cache: %d entries unused for %d days removed (%.1f MB)",
                              pruned.entries, config.cache_keep_days, pruned.bytes / 2**20)
    return pruned
