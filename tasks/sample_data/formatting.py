"""Text of numbers, dates, times, money and ids, built as pyarrow arrays.

Every value is made from integers (seconds, days, fen) through lookup tables,
never through floats or per-row Python, so that formatting a community of
hundreds of thousands of rows stays fast and exact. The first half is the
canonical shapes (``2025-09-01 08:05:07``, ``1234.50``); the second half the
day, clock and money shapes the zh-generic systems print, which all keep the
seconds and the fen so that they read back losslessly.
"""

from __future__ import annotations

import functools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from yuebao.tasks.sample_data.common import _DAY


def _str(values: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(values, dtype=np.int64)).cast(pa.string())


def _const(text: str, n: int) -> pa.Array:
    return pc.take(pa.array([text]), pa.array(np.zeros(n, dtype=np.int64)))


def _take(values: pa.Array, index: np.ndarray, present: np.ndarray | None = None) -> pa.Array:
    """values[index], empty (null) where not present."""
    mask = None if present is None else ~np.asarray(present, dtype=bool)
    return pc.take(values, pa.array(np.asarray(index, dtype=np.int64), mask=mask))


@functools.cache
def _clock() -> pa.Array:
    """"HH:MM:SS" for every second of a day."""
    text = np.datetime_as_string(np.arange(_DAY).astype("datetime64[s]"))
    return pc.utf8_slice_codeunits(pa.array(text), 11, 19)


@functools.cache
def _cents() -> pa.Array:
    return pa.array([f"{i:02d}" for i in range(100)])


def _day_texts(days: np.ndarray) -> tuple[pa.Array, int]:
    low = int(days.min()) if len(days) else 0
    high = int(days.max()) if len(days) else 0
    text = np.datetime_as_string(np.arange(low, high + 1).astype("datetime64[D]"))
    return pa.array(text), low


def _dates(days: np.ndarray) -> pa.Array:
    table, low = _day_texts(days)
    return pc.take(table, pa.array(days - low))


def _timestamps(seconds: np.ndarray) -> pa.Array:
    """"YYYY-MM-DD HH:MM:SS" from naive local seconds; empty where negative (missing)."""
    missing = seconds < 0
    days = seconds // _DAY
    table, low = _day_texts(days[~missing])
    day_text = pc.take(table, pa.array(np.where(missing, 0, days - low), mask=missing))
    clock = pc.take(_clock(), pa.array(seconds % _DAY))
    return pc.binary_join_element_wise(day_text, clock, " ")


def _money(fen: np.ndarray) -> pa.Array:
    """Yuan with exactly two decimals, built from integer fen (no float ever)."""
    fen = np.asarray(fen, dtype=np.int64)
    whole = np.abs(fen)
    text = pc.binary_join_element_wise(
        _str(whole // 100), pc.take(_cents(), pa.array(whole % 100)), ".")
    if (fen < 0).any():
        text = pc.if_else(pa.array(fen < 0), pc.binary_join_element_wise("-", text, ""), text)
    return text


def _ids(prefix: str, numbers: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(_str(numbers), 10, "0"), "")


# --------------------------------------------------------------------------- zh-generic shapes


@functools.cache
def _clock_table(style: str) -> pa.Array:
    """Every second of a day as a system prints it."""
    if style == "hms":
        return _clock()
    second = np.arange(_DAY)
    hour, minute, sec = _str(second // 3600), _str(second // 60 % 60), _str(second % 60)
    if style == "zh":
        return pc.binary_join_element_wise(hour, "时", minute, "分", sec, "秒", "")
    return pc.binary_join_element_wise(
        hour, pc.utf8_lpad(minute, 2, "0"), pc.utf8_lpad(sec, 2, "0"), ":")


def _day_table(days: np.ndarray, style: str) -> tuple[pa.Array, int]:
    """Every day from the first to the last of ``days`` in one style, and the first day."""
    if style == "iso":
        return _day_texts(days)
    low = int(days.min()) if len(days) else 0
    high = int(days.max()) if len(days) else 0
    span = np.arange(low, high + 1).astype("datetime64[D]")
    months = span.astype("datetime64[M]")
    year = _str(months.astype(np.int64) // 12 + 1970)
    month = _str(months.astype(np.int64) % 12 + 1)
    day = _str((span - months.astype("datetime64[D]")).astype(np.int64) + 1)
    if style == "zh":
        return pc.binary_join_element_wise(year, "年", month, "月", day, "日", ""), low
    return pc.binary_join_element_wise(year, month, day, "/"), low


def _styled_timestamps(seconds: np.ndarray, day: str, clock: str) -> pa.Array:
    """Naive local seconds in one system's shape, always with the seconds (so lossless);
    empty where negative (missing)."""
    missing = seconds < 0
    days = seconds // _DAY
    table, low = _day_table(days[~missing], day)
    day_text = pc.take(table, pa.array(np.where(missing, 0, days - low), mask=missing))
    return pc.binary_join_element_wise(
        day_text, pc.take(_clock_table(clock), pa.array(seconds % _DAY)), " ")


def _grouped(yuan: np.ndarray) -> pa.Array:
    """Whole yuan with thousands separators: 1234567 -> "1,234,567"."""
    groups = np.ones(len(yuan), dtype=np.int64)
    rest = yuan // 1000
    while (rest > 0).any():
        groups += rest > 0
        rest //= 1000
    text = _str(yuan // 1000 ** (groups - 1))
    for j in range(int(groups.max(initial=1)) - 2, -1, -1):
        three = pc.utf8_lpad(_str(yuan // 1000**j % 1000), 3, "0")
        text = pc.if_else(pa.array(groups - 1 > j), pc.binary_join_element_wise(text, three, ","),
                          text)
    return text


def _styled_money(fen: np.ndarray, style: str) -> pa.Array:
    """``plain`` 1234.50, ``grouped`` 1,234.50, ``yuan`` ¥1,234.50; a leading minus for
    refunds; from integer fen, like the canonical amounts."""
    if style == "plain":
        return _money(fen)
    fen = np.asarray(fen, dtype=np.int64)
    whole = np.abs(fen)
    text = pc.binary_join_element_wise(
        _grouped(whole // 100), pc.take(_cents(), pa.array(whole % 100)), ".")
    if style == "yuan":
        text = pc.binary_join_element_wise("¥", text, "")
    if (fen < 0).any():
        text = pc.if_else(pa.array(fen < 0), pc.binary_join_element_wise("-", text, ""), text)
    return text
