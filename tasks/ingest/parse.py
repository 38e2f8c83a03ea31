"""Cell values -> typed canonical values, each with the mask of cells it could not read.

Two modes. *Strict* is the ``canonical`` profile of kpis.md: one spelling per
type, anything else is unreadable. *Lenient* is for real systems' exports:
full-width characters are folded (NFKC), dates come in the shapes Chinese
property systems write (``2025/9/1 8:05``, ``2025年9月1日 8时5分``, Excel serial
numbers, ISO with or without offset), money may carry ``¥`` and thousands
separators. Either way every result is vectorized over the column.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_STRICT_TIMESTAMP = r"\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}:\d{2})?"
_STRICT_WITH_OFFSET = r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2})"
_LENIENT_TIMESTAMP = (
    r"(?P<year>\d{4})\s*[-/.年]\s*(?P<month>\d{1,2})\s*[-/.月]\s*(?P<day>\d{1,2})\s*日?"
    r"(?:(?:\s+|T|\s*[日]\s*)(?P<noon>上午|下午|早上|晚上)?\s*"
    r"(?P<hour>\d{1,2})\s*[:时點点]\s*(?P<minute>\d{1,2})\s*分?"
    r"(?:\s*:?\s*(?P<second>\d{1,2})(?:\.\d+)?\s*秒?)?(?:\s*(?P<meridiem>[AaPp][Mm]))?)?"
    r"\s*(?P<offset>Z|[+-]\d{2}:?\d{2})?"
)
_EXCEL_SERIAL = r"\d{5}(?:\.\d+)?"
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_MONEY = r"-?\d{1,16}(?:\.\d{1,2})?"
# A comma with only one or two digits after it, at the end: ``12,34`` is 12.34 with a
# decimal comma or 1,234 mistyped, ``-5,00`` and ``¥1,50`` the same. A thousands
# separator is always followed by three digits, so such an amount is never guessed.
_AMBIGUOUS_MONEY = r"^-?[\d.,]*\d,\d{1,2}$"


def arrow_text(text: pd.Series) -> pa.Array:
    """A text column as a pyarrow string array: no copy when it is pyarrow-backed already
    (a dictionary-encoded one is decoded: callers that can use codes do)."""
    if isinstance(text.dtype, pd.CategoricalDtype):
        text = text.astype("str")
    return pa.array(text, type=pa.large_string(), from_pandas=True)


# splitmix64's constants: a word's bits spread over the whole hash.
_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))


def text_hashes(text: pd.Series) -> np.ndarray:
    """A 64-bit hash of each text, vectorized over the column.

    Equal texts hash equal, in any column or file, so hashes that are all distinct
    prove the texts are; a repeated hash proves nothing (a caller then compares the
    texts themselves). Each text is padded with zero bytes to the column's longest,
    rounded up to 8, and its own words (as many as its length needs: the hash never
    depends on the column) folded in one after another, splitmix64-style, from its
    length. Missing texts hash as the empty one.
    """
    if isinstance(text.dtype, pd.CategoricalDtype):  # each category once, then by code
        once = text_hashes(pd.Series([*text.cat.categories, ""], dtype="str"))
        return once[text.cat.codes.to_numpy()]  # code -1 (missing) takes the empty text's
    values = arrow_text(text).cast(pa.large_binary()).fill_null(b"")
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    count = len(values)
    if count == 0:
        return np.zeros(0, dtype=np.uint64)
    lengths = np.asarray(pc.binary_length(values), dtype=np.int64)
    width = max(8, -(-int(lengths.max()) // 8) * 8)
    padded = pc.binary_slice(pc.binary_join_element_wise(
        values, pa.scalar(bytes(width), pa.large_binary()), pa.scalar(b"", pa.large_binary())),
        0, width)
    offsets = np.frombuffer(padded.buffers()[1], dtype=np.int64)[
        padded.offset:padded.offset + count + 1]
    start = int(offsets[0])
    if int(offsets[-1]) - start != count * width:  # each text padded to exactly ``width``
        raise RuntimeError("text_hashes: padded texts are not of one width")
    words = np.frombuffer(padded.buffers()[2], dtype=np.uint8)[
        start:start + count * width].view(np.uint64).reshape(count, width // 8)
    hashes = lengths.astype(np.uint64)
    with np.errstate(over="ignore"):
        for column in range(width // 8):
            folded = (hashes ^ words[:, column]) * _MIX[0]
            folded ^= folded >> np.uint64(31)
            folded *= _MIX[1]
            longer = lengths > 8 * column
            hashes = folded if longer.all() else np.where(longer, folded, hashes)
        hashes ^= hashes >> np.uint64(29)
        hashes *= _MIX[2]
        hashes ^= hashes >> np.uint64(32)
    return hashes


def key_hashes(rows: pd.DataFrame, key: tuple[str, ...]) -> np.ndarray:
    """A 64-bit hash of each row's key (its columns' text hashes folded together), with
    the same guarantee as :func:`text_hashes`: all distinct, the keys are."""
    hashes = text_hashes(rows[key[0]])
    with np.errstate(over="ignore"):
        for column in key[1:]:
            hashes = (hashes * _MIX[0]) ^ text_hashes(rows[column])
            hashes ^= hashes >> np.uint64(31)
            hashes *= _MIX[1]
    return hashes


def repeated(hashes: np.ndarray) -> np.ndarray:
    """Per hash, whether another one equals it: only those rows' keys can be the same
    (sorting 64-bit integers: a fraction of hashing the texts again)."""
    ordered = np.sort(hashes)
    again = ordered[1:][ordered[1:] == ordered[:-1]]
    if not len(again):
        return np.zeros(len(hashes), dtype=bool)
    return pd.Index(np.unique(again)).get_indexer(hashes) >= 0


def encoded(rows: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """``columns`` of ``rows`` (those present) as categoricals with sorted categories:
    sorting and grouping by them then follow the text, as before they were encoded."""
    present = {c: "category" for c in columns
               if c in rows.columns and not isinstance(rows[c].dtype, pd.CategoricalDtype)}
    return rows.astype(present) if present else rows


def concat_encoded(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Frames one after another, their categorical columns kept categorical.

    ``pd.concat`` turns categoricals of different categories into plain objects; these
    are joined apart: codes recoded onto the sorted union of the categories, no text
    touched, as ``union_categoricals(sort_categories=True)`` does. The files of a table
    mostly share their categories (the same units billed every month), so the union
    and the recoding are made once per distinct set of categories, not per file: over
    16 files of 800,000 units each, ``union_categoricals`` took 10 s.
    """
    encoded_columns = [c for c, dtype in frames[0].dtypes.items()
                       if isinstance(dtype, pd.CategoricalDtype)]
    joined = pd.concat([f.drop(columns=encoded_columns) for f in frames], ignore_index=True)
    for column in encoded_columns:
        joined[column] = _recoded([f[column].array for f in frames])
    return joined[list(frames[0].columns)]


