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
