"""Export files -> text tables with canonical column names.

Finds the files, detects their encoding (UTF-8, with or without BOM, else
GB18030, which also reads GBK), reads CSV with pyarrow and Excel with
openpyxl/xlrd, and renames the source columns to canonical fields as the
profile says. Cells stay text: parsing them is validation's job, so that an
unreadable value becomes a quarantine reason instead of a crash.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import glob
import json
import mmap
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from yuebao.errors import UsageError
from yuebao.profile import ROW_ID, Profile, TableMap
from yuebao.schema import BILL_KEY, FIELDS, REQUIRED

EXCEL = {".xlsx": "calamine", ".xlsm": "calamine", ".xls": "calamine"}
_BOM = b"\xef\xbb\xbf"
REJECTED_COLUMNS = ["line", "code", "value", "raw"]


@dataclass
class SourceFile:
    """One export file: its rows as canonical text columns, and as they were read."""

    path: Path
    shown: str
    rows: pd.DataFrame  # canonical fields, plus _line
    source: pd.DataFrame  # the file's own columns, for quarantine.csv
    columns: dict[str, str]  # canonical field -> the source column it came from
    # Rows that are not rows of the table (wrong width, a stray quote): line, code, value, raw
    rejected: pd.DataFrame = dataclasses.field(
        default_factory=lambda: pd.DataFrame(columns=REJECTED_COLUMNS))


@dataclass(frozen=True)
class Export:
    """An export file to read, and its name in every report (quarantine.csv, data_quality.json).

    A local export is named by its path as the user wrote it; one pulled from a
    URL (``tasks/fetch``) is read from the download cache and named by its URL.
    """

    path: Path
    shown: str


def find_exports(patterns: list[str], base_dir: Path, table: str) -> list[Path]:
    """Files matching the configured paths or globs, in sorted path order."""
    found: set[Path] = set()
    for pattern in patterns:
        path = Path(pattern).expanduser()
        path = path if path.is_absolute() else base_dir / path
        found.update(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
    if not found:
        raise UsageError(
            f"no {table} export matches sources.{table} = {patterns} (looked in {base_dir})")
    return sorted(found)


def shown_path(path: Path, base_dir: Path) -> str:
    """A file as the user named it: relative to the config's folder when inside it."""
    return Path(os.path.relpath(path.resolve(), base_dir.resolve())).as_posix()


def decode(data: bytes, declared: str, shown: str) -> str:
    """The file's text, in the declared encoding or the first of UTF-8 and GB18030 that fits."""
    candidates = ["utf-8-sig", "gb18030"] if declared == "auto" else [declared]
    for encoding in candidates:
        try:
            return data.decode("utf-8-sig" if encoding == "utf-8" else encoding)
        except UnicodeDecodeError:
            continue
    tried = "UTF-8, GBK or GB18030" if declared == "auto" else declared
    raise UsageError(f"{shown}: the file is not readable as {tried} text; "
                     "set encoding in the profile or export it again as UTF-8")


def _valid_utf8(data: bytes) -> bool:
    """Whether ``data`` is UTF-8, checked by pyarrow without decoding it into a Python str."""
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    text = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _utf8(data: bytes, encoding: str, shown: str) -> bytes:
    """The file as UTF-8 bytes without a BOM, as ``decode`` reads it.

    A UTF-8 file (the usual case, and every large one) is passed on as it is;
    only other encodings are decoded and encoded again.
    """
    if encoding in ("auto", "utf-8", "utf-8-sig"):
        body = data[len(_BOM):] if data.startswith(_BOM) else data
        if _valid_utf8(body):
            # Empty means nothing but (Unicode) whitespace: any other character in the
            # first 64 KiB settles it without decoding the whole file.
            head = body[:65536].decode("utf-8", errors="ignore")
            if not head.strip() and not body.decode("utf-8").strip():
                raise UsageError(f"{shown}: the file is empty")
            return body
    text = decode(data, encoding, shown)
    if not text.strip():
        raise UsageError(f"{shown}: the file is empty")
    return text.encode("utf-8")


