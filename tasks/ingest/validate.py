"""Canonical text rows -> typed canonical tables, quarantine and row accounting.

Validation comes first (kpis.md, "Validation"), and duplicates are resolved
among valid rows only, so an invalid row never hides a valid one with the same
key. Every row ends as exactly one of used, quarantined or duplicate.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from yuebao.profile import Profile, TableMap
from yuebao.schema import (
    BILL_KEY,
    DICTIONARY,
    FIELDS,
    KEYS,
    PRIORITIES,
    TICKET_CATEGORIES,
    TICKET_TIMES,
    TICKET_TYPES,
)
from yuebao.tasks.ingest.parse import (
    Lookup,
    arrow_text,
    encoded,
    fold,
    integers,
    key_hashes,
    map_labels,
    parse_dates,
    parse_money,
    parse_timestamps,
    repeated,
    text_hashes,
)
from yuebao.tasks.ingest.read import SourceFile

QUARANTINE_COLUMNS = ["file", "line", "table", "code", "field", "value", "raw"]
# What the foot row of a spreadsheet export says (compared folded: 合计： is 合计:).
TOTAL_LABELS = frozenset({"合计", "总计", "小计", "合计:", "总计:", "小计:",
                          "total", "totals", "grand total", "subtotal", "sum"})
ACCOUNT_COLUMNS = ["file", "table", "read", "used", "quarantined", "duplicate"]
_ENUMS = {"type": (TICKET_TYPES, "other"), "category": (TICKET_CATEGORIES, "other"),
          "priority": (PRIORITIES, "normal")}


@dataclass(frozen=True)
class Reader:
    """How to read one table's cells: the profile's strictness, formats and labels."""

    profile: Profile
    table: str
    timezone: str
    today: date = date.max  # the run's date; date.max: no upper bound

    @property
    def mapping(self) -> TableMap:
        return self.profile.table(self.table)

    def bounds(self) -> tuple[date, date]:
        """The first plausible day, and the first day too late for an event."""
        dates = self.profile.dates
        return dates.earliest, date_bound(self.today, dates.latest_days_ahead)

    def implausible(self, values: pd.Series, *, events: bool = True) -> pd.Series:
        """Dates before ``[dates] earliest`` or, for events (not due dates, which may
        lie ahead), more than ``latest_days_ahead`` days after the run date."""
        earliest, latest = self.bounds()
        aware = isinstance(values.dtype, pd.DatetimeTZDtype)

        def at(day: date) -> pd.Timestamp:
            moment = pd.Timestamp(day)
            return moment.tz_localize(self.timezone) if aware else moment

        early = values < at(earliest)
        if not events or latest == date.max:
            return early.fillna(False)
        return (early | (values >= at(latest))).fillna(False)

    @property
    def strict(self) -> bool:
        return self.profile.strict

    def text(self, raw: pd.DataFrame, name: str) -> pd.Series:
        """A text column, labels mapped, empty cells missing; an absent column is all missing."""
        if name not in raw.columns:
            return pd.Series(pd.NA, index=raw.index, dtype="str")
        column = raw[name]
        empty = column == ""
        if empty.any():  # else keep the column as it is: masking would copy it
            column = column.mask(empty)
        return map_labels(column, self.mapping.values.get(name, {}), strict=self.strict)

    def timestamps(self, raw: pd.DataFrame, name: str) -> tuple[pd.Series, pd.Series, pd.Series]:
        """(values, missing mask, unreadable mask) of a timestamp field."""
        text = self.text(raw, name)
        values, bad = parse_timestamps(text, self.timezone, strict=self.strict,
                                       formats=tuple(self.profile.date_formats))
        return values, text.isna(), bad

    def dates(self, raw: pd.DataFrame, name: str) -> tuple[pd.Series, pd.Series, pd.Series]:
        text = self.text(raw, name)
        values, bad = parse_dates(text, strict=self.strict,
                                  formats=tuple(self.profile.date_formats))
        return values, text.isna(), bad

    def money(self, raw: pd.DataFrame,
              name: str) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
        """(values, missing, ambiguous, unreadable) of a money field (see parse_money)."""
        text = self.text(raw, name)
        values, bad, ambiguous = parse_money(text, strict=self.strict)
        return values, text.isna(), ambiguous, bad

    def count(self, raw: pd.DataFrame, name: str, pattern: str) -> tuple[pd.Series, pd.Series]:
        """Small integers (ratings, reopen counts); also the mask of unreadable cells."""
        text = self.text(raw, name)
        if not self.strict:
            text = fold(text).str.replace(r"\.0+$", "", regex=True)
        readable = pc.fill_null(pc.match_substring_regex(arrow_text(text), f"^(?:{pattern})$"),
                                False)
        values = integers(text, readable)
        return values, text.notna() & ~np.asarray(readable, dtype=bool)


def date_bound(today: date, days_ahead: int) -> date:
    """The first day after the plausible ones: ``today`` + ``days_ahead`` + 1."""
    if today == date.max or today >= date.max - timedelta(days=days_ahead + 1):
        return date.max
    return today + timedelta(days=days_ahead + 1)


def _first_reason(checks: list[tuple[pd.Series, str, str]], index: pd.Index) -> pd.DataFrame:
    """The first failing check per row: its code and field (empty when valid)."""
    masks = [np.asarray(pd.Series(mask).fillna(False), dtype=bool) for mask, _, _ in checks]
    first = np.select(masks, np.arange(len(checks)), default=len(checks)) if checks \
        else np.zeros(len(index), dtype=np.int64)

    def column(names: list[str]) -> pd.Categorical:
        """One small code per row rather than a string per row."""
        labels = list(dict.fromkeys(names))
        return pd.Categorical.from_codes(np.array([labels.index(n) for n in names])[first],
                                         labels)

    return pd.DataFrame({"code": column([*(c for _, c, _ in checks), ""]),
                         "field": column([*(f for _, _, f in checks), ""])}, index=index)


def _keywords(category: pd.Series, raw: pd.DataFrame, reader: Reader) -> pd.Series:
    """Category from free text where the system gives none, by the profile's keyword rules."""
    rules = reader.mapping.category_keywords
    if not rules:
        return category
    text = pd.Series("", index=raw.index, dtype="str")
    for name in reader.mapping.keyword_fields:
        text = text + " " + reader.text(raw, name).fillna("")
    for code, words in rules.items():
        pattern = "|".join(map(re.escape, words))
        hit = category.isna() & text.str.contains(pattern, case=False, regex=True)
        category = category.mask(hit, code)
    return category