def _recoded(columns: list[pd.Categorical]) -> pd.Categorical:
    """Categoricals as one, on the sorted union of their categories (as text: an empty
    column read back from Parquet has them as objects)."""
    distinct: list[pd.Index] = []
    which = []
    for values in columns:
        categories = pd.Index(values.categories, dtype="str")
        known = next((i for i, seen in enumerate(distinct) if categories.equals(seen)), None)
        if known is None:
            known = len(distinct)
            distinct.append(categories)
        which.append(known)
    every = pa.chunked_array([pa.array(d, type=pa.large_string()) for d in distinct],
                             type=pa.large_string())
    union = pd.Index(pd.array(pc.unique(every), dtype="str")).sort_values()
    # Each set's codes onto the union, in the narrowest integers pandas would keep them
    # in; the -1 of a missing value stays -1.
    width = next(t for t in (np.int8, np.int16, np.int32, np.int64)
                 if len(union) < np.iinfo(t).max)
    onto = [np.append(union.get_indexer(d), -1).astype(width) for d in distinct]
    codes = np.concatenate([onto[i][values.codes] for values, i in zip(columns, which,
                                                                        strict=True)])
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(union), validate=False)


def positions(values: pd.Series, keys: pd.Series | pa.Array | pa.ChunkedArray) -> pa.Array:
    """The position of each value among ``keys`` (null where it is not one), by hashing.

    With 32-bit offsets when the text fits in them: hashing millions of ids is then
    about a third faster than with the 64-bit ones pandas keeps.
    """
    def compact(text: pd.Series | pa.Array | pa.ChunkedArray) -> pa.Array:
        text = arrow_text(text) if isinstance(text, pd.Series) else text
        return text.cast(pa.string()) if text.nbytes < 2**31 - 1 else text

    return pc.index_in(compact(values), value_set=compact(keys))