_TEXT = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' "str"
_CHUNK = 1 << 24


def _arrow_csv(source: Path | bytes, header_row: int,
               block_size: int | None = None) -> pd.DataFrame:
    """A CSV read by pyarrow, every column as text; quoted cells may span lines.

    A repeated header gets a suffix as pandas would give it (the second
    ``resolution_hours`` is ``resolution_hours.1``). Raises ``ValueError`` for
    blank headers and ``pa.ArrowInvalid`` for text that is not UTF-8 or not a table.
    """
    def opened() -> Path | pa.BufferReader:
        return source if isinstance(source, Path) else pa.BufferReader(source)

    read = pacsv.ReadOptions(skip_rows=header_row - 1, block_size=block_size)
    names = pacsv.open_csv(opened(), read_options=read,
                           parse_options=pacsv.ParseOptions(newlines_in_values=True)).schema.names
    if not "".join(names).strip():
        raise ValueError("blank column names")
    convert = pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.large_string()))
    try:  # most exports have no line break inside a cell, and are read faster without
        table = pacsv.read_csv(opened(), read_options=read, convert_options=convert)
    except pa.ArrowInvalid:
        table = pacsv.read_csv(opened(), read_options=read, convert_options=convert,
                               parse_options=pacsv.ParseOptions(newlines_in_values=True))
    return table.rename_columns(_unique(names)).to_pandas(
        types_mapper={pa.large_string(): _TEXT}.get)


def _record_lines(source: Path | bytes, header_row: int, rows: int) -> np.ndarray:
    """The line of the file each data row starts on, as a person counts lines.

    Usually row k is on line header_row + 1 + k, which a count of line breaks
    confirms. Blank lines (skipped) and cells spanning lines shift that; then
    the text is scanned once: a line break ends a row when an even number of
    quotes comes before it.
    """
    plain = np.arange(rows) + header_row + 1
    if isinstance(source, Path):
        with source.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as m:
            mapped = np.frombuffer(m, dtype=np.uint8)
            newlines = sum(int(np.count_nonzero(mapped[at:at + _CHUNK] == ord("\n")))
                           for at in range(0, len(mapped), _CHUNK))
            unended = bool(len(mapped)) and mapped[-1] != ord("\n")
            del mapped  # the map cannot close while an array still views it
        if newlines + unended == header_row + rows:
            return plain
        source = source.read_bytes()
    text = np.frombuffer(source, dtype=np.uint8)
    breaks = np.flatnonzero(text == ord("\n"))
    quotes = np.flatnonzero(text == ord('"'))
    ends = np.searchsorted(quotes, breaks) % 2 == 0
    first_byte = np.r_[0, breaks[ends] + 1]
    first_line = np.r_[1, np.flatnonzero(ends) + 2]
    length = np.r_[breaks[ends], len(text)] - first_byte
    blank = (length == 0) | ((length == 1) & (text[np.minimum(first_byte, len(text) - 1)] == 13))
    lines = first_line[~blank][header_row:]
    return lines if len(lines) == rows else plain