def tickets(raw: pd.DataFrame, reader: Reader) -> tuple[pd.DataFrame, pd.DataFrame, list]:
    """Tickets, their quarantine reasons, and the (code, field, mask) of kept oddities."""
    out = pd.DataFrame(index=raw.index)
    checks: list[tuple[pd.Series, str, str]] = []
    for name in ("ticket_id", "community"):
        out[name] = reader.text(raw, name)
        checks.append((out[name].isna(), "missing", name))
    for name in TICKET_TIMES:
        out[name], missing, bad = reader.timestamps(raw, name)
        if name == "created_at":
            checks.append((missing, "missing", name))
        checks.append((bad, "unreadable", name))
        checks.append((reader.implausible(out[name]), "implausible_date", name))
    for name in TICKET_TIMES[1:]:
        checks.append((out[name] < out["created_at"], "before_created", name))
    for name in ("building", "unit", "description", "reporter_name", "reporter_phone"):
        out[name] = reader.text(raw, name)
    notes = []
    for name, (codes, fallback) in _ENUMS.items():
        text = reader.text(raw, name)
        if name == "category":
            text = _keywords(text.where(text.isin(codes)), raw, reader).fillna(text)
        known = text.isin(codes)
        out[name] = text.where(known, fallback).astype("str")
        notes.append(("unknown_label", name, text.notna() & ~known, text))
    out["satisfaction"], dropped = reader.count(raw, "satisfaction", r"[1-5]")
    notes.append(("rating_dropped", "satisfaction", dropped, reader.text(raw, "satisfaction")))
    reopened, unreadable = reader.count(raw, "reopened", r"\d+")
    notes.append(("unreadable_count", "reopened", unreadable, reader.text(raw, "reopened")))
    out["reopened"] = reopened.fillna(0).astype("int64")
    out["cancelled"] = reader.text(raw, "cancelled").str.lower().eq("true").fillna(False)
    out["cancelled"] = out["cancelled"].astype(bool)
    return out, _first_reason(checks, raw.index), notes


