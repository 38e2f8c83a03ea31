"""Exported text made inert in the files people open: CSV, spreadsheets and Markdown.

Every building, fee item, community id and description comes from another system,
where anyone could have typed anything. Opened as it came, such text can act:

* a spreadsheet program runs a cell that starts with ``=``, ``+``, ``-`` or ``@``
  (and, after a leading tab or carriage return, still treats it as one) as a
  formula: ``=HYPERLINK("http://…/?x="&A1,"点我")`` sends the sheet's data away when
  clicked, ``=cmd|' /C calc'!A0`` asks to start a program (CSV injection, OWASP);
* a Markdown viewer renders ``<script>`` and ``<img onerror=…>`` as HTML, and
  ``[点我](http://…)`` as a link; a ``|`` splits a table cell in two.

The rules are here, in one place, so that every writer applies the same ones:
CSV cells get the OWASP quote (:func:`inert_csv_cell`, :func:`inert_csv_frame`,
:func:`inert_csv` for the whole file),
spreadsheet cells are written as typed strings (``tasks/spreadsheet.py`` asks
:func:`formula_like`), Markdown gets escapes that markdown-it undoes, so the
email and the Word file show the text exactly as it was (:func:`markdown_text`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd
from markdown_it import MarkdownIt

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


# --- Markdown ---------------------------------------------------------------------------

# Control characters (line breaks and tabs too) would end a table row or a list item
# and start a block of the exporter's choosing; each becomes one space.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Characters that start inline Markdown: backslash (it would escape our escapes),
# code spans, emphasis, links and images, and the table's cell separator. ``_`` is
# left alone: ids use it, and CommonMark never emphasises inside a word.
_INLINE = re.compile(r"([\\`*\[\]|])")
# A block marker at the start of the text, which may stand at the start of a line or
# of a list item (``3. {{ building }}本月收缴率…``): heading, quote, bullet, rule,
# code fence, or a number with ``.`` or ``)`` and a space (an ordered list).
_LEADING_BLOCK = re.compile(r"^(?:[#>+\-_~]|\d{1,9}(?=[.)](?:\s|$)))")


def markdown_text(text: str) -> str:
    """Exported text for a Markdown draft: shown as written, never HTML, a link or a table.

    ``&``, ``<`` and ``>`` become entities, inline Markdown characters get a
    backslash, line breaks become spaces (and spaces at either end go, which
    Markdown would drop or take for a code block). markdown-it (``html: False``) turns
    ``&lt;script&gt;`` back into the literal text ``<script>``, once, so the HTML
    email escapes it exactly once and the Word file holds the original text.
    """
    text = _CONTROL.sub(" ", text).strip(" ")
    text = _INLINE.sub(r"\\\1", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _LEADING_BLOCK.sub(_escape_marker, text, count=1)


def _escape_marker(match: re.Match[str]) -> str:
    """``-`` as ``\\-``; ``3.`` as ``3\\.`` (the backslash goes before the punctuation)."""
    marker = match.group(0)
    return marker + "\\" if marker[0].isdigit() else "\\" + marker


def markdown_data(value: object) -> object:
    """``value`` with every string in it (dict keys too) as :func:`markdown_text`.

    For a template's whole context: codes (``plumbing_electric``, ``366+``) and
    numbers come through unchanged, so look-ups by key still work, while no text
    from an export reaches the Markdown unescaped, whichever field it is in.
    """
    if isinstance(value, str):
        return markdown_text(value)
    if isinstance(value, dict):
        return {markdown_data(k): markdown_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(markdown_data(v) for v in value)
    return value


def markdown_plain(line: str) -> str:
    """The text a reader sees of one line of Markdown (entities and escapes undone).

    For titles taken from the draft, which go into an HTML ``<title>`` or a Word
    document's properties, and must be neither escaped twice nor shown with ``\\``.
    """
    tokens = MarkdownIt("commonmark", {"html": False}).parseInline(line)
    return "".join(child.content for token in tokens for child in token.children or []
                   if child.type in ("text", "code_inline"))
