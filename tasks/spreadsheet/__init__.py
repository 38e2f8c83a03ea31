"""metrics.xlsx: one metrics.json document as a workbook, one sheet per table.

The people who open this file sort, filter and sum the figures, so every figure is
a real number with a number format (money ``#,##0.00``, rates ``0.00%``, counts
``#,##0``), never the text the review prints; an unknown value (a null rate) is an
empty cell, never 0. Sheet names, headers and row labels come from
``templates/<language>/labels.toml`` like every other word a reader sees, and a
last ``key`` column keeps the machine code of each row so the data person can join
the sheets to metrics.json.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from io import BytesIO
from pathlib import Path

from openpyxl import Workbook

from yuebao.files import write_bytes
from yuebao.months import Month
from yuebao.schema import PORTFOLIO, TABLES
from yuebao.tasks.metrics import kpi_catalogue, scalar
from yuebao.tasks.spreadsheet.cells import (
    _HEADER_FONT,
    NUMBER_FORMATS,
    Cell,
    _natural_key,
    _put,
    _Words,
    _write_table,
)
from yuebao.tasks.spreadsheet.charts import (
    TOP_BUILDINGS,
    bar_chart,
    community_charts,
    community_headers,
    community_table,
    trend_charts,
    trend_table,
)
from yuebao.words import month_name

__all__ = ["NUMBER_FORMATS", "workbook", "write_metrics_xlsx"]

# Scalars of metrics.json that ``compare`` does not follow (so kpis.toml leaves them
# out) but a reader of the summary still wants: each goes right after the row named,
# with its kind.
EXTRA_KPIS = {
    "tickets.response_minutes.count": ("tickets.response_minutes.p90", "count"),
    "tickets.resolution_hours.count": ("tickets.resolution_hours.p90", "count"),
    "tickets.satisfaction.rated": ("tickets.overdue_open_at_end", "count"),
    "fees.new_arrears": ("fees.arrears_recovery_rate_ytd", "money"),
}

# The per-group money and rate columns of by_building and by_fee_item (kpis.md §4, §7).
GROUP_FIGURES = (
    ("due_in_month", "money"),
    ("collected_for_month", "money"),
    ("collection_rate_month", "rate"),
    ("arrears_at_end", "money"),
    ("arrears_at_start", "money"),
    ("arrears_collected", "money"),
    ("new_arrears", "money"),
)

# The columns of the overdue-ticket sheet (kpis.md §7, tickets.overdue_open).
OVERDUE_COLUMNS = ("ticket_id", "building", "category", "type", "priority", "created_at",
                   "deadline", "days_overdue")

QUALITY_COUNTS = ("read", "used", "quarantined", "duplicate")


# --- the sheets --------------------------------------------------------------------


def _summary_keys() -> list[tuple[str, str]]:
    """Every scalar KPI with its kind, in kpis.toml order, the extra counts in place."""
    keys = []
    follows = {after: (key, kind) for key, (after, kind) in EXTRA_KPIS.items()}
    for key, kpi in kpi_catalogue().items():
        keys.append((key, kpi["kind"]))
        if key in follows:
            keys.append(follows[key])
    return keys


def _summary(document: dict, words: _Words) -> tuple[list[str], list[list[Cell]]]:
    column = words.column
    headers = [column["kpi"], column["unit"], column["value"], column["previous_month"],
               column["same_month_last_year"], column["target"], column["status"],
               column["key"]]
    compared = document.get("compare") or {}
    rows = []
    for key, kind in _summary_keys():
        known = compared.get(key, {})
        status = known.get("status")
        rows.append([
            (words.kpi(key), "text"), (words.unit(kind) or None, "text"),
            (scalar(document, key), kind),
            (known.get("previous_month"), kind), (known.get("same_month_last_year"), kind),
            (known.get("target"), kind),
            (words.all["status"].get(status, status) if status else None, "text"),
            (key, "text"),
        ])
    return headers, rows


def _missing(words: _Words, table: str) -> str:
    return words.text["not_available"].format(table=words.all["table"][table])


def _breach_headers(words: _Words) -> list[str]:
    return [words.column["response_breaches"], words.column["resolution_breaches"]]


def _breach_cells(tickets: dict, split: str, code: str) -> list[Cell]:
    """SLA breaches of one code (kpis.md §7); empty where the export cannot tell."""
    breaches = tickets.get("sla_breaches") or {}
    return [(((breaches.get(kind) or {}).get(split) or {}).get(code), "count")
            for kind in ("response", "resolution")]


def _by_category(tickets: dict | None, words: _Words) -> tuple[list, list, str | None]:
    headers = [words.column["category"], words.kpi("tickets.created"),
               words.kpi("tickets.complaints.count"), *_breach_headers(words),
               words.column["key"]]
    if not tickets:
        return headers, [], _missing(words, "tickets")
    complaints = (tickets.get("complaints") or {}).get("by_category") or {}
    rows = [[(words.group("category", code), "text"), (count, "count"),
             (complaints.get(code), "count"), *_breach_cells(tickets, "by_category", code),
             (code, "text")]
            for code, count in tickets["by_category"].items()]
    return headers, rows, None


def _by_type(tickets: dict | None, words: _Words) -> tuple[list, list, str | None]:
    headers = [words.column["type"], words.kpi("tickets.created"), *_breach_headers(words),
               words.column["key"]]
    if not tickets:
        return headers, [], _missing(words, "tickets")
    rows = [[(words.group("type", code), "text"), (count, "count"),
             *_breach_cells(tickets, "by_type", code), (code, "text")]
            for code, count in tickets["by_type"].items()]
    return headers, rows, None


def _split_building(key: str, communities: Iterable[str]) -> tuple[str, str]:
    """``<community>/<building>`` of the portfolio, even when the id itself has a ``/``."""
    for community in sorted(communities, key=len, reverse=True):
        if key.startswith(community + "/"):
            return community, key[len(community) + 1:]
    community, _, building = key.partition("/")
    return community, building


def _group_headers(words: _Words) -> list[str]:
    return [words.with_unit(words.kpi(f"fees.{name}"), kind) for name, kind in GROUP_FIGURES]


def _group_cells(group: dict) -> list[Cell]:
    return [(group.get(name), kind) for name, kind in GROUP_FIGURES]


def _worst_first(group: dict) -> tuple[bool, float]:
    """Sort key: the lowest collection rate of the month first, unknown rates last."""
    rate = group.get("collection_rate_month")
    return rate is None, rate if rate is not None else 0.0


def _rated(rows: list[list[Cell]], column: int) -> int:
    """How many leading rows (sorted worst first) have a collection rate in ``column``."""
    return sum(1 for row in rows if row[column][0] is not None)


def _by_building(fees: dict | None, words: _Words, portfolio: bool,
                 names: dict[str, str]) -> tuple[list, list, str | None]:
    lead = [words.column["community"]] if portfolio else []
    headers = [*lead, words.column["building"], *_group_headers(words)]
    if not fees or fees["aging"] is None:
        return headers, [], _missing(words, "bills")
    # Worst collection rate first (the chart's order), a null rate (nothing due) last;
    # then communities in the configured order (that of ``names``), buildings by number.
    position = {community: index for index, community in enumerate(names)}
    rows = []
    for key, group in fees["by_building"].items():
        if portfolio:
            community, building = _split_building(key, names)
            place = [(names.get(community, community), "text"), (building, "text")]
            order = (position.get(community, len(position)), _natural_key(community),
                     _natural_key(building))
        else:
            place, order = [(key, "text")], (0, [], _natural_key(key))
        rows.append(((*_worst_first(group), order), place + _group_cells(group)))
    rows.sort(key=lambda item: item[0])
    return headers, [row for _, row in rows], None if rows else words.text["no_rows"]


def _by_fee_item(fees: dict | None, words: _Words) -> tuple[list, list, str | None]:
    headers = [words.column["fee_item"], *_group_headers(words)]
    if not fees or fees["aging"] is None:
        return headers, [], _missing(words, "bills")
    # Worst collection rate first (the chart's order), a null rate (nothing due) last.
    items = sorted(fees["by_fee_item"].items(), key=lambda item: _worst_first(item[1]))
    rows = [[(item, "text"), *_group_cells(group)] for item, group in items]
    return headers, rows, None if rows else words.text["no_rows"]


def _aging(fees: dict | None, words: _Words) -> tuple[list, list, str | None]:
    headers = [words.column["aging"], words.with_unit(words.column["arrears"], "money"),
               words.column["share"], words.column["key"]]
    if not fees or fees["aging"] is None:  # no bills export (payments alone: cash only)
        return headers, [], _missing(words, "bills")
    aging = fees["aging"]
    total = sum(aging.values())
    rows = [[(words.group("aging", bucket), "text"), (amount, "money"),
             (round(amount / total, 4) if total else None, "rate"), (bucket, "text")]
            for bucket, amount in aging.items()]
    return headers, rows, None


def _hotspots(tickets: dict | None, words: _Words, portfolio: bool,
              names: dict[str, str]) -> tuple[list, list, str | None]:
    lead = [words.column["community"]] if portfolio else []
    headers = [*lead, words.column["building"], words.column["category"],
               words.column["count"], words.column["key"]]
    if not tickets:
        return headers, [], _missing(words, "tickets")
    rows = []
    for spot in tickets["hotspots"]:
        place = [(names.get(spot["community"], spot["community"]), "text")] if portfolio else []
        rows.append([*place, (spot["building"], "text"),
                     (words.group("category", spot["category"]), "text"),
                     (spot["count"], "count"), (spot["category"], "text")])
    return headers, rows, None if rows else words.text["no_hotspots"]


def _local_time(text: str | None) -> datetime | None:
    """``YYYY-MM-DD HH:MM:SS`` local, as metrics.json writes it, for a date cell."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S") if text else None