def bills(raw: pd.DataFrame, reader: Reader) -> tuple[pd.DataFrame, pd.DataFrame, list]:
    out = pd.DataFrame(index=raw.index)
    checks: list[tuple[pd.Series, str, str]] = []
    for name in ("bill_id", "community", "fee_item"):
        out[name] = reader.text(raw, name)
        checks.append((out[name].isna(), "missing", name))
    for name in ("building", "unit", "period"):
        out[name] = reader.text(raw, name)
    out["due_date"], missing, bad = reader.dates(raw, "due_date")
    checks += [(missing, "missing", "due_date"), (bad, "unreadable", "due_date"),
               (reader.implausible(out["due_date"], events=False), "implausible_date",
                "due_date")]
    out["amount_due"], missing, ambiguous, bad = reader.money(raw, "amount_due")
    checks += [(missing, "missing", "amount_due"),
               (ambiguous, "ambiguous_amount", "amount_due"), (bad, "unreadable", "amount_due"),
               (out["amount_due"] <= 0, "not_positive", "amount_due")]
    return out, _first_reason(checks, raw.index), []


def payments(raw: pd.DataFrame, reader: Reader,
             linked: bool) -> tuple[pd.DataFrame, pd.DataFrame, list]:
    """Payments as one file gives them: their own checks, and what ties them to a bill.

    The tie itself needs every bill of the run, so it is made across files
    (``combine.link_payments``); here ``bill_id`` is the text as read and, for
    rows without one, the key fields are kept as ``_key_<field>``. Without a
    bills export (``linked`` false) a payment stands alone: it needs its own
    community, and ``bill_row`` is -1.
    """
    out = pd.DataFrame(index=raw.index)
    checks: list[tuple[pd.Series, str, str]] = []
    out["payment_id"] = reader.text(raw, "payment_id")
    checks.append((out["payment_id"].isna(), "missing", "payment_id"))
    out["paid_at"], missing, bad = reader.timestamps(raw, "paid_at")
    checks += [(missing, "missing", "paid_at"), (bad, "unreadable", "paid_at")]
    checks.append((reader.implausible(out["paid_at"]), "implausible_date", "paid_at"))
    out["amount"], missing, ambiguous, bad = reader.money(raw, "amount")
    checks += [(missing, "missing", "amount"), (ambiguous, "ambiguous_amount", "amount"),
               (bad, "unreadable", "amount")]
    if not linked:
        for name in ("bill_id", "community", "building", "unit", "fee_item", "period"):
            out[name] = reader.text(raw, name)
        checks.append((out["community"].isna(), "missing", "community"))
        out["bill_row"] = np.full(len(raw), -1, dtype=np.int64)
        return out, _first_reason(checks, raw.index), []
    out["bill_id"] = reader.text(raw, "bill_id")
    keyed = out["bill_id"].isna()
    if keyed.any():
        for name in BILL_KEY:
            out[f"_key_{name}"] = reader.text(raw, name)
    return out, _first_reason(checks, raw.index), []


def total_labels(rows: pd.DataFrame, which: np.ndarray) -> pd.Series:
    """For the rows at positions ``which``: the first field whose cell is an export's
    total label (合计), missing where none is.

    Only rows rejected anyway (or that may be) are looked at, so a label never
    costs a record; the reason only tells the user that nothing was lost.
    """
    fields = [c for c in rows.columns if not c.startswith("_")]
    cells = rows.iloc[which][fields]
    found = pd.DataFrame({c: fold(cells[c].astype("str")).str.lower().isin(TOTAL_LABELS)
                          for c in fields}, index=cells.index)
    total = found.any(axis=1)
    named = found.idxmax(axis=1) if len(fields) else pd.Series("", index=cells.index)
    return named.astype("str").where(total)


def _total_rows(raw: pd.DataFrame, reasons: pd.DataFrame, invalid: np.ndarray) -> None:
    """Name rejected rows that are an export's total (合计) row as such, not as "missing"."""
    rejected = np.flatnonzero(invalid)
    if not len(rejected):
        return
    field = total_labels(raw, rejected)
    total = field.notna()
    if not total.any():
        return
    known = set(reasons["field"].cat.categories)
    reasons["code"] = reasons["code"].cat.add_categories(["total_row"])
    new = [f for f in dict.fromkeys(field[total]) if f not in known]
    reasons["field"] = reasons["field"].cat.add_categories(new)
    reasons.loc[total[total].index, "code"] = "total_row"
    reasons.loc[total[total].index, "field"] = field[total]


