"""Ingest: exports -> canonical tables (kpis.md section 2).

Every row of every file ends as exactly one of *used*, *quarantined* or
*duplicate*; the per-file counts are kept so that
``read = used + quarantined + duplicate`` can be shown to the user. Validation
comes first and duplicates are resolved among valid rows only, so an invalid
row never hides a valid one with the same key.
"""

from __future__ import annotations

import glob
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from yuebao.config import Config
from yuebao.errors import UsageError
from yuebao.schema import (
    BILL_KEY,
    FIELDS,
    KEYS,
    PRIORITIES,
    REQUIRED,
    TABLES,
    TICKET_CATEGORIES,
    TICKET_TIMES,
    TICKET_TYPES,
)

QUARANTINE_COLUMNS = ["file", "line", "table", "code", "field", "value", "raw"]
ACCOUNT_COLUMNS = ["file", "table", "read", "used", "quarantined", "duplicate"]

_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}:\d{2})?$"
_TIMESTAMP_WITH_OFFSET = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2})$"
_MONEY = r"^(-?)(\d+)(?:\.(\d{1,2}))?$"


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


def find_exports(patterns: list[str], base_dir: Path, table: str) -> list[Path]:
    """Files matching the configured paths or globs, in sorted path order."""
    found: set[Path] = set()
    for pattern in patterns:
        path = Path(pattern).expanduser()
        path = path if path.is_absolute() else base_dir / path
        found.update(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
    if not found:
        raise UsageError(
            f"no {table} export matches sources.{table} = {patterns} (looked in {base_dir})"
        )
    return sorted(found)


def read_raw(path: Path, table: str) -> pd.DataFrame:
    """One export file as trimmed text cells, with its line numbers.

    Cells stay text here: parsing is the validator's job, so that an unreadable
    value becomes a quarantine reason instead of a crash.
    """
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError as error:
        raise UsageError(f"{path}: the file is empty") from error
    except UnicodeDecodeError as error:
        raise UsageError(f"{path}: not UTF-8 text ({error.reason})") from error
    except pd.errors.ParserError as error:
        raise UsageError(f"{path}: not a readable CSV table ({error})") from error
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [f for f in REQUIRED[table] if f not in frame.columns]
    if table == "payments" and "bill_id" not in frame.columns:
        missing += [f for f in BILL_KEY if f not in frame.columns]
    if missing:
        raise UsageError(
            f"{path}: {table} export lacks column {missing[0]!r} "
            f"(found: {', '.join(frame.columns)})"
        )
    frame = frame[[c for c in frame.columns if c in FIELDS[table]]]
    frame = frame.apply(lambda column: column.str.strip())
    frame["_file"] = str(path)
    frame["_line"] = np.arange(2, len(frame) + 2)
    return frame


def _present(raw: pd.DataFrame, name: str) -> pd.Series:
    """A text column with empty cells as missing; an absent column is all missing."""
    if name not in raw.columns:
        return pd.Series(pd.NA, index=raw.index, dtype="str")
    return raw[name].mask(raw[name] == "")


def parse_timestamps(text: pd.Series, timezone: str) -> tuple[pd.Series, pd.Series]:
    """Canonical timestamps to aware local time; also the mask of unreadable cells.

    Naive values are local time; a bare date is local midnight; values with an
    offset are converted. Ambiguous local times (a DST fall-back hour) are read
    as the first occurrence, and times that do not exist are moved forward.
    """
    present = text.notna()
    naive = present & text.str.fullmatch(_TIMESTAMP).fillna(False)
    offset = present & text.str.fullmatch(_TIMESTAMP_WITH_OFFSET).fillna(False)
    result = pd.Series(pd.NaT, index=text.index, dtype=f"datetime64[us, {timezone}]")
    if naive.any():
        local = pd.to_datetime(text[naive], format="ISO8601", errors="coerce")
        result[naive] = local.dt.tz_localize(
            timezone, ambiguous=np.ones(int(naive.sum()), dtype=bool),
            nonexistent="shift_forward",
        )
    if offset.any():
        aware = pd.to_datetime(text[offset], format="ISO8601", utc=True, errors="coerce")
        result[offset] = aware.dt.tz_convert(timezone)
    return result, present & result.isna()


def parse_dates(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``YYYY-MM-DD`` dates as naive midnight timestamps, and the unreadable mask."""
    present = text.notna()
    shaped = present & text.str.fullmatch(r"^\d{4}-\d{2}-\d{2}$").fillna(False)
    dates = pd.to_datetime(text.where(shaped), format="%Y-%m-%d", errors="coerce")
    return dates.astype("datetime64[us]"), present & dates.isna()


def parse_money(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Money as exact integer fen (Int64); floats never touch it."""
    parts = text.str.extract(_MONEY)
    readable = parts[1].notna()
    whole = pd.to_numeric(parts[1].where(readable), errors="coerce").astype("Int64")
    cents = pd.to_numeric(parts[2].fillna("").str.ljust(2, "0").where(readable),
                          errors="coerce").astype("Int64")
    sign = parts[0].eq("-").map({True: -1, False: 1}).astype("Int64")
    fen = sign * (whole * 100 + cents)
    return fen, text.notna() & ~readable


def _first_reason(checks: list[tuple[pd.Series, str, str]], index: pd.Index) -> pd.DataFrame:
    """The first failing check per row: its code and field (empty when valid)."""
    masks = [mask.fillna(False).to_numpy(dtype=bool) for mask, _, _ in checks]
    code = np.select(masks, [c for _, c, _ in checks], default="") if checks else ""
    where = np.select(masks, [f for _, _, f in checks], default="") if checks else ""
    return pd.DataFrame({"code": code, "field": where}, index=index)


def _enum(text: pd.Series, codes: tuple[str, ...], fallback: str) -> tuple[pd.Series, pd.Series]:
    """Enum codes, unknown or missing ones as ``fallback``; also the unknown mask."""
    known = text.isin(codes)
    return text.where(known, fallback).astype("str"), text.notna() & ~known


def _tickets(raw: pd.DataFrame, timezone: str) -> tuple[pd.DataFrame, pd.DataFrame, list]:
    """Tickets, their quarantine reasons, and the (code, field, mask) of kept oddities."""
    out = pd.DataFrame(index=raw.index)
    checks: list[tuple[pd.Series, str, str]] = []
    for name in ("ticket_id", "community"):
        out[name] = _present(raw, name)
        checks.append((out[name].isna(), "missing", name))
    out["created_at"], bad = parse_timestamps(_present(raw, "created_at"), timezone)
    checks.append((_present(raw, "created_at").isna(), "missing", "created_at"))
    checks.append((bad, "unreadable", "created_at"))
    for name in TICKET_TIMES[1:]:
        out[name], bad = parse_timestamps(_present(raw, name), timezone)
        checks.append((bad, "unreadable", name))
    for name in TICKET_TIMES[1:]:
        checks.append((out[name] < out["created_at"], "before_created", name))
    for name in ("building", "unit", "description", "reporter_name", "reporter_phone"):
        out[name] = _present(raw, name)
    notes = []
    for name, codes, fallback in (
        ("type", TICKET_TYPES, "other"),
        ("category", TICKET_CATEGORIES, "other"),
        ("priority", PRIORITIES, "normal"),
    ):
        out[name], unknown = _enum(_present(raw, name), codes, fallback)
        notes.append(("unknown_label", name, unknown))
    rating_text = _present(raw, "satisfaction")
    rating = pd.to_numeric(rating_text.where(rating_text.str.fullmatch(r"[1-5]").fillna(False)),
                           errors="coerce").astype("Int64")
    notes.append(("rating_dropped", "satisfaction", rating_text.notna() & rating.isna()))
    out["satisfaction"] = rating
    reopened_text = _present(raw, "reopened")
    reopened = pd.to_numeric(reopened_text.where(reopened_text.str.fullmatch(r"\d+").fillna(False)),
                             errors="coerce")
    notes.append(("unreadable_count", "reopened", reopened_text.notna() & reopened.isna()))
    out["reopened"] = reopened.fillna(0).astype("int64")
    out["cancelled"] = _present(raw, "cancelled").str.lower().eq("true").fillna(False)
    out["cancelled"] = out["cancelled"].astype(bool)
    return out, _first_reason(checks, raw.index), notes


def _bills(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, list[dict]]:
    out = pd.DataFrame(index=raw.index)
    checks: list[tuple[pd.Series, str, str]] = []
    for name in ("bill_id", "community", "fee_item"):
        out[name] = _present(raw, name)
        checks.append((out[name].isna(), "missing", name))
    for name in ("building", "unit", "period"):
        out[name] = _present(raw, name)
    due_text = _present(raw, "due_date")
    out["due_date"], bad = parse_dates(due_text)
    checks += [(due_text.isna(), "missing", "due_date"), (bad, "unreadable", "due_date")]
    amount_text = _present(raw, "amount_due")
    out["amount_due"], bad = parse_money(amount_text)
    checks += [
        (amount_text.isna(), "missing", "amount_due"),
        (bad, "unreadable", "amount_due"),
        (out["amount_due"] <= 0, "not_positive", "amount_due"),
    ]
    return out, _first_reason(checks, raw.index), []


def _payments(raw: pd.DataFrame, bills: pd.DataFrame,
              timezone: str) -> tuple[pd.DataFrame, pd.DataFrame, list[dict]]:
    """Payments, each tied to one valid bill and so to that bill's community."""
    out = pd.DataFrame(index=raw.index)
    checks: list[tuple[pd.Series, str, str]] = []
    out["payment_id"] = _present(raw, "payment_id")
    checks.append((out["payment_id"].isna(), "missing", "payment_id"))
    paid_text = _present(raw, "paid_at")
    out["paid_at"], bad = parse_timestamps(paid_text, timezone)
    checks += [(paid_text.isna(), "missing", "paid_at"), (bad, "unreadable", "paid_at")]
    amount_text = _present(raw, "amount")
    out["amount"], bad = parse_money(amount_text)
    checks += [(amount_text.isna(), "missing", "amount"), (bad, "unreadable", "amount")]

    bill_id = _present(raw, "bill_id")
    named = bill_id.notna()
    checks.append((named & ~bill_id.isin(bills["bill_id"]), "unknown_bill", "bill_id"))
    keyed = ~named
    matches = pd.Series(0, index=raw.index)
    if keyed.any():
        key_frame = pd.DataFrame({k: _present(raw, k) for k in BILL_KEY})[keyed]
        bill_keys = bills[[*BILL_KEY, "bill_id"]]
        joined = key_frame.reset_index().merge(bill_keys, on=list(BILL_KEY), how="left")
        counts = joined.groupby("index")["bill_id"].agg(["count", "first"])
        matches[keyed] = counts["count"]
        bill_id = bill_id.mask(keyed & matches.eq(1), counts["first"])
    checks.append((keyed & matches.eq(0), "key_matches_no_bill", "bill_id"))
    checks.append((keyed & matches.gt(1), "key_matches_several_bills", "bill_id"))
    out["bill_id"] = bill_id
    community = bills.set_index("bill_id")["community"]
    out["community"] = out["bill_id"].map(community)
    return out, _first_reason(checks, raw.index), []


def _duplicates(valid: pd.DataFrame, table: str) -> pd.Series:
    """Rows that lose to another valid row with the same key.

    The one read last wins; for tickets the latest state wins first (the row
    with the latest of its timestamps), so an export taken later, which carries
    more events, supersedes an earlier one.
    """
    key = list(KEYS[table])
    order = valid[["_order"]].copy()
    sort_by = ["_order"]
    if table == "tickets":
        order["_state"] = valid[list(TICKET_TIMES)].max(axis=1)
        sort_by = ["_state", "_order"]
    ranked = pd.concat([valid[key], order], axis=1).sort_values(sort_by, kind="stable")
    return ranked.duplicated(subset=key, keep="last").reindex(valid.index)


def _offending_values(bad: pd.DataFrame, fields: pd.Series) -> pd.Series:
    """The cell each quarantined row was rejected for, as it was read."""
    values = pd.Series("", index=bad.index, dtype="str")
    for name in fields.unique():
        if name in bad.columns:
            values[fields == name] = bad.loc[fields == name, name]
    return values


def _raw_json(raw: pd.DataFrame) -> pd.Series:
    columns = [c for c in raw.columns if not c.startswith("_")]
    if raw.empty:
        return pd.Series([], dtype="str", index=raw.index)
    lines = raw[columns].to_json(orient="records", lines=True, force_ascii=False)
    return pd.Series(lines.strip().split("\n"), index=raw.index)


def _table(table: str, paths: list[Path], timezone: str,
           bills: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list]:
    """Read, validate and de-duplicate one table; returns (rows, quarantine, accounts, notes)."""
    raw = pd.concat([read_raw(path, table) for path in paths], ignore_index=True)
    raw["_order"] = np.arange(len(raw))
    if table == "tickets":
        parsed, reasons, notes = _tickets(raw, timezone)
    elif table == "bills":
        parsed, reasons, notes = _bills(raw)
    else:
        parsed, reasons, notes = _payments(raw, bills, timezone)
    parsed[["_file", "_line", "_order"]] = raw[["_file", "_line", "_order"]]
    invalid = reasons["code"].ne("")
    duplicate = _duplicates(parsed[~invalid], table).reindex(raw.index, fill_value=False)
    status = np.where(invalid, "quarantined", np.where(duplicate, "duplicate", "used"))

    bad = raw[invalid]
    quarantine = pd.DataFrame({
        "file": bad["_file"], "line": bad["_line"], "table": table,
        "code": reasons.loc[invalid, "code"], "field": reasons.loc[invalid, "field"],
        "value": _offending_values(bad, reasons.loc[invalid, "field"]),
        "raw": _raw_json(bad),
    }, columns=QUARANTINE_COLUMNS)
    counts = pd.crosstab(raw["_file"], pd.Series(status, index=raw.index, name="status"))
    accounts = pd.DataFrame({
        "file": counts.index, "table": table,
        "read": counts.sum(axis=1).to_numpy(),
        **{s: counts[s].to_numpy() if s in counts else 0
           for s in ("used", "quarantined", "duplicate")},
    }, columns=ACCOUNT_COLUMNS)
    used = status == "used"
    counted = [{"code": code, "table": table, "field": name, "count": int(mask[used].sum())}
               for code, name, mask in notes]
    rows = parsed[used].drop(columns=["_file", "_line", "_order"])
    return rows.reset_index(drop=True), quarantine, accounts, [n for n in counted if n["count"]]


def _empty(table: str, timezone: str) -> pd.DataFrame:
    """A canonical table with no rows, for a table the config does not export."""
    frame = pd.DataFrame({name: pd.Series(dtype="str") for name in FIELDS[table]})
    times = {"tickets": TICKET_TIMES, "payments": ("paid_at",)}.get(table, ())
    for name in times:
        frame[name] = pd.Series(dtype=f"datetime64[us, {timezone}]")
    if table == "tickets":
        frame = frame.astype({"satisfaction": "Int64", "reopened": "int64", "cancelled": bool})
    if table == "bills":
        frame = frame.astype({"due_date": "datetime64[us]", "amount_due": "Int64"})
    if table == "payments":
        frame = frame.astype({"amount": "Int64"})
    return frame


def ingest(sources: dict[str, list[str]], base_dir: Path, timezone: str) -> Ingested:
    """Read every configured export into the canonical tables.

    ``sources`` maps a table name to its paths or globs; a table left out is
    simply not available (the draft then says its figures are missing).
    """
    tables: dict[str, pd.DataFrame] = {}
    quarantines, accounts, notes = [], [], []
    for table in TABLES:
        patterns = sources.get(table) or []
        if not patterns:
            tables[table] = _empty(table, timezone)
            continue
        paths = find_exports(patterns, base_dir, table)
        if table == "payments" and "bills" not in sources:
            raise UsageError("sources.payments is set but sources.bills is not: "
                             "payments are tied to bills")
        rows, quarantine, account, table_notes = _table(
            table, paths, timezone, tables.get("bills"))
        tables[table] = rows
        quarantines.append(quarantine)
        accounts.append(account)
        notes += table_notes
    files = (pd.concat(accounts, ignore_index=True) if accounts
             else pd.DataFrame(columns=ACCOUNT_COLUMNS))
    quarantine = (pd.concat(quarantines, ignore_index=True) if quarantines
                  else pd.DataFrame(columns=QUARANTINE_COLUMNS))
    return Ingested(
        tickets=tables["tickets"], bills=tables["bills"], payments=tables["payments"],
        quarantine=quarantine, files=files, notes=notes,
        available=frozenset(t for t in TABLES if sources.get(t)),
    )


def quarantine_records(quarantine: pd.DataFrame) -> list[dict]:
    """Quarantined rows as plain records (for JSON outputs and tests)."""
    return json.loads(quarantine.to_json(orient="records", force_ascii=False))


@task(name="ingest", cache_policy=NO_CACHE)
def ingest_task(config: Config) -> Ingested:
    """Prefect task: the configured exports as canonical tables."""
    sources = {t: getattr(config.sources, t) for t in TABLES}
    return ingest(sources, config.base_dir, config.timezone)