class Lookup:
    """Values found among many distinct keys (the run's bill ids), the table of keys
    built once: through 64-bit hashes (:func:`text_hashes`) when the keys' came with
    them and are all distinct, each match then confirmed by comparing the two texts (a
    hash found with other text means no key has that value, the keys' hashes being
    distinct); otherwise by hashing the texts (:func:`positions`).

    A run looks the bills up for each new payments file and again for the link: a
    table of 64-bit integers, built once, costs a fraction of hashing every bill id's
    text each time (35 M ids: about 5 s once, against 19 s per file).
    """

    def __init__(self, keys: pd.Series, hashes: np.ndarray | None) -> None:
        self.keys = arrow_text(keys)
        index = pd.Index(hashes) if hashes is not None and len(keys) else None
        self.index = index if index is not None and index.is_unique else None

    def positions(self, values: pd.Series, hashes: np.ndarray | None) -> pa.Array:
        """The position of each value among the keys (null where it is not one);
        ``hashes`` are the values' own (:func:`text_hashes`), if they came with them."""
        if self.index is None or hashes is None:
            return positions(values, self.keys)
        at = self.index.get_indexer(hashes)
        taken = pc.take(self.keys, pa.array(np.maximum(at, 0)))
        same = np.asarray(pc.equal(taken, arrow_text(values)).fill_null(False), dtype=bool)
        same &= at >= 0
        return pa.array(at, type=pa.int64(), mask=~same)


def integers(text: pd.Series, readable: pa.Array) -> pd.Series:
    """The cells marked readable (validated digit strings) as exact ``Int64``; others missing."""
    cells = arrow_text(text)
    values = pc.cast(pc.if_else(readable, cells, pa.scalar(None, cells.type)), pa.int64())
    return _int64(values, text.index)


def _int64(values: pa.Array, index: pd.Index) -> pd.Series:
    """A pyarrow int64 array as a nullable ``Int64`` series, never through floats."""
    present = np.asarray(values.is_valid(), dtype=bool)
    numbers = np.asarray(pc.fill_null(values, 0), dtype=np.int64)
    return pd.Series(pd.arrays.IntegerArray(numbers, ~present), index=index)


def fold(text: pd.Series) -> pd.Series:
    """Full-width digits, letters and punctuation as their ASCII forms (NFKC)."""
    return text.str.normalize("NFKC").str.strip()


def _localize(naive: pd.Series, timezone: str) -> pd.Series:
    """Naive local times as aware ones; a DST fall-back hour reads as its first occurrence."""
    return naive.dt.tz_localize(timezone, ambiguous=np.ones(len(naive), dtype=bool),
                                nonexistent="shift_forward")


def _offset_minutes(offset: pd.Series) -> pd.Series:
    digits = offset.str.replace(":", "", regex=False)
    sign = np.where(digits.str[0] == "-", -1, 1)
    hours = pd.to_numeric(digits.str[1:3], errors="coerce")
    minutes = pd.to_numeric(digits.str[3:5], errors="coerce")
    return (sign * (hours * 60 + minutes)).where(offset != "Z", 0)


def _extract(text: pd.Series, pattern: str) -> pd.DataFrame:
    """``text.str.extract(pattern)`` (a pattern of named groups), through pyarrow's
    RE2: compiled code over the column instead of Python's ``re`` cell by cell, which
    took most of a lenient export's read (4 M cells: 17 s).

    RE2's ``\\d`` and ``\\s`` are ASCII where Python's are Unicode, so what RE2 matches
    Python matches the same way (both take the leftmost-first match); the cells RE2
    does not match are tried again with ``re``, so the result is the same in every
    case. A group that took no part in the match is missing, as in ``str.extract``
    (RE2 gives it as empty text; no group here can match empty text).
    """
    found = pc.extract_regex(arrow_text(text), pattern)
    if isinstance(found, pa.ChunkedArray):
        found = found.combine_chunks()
    matched = np.asarray(found.is_valid(), dtype=bool)
    parts = pd.DataFrame({
        field.name: pd.Series(pd.array(pc.struct_field(found, [i]), dtype="str"),
                              index=text.index).replace("", None)
        for i, field in enumerate(found.type)}, index=text.index)
    if not matched.all():
        parts[~matched] = text[~matched].str.extract(pattern)
    return parts


def _from_parts(parts: pd.DataFrame) -> pd.Series:
    """Naive timestamps from year..second text columns; impossible dates are NaT."""
    numbers = parts[["year", "month", "day", "hour", "minute", "second"]].apply(
        pd.to_numeric, errors="coerce")
    numbers[["hour", "minute", "second"]] = numbers[["hour", "minute", "second"]].fillna(0)
    # 下午3:05 and 3:05 PM are 15:05; 上午12:30 and 12:30 AM are 00:30.
    afternoon = parts["noon"].isin(["下午", "晚上"]) | parts["meridiem"].str.upper().eq("PM")
    morning = parts["noon"].isin(["上午", "早上"]) | parts["meridiem"].str.upper().eq("AM")
    hour = numbers["hour"]
    numbers["hour"] = hour.mask(afternoon & (hour < 12), hour + 12).mask(morning & (hour == 12), 0)
    valid = numbers.notna().all(axis=1)
    result = pd.Series(pd.NaT, index=parts.index, dtype="datetime64[us]")
    if valid.any():
        result[valid] = pd.to_datetime(numbers[valid], errors="coerce").astype("datetime64[us]")
    return result


