"""Cells of metrics.xlsx: typed values, number formats, inert text, the labels."""

from __future__ import annotations

import re
import unicodedata

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.cell.cell import Cell as SheetCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from yuebao.inert import formula_like
from yuebao.words import labels

# Number format by KPI kind (knowledge/kpis.toml). Times, scores and per-100 figures
# carry the 2 decimals metrics.json keeps; counts are whole numbers.
NUMBER_FORMATS = {
    "count": "#,##0",
    "households": "#,##0",
    "money": "#,##0.00",
    "rate": "0.00%",
    "minutes": "#,##0.00",
    "hours": "#,##0.00",
    "score": "0.00",
    "per100": "0.00",
    "datetime": "yyyy-mm-dd hh:mm:ss",
}

_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="F0F3F6")
_NOTE_FONT = Font(italic=True, color="666666")
_MIN_WIDTH, _MAX_WIDTH = 8, 48

# A cell to write: its value and the kind that picks the number format ("text" for none).
Cell = tuple[object, str]


# --- helpers -----------------------------------------------------------------------


def _number(value: object, kind: str) -> object:
    """The value as Excel should hold it: counts as int, other numbers as float.

    ``True``/``False`` are not figures, and a count that JSON spelled ``0.0``
    (a target) is still a whole number.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if kind in ("count", "households") and float(value).is_integer():
            return int(value)
        return value
    return value


def _sentence_case(text: str) -> str:
    """English labels are lower case for use inside sentences; a cell starts like one."""
    return text[:1].upper() + text[1:]


def _display_width(text: str) -> int:
    """Columns a text takes on screen: Chinese characters are two wide."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _shown(value: object, kind: str) -> str:
    """Roughly what Excel shows for a cell, to size its column."""
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if kind == "rate":
            return f"{value * 100:.2f}%"
        if kind in ("count", "households"):
            return f"{value:,.0f}"
        return f"{value:,.2f}"
    return str(value)


def _natural_key(text: str) -> list:
    """``2栋`` before ``10栋``: numbers inside building names sort as numbers."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", text) if part]


class _Words:
    """The language's labels, with the look-ups this module repeats."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.all = labels(language)
        self.sheet = self.all["spreadsheet"]["sheet"]
        self.column = self.all["spreadsheet"]["column"]
        self.text = self.all["spreadsheet"]

    def kpi(self, key: str) -> str:
        return self.all["kpi"].get(key) or self.text["kpi"].get(key, key)

    def with_unit(self, label: str, kind: str) -> str:
        unit = self.unit(kind)
        return self.text["with_unit"].format(label=label, unit=unit) if unit else label

    def unit(self, kind: str) -> str:
        return "" if kind == "rate" else self.all["unit"].get(kind, "")

    def group(self, section: str, code: str) -> str:
        text = self.all[section].get(code, code)
        return _sentence_case(text) if self.language == "en" else text


# --- writing one sheet -------------------------------------------------------------


def _put(sheet: Worksheet, row: int, column: int, value: object) -> SheetCell:
    """Write one cell; text is always a typed string, never a formula or an error value.

    openpyxl takes any text starting with ``=`` for a formula (and ``#N/A`` for an
    error), so a building named ``=HYPERLINK(…)`` would be live when the sheet is
    opened. Typing the cell as a string (``t="inlineStr"``) keeps the exact text;
    a formula-like one is also marked ``quotePrefix`` as Excel marks text typed
    after a ``'``, so editing the cell in Excel does not turn it into a formula.
    Characters XML cannot hold (control characters other than tab and line breaks)
    would make openpyxl refuse the whole workbook; they become U+FFFD.
    """
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    cell = sheet.cell(row=row, column=column, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
        if formula_like(value):
            cell.quotePrefix = True
    return cell


def _write_table(sheet: Worksheet, headers: list[str], rows: list[list[Cell]],
                 note: str | None = None, freeze: str = "A2") -> None:
    """Header row (bold, frozen, filterable), formatted rows, then an optional note."""
    for column, header in enumerate(headers, start=1):
        cell = _put(sheet, 1, column, header)
        cell.font = _HEADER_FONT
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    widths = [_display_width(h) for h in headers]
    for row_number, row in enumerate(rows, start=2):
        for column, (value, kind) in enumerate(row, start=1):
            cell = _put(sheet, row_number, column, _number(value, kind))
            if kind in NUMBER_FORMATS:
                cell.number_format = NUMBER_FORMATS[kind]
            widths[column - 1] = max(widths[column - 1], _display_width(_shown(value, kind)))
    sheet.freeze_panes = freeze
    if rows:
        last = get_column_letter(len(headers))
        sheet.auto_filter.ref = f"A1:{last}{len(rows) + 1}"
    if note:
        _put(sheet, len(rows) + 3, 1, note).font = _NOTE_FONT
    for column, width in enumerate(widths, start=1):
        letter = get_column_letter(column)
        sheet.column_dimensions[letter].width = min(max(width + 2, _MIN_WIDTH), _MAX_WIDTH)
