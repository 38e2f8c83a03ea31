"""Export files -> text tables with canonical column names.

Finds the files, detects their encoding (UTF-8, with or without BOM, else
GB18030, which also reads GBK), reads CSV with pyarrow and Excel with
openpyxl/xlrd, and renames the source columns to canonical fields as the
profile says. Cells stay text: parsing them is validation's job, so that an
unreadable value becomes a quarantine reason instead of a crash.
"""

from __future__ import annotations

import contextlib
import difflib
import glob
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
from yuebao.profile import Profile, TableMap
from yuebao.schema import BILL_KEY, FIELDS, REQUIRED

EXCEL = {".xlsx": "calamine", ".xlsm": "calamine", ".xls": "calamine"}
_BOM = b"\xef\xbb\xbf"


@dataclass
class SourceFile:
    """One export file: its rows as canonical text columns, and as they were read."""

    path: Path
    shown: str
    rows: pd.DataFrame  # canonical fields, plus _line
    source: pd.DataFrame  # the file's own columns, for quarantine.csv
    columns: dict[str, str]  # canonical field -> the source column it came from


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


def _arrow_csv(source: Path | bytes, header_row: int) -> pd.DataFrame:
    """A CSV read by pyarrow, every column as text; quoted cells may span lines.

    A repeated header gets a suffix as pandas would give it (the second
    ``resolution_hours`` is ``resolution_hours.1``). Raises ``ValueError`` for
    blank headers and ``pa.ArrowInvalid`` for text that is not UTF-8 or not a table.
    """
    def opened() -> Path | pa.BufferReader:
        return source if isinstance(source, Path) else pa.BufferReader(source)

    read = pacsv.ReadOptions(skip_rows=header_row - 1)
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
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        unique.append(f"{name}.{count}" if count else name)
    return table.rename_columns(unique).to_pandas(types_mapper={pa.large_string(): _TEXT}.get)


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
            breaks = sum(int(np.count_nonzero(mapped[at:at + _CHUNK] == ord("\n")))
                         for at in range(0, len(mapped), _CHUNK))
            unended = bool(len(mapped)) and mapped[-1] != ord("\n")
            del mapped  # the map cannot close while an array still views it
        if breaks + unended == header_row + rows:
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


def _read_csv(path: Path, mapping: TableMap, encoding: str, shown: str) -> pd.DataFrame:
    """A CSV's cells as text, with the line each row starts on.

    A UTF-8 file (the usual large export) is read by pyarrow straight from the
    file, holding no copy of it in memory; other encodings are decoded first.
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
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise UsageError(f"{shown}: not a readable CSV table ({reason})") from error
    frame["_line"] = _record_lines(source, mapping.header_row, len(frame))
    return frame


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


def read_table(path: Path, mapping: TableMap, encoding: str, shown: str) -> pd.DataFrame:
    """One file's cells as text, headers trimmed, with the line each row came from."""
    if path.suffix.lower() in EXCEL:
        frame = _read_excel(path, mapping, shown)
        frame["_line"] = np.arange(len(frame)) + mapping.header_row + 1
    else:
        frame = _read_csv(path, mapping, encoding, shown)
    if len(frame.columns) < 2:
        raise UsageError(f"{shown}: the file is empty")
    lines = frame.pop("_line")
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.astype("str").apply(
        lambda column: column.str.strip() if _may_need_trim(column) else column)
    frame["_line"] = lines
    return frame


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
             shown: str) -> None:
    available = set(chosen) | set(mapping.constants)
    required = list(REQUIRED[table])
    if table == "payments" and "bill_id" not in available:
        required += [f for f in BILL_KEY if f not in ("building", "unit", "period")]
    for field in required:
        if field in available:
            continue
        expected = (mapping.columns or {field: [field]}).get(field, [field])
        raise UsageError(
            f"{shown}: no column for the required {table} field {field!r} "
            f"(expected {' or '.join(repr(e) for e in expected)}; "
            f"found: {', '.join(headers)}{_closest(expected, headers, set(chosen.values()))})")


def read_source(path: Path, base_dir: Path, profile: Profile, table: str,
                extra: dict[str, list[str]] | None = None) -> SourceFile:
    """Read one export and rename its columns to the canonical fields of ``table``."""
    mapping = profile.table(table)
    shown = shown_path(path, base_dir)
    source = read_table(path, mapping, profile.encoding, shown)
    headers = [c for c in source.columns if c != "_line"]
    chosen = column_sources(headers, mapping, table, extra)
    _require(chosen, mapping, table, headers, shown)
    rows = pd.DataFrame({field: source[column] for field, column in chosen.items()},
                        index=source.index)
    for field, value in mapping.constants.items():
        rows[field] = value
    rows["_line"] = source["_line"]
    return SourceFile(path, shown, rows, source.drop(columns="_line"), chosen)


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
        result.append(SourceFile(file.path, file.shown, made, file.source.loc[made.index],
                                 file.columns))
    return result