def hashed(rows: pd.DataFrame, column: str) -> bool:
    """Whether every row has its hash in ``column`` (every file made it)."""
    return column in rows and rows[column].dtype == np.uint64


def _losers(parsed: pd.DataFrame, valid_rows: np.ndarray, table: str) -> pd.Series:
    """Valid rows that lose to another valid row with the same key (False elsewhere).

    The one read last wins; for tickets the latest state wins first (the row
    with the latest of its timestamps), so an export taken later, which carries
    more events, supersedes an earlier one whatever the file order.
    """
    # Every key usually comes hashed with its file's rows (key_hashes, kept in the
    # cache): sorting the hashes of millions of keys costs a fraction of hashing their
    # text again (factorizing 6.9 M bill ids: about 2 s), and only rows whose hash
    # repeats can share a key: those alone are compared by their text.
    key = list(KEYS[table])
    times = list(TICKET_TIMES) if table == "tickets" else []
    wanted = [*key, *times, "_order"]
    if hashed(parsed, "_key_hash"):
        rows = np.flatnonzero(valid_rows)
        rows = rows[repeated(parsed["_key_hash"].to_numpy()[rows])]
        if not len(rows):
            return pd.Series(False, index=parsed.index)
        valid = parsed.iloc[rows][wanted]
    else:
        valid = parsed[wanted] if valid_rows.all() else parsed.loc[valid_rows, wanted]
    order = valid[["_order"]].copy()
    sort_by = ["_order"]
    if table == "tickets":
        order["_state"] = valid[list(TICKET_TIMES)].max(axis=1)
        sort_by = ["_state", "_order"]
    ranked = pd.concat([valid[key], order], axis=1).sort_values(sort_by, kind="stable")
    return ranked.duplicated(subset=key, keep="last").reindex(parsed.index, fill_value=False)


# A mainland mobile number anywhere in a text: 13812345678 -> 138****5678.
_MOBILE = r"(?<![0-9])(1[3-9][0-9])[0-9]{4}([0-9]{4})(?![0-9])"
PERSONAL = ("reporter_name", "reporter_phone")


def mask_name(text: pd.Series) -> pd.Series:
    """A person's name as the emails would show it: the first character, then ``*``s."""
    length = text.str.len().fillna(0).astype(int)
    stars = pd.Series("*", index=text.index).str.repeat((length - 1).clip(lower=0))
    return (text.str[:1] + stars).where(length > 0, text)


def mask_phone(text: pd.Series) -> pd.Series:
    """A phone number with all but its first three and last four characters hidden
    (``138****5678``); a short one entirely."""
    length = text.str.len().fillna(0).astype(int)
    middle = pd.Series("*", index=text.index).str.repeat((length - 7).clip(lower=0))
    short = pd.Series("*", index=text.index).str.repeat(length)
    return (text.str[:3] + middle + text.str[-4:]).where(length > 7, short).where(length > 0,
                                                                                  text)


def mask_phones_in(text: pd.Series) -> pd.Series:
    """Mobile numbers inside free text (a description, a rejected line), masked."""
    return text.str.replace(_MOBILE, r"\1****\2", regex=True)


