"""The reader-facing words of a language: ``templates/<language>/labels.toml``."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources


@cache
def labels(language: str) -> dict:
    text = resources.files("yuebao.templates").joinpath(language, "labels.toml").read_text(
        "utf-8")
    return tomllib.loads(text)


def month_name(year: int, month: int, language: str) -> str:
    """``2025年9月`` or ``September 2025``, as the language's labels spell it."""
    words = labels(language)["month"]
    names = words.get("names")
    return words["format"].format(year=year, month=month,
                                  name=names[month - 1] if names else month)