def _iso(text: pd.Series) -> pd.Series:
    """Cells of the strict shapes (``YYYY-MM-DD``, optionally `` HH:MM:SS``) as naive
    ``datetime64[us]``; missing cells and impossible dates are NaT.

    pyarrow's cast reads them about ten times faster than pandas; it refuses the
    whole column if one date is impossible (30 February), and pandas reads it then.
    """
    try:
        values = pc.cast(arrow_text(text), pa.timestamp("us"))
    except pa.ArrowInvalid:
        return pd.to_datetime(text, format="ISO8601", errors="coerce").astype("datetime64[us]")
    return pd.Series(values.to_numpy(zero_copy_only=False), index=text.index)


def parse_timestamps(text: pd.Series, timezone: str, *, strict: bool = True,
                     formats: tuple[str, ...] = ()) -> tuple[pd.Series, pd.Series]:
    """Timestamps as aware local time, and the mask of present but unreadable cells.

    Naive values are local time; a bare date is local midnight; values with an
    offset are converted to local time.
    """
    present = text.notna()
    if strict:
        naive = present & text.str.fullmatch(_STRICT_TIMESTAMP).fillna(False)
        rest = present & ~naive  # the offset shape is rare: only these cells are tried
        result = _localize(_iso(text.where(naive) if rest.any() else text), timezone)
        if rest.any():
            offset = rest.copy()
            offset[rest] = text[rest].str.fullmatch(_STRICT_WITH_OFFSET).fillna(False)
            if offset.any():
                aware = pd.to_datetime(text[offset], format="ISO8601", utc=True,
                                       errors="coerce")
                result[offset] = aware.dt.tz_convert(timezone)
        return result, present & result.isna()
    result = pd.Series(pd.NaT, index=text.index, dtype=f"datetime64[us, {timezone}]")

    folded = fold(text.where(present, ""))
    todo = present.copy()
    for shape in formats:
        parsed = pd.to_datetime(folded.where(todo), format=shape, errors="coerce")
        hit = todo & parsed.notna()
        if hit.any():
            result[hit] = _localize(parsed[hit].astype("datetime64[us]"), timezone)
            todo &= ~hit
    serial = todo & folded.str.fullmatch(_EXCEL_SERIAL).fillna(False)
    if serial.any():
        days = pd.to_numeric(folded[serial])
        naive = (_EXCEL_EPOCH + pd.to_timedelta(days, unit="D")).dt.round("s")
        result[serial] = _localize(naive.astype("datetime64[us]"), timezone)
        todo &= ~serial
    if todo.any():
        parts = _extract(folded[todo], f"^{_LENIENT_TIMESTAMP}$")
        naive = _from_parts(parts)
        with_offset = parts["offset"].notna() & naive.notna()
        local = naive.notna() & ~with_offset
        if local.any():
            result.loc[local[local].index] = _localize(naive[local], timezone)
        if with_offset.any():
            utc = naive[with_offset] - pd.to_timedelta(
                _offset_minutes(parts.loc[with_offset, "offset"]), unit="m")
            result.loc[with_offset[with_offset].index] = (
                utc.dt.tz_localize("UTC").dt.tz_convert(timezone))
    return result, present & result.isna()


def parse_dates(text: pd.Series, *, strict: bool = True,
                formats: tuple[str, ...] = ()) -> tuple[pd.Series, pd.Series]:
    """Dates as naive midnight timestamps, and the unreadable mask.

    Lenient mode reads any timestamp shape and keeps its date (a due "date"
    exported as ``2025-09-15 00:00:00`` is still the 15th).
    """
    present = text.notna()
    if strict:
        shaped = present & text.str.fullmatch(r"\d{4}-\d{2}-\d{2}").fillna(False)
        rest = present & ~shaped
        dates = _iso(text.where(shaped) if rest.any() else text)
        return dates, present & dates.isna()
    stamps, bad = parse_timestamps(text, "UTC", strict=False, formats=formats)
    return stamps.dt.tz_localize(None).dt.normalize().astype("datetime64[us]"), bad


