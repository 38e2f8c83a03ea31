"""Errors the command line turns into exit status 2 with one clear line, and the
edge where the files a user writes (config, profiles, knowledge) become them."""

from __future__ import annotations

import tomllib
from typing import Protocol, TypeVar

from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


class UsageError(Exception):
    """Bad usage or configuration: a missing file, a bad month, a missing export.

    The message is shown to the user as is, on one line, so it must say what is
    wrong and where (file, key or argument).
    """


class _Readable(Protocol):
    def read_text(self, encoding: str = ...) -> str: ...


def read_toml(source: _Readable, shown: str) -> dict:
    """A TOML file as a dict; a missing or malformed file is one :class:`UsageError` line."""
    try:
        return tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{shown}: file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"{shown}: not valid TOML: {error}") from error


def validated(model: type[Model], raw: dict, shown: str) -> Model:
    """``raw`` as ``model``; the first problem, with its key path, as a :class:`UsageError`."""
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        message = first["msg"].removeprefix("Value error, ")
        raise UsageError(f"{shown}: {where}: {message}") from error


def one_line(error: BaseException, *, named: bool = False) -> str:
    """An error's message on one line (its type first with ``named``), for a log, a table
    row or runs.json; an error with no message is named by its type."""
    text = " ".join(str(error).split())
    if named:
        return f"{type(error).__name__}: {text}"
    return text or type(error).__name__


class RunFailed(Exception):
    """A run that did not do all it should: the CLI exits 1 and Prefect marks it ``Failed``.

    The message is one line naming what went wrong; ``summary`` holds one row per
    scope and recipient (``month, scope, recipient, status, detail``) for the table
    that is printed and logged, and ``result`` what the run did produce, so the
    caller can still say where the outputs are.
    """

    def __init__(self, message: str, summary: list[dict] | None = None,
                 result: dict | None = None):
        super().__init__(message)
        self.summary = summary or []
        self.result = result
