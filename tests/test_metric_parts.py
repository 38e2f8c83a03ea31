"""Metrics in parts: whole communities computed apart, the portfolio combined exactly.

The split must keep every row exactly once (a community's tickets and bills in one
part, each payment with its bill), and the documents made from the combined partial
figures must be identical to those of one pass over every row, in every scope and
month, whatever the number of parts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_metrics import BILLS, PAYMENTS, TICKETS

from yuebao.config import config_from_dict
from yuebao.months import Month
from yuebao.tasks.ingest import ingest
from yuebao.tasks.metrics import (
    _shifted,
    build_scope,
    community_codes,
    data_quality,
    month_documents,
    month_metrics,
    month_partials,
)
from yuebao.tasks.metrics.parts import combine, split
from yuebao.tasks.sample_data import generate_sample


@pytest.fixture(scope="module")
def fixture_tables(tmp_path_factory):
    folder: Path = tmp_path_factory.mktemp("fixture")
    for name, text in (("tickets", TICKETS), ("bills", BILLS), ("payments", PAYMENTS)):
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return ingest({t: [f"{t}.csv"] for t in ("tickets", "bills", "payments")}, folder,
                  "Asia/Shanghai")


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """Five communities, 16 months: listings, groups and durations in every part."""
    folder = tmp_path_factory.mktemp("sample")
    data = generate_sample(folder / "exports", seed=11, communities=5, months=16, scale=0.15,
                           last_month=Month(2025, 9), style="canonical")
    tables = ingest({"tickets": [str(data.tickets)], "bills": [str(data.bills)],
                     "payments": [str(data.payments)]}, folder, "Asia/Shanghai")
    config = config_from_dict({"communities": [{"id": c.id, "households": c.households}
                                               for c in data.communities]}, folder)
    return tables, config


def _documents(tables, config, month: Month, parts: int | None) -> str:
    """metrics.json of every scope as one JSON text, in one pass or in ``parts``."""
    communities = [c.id for c in config.communities]
    scope = build_scope(config, month, sorted(set(tables.tickets["community"].dropna())
                                              | set(tables.bills["community"].dropna())))
    targets = {s: config.targets_for(s if s in communities else None) for s in scope.scopes}
    partials = None
    if parts is not None:
        names = community_codes(tables.tickets, tables.bills, tables.payments, scope)
        pieces = split(tables.tickets, tables.bills, tables.payments, names, parts)
        partials = combine([month_partials(p.tickets, p.bills, p.payments, scope,
                                           tables.available, names) for p in pieces])
    result = month_documents(tables.tickets, tables.bills, tables.payments, scope,
                             tables.available, targets,
                             data_quality(tables, scope, communities), partials=partials)
    return json.dumps({"documents": result.documents, "previous": result.previous,
                       "last_year": result.last_year}, ensure_ascii=False, sort_keys=True)


def test_split_keeps_every_row_once_and_payments_with_their_bills(fixture_tables):
    t = fixture_tables
    pieces = split(t.tickets, t.bills, t.payments, ["a", "b"], 2)
    assert len(pieces) == 2
    # a: T1-T10, B1-B10 and P1-P11 (31 rows); b: T11, B11-B12, P12-P13 (5 rows).
    heavy, light = pieces
    assert sorted(heavy.tickets["ticket_id"]) == sorted(f"T{i}" for i in range(1, 11))
    assert list(light.tickets["ticket_id"]) == ["T11"]
    assert list(light.bills["bill_id"]) == ["B11", "B12"]
    assert list(light.payments["payment_id"]) == ["P12", "P13"]
    assert len(heavy.payments) == 11 and len(heavy.bills) == 10
    for piece in pieces:  # each payment points at its own bill within the part
        assert (piece.bills["bill_id"].to_numpy()[piece.payments["bill_row"]]
                == piece.payments["bill_id"].to_numpy()).all()
    # More parts than communities: as many parts as communities.
    assert len(split(t.tickets, t.bills, t.payments, ["a", "b"], 5)) == 2


def test_fixture_in_two_parts_is_the_one_pass_result(fixture_tables):
    config = config_from_dict({"communities": [{"id": "a", "households": 50},
                                               {"id": "b", "households": 20}]}, Path("."))
    one = _documents(fixture_tables, config, Month(2025, 9), None)
    two = _documents(fixture_tables, config, Month(2025, 9), 2)
    assert two == one
    portfolio = json.loads(two)["documents"]["_portfolio"]
    # Created in September: a T1-T4, T7, T9, T10 (T8 cancelled before the month's end;
    # T9 only on 10-05) and b T11 = 8.
    assert portfolio["tickets"]["created"] == 8
    # Arrears at the end: a 900.00 (test_metrics) and b: B11 500 − 300 paid, B12 60 = 260.
    assert portfolio["fees"]["arrears_at_end"] == 1160.0


@pytest.mark.parametrize("parts", [1, 2, 3, 5])
def test_sample_in_parts_is_the_one_pass_result(sample, parts):
    tables, config = sample
    for month in (Month(2025, 9), Month(2025, 2)):
        assert _documents(tables, config, month, parts) == _documents(tables, config, month,
                                                                       None), (month, parts)


def test_parts_are_of_about_equal_size(sample):
    tables, config = sample
    scope = build_scope(config, Month(2025, 9), [c.id for c in config.communities])
    names = community_codes(tables.tickets, tables.bills, tables.payments, scope)
    pieces = split(tables.tickets, tables.bills, tables.payments, names, 2)
    sizes = np.array([len(p.tickets) + len(p.bills) + len(p.payments) for p in pieces])
    total = len(tables.tickets) + len(tables.bills) + len(tables.payments)
    assert sizes.sum() == total
    assert sizes.min() > total / 4
    assert not set(pieces[0].tickets["community"]) & set(pieces[1].tickets["community"])


def test_trend_months_keep_scalars_only_and_the_months_shown_keep_everything(sample):
    """Of the 13 months a run computes, only the month, the one before and the same
    month last year need their fee groups and ageing; the other ten keep their scalar
    KPIs for the trend. The three shown must be exactly what computing each month on
    its own gives, groups included."""
    tables, config = sample
    month = Month(2025, 9)
    scope = build_scope(config, month, [c.id for c in config.communities])
    partials = month_partials(tables.tickets, tables.bills, tables.payments, scope,
                              tables.available)
    full = {month, Month(2025, 8), Month(2024, 9)}
    assert {m for m, p in partials.items() if len(p.fees.groups["building"]["label"])} == full
    assert all(len(partials[m].fees.groups["building"]["label"]) == 0
               for m in partials if m not in full)
    communities = [c.id for c in config.communities]
    targets = {s: config.targets_for(s if s in communities else None) for s in scope.scopes}
    result = month_documents(tables.tickets, tables.bills, tables.payments, scope,
                             tables.available, targets,
                             data_quality(tables, scope, communities))
    for shown, blocks in ((month, {s: {"tickets": d["tickets"], "fees": d["fees"]}
                                   for s, d in result.documents.items()}),
                          (Month(2025, 8), result.previous), (Month(2024, 9), result.last_year)):
        alone = month_metrics(tables.tickets, tables.bills, tables.payments,
                              _shifted(scope, shown), tables.available)
        assert blocks == alone, shown
        assert alone["_portfolio"]["fees"]["by_building"]  # groups there to compare
    # The trend's values are those of each month on its own.
    trend = result.documents["_portfolio"]["trend"]["fees.collection_rate_month"]
    for name, value in zip(trend["months"], trend["values"], strict=True):
        alone = month_metrics(tables.tickets, tables.bills, tables.payments,
                              _shifted(scope, Month.parse(name)), tables.available)
        assert value == alone["_portfolio"]["fees"]["collection_rate_month"], name
