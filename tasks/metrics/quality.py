"""Data quality of a run: the row counts of metrics.json, and whose rows were rejected.

The counts are the whole run's (kpis.md section 5: the same in every scope's
file). A community's draft should speak only of its own rejected rows, so each
quarantined row is also attributed to the community it names, read from the
source column that the file's mapping takes the community from; a row that names
none (a garbled line, an empty cell) is counted as unattributed: in the
portfolio's totals, and in one sentence of its own in every community's draft.
"""

from __future__ import annotations

import json

import pandas as pd

from yuebao.schema import TABLES
from yuebao.tasks.ingest import Ingested
from yuebao.tasks.metrics.scope import Scope


def quarantine_communities(quarantine: pd.DataFrame,
                           columns: dict[tuple[str, str], dict[str, str]]) -> pd.Series:
    """The community each quarantined row names (NA where it names none).

    ``columns`` is the run's canonical field -> source column per (table, file).
    """
    named = pd.Series(pd.NA, index=quarantine.index, dtype="string")
    for (table, file), rows in quarantine.groupby(["table", "file"], sort=False):
        source = columns.get((str(table), str(file)), {}).get("community")
        if not source:
            continue
        named.loc[rows.index] = rows["raw"].map(_record).str.get(source).astype("string")
    return named.str.strip().replace("", pd.NA)


def _record(raw: object) -> dict:
    """A quarantined row's source fields (a line the reader could not split has none)."""
    try:
        record = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def data_quality(ingested: Ingested, scope: Scope, configured: list[str]) -> dict:
    """The run's row counts and notes: the ``data_quality`` block of every metrics.json,
    with the quarantined rows by the community they name (``quarantined_by_community``)
    and those that name none of the run's communities (``quarantined_unattributed``),
    table by table."""
    notes = list(ingested.notes)
    notes += [{"code": "unconfigured_community", "community": c}
              for c in scope.communities if c not in configured]
    if "tickets" in ingested.available:
        notes.append({"code": "snapshot_limits"})
    quarantine = ingested.quarantine
    named = quarantine_communities(quarantine, ingested.columns)
    counts = (pd.DataFrame({"community": named.fillna(""), "table": quarantine["table"]})
              .value_counts())
    by_community: dict[str, dict[str, int]] = {}
    unattributed = dict.fromkeys(TABLES, 0)
    known = set(scope.communities)
    for (community, table), n in counts.items():
        if community in known:
            by_community.setdefault(str(community), dict.fromkeys(TABLES, 0))[str(table)] = int(n)
        else:
            unattributed[str(table)] = int(n)
    return {**ingested.totals(), "notes": notes,
            "quarantined_by_community": dict(sorted(by_community.items())),
            "quarantined_unattributed": unattributed}