def _overdue(tickets: dict | None, words: _Words, portfolio: bool,
             names: dict[str, str]) -> tuple[list, list, str | None]:
    """Every ticket counted in ``overdue_open_at_end``, as metrics.json orders them."""
    lead = [words.column["community"]] if portfolio else []
    headers = [*lead, *(words.column[name] for name in OVERDUE_COLUMNS)]
    if not tickets:
        return headers, [], _missing(words, "tickets")
    rows = []
    for item in tickets.get("overdue_open") or []:
        place = [(names.get(item["community"], item["community"]), "text")] if portfolio else []
        rows.append([*place, (item["ticket_id"], "text"), (item["building"], "text"),
                     (words.group("category", item["category"]), "text"),
                     (words.group("type", item["type"]), "text"),
                     (words.text["priority"].get(item["priority"], item["priority"]), "text"),
                     (_local_time(item["created_at"]), "datetime"),
                     (_local_time(item["deadline"]), "datetime"),
                     (item["days_overdue"], "count")])
    return headers, rows, None if rows else words.text["no_overdue"]


def _note_text(note: dict, words: _Words) -> str:
    """A data-quality note as the review words it (see templates/*/_findings.md.j2)."""
    template = words.all["note"].get(note["code"])
    if template is None:
        return note["code"]
    field = note.get("field")
    return template.format(count=note.get("count"), community=note.get("community"),
                           field=words.all["field"].get(field, field))