def parse_money(text: pd.Series, *,
                strict: bool = True) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Money as exact integer fen (Int64); floats never touch it. Also the masks of
    present cells that could not be read, and of those among them that were ambiguous.

    Lenient mode also reads ``¥1,234.50``, ``1,234.50元``, full-width digits and
    ``(12.00)`` for a negative amount. More than two decimals is never money, nor is
    an amount whose last comma has only one or two digits after it (``12,34``: a
    decimal comma, or a mistyped thousands separator): that one is *ambiguous*.
    """
    source = text
    carry = ambiguous = None
    if not strict:
        folded = fold(text)
        negative = folded.str.fullmatch(r"\(.*\)").fillna(False)
        folded = folded.str.replace(r"[¥￥$元\s()]|RMB|CNY", "", regex=True)
        ambiguous = folded.str.contains(_AMBIGUOUS_MONEY, regex=True).fillna(False)
        folded = folded.str.replace(",", "", regex=False).mask(ambiguous)
        text = folded.mask(negative & ~folded.str.startswith("-").fillna(False), "-" + folded)
        # A number cell of a spreadsheet that computes in floats: 1234.5600000000002 or
        # 1234.5599999999999 is 1234.56. Only such float noise is rounded, never real digits.
        noise = text.str.extract(r"^(-?\d+\.\d{2})(?:(0{6,}\d*)|(9{6,}\d*))$")
        text = text.mask(noise[0].notna(), noise[0])
        carry = noise[2].notna().to_numpy()
    cells = arrow_text(text)
    readable = pc.fill_null(pc.match_substring_regex(cells, f"^{_MONEY}$"), False)
    unreadable = ~np.asarray(readable, dtype=bool)
    shown = pc.if_else(readable, cells, pa.scalar(None, cells.type)) if unreadable.any() \
        else cells
    # Read as decimal(18, 2): its 128-bit integer is the amount in fen, exactly, and its
    # low 64 bits are that integer (16 digits of yuan at most, so it fits in 63 bits).
    decimal = pc.cast(shown, pa.decimal128(18, 2))
    chunks = decimal.chunks if isinstance(decimal, pa.ChunkedArray) else [decimal]
    fen = np.concatenate([np.zeros(0, dtype=np.int64), *(
        np.frombuffer(c.buffers()[1], dtype=np.int64)[2 * c.offset::2][:len(c)]
        for c in chunks)])
    amounts = pd.Series(pd.arrays.IntegerArray(fen, unreadable), index=text.index)
    if carry is not None and carry.any():
        amounts[carry] += np.where(amounts[carry] < 0, -1, 1)
    bad = source.notna() & unreadable
    if ambiguous is None:  # strict: a readable amount has no comma, so only bad cells are tried
        ambiguous = bad.copy()
        if bad.any():
            ambiguous[bad] = text[bad].str.contains(_AMBIGUOUS_MONEY, regex=True).fillna(False)
    return amounts, bad, bad & ambiguous.astype(bool)


def map_labels(text: pd.Series, labels: Mapping[str, object], *, strict: bool) -> pd.Series:
    """Labels of a system (``紧急``, ``已取消``) as canonical values; others unchanged."""
    if strict or not labels:
        return text
    folded = fold(text)
    keys = fold(pd.Series(list(labels), dtype="str"))
    table = dict(zip(keys, (_canonical_text(v) for v in labels.values()), strict=True))
    mapped = folded.map(table)
    return mapped.where(mapped.notna(), folded).astype("str")


def _canonical_text(value: object) -> str:
    """A profile's mapped value as the canonical profile would spell it."""
    return str(value).lower() if isinstance(value, bool) else str(value)


# Shapes of dates some systems write that the lenient reader does not guess (day first,
# month first, compact): offered in ``yuebao validate`` as a ``date_formats`` entry.
CANDIDATE_FORMATS = (
    "%d-%m-%Y %H:%M", "%d-%m-%Y %H:%M:%S", "%d-%m-%Y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M", "%m/%d/%Y", "%d.%m.%Y %H:%M",
    "%d.%m.%Y", "%Y%m%d %H%M%S", "%Y%m%d%H%M%S", "%Y%m%d", "%d-%b-%Y %H:%M", "%d-%b-%Y",
    "%b %d %Y %H:%M", "%Y-%m-%dT%H:%M:%S.%f",
)


def suggest_format(value: str) -> str | None:
    """The first of CANDIDATE_FORMATS that reads ``value`` (day first before month
    first: an export that writes 13-09-2025 writes 01-09-2025 the same way)."""
    text = fold(pd.Series([value], dtype="str")).iloc[0]
    for shape in CANDIDATE_FORMATS:
        if pd.notna(pd.to_datetime(text, format=shape, errors="coerce")):
            return shape
    return None
