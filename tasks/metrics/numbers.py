"""Exact numbers and rows as arrays: integer fen, exact rates and percentiles,
community codes and UTC times shared by the ticket and fee metrics."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from yuebao.schema import PORTFOLIO
from yuebao.tasks.ingest.parse import arrow_text

# --- exact numbers -------------------------------------------------------------------


def _half_even(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded to an integer, half to even, in exact integers."""
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2):
        quotient += 1
    return quotient


def rate(numerator: int, denominator: int) -> float | None:
    """A share with 4 decimals, half to even; null when the denominator is 0.

    The same value as ``float(round(Fraction(numerator, denominator), 4))``, without
    building a Fraction (by_building calls this for every building of every month).
    """
    if not denominator:
        return None
    return _half_even(int(numerator) * 10_000, int(denominator)) / 10_000


def money(fen: int) -> float:
    """Integer fen as yuan; the float is only the JSON spelling of an exact value."""
    return int(fen) / 100


def _rounded(value: Fraction | None, digits: int = 2) -> float | None:
    return None if value is None else float(round(value, digits))


def _percentile(ordered: np.ndarray, numerator: int, denominator: int) -> Fraction:
    """The linear-interpolation percentile numerator/denominator of sorted integers, exactly."""
    position = numerator * (len(ordered) - 1)
    low, remainder = divmod(position, denominator)
    high = min(low + 1, len(ordered) - 1)
    v_low, v_high = int(ordered[low]), int(ordered[high])
    return Fraction(v_low * denominator + (v_high - v_low) * remainder, denominator)


def _summary(ordered: np.ndarray, unit: int) -> dict:
    """``mean``, ``median``, ``p90`` and ``count`` of sorted integer microseconds, in ``unit``."""
    count = len(ordered)
    if not count:
        return {"mean": None, "median": None, "p90": None, "count": 0}
    # the total in two halves, so that no int64 sum can overflow
    total = (int((ordered >> 32).sum()) << 32) + int((ordered & 0xFFFFFFFF).sum())
    return {
        "mean": _rounded(Fraction(total, count * unit)),
        "median": _rounded(_percentile(ordered, 1, 2) / unit),
        "p90": _rounded(_percentile(ordered, 9, 10) / unit),
        "count": count,
    }


def _stats(values: np.ndarray, codes: np.ndarray, unit: int, names: list[str],
           scopes: list[str]) -> dict[str, dict]:
    """:func:`_summary` per scope: one sort by (community, value), one of every value.

    Percentiles interpolate linearly between order statistics, computed in
    integers so the result is exact before its final rounding.
    """
    order = np.lexsort((values, codes))
    ordered, grouped = values[order], codes[order]
    bounds = np.searchsorted(grouped, np.arange(len(names) + 1))
    result = {}
    for s in scopes:
        if s == PORTFOLIO:
            result[s] = _summary(np.sort(values), unit)
        else:
            c = names.index(s)
            result[s] = _summary(ordered[bounds[c]:bounds[c + 1]], unit)
    return result


# --- partial figures ---------------------------------------------------------------------


def _same_codes(parts: list) -> list[str]:
    """The community codes of partials, which must be the same to be combined."""
    names = parts[0].names
    if any(part.names != names for part in parts):
        raise ValueError("partials of different community codes cannot be combined")
    return names


def _added(blocks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per key, the element-wise sum of the parts' arrays (counts and fen: exact int64)."""
    return {key: np.sum([block[key] for block in blocks], axis=0) for key in blocks[0]}


def _joined(listings: list[dict[str, dict[str, np.ndarray]]]) -> dict[str, dict[str, np.ndarray]]:
    """Per listing and column, the parts' rows one after another."""
    return {key: {column: np.concatenate([listing[key][column] for listing in listings])
                  for column in listings[0][key]} for key in listings[0]}


# --- rows as arrays -----------------------------------------------------------------------


def _with_portfolio(frame: pd.DataFrame) -> pd.DataFrame:
    """Each row once under its community and once under the portfolio."""
    own = frame.assign(scope=frame["community"].astype("str"))
    return pd.concat([own, frame.assign(scope=PORTFOLIO)], ignore_index=True)


def _community_names(frames: list[pd.DataFrame], communities: tuple[str, ...]) -> list[str]:
    """Community codes: the scope's communities, then any other the rows name."""
    found = set().union(*(set(f["community"].dropna().unique()) for f in frames))
    return [*communities, *sorted(found - set(communities))]


def _positions_in(values: pd.Series, labels: list[str] | tuple[str, ...],
                  missing: int) -> np.ndarray:
    """Each value's position in ``labels`` (``missing`` for anything else). A
    dictionary-encoded column looks up its few categories, then takes by code."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        lookup = np.append(_positions_in(pd.Series(values.cat.categories, dtype="str"), labels,
                                         missing), missing)  # code -1 (missing) takes the last
        return lookup[values.cat.codes.to_numpy()]
    found = pc.index_in(arrow_text(values), value_set=pa.array(labels, pa.large_string()))
    return np.asarray(found.fill_null(missing), dtype=np.int64)


def _enum_codes(values: pd.Series, codes: tuple[str, ...]) -> np.ndarray:
    """Positions of enum values in their code list (-1 for anything else)."""
    return _positions_in(values, codes, -1)


def _instant(moment: pd.Timestamp) -> np.datetime64:
    """An aware instant as the naive UTC ``datetime64[us]`` the prepared arrays compare with."""
    return np.datetime64(moment.tz_convert("UTC").tz_localize(None).as_unit("us"))


def _utc(times: pd.Series) -> np.ndarray:
    """Aware timestamps as naive UTC ``datetime64[us]`` (NaT stays NaT and compares False)."""
    return times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]")


def _utc_ns(times: pd.Series) -> np.ndarray:
    """Aware timestamps as naive UTC ``datetime64[ns]`` (NaT stays NaT and compares False)."""
    return times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]")


def _instant_ns(moment: pd.Timestamp) -> np.datetime64:
    return np.datetime64(moment.tz_convert("UTC").tz_localize(None).as_unit("ns"))


def _codes(values: pd.Series, names: list[str]) -> np.ndarray:
    """Community codes: the position in ``names``, ``len(names)`` for a missing community."""
    return _positions_in(values, names, len(names))


def _factorized(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes of a text column (-1 where missing) and the labels they stand for."""
    codes, labels = pd.factorize(values, use_na_sentinel=True)
    return codes.astype(np.int64), [str(label) for label in labels]


def _group_sum(codes: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Exact int64 sums per code (``np.bincount`` with weights would go through floats)."""
    result = np.zeros(size, dtype=np.int64)
    np.add.at(result, codes, values.astype(np.int64))
    return result