def _data_quality(quality: dict | None, words: _Words) -> tuple[list, list, list[str]]:
    headers = [words.column["table"]] + [words.column[name] for name in QUALITY_COUNTS]
    quality = quality or {}
    rows = [[(words.text["table"][table], "text")]
            + [((quality.get(table) or {}).get(name), "count") for name in QUALITY_COUNTS]
            for table in TABLES]
    notes = [_note_text(note, words) for note in quality.get("notes", [])]
    return headers, rows, notes


# --- the workbook ------------------------------------------------------------------


def _title(document: dict, words: _Words, names: dict[str, str]) -> str:
    scope = document.get("community", "")
    default = words.all["portfolio"]["default_name"] if scope == PORTFOLIO else scope
    month = Month.parse(document["month"])
    return words.text["title"].format(name=names.get(scope, default),
                                      month=month_name(month.year, month.month, words.language))


def workbook(document: dict, language: str = "zh", names: dict[str, str] | None = None,
             communities: dict[str, dict] | None = None) -> Workbook:
    """The workbook of one metrics.json document (a community or the portfolio).

    ``communities`` (the month's documents by scope) gives the portfolio's workbook
    a 按项目 sheet: the communities side by side on the headline KPIs, with charts.
    """
    words = _Words(language)
    names = dict(names or {})
    portfolio = document.get("community") == PORTFOLIO
    tickets, fees = document.get("tickets"), document.get("fees")

    book = Workbook()
    book.properties.title = _title(document, words, names)
    book.properties.creator = "yuebao"
    book.properties.language = "zh-CN" if language == "zh" else "en"

    summary = book.active
    summary.title = words.sheet["summary"]
    headers, rows = _summary(document, words)
    _write_table(summary, headers, rows, freeze="B2")

    sheets = (
        ("by_category", _by_category(tickets, words)),
        ("by_type", _by_type(tickets, words)),
        ("by_building", _by_building(fees, words, portfolio, names)),
        ("by_fee_item", _by_fee_item(fees, words)),
        ("aging", _aging(fees, words)),
        ("hotspots", _hotspots(tickets, words, portfolio, names)),
        ("overdue", _overdue(tickets, words, portfolio, names)),
    )
    headers, rows, columns = trend_table(document, words)
    trend = book.create_sheet(words.sheet["trend"])
    _write_table(trend, headers, rows, freeze="B2")
    trend_charts(trend, columns, len(rows), words)

    if portfolio and communities:
        rows = community_table(communities, names, words)
        sheet = book.create_sheet(words.sheet["by_community"])
        _write_table(sheet, community_headers(words), rows, freeze="B2")
        community_charts(sheet, len(rows), words)

    chart = words.text["chart"]
    for name, (headers, rows, note) in sheets:
        sheet = book.create_sheet(words.sheet[name])
        _write_table(sheet, headers, rows, note)
        if name == "by_fee_item":
            bar_chart(sheet, chart["fee_items"], (1, 1), (4,), _rated(rows, 3), words,
                      chart["axis_fee_item"], chart["axis_rate"], "rate")
        elif name == "by_building":
            lead = 2 if portfolio else 1
            bar_chart(sheet, chart["buildings"], (1, lead), (lead + 3,),
                      min(_rated(rows, lead + 2), TOP_BUILDINGS), words,
                      chart["axis_building"], chart["axis_rate"], "rate")
        elif name == "by_category" and tickets:
            bar_chart(sheet, chart["categories"], (1, 1), (3,), len(rows), words,
                      chart["axis_category"], chart["axis_complaints"], "count")

    headers, rows, notes = _data_quality(document.get("data_quality"), words)
    sheet = book.create_sheet(words.sheet["data_quality"])
    _write_table(sheet, headers, rows)
    if notes:
        start = len(rows) + 3
        _put(sheet, start, 1, words.text["notes"]).font = _HEADER_FONT
        for offset, text in enumerate(notes, start=1):
            _put(sheet, start + offset, 1, text)
    return book


def write_metrics_xlsx(document: dict, path: Path, language: str = "zh",
                       names: dict[str, str] | None = None,
                       communities: dict[str, dict] | None = None) -> Path:
    """Write ``metrics.xlsx`` atomically, so a crash never leaves half a workbook.

    ``names`` maps community ids (and ``_portfolio``) to the names readers know;
    the portfolio's building and hotspot rows use them for their community column.
    ``communities``, the month's documents by scope, adds the portfolio's 按项目
    sheet (ignored for a community's workbook).
    """
    buffer = BytesIO()
    workbook(document, language, names, communities).save(buffer)
    write_bytes(Path(path), buffer.getvalue())
    return Path(path)