def _masked(rows: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """The source rows with the reporter's name and phone columns masked: quarantine.csv
    is passed around to fix data, and file and line are enough to find the row."""
    rows = rows.copy()
    for field_name, mask in (("reporter_name", mask_name), ("reporter_phone", mask_phone)):
        column = columns.get(field_name)
        if column in rows.columns:
            rows[column] = mask(rows[column].astype("str"))
    return rows


def source_records(file: SourceFile, rows: np.ndarray) -> tuple[pd.DataFrame, pd.Series]:
    """The source rows at positions ``rows`` with personal data masked, and each as the
    JSON line quarantine.csv shows (mobile numbers in any cell masked too)."""
    source = _masked(file.source.iloc[rows], file.columns)
    lines = source.to_json(orient="records", lines=True, force_ascii=False).strip()
    raw = pd.Series(lines.split("\n") if len(source) else [], dtype="str")
    return source, mask_phones_in(raw)


def cells(source: pd.DataFrame, file: SourceFile, fields: pd.Series) -> pd.Series:
    """Per row, the source cell of the field at fault ("" for a made id: a+b, @row)."""
    values = pd.Series("", index=range(len(source)), dtype="str")
    named = fields.to_numpy()
    for name in pd.unique(named):
        column = file.columns.get(name)
        if column is not None and column in source.columns:
            at = named == name
            values[at] = source[column].to_numpy()[at]
    return values


def _quarantine(file: SourceFile, invalid: np.ndarray, reasons: pd.DataFrame) -> pd.DataFrame:
    """A file's rows rejected on their own: position, line, reason, the cell at fault and
    the row as read (personal data masked: see ``_masked``)."""
    rows = np.flatnonzero(invalid)
    source, raw = source_records(file, rows)
    fields = reasons["field"].iloc[rows].astype("str").reset_index(drop=True)
    return pd.DataFrame({
        "_row": rows.astype(np.int64), "line": file.rows["_line"].to_numpy()[rows],
        "code": reasons["code"].iloc[rows].astype("str").to_numpy(), "field": fields,
        "value": cells(source, file, fields), "raw": raw,
    })


@dataclass
class Checked:
    """One file's rows after the checks that need nothing but the file: what the cache keeps.

    ``rows`` are the rows valid on their own, parsed, with ``_row`` (their position
    in the file) and, for tickets, ``_note<i>`` (the cell of note ``notes[i]``
    where it applies). ``pending`` holds, for payments that may fail their bill
    link, the quarantine record they would get. ``seen`` are the latest event
    time before the run's upper date bound and the earliest at or after it: the
    checks hold for any bound between them.
    """

    table: str
    read: int
    columns: dict[str, str]
    rows: pd.DataFrame
    quarantine: pd.DataFrame  # _row, line, code, field, value, raw
    rejected: pd.DataFrame  # line, code, value, raw: lines that are no row
    notes: list[tuple[str, str]]
    pending: pd.DataFrame  # _row, line, total, value, raw
    seen: tuple[pd.Timestamp | None, pd.Timestamp | None] = (None, None)
    shown: str = ""


PENDING_COLUMNS = ["_row", "line", "total", "value", "raw"]
_EVENTS = {"tickets": TICKET_TIMES, "payments": ("paid_at",)}


def _seen(parsed: pd.DataFrame, reader: Reader) -> tuple:
    """The event times on either side of the upper bound (see ``Checked.seen``)."""
    names = _EVENTS.get(reader.table, ())
    if not names or not len(parsed):
        return None, None
    _, latest = reader.bounds()
    below, above = [], []
    for name in names:
        values = parsed[name]
        if latest == date.max:
            below.append(values.max())
            continue
        at = pd.Timestamp(latest).tz_localize(reader.timezone)
        below.append(values[values < at].max())
        above.append(values[values >= at].min())
    below = [v for v in below if not pd.isna(v)]
    above = [v for v in above if not pd.isna(v)]
    return (max(below) if below else None), (min(above) if above else None)


def holds(seen: tuple, reader: Reader) -> bool:
    """Whether a file checked earlier (``seen``) gives the same result under ``reader``'s
    date bound: no event time lies between the two bounds."""
    below, above = seen
    _, latest = reader.bounds()
    if latest == date.max:
        return above is None
    at = pd.Timestamp(latest).tz_localize(reader.timezone)
    return (below is None or at > below) and (above is None or at <= above)


def check_file(table: str, file: SourceFile, reader: Reader,
               bill_lookup: Lookup | None = None, linked: bool = True) -> Checked:
    """One file's checks of its own rows (kpis.md, "Validation").

    For payments, ``bill_lookup`` (finding the valid bills' ids) only says which rows may
    fail their link, so that their quarantine record is kept ready; the link
    itself is made across files.
    """
    raw = file.rows
    if table == "tickets":
        parsed, reasons, notes = tickets(raw, reader)
    elif table == "bills":
        parsed, reasons, notes = bills(raw, reader)
    else:
        parsed, reasons, notes = payments(raw, reader, linked)
    invalid = reasons["code"].ne("").to_numpy()
    _total_rows(raw, reasons, invalid)
    seen = _seen(parsed, reader)
    for i, (_, _, mask, text) in enumerate(notes):
        parsed[f"_note{i}"] = text.where(mask).astype("str")
    parsed["_row"] = np.arange(len(parsed), dtype=np.int64)
    valid = ~invalid
    rows = encoded(parsed[valid].reset_index(drop=True) if invalid.any() else
                   parsed.reset_index(drop=True), DICTIONARY[table])
    # Kept with the file's rows in the cache, so a warm run need not hash them again: the
    # keys, for duplicates across files, and the bills payments name, for their link.
    rows["_key_hash"] = key_hashes(rows, KEYS[table])
    if table == "payments" and "bill_id" in rows:
        rows["_bill_hash"] = text_hashes(rows["bill_id"])
    pending = pd.DataFrame({c: pd.Series(dtype="int64" if c in ("_row", "line") else "str")
                            for c in PENDING_COLUMNS})
    if table == "payments" and linked:
        pending = _pending(file, rows, bill_lookup)
    return Checked(
        table=table, read=len(raw) + len(file.rejected), columns=file.columns, rows=rows,
        quarantine=_quarantine(file, invalid, reasons), rejected=_rejected(file),
        notes=[(code, name) for code, name, _, _ in notes], pending=pending, seen=seen,
        shown=file.shown)


def _pending(file: SourceFile, rows: pd.DataFrame,
             bill_lookup: Lookup | None) -> pd.DataFrame:
    """The quarantine records of valid payments that may fail their bill link: those
    without a bill_id (a key names the bill) and those whose bill is not known yet."""
    maybe = rows["bill_id"].isna().to_numpy().copy()
    if bill_lookup is not None:
        found = bill_lookup.positions(rows["bill_id"], rows["_bill_hash"].to_numpy())
        maybe |= ~np.asarray(found.is_valid(), dtype=bool)
    at = rows["_row"].to_numpy()[maybe]
    source, raw = source_records(file, at)
    total = total_labels(file.rows, at).reset_index(drop=True)
    fields = total.fillna("bill_id")
    return pd.DataFrame({
        "_row": at, "line": file.rows["_line"].to_numpy()[at], "total": total,
        "value": cells(source, file, fields), "raw": raw}, columns=PENDING_COLUMNS)


_WITHHELD = json.dumps({"text": None, "withheld": "personal_data"})


def _rejected(file: SourceFile) -> pd.DataFrame:
    """Lines the reader set aside as no row of the table, as quarantine records.

    Such a line could not be split into its columns, so a reporter's name in it
    cannot be found and masked: where the file has a name or phone column, the
    line's text is withheld (its file and line find it); elsewhere it is kept,
    with mobile numbers masked.
    """
    rejected = file.rejected
    if not len(rejected):
        return pd.DataFrame({"line": pd.Series(dtype="int64"), "code": pd.Series(dtype="str"),
                             "value": pd.Series(dtype="str"), "raw": pd.Series(dtype="str")})
    raw = (pd.Series(_WITHHELD, index=rejected.index, dtype="str")
           if set(PERSONAL) & set(file.columns)
           else mask_phones_in(rejected["raw"].astype("str")))
    return pd.DataFrame({"line": rejected["line"].astype("int64"),
                         "code": rejected["code"].astype("str"),
                         "value": rejected["value"].astype("str"), "raw": raw}
                        ).reset_index(drop=True)


def _kept(rows: pd.DataFrame, used: np.ndarray, pieces: int = 256) -> pd.DataFrame:
    """The used rows, numbered from 0.

    Usually only a few rows of millions are left out; the rest is then joined
    from slices, which shares the text columns instead of copying them.
    """
    gone = np.flatnonzero(~used)
    if len(gone) > pieces:
        return rows[used].reset_index(drop=True)
    bounds = np.r_[-1, gone, len(rows)]
    slices = [rows.iloc[a + 1:b] for a, b in itertools.pairwise(bounds) if b > a + 1]
    return pd.concat(slices, ignore_index=True) if slices else rows.iloc[:0].reset_index(drop=True)


def empty_table(table: str, timezone: str) -> pd.DataFrame:
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
        frame["bill_row"] = pd.Series(dtype="int64")
    return encoded(frame, DICTIONARY[table])
