"""Mapping profiles: how one system's exports become the canonical tables.

A profile is a TOML file, validated once when it is loaded. It says, per table,
which source column feeds each canonical field (or a constant), how labels map
to codes, which keywords give a category from free text, and how the files are
encoded and laid out. Built-in profiles live in ``yuebao/knowledge/profiles``;
a company writes its own file and names it in ``sources.profile``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from yuebao.errors import UsageError, read_toml, validated
from yuebao.schema import FIELDS, PRIORITIES, TICKET_CATEGORIES, TICKET_TYPES

ENCODINGS = ("auto", "utf-8", "utf-8-sig", "gbk", "gb18030")
_ENUMS = {"type": TICKET_TYPES, "category": TICKET_CATEGORIES, "priority": PRIORITIES}
# The fields whose cells are labels a system spells its own way (``values``): codes,
# ratings, flags, and the community (to rename one, see metrics.build_scope). On any
# other field (an id, a date, an amount) a label map would rewrite data: an error.
LABEL_FIELDS = {"tickets": ("type", "category", "priority", "satisfaction", "reopened",
                            "cancelled", "community"),
                "bills": ("community",), "payments": ("community",)}
ROW_ID = "@row"
# What a label of these fields must map to (a rating, a count, a flag), and its words.
# A label may map to the value as text too ("4", "true"): that is how cells are read.
_LABEL_KINDS: dict[str, tuple[Callable[[object], bool], str]] = {
    "satisfaction": (lambda v: not isinstance(v, bool) and str(v) in ("1", "2", "3", "4", "5"),
                     "a rating from 1 to 5"),
    "reopened": (lambda v: not isinstance(v, bool) and str(v).isdigit(), "a count (0 or more)"),
    "cancelled": (lambda v: str(v).lower() in ("true", "false"), "true or false"),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TableMap(_Strict):
    """How one table's files map to its canonical fields."""

    columns: dict[str, list[str]] = {}
    constants: dict[str, str] = {}
    values: dict[str, dict[str, str | int | bool]] = {}
    category_keywords: dict[str, list[str]] = {}
    keyword_fields: list[str] = ["description"]
    sheet: str | int | None = None
    header_row: int = Field(default=1, ge=1)
    # Cells that mean "no value" in this table's exports, besides the profile's.
    null_values: list[str] = []
    # Where an export has no id column: several columns joined into one key, or
    # "@row" (file and physical line). Both are weaker for de-duplication (README).
    id: list[str] | Literal["@row"] | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_columns(cls, value: object) -> object:
        return [value] if isinstance(value, str) and value != ROW_ID else value

    @field_validator("columns", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        if isinstance(value, dict):
            return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
        return value

    def fields(self) -> set[str]:
        return set(self.columns) | set(self.constants)


class PerBillPayments(_Strict):
    """Payments given as "amount paid" and "last paid date" columns of the bills export."""

    amount_paid: list[str]
    last_paid_at: list[str]

    @field_validator("amount_paid", "last_paid_at", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


class DateBounds(_Strict):
    """Dates outside these bounds are typing errors or system defaults (1900-01-01,
    1970-01-01, 2099-12-31), not events: such a row is quarantined, so that a 1969
    ticket is never counted as open and overdue for half a century."""

    earliest: date = date(2000, 1, 1)
    latest_days_ahead: int = Field(default=1, ge=0)


class Profile(_Strict):
    name: str
    description: str = ""
    encoding: Literal[ENCODINGS] = "auto"  # type: ignore[valid-type]
    strict: bool = False
    date_formats: list[str] = []
    null_values: list[str] = []
    dates: DateBounds = DateBounds()
    payments_mode: Literal["ledger", "per_bill"] = "ledger"
    per_bill: PerBillPayments | None = None
    tickets: TableMap = TableMap()
    bills: TableMap = TableMap()
    payments: TableMap = TableMap()

    def table(self, name: str) -> TableMap:
        return getattr(self, name)

    def nulls(self, name: str) -> list[str]:
        """The cells read as empty in one table: the profile's and the table's own."""
        return [*self.null_values, *self.table(name).null_values]


def _check(profile: Profile, shown: str) -> Profile:
    """Checks pydantic cannot express: field names, enum codes, the per-bill columns."""
    for table in ("tickets", "bills", "payments"):
        mapping = profile.table(table)
        for name in mapping.fields() | set(mapping.values):
            if name not in FIELDS[table]:
                raise UsageError(f"{shown}: {table}: {name!r} is not a canonical field of "
                                 f"{table} ({', '.join(FIELDS[table])})")
        for name, labels in mapping.values.items():
            if name in FIELDS[table] and name not in LABEL_FIELDS[table]:
                takes = ", ".join(LABEL_FIELDS[table]) or "none"
                raise UsageError(f"{shown}: {table}.values.{name}: {name!r} is not a label "
                                 f"field, so its cells are not mapped (label fields: {takes})")
            kind = _LABEL_KINDS.get(name)
            wrong = [v for v in labels.values() if not kind[0](v)] if kind else []
            if kind and wrong:
                raise UsageError(f"{shown}: {table}.values.{name}: {wrong[0]!r} is not "
                                 f"{kind[1]}")
            codes = _ENUMS.get(name)
            bad = [v for v in labels.values() if v not in codes] if codes else []
            if codes and bad:
                raise UsageError(f"{shown}: {table}.values.{name}: {bad[0]!r} is not one of "
                                 f"{', '.join(codes)}")
        unknown = [c for c in mapping.category_keywords if c not in TICKET_CATEGORIES]
        if unknown:
            raise UsageError(f"{shown}: {table}.category_keywords: {unknown[0]!r} is not a "
                             f"category code")
    if profile.payments_mode == "per_bill" and profile.per_bill is None:
        raise UsageError(f"{shown}: payments_mode = 'per_bill' needs a [per_bill] table naming "
                         "the amount_paid and last_paid_at columns")
    return profile


def parse_profile(raw: dict, shown: str) -> Profile:
    return _check(validated(Profile, raw, shown), shown)


def builtin_profiles() -> list[str]:
    folder = resources.files("yuebao.knowledge").joinpath("profiles")
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir()
                  if p.name.endswith(".toml"))


def load_profile(name_or_path: str, base_dir: Path) -> Profile:
    """A built-in profile by name, or a profile file (relative to the config's folder)."""
    if name_or_path in builtin_profiles():
        source = resources.files("yuebao.knowledge").joinpath("profiles", f"{name_or_path}.toml")
        shown = f"built-in profile {name_or_path}"
    else:
        source = Path(name_or_path).expanduser()
        source = source if source.is_absolute() else base_dir / source
        shown = str(source)
        if not source.is_file():
            raise UsageError(f"sources.profile: {name_or_path!r} is neither a built-in profile "
                             f"({', '.join(builtin_profiles())}) nor a file")
    return parse_profile(read_toml(source, shown), shown)
