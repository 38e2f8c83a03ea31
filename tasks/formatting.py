"""Numbers as a reader sees them, and the Jinja environment of ``templates/<language>/``.

Every figure is formatted exactly from the rounded values of metrics.json (Decimal,
never float arithmetic), so a number in a sentence, a table and the email's headline
box is the same text.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from importlib import resources

import jinja2

from yuebao.words import labels, month_name


def _decimal(value: float | int) -> Decimal:
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _trimmed(value: Decimal, places: int = 2) -> str:
    text = f"{value:,.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _with_unit(number: str, unit: str) -> str:
    return f"{number} {unit}" if unit else number


def format_value(value: float | int | None, kind: str, language: str) -> str:
    """A KPI value as a reader sees it; ``None`` is a dash, never 0."""
    if value is None:
        return "—"
    unit = labels(language)["unit"]
    number = _decimal(value)
    if kind == "rate":
        return f"{number * 100:.2f}%"
    if kind == "money":
        return _with_unit(f"{number:,.2f}", unit["money"])
    if kind in ("minutes", "hours", "score", "per100"):
        return _with_unit(_trimmed(number), unit[kind])
    return _with_unit(_trimmed(number, 0), unit["households" if kind == "households" else "count"])


def format_delta(value: float | int, reference: float | int, kind: str, language: str) -> str:
    """The size of a change, without its sign (the sentence says which way)."""
    difference = abs(_decimal(value) - _decimal(reference))
    if kind == "rate":
        return f"{_trimmed(difference * 100)} {labels(language)['unit']['pp']}"
    counted = kind in ("count", "households")
    return format_value(int(difference) if counted else float(difference), kind, language)


# In sentences, amounts from 100,000 yuan are written in 万元 (Chinese only: an English
# reader has no 万, so English prose keeps exact yuan); tables always keep exact yuan.
LARGE_MONEY = 100000


def format_prose(value: float | int | None, kind: str, language: str) -> str:
    """A figure as a sentence prints it: one precision per kind.

    Rates 2 decimals, minutes and hours 1 decimal, money 2 decimals (万元 from
    ``LARGE_MONEY`` in Chinese); counts and the rest as :func:`format_value`.
    """
    if value is None:
        return format_value(value, kind, language)
    unit = labels(language)["unit"]
    if kind in ("minutes", "hours"):
        return _with_unit(f"{_decimal(value):.1f}", unit[kind])
    large = labels(language)["prose"]["large_money_unit"]
    if kind == "money" and abs(value) >= LARGE_MONEY and large:
        return _with_unit(f"{_decimal(value) / 10000:,.2f}", large)
    return format_value(value, kind, language)


def format_prose_delta(value: float | int, reference: float | int, kind: str,
                       language: str) -> str:
    """The size of a change in a sentence: percentage points with 2 decimals."""
    difference = abs(_decimal(value) - _decimal(reference))
    if kind == "rate":
        return f"{difference * 100:.2f} {labels(language)['unit']['pp']}"
    counted = kind in ("count", "households")
    return format_prose(int(difference) if counted else float(difference), kind, language)


@cache
def environment(language: str) -> jinja2.Environment:
    folder = resources.files("yuebao.templates").joinpath(language)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.globals["L"] = labels(language)
    env.filters["fmt"] = lambda value, kind: format_value(value, kind, language)
    env.filters["delta"] = lambda value, reference, kind: format_delta(
        value, reference, kind, language)
    env.filters["prose"] = lambda value, kind: format_prose(value, kind, language)
    env.filters["prose_delta"] = lambda value, reference, kind: format_prose_delta(
        value, reference, kind, language)
    env.filters["month_name"] = lambda m: month_name(m["year"], m["month"], language)
    return env