def _read_csv(path: Path, mapping: TableMap, encoding: str,
              shown: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A CSV's cells as text, with the line each row starts on; and the rejected lines.

    A UTF-8 file (the usual large export) is read by pyarrow straight from the
    file, holding no copy of it in memory; other encodings are decoded first.
    Only a file pyarrow refuses as a whole (a row of the wrong width, a stray
    quote, a cell longer than its block) goes the slower way of ``_recover``,
    so a clean file costs nothing more.
    """
    with path.open("rb") as file:
        head = file.read(4096)
    if b"\x00" in head:
        raise UsageError(f"{shown}: not a table: the file is binary (an Excel file named .csv?)")
    source: Path | bytes = path
    frame = None
    if encoding in ("auto", "utf-8", "utf-8-sig"):
        with contextlib.suppress(pa.ArrowInvalid, ValueError):  # the general way says why
            frame = _arrow_csv(path, mapping.header_row)
    if frame is None:
        source = _utf8(path.read_bytes(), encoding, shown)
        try:
            frame = _arrow_csv(source, mapping.header_row)
        except (pa.ArrowInvalid, ValueError) as error:
            try:
                return _recover(source, mapping.header_row)
            except (pa.ArrowInvalid, ValueError) as second:
                reason = str(error).splitlines()[0] if str(error) else type(error).__name__
                raise UsageError(f"{shown}: not a readable CSV table ({reason}; "
                                 f"row by row: {second})") from error
    frame["_line"] = _record_lines(source, mapping.header_row, len(frame))
    return frame, pd.DataFrame(columns=REJECTED_COLUMNS)


def _read_excel(path: Path, mapping: TableMap, shown: str) -> pd.DataFrame:
    try:
        frame = pd.read_excel(path, sheet_name=mapping.sheet if mapping.sheet is not None else 0,
                              header=mapping.header_row - 1, dtype=str, keep_default_na=False,
                              engine=EXCEL[path.suffix.lower()])
    except (ValueError, KeyError, zipfile.BadZipFile, OSError) as error:
        raise UsageError(f"{shown}: not a readable Excel workbook ({error})") from error
    except Exception as error:  # xlrd and openpyxl raise their own kinds on broken files
        raise UsageError(f"{shown}: not a readable Excel workbook ({error})") from error
    if frame.empty and not len(frame.columns):
        raise UsageError(f"{shown}: the sheet is empty")
    return frame


_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")


def _workbook_kind(path: Path) -> str:
    """What a file named .xlsx/.xls really is: ``zip`` (xlsx), ``ole2`` (xls),
    ``encrypted`` (an xlsx with a password is an OLE2 file holding an
    ``EncryptedPackage`` stream), ``markup`` (HTML/XML text) or ``text``.
    Systems often name a CSV export ``.xls``; reading it as a workbook would fail
    with a message about zip files that helps nobody.
    """
    with path.open("rb") as file:
        head = file.read(4096)
        if head.startswith(_OLE2):
            with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as whole:
                return "encrypted" if whole.find(_ENCRYPTED) >= 0 else "ole2"
    if head.startswith(b"PK"):
        return "zip"
    if b"\x00" in head or not head.strip():
        return "other"
    start = head.removeprefix(_BOM).lstrip()
    return "markup" if start.startswith(b"<") else "text"


def _read_workbook(path: Path, mapping: TableMap, encoding: str,
                   shown: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An Excel file's cells as text; a "workbook" that is CSV text is read as CSV."""
    kind = _workbook_kind(path)
    if kind == "encrypted":
        raise UsageError(f"{shown}: the workbook is encrypted (password-protected); "
                         "save it again without a password, or export CSV")
    if kind == "markup":
        raise UsageError(f"{shown}: not a readable Excel workbook: the file is HTML or XML "
                         "text; open it in Excel and save it as .xlsx, or export CSV")
    if kind == "text":
        try:
            frame, rejected = _read_csv(path, mapping, encoding, shown)
        except UsageError as error:
            raise UsageError(f"{shown}: not a readable Excel workbook: the file is text, and "
                             f"not a readable CSV table either ({error})") from error
        if len(frame.columns) < 3:  # one column and _line: not a table
            raise UsageError(f"{shown}: not a readable Excel workbook: the file is text with "
                             "a single column, not a table")
        return frame, rejected
    frame = _read_excel(path, mapping, shown)
    frame["_line"] = np.arange(len(frame)) + mapping.header_row + 1
    return frame, pd.DataFrame(columns=REJECTED_COLUMNS)


def _unique(names: list[str]) -> list[str]:
    """Repeated names with a suffix as pandas gives it: the second ``note`` is ``note.1``."""
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        unique.append(f"{name}.{count}" if count else name)
    return unique


def read_table(path: Path, mapping: TableMap, encoding: str,
               shown: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One file's cells as text, headers trimmed, with the line each row came from;
    and the lines that are no row of the table (see ``_recover``)."""
    if path.suffix.lower() in EXCEL:
        frame, rejected = _read_workbook(path, mapping, encoding, shown)
    else:
        frame, rejected = _read_csv(path, mapping, encoding, shown)
    if len(frame.columns) < 2:
        raise UsageError(f"{shown}: the file is empty")
    lines = frame.pop("_line")
    frame.columns = _unique([str(c).strip() for c in frame.columns])
    frame = frame.astype("str").apply(
        lambda column: column.str.strip() if _may_need_trim(column) else column)
    frame["_line"] = lines
    return frame, rejected


# Bytes a cell may start or end with if it needs trimming: ASCII whitespace, and any
# non-ASCII byte (Unicode spaces such as U+3000; CJK text is trimmed to be sure).
_EDGE = np.zeros(256, dtype=bool)
_EDGE[[9, 10, 11, 12, 13, 32]] = True
_EDGE[128:] = True


def _may_need_trim(column: pd.Series) -> bool:
    """Whether a cell may start or end with whitespace, judged from the first and last
    byte of every cell without copying the text (trimming a column copies it)."""
    try:
        chunks = column.array.__arrow_array__().chunks
    except (AttributeError, TypeError):
        return True
    for chunk in chunks:
        if chunk.type != pa.large_string():
            return True
        if chunk.buffers()[2] is None:  # every cell empty or missing
            continue
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64)[
            chunk.offset:chunk.offset + len(chunk) + 1]
        data = np.frombuffer(chunk.buffers()[2], dtype=np.uint8)
        filled = offsets[1:] > offsets[:-1]
        if _EDGE[data[offsets[:-1][filled]]].any() or _EDGE[data[offsets[1:][filled] - 1]].any():
            return True
    return False


def _closest(expected: list[str], headers: list[str], taken: set[str]) -> str:
    """The unused header most like any expected name, as a hint for a renamed column."""
    free = [h for h in headers if h not in taken]
    scored = [(difflib.SequenceMatcher(None, e, h).ratio(), h) for e in expected for h in free]
    best = max(scored, default=(0.0, ""))
    return f"; closest: {best[1]!r}" if best[0] >= 0.3 else ""


def column_sources(headers: list[str], mapping: TableMap, table: str,
                   extra: dict[str, list[str]] | None = None) -> dict[str, str]:
    """Which source column feeds each canonical field (the first alternative present)."""
    wanted = mapping.columns or {f: [f] for f in FIELDS[table]}
    wanted = {**wanted, **(extra or {})}
    chosen = {}
    for field, alternatives in wanted.items():
        found = next((a for a in alternatives if a in headers), None)
        if found is not None:
            chosen[field] = found
    return chosen


def _require(chosen: dict[str, str], mapping: TableMap, table: str, headers: list[str],
             shown: str, bills: bool = True) -> None:
    available = set(chosen) | set(mapping.constants)
    if mapping.id is not None:
        available.add(ID_FIELD[table])
    required = list(REQUIRED[table])
    if table == "payments" and bills and "bill_id" not in available:
        required += [f for f in BILL_KEY if f not in ("building", "unit", "period")]
    for field in required:
        if field in available:
            continue
        expected = (mapping.columns or {field: [field]}).get(field, [field])
        raise UsageError(
            f"{shown}: no column for the required {table} field {field!r} "
            f"(expected {' or '.join(repr(e) for e in expected)}; "
            f"found: {', '.join(headers)}{_closest(expected, headers, set(chosen.values()))})")


def _no_repeated(chosen: dict[str, str], headers: list[str], shown: str) -> None:
    """A column the profile reads must appear once in the header.

    Two columns named ``缴费金额`` may hold different things (billed and paid);
    taking the first silently could count the wrong one, so that is an error
    naming the column. A repeated column that nothing reads is kept with a
    suffix (``note.1``) and shown in quarantine.csv as it is.
    """
    for field_name, column in chosen.items():
        copies = [i + 1 for i, h in enumerate(headers)
                  if h == column or (h.startswith(f"{column}.")
                                     and h[len(column) + 1:].isdigit())]
        if len(copies) > 1:
            raise UsageError(
                f"{shown}: the column {column!r} (read as {field_name}) appears {len(copies)} "
                f"times in the header (columns {', '.join(map(str, copies))}); rename or remove "
                "the copies so that it is clear which one to read")


ID_FIELD = {"tickets": "ticket_id", "bills": "bill_id", "payments": "payment_id"}


def _nulled(column: pd.Series, nulls: list[str]) -> pd.Series:
    """Cells equal to one of the profile's null tokens (``?``, ``N/A``, ``无``) as empty."""
    if not nulls:
        return column
    hit = column.isin(nulls)
    return column.mask(hit, "") if hit.any() else column


def _made_id(source: pd.DataFrame, mapping: TableMap, headers: list[str], nulls: list[str],
             table: str, shown: str) -> pd.Series:
    """The id of an export that has none: its columns joined with ``|``, or file:line.

    A row whose parts are all empty gets no id (and is quarantined as missing one).
    """
    if mapping.id == ROW_ID:
        return shown + ":" + source["_line"].astype("str")
    columns = list(mapping.id or [])
    absent = [c for c in columns if c not in headers]
    if absent:
        raise UsageError(f"{shown}: {table}.id names {', '.join(map(repr, absent))}, which "
                         f"the header does not have (found: {', '.join(headers)})")
    parts = [_nulled(source[c], nulls) for c in columns]
    joined = parts[0].str.cat(parts[1:], sep="|") if len(parts) > 1 else parts[0]
    empty = pd.concat([p.eq("") for p in parts], axis=1).all(axis=1)
    return joined.mask(empty, "")


def read_source(path: Path, base_dir: Path, profile: Profile, table: str,
                extra: dict[str, list[str]] | None = None, bills: bool = True,
                shown: str | None = None) -> SourceFile:
    """Read one export and rename its columns to the canonical fields of ``table``.

    ``bills`` says whether a bills export is configured: payments without one
    need no bill key (the cash figures only need the payments themselves).
    ``shown`` names the file in messages (its URL); by default its path.
    """
    mapping = profile.table(table)
    shown = shown if shown is not None else shown_path(path, base_dir)
    try:
        source, rejected = read_table(path, mapping, profile.encoding, shown)
    except OSError as error:  # the disk, the network share, a file locked by another program
        raise UsageError(f"{shown}: the file cannot be read ({error.strerror or error})") \
            from error
    headers = [c for c in source.columns if c != "_line"]
    chosen = column_sources(headers, mapping, table, extra)
    _no_repeated(chosen, headers, shown)
    _require(chosen, mapping, table, headers, shown, bills)
    nulls = profile.nulls(table)
    rows = pd.DataFrame({field: _nulled(source[column], nulls)
                         for field, column in chosen.items()}, index=source.index)
    for field, value in mapping.constants.items():
        rows[field] = value
    if mapping.id is not None:
        rows[ID_FIELD[table]] = _made_id(source, mapping, headers, nulls, table, shown)
        chosen = {**chosen, ID_FIELD[table]: "+".join(mapping.id) if mapping.id != ROW_ID
                  else ROW_ID}
    rows["_line"] = source["_line"]
    return SourceFile(path, shown, rows, source.drop(columns="_line"), chosen, rejected)


def payments_from_bills(bills: list[SourceFile], profile: Profile) -> list[SourceFile]:
    """Per-bill exports ("amount paid" + "last paid date"): one payment row per bill.

    Such a payment is dated at the last payment, so months before it are only
    approximate; the draft says so.
    """
    assert profile.per_bill is not None
    result = []
    for file in bills:
        rows = file.rows
        paid = rows.get("_amount_paid", pd.Series("", index=rows.index))
        has_payment = paid.ne("") & paid.notna()
        bill_id = rows.get("bill_id", pd.Series("", index=rows.index))
        made = pd.DataFrame({
            "payment_id": bill_id + "#paid", "bill_id": bill_id,
            "paid_at": rows.get("_last_paid_at", pd.Series("", index=rows.index)),
            "amount": paid, "_line": rows["_line"],
        })[has_payment]
        mapped = {"bill_id": file.columns.get("bill_id", ""),
                  "paid_at": file.columns.get("_last_paid_at", ""),
                  "amount": file.columns.get("_amount_paid", "")}
        result.append(SourceFile(file.path, file.shown, made, file.source.loc[made.index],
                                 {k: v for k, v in mapped.items() if v},
                                 file.rejected.iloc[:0]))
    return result


# --- row-level recovery --------------------------------------------------------------

# A record longer than this is not an export's row (a 1 MB cell is read; 16 MB is not).
MAX_RECORD_BYTES = 16 << 20
# Past this many lines with a stray quote the quote character is likely not '"' at all:
# each such line costs a pass over the rest of the file, so the file is refused instead.
MAX_UNBALANCED = 1000
_RAW_CHARS = 10_000  # of a rejected line kept in quarantine.csv (file and line find the rest)


@dataclass
class _Records:
    """Quote-aware records of a CSV text: byte spans, first physical line, field count."""

    start: np.ndarray
    end: np.ndarray  # exclusive, at the line break that ends the record (or the text's end)
    line: np.ndarray
    fields: np.ndarray
    unbalanced: np.ndarray  # bool: the record's first line has a quote never closed


def _split_records(text: np.ndarray, breaks: np.ndarray, quotes: np.ndarray,
                   commas: np.ndarray, header_row: int) -> _Records:
    """Records as a CSV reader finds them: a line break ends one where an even number of
    quotes came before it. A quote left open swallows the lines after it into one
    record of the wrong width; then only its first line is taken as bad (unbalanced
    quote) and the split starts again on the next line, so one stray quote costs one
    row, not the rest of the file.
    """
    size = len(text)
    parts: list[tuple[np.ndarray, ...]] = []
    at, line0, expected = 0, 1, None
    for _ in range(MAX_UNBALANCED + 1):
        b = breaks[np.searchsorted(breaks, at):]
        q0 = np.searchsorted(quotes, at)
        even = (np.searchsorted(quotes, b) - q0) % 2 == 0
        ends = b[even]
        start = np.r_[at, ends + 1]
        end = np.r_[ends, size]
        line = np.r_[line0, line0 + 1 + np.flatnonzero(even)]
        c = commas[np.searchsorted(commas, at):]
        outside = (np.searchsorted(quotes, c) - q0) % 2 == 0
        counted = np.r_[0, np.cumsum(outside)]
        fields = counted[np.searchsorted(c, end)] - counted[np.searchsorted(c, start)] + 1
        spans = np.searchsorted(b, end) - np.searchsorted(b, start)  # line breaks inside
        if expected is None:
            filled = np.flatnonzero(~_blank(start, end, text))
            expected = int(fields[filled[header_row - 1]]) if len(filled) >= header_row else 0
        suspect = (spans > 0) & (fields != expected)
        suspect[-1] |= bool((np.searchsorted(quotes, size) - q0) % 2)  # open at the end
        bad = np.flatnonzero(suspect)
        if not len(bad):
            parts.append((start, end, line, fields, np.zeros(len(start), dtype=bool)))
            break
        k = int(bad[0])
        after = np.searchsorted(b, start[k])
        first_break = int(b[after]) if after < len(b) else size
        parts.append((start[:k], end[:k], line[:k], fields[:k], np.zeros(k, dtype=bool)))
        parts.append((start[k:k + 1], np.array([first_break]), line[k:k + 1],
                      fields[k:k + 1], np.ones(1, dtype=bool)))
        if first_break >= size:
            break
        at, line0 = first_break + 1, int(line[k]) + 1
    else:
        raise ValueError(f"more than {MAX_UNBALANCED} lines with a quote that is never closed")
    return _Records(*(np.concatenate([p[i] for p in parts]) for i in range(5)))


def _blank(start: np.ndarray, end: np.ndarray, text: np.ndarray) -> np.ndarray:
    """Empty records (a lone CR counts as empty): CSV readers skip them."""
    length = end - start
    if not len(text):
        return length == 0
    return (length <= 0) | ((length == 1) & (text[np.clip(start, 0, len(text) - 1)] == 13))


def _recover(source: bytes, header_row: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A CSV whose rows pyarrow refuses, read row by row in effect: every record of the
    header's width is read (by pyarrow, from a copy holding only those), every other
    one is set aside with its physical line and why (too many or too few fields, a
    quote never closed, longer than MAX_RECORD_BYTES).
    """
    text = np.frombuffer(source, dtype=np.uint8)
    breaks = np.flatnonzero(text == ord("\n"))
    quotes = np.flatnonzero(text == ord('"'))
    commas = np.flatnonzero(text == ord(","))
    records = _split_records(text, breaks, quotes, commas, header_row)
    keep = ~_blank(records.start, records.end, text)
    records = _Records(*(getattr(records, f)[keep] for f in
                         ("start", "end", "line", "fields", "unbalanced")))
    if len(records.start) < header_row:
        raise ValueError("no header row")
    header = header_row - 1
    expected = int(records.fields[header])
    data = slice(header + 1, None)
    start, end = records.start[data], records.end[data]
    fields, unbalanced = records.fields[data], records.unbalanced[data]
    too_long = (end - start) > MAX_RECORD_BYTES
    code = np.select([unbalanced, too_long, fields > expected, fields < expected],
                     ["unbalanced_quote", "record_too_long", "too_many_fields",
                      "too_few_fields"], default="")
    good = code == ""
    # The text without what comes before the header and without the rejected records:
    # a few slices between them, however many rows are kept (blank lines stay; the
    # reader skips them as before).
    cut_start = np.r_[0, start[~good]]
    cut_end = np.r_[records.start[header], np.minimum(end[~good] + 1, len(text))]
    keep_from, keep_to = cut_end, np.r_[cut_start[1:], len(text)]
    clean = b"".join(source[int(a):int(b)] for a, b in zip(keep_from, keep_to, strict=True)
                     if b > a)
    if not clean.endswith(b"\n"):
        clean += b"\n"
    lengths = np.r_[records.end[header] - records.start[header], end[good] - start[good]]
    longest = int(lengths.max())
    frame = _arrow_csv(clean, 1, block_size=max(1 << 20, 1 << int(longest * 2).bit_length()))
    if len(frame) != int(good.sum()):
        raise ValueError("the rows could not be told apart reliably")
    frame["_line"] = records.line[data][good]
    rejected = np.flatnonzero(~good)
    raw = [bytes(source[int(a):int(b)]).decode("utf-8", errors="replace").rstrip("\r")
           for a, b in zip(start[rejected], np.minimum(end[rejected],
                                                        start[rejected] + 4 * _RAW_CHARS),
                           strict=True)]
    return frame, pd.DataFrame({
        "line": records.line[data][rejected].astype(np.int64),
        "code": code[rejected],
        "value": [f"{f}/{expected}" for f in fields[rejected]],
        # As JSON like every raw row of quarantine.csv; the line as text, since it has no columns.
        "raw": [json.dumps({"text": r[:_RAW_CHARS] + ("…" if len(r) > _RAW_CHARS else "")},
                           ensure_ascii=False) for r in raw],
    }, columns=REJECTED_COLUMNS)
