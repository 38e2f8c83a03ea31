"""Per-file checks -> one canonical table: what needs every file of the run at once.

A file's own checks (``validate.check_file``) can be kept in the cache; what
depends on the other files is made here on every run, vectorized: the tie of
each payment to its bill (and so its community and ``bill_row``), duplicates
across files, the per-file accounts and the data-quality notes.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from yuebao.schema import BILL_KEY
from yuebao.tasks.ingest.parse import Lookup, arrow_text, concat_encoded
from yuebao.tasks.ingest.validate import (
    ACCOUNT_COLUMNS,
    QUARANTINE_COLUMNS,
    Checked,
    _kept,
    _losers,
    hashed,
)

_LINK_CODES = np.array(["", "unknown_bill", "key_matches_no_bill", "key_matches_several_bills"])


class MissingRecords(Exception):
    """Payments failed their bill link and their file's cached entry has no record for
    them (the bills changed since it was filled): those files must be checked again."""

    def __init__(self, files: list[int]) -> None:
        super().__init__(files)
        self.files = files


class Combined(NamedTuple):
    """One table of the run, from its files' own checks."""

    rows: pd.DataFrame  # the used rows
    quarantine: pd.DataFrame
    accounts: pd.DataFrame  # per file: read, used, quarantined, duplicate
    notes: list[dict]
    key_hashes: np.ndarray | None  # of the used rows' keys (parse.key_hashes), in order


def link_payments(rows: pd.DataFrame, valid_bills: pd.DataFrame,
                  bill_lookup: Lookup | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """Each payment tied to one valid bill; and per row its link failure code (0 = none).

    ``bill_row`` keeps the tie as found: the row of the bill in ``valid_bills``,
    the bills table of the same ingest, so the fee metrics need not look up
    millions of bill ids a second time. ``bill_lookup`` finds those bills' ids.
    """
    lookup = bill_lookup or Lookup(valid_bills["bill_id"], None)
    bill_id = rows["bill_id"]
    named = bill_id.notna().to_numpy()
    position = lookup.positions(bill_id, rows["_bill_hash"].to_numpy()
                                if hashed(rows, "_bill_hash") else None)
    known = np.asarray(position.is_valid(), dtype=bool)
    code = np.where(named & ~known, 1, 0)
    keyed = ~named
    if keyed.any():
        key_frame = pd.DataFrame({
            k: (rows[f"_key_{k}"] if f"_key_{k}" in rows.columns
                else pd.Series(pd.NA, index=rows.index, dtype="str"))
            for k in BILL_KEY})[keyed]
        keys = valid_bills[[*BILL_KEY, "bill_id"]].astype({k: "str" for k in BILL_KEY})
        joined = key_frame.reset_index().merge(keys, on=list(BILL_KEY), how="left")
        counts = joined.groupby("index")["bill_id"].agg(["count", "first"])
        matches = pd.Series(0, index=rows.index)
        matches[keyed] = counts["count"]
        bill_id = bill_id.mask(keyed & matches.eq(1), counts["first"])
        position = lookup.positions(bill_id, None)
        code = np.where(keyed & matches.eq(0).to_numpy(), 2,
                        np.where(keyed & matches.gt(1).to_numpy(), 3, code))
    out = rows[["payment_id", "paid_at", "amount"]].copy()
    out["bill_id"] = bill_id
    out["community"] = _taken(valid_bills["community"], position, rows.index)
    out["bill_row"] = np.asarray(position.fill_null(-1), dtype=np.int64)
    for name in ("_source", "_row", "_key_hash"):
        if name in rows:
            out[name] = rows[name]
    return out, code


def _taken(column: pd.Series, position: pa.Array, index: pd.Index) -> pd.Series:
    """``column`` at ``position`` (missing where it is null): codes taken when the
    column is dictionary-encoded, as the bills' community is."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = np.append(column.cat.codes.to_numpy(), -1)  # a null position takes -1
        at = np.asarray(position.fill_null(len(column)), dtype=np.int64)
        return pd.Series(pd.Categorical.from_codes(codes[at], dtype=column.dtype), index=index)
    return pc.take(arrow_text(column), position).to_pandas().set_axis(index)


def _link_quarantine(checked: list[Checked], rows: pd.DataFrame,
                     code: np.ndarray) -> list[pd.DataFrame | None]:
    """Per file, the quarantine records of payments that failed their bill link."""
    failed = rows.loc[code > 0, ["_source", "_row"]].assign(code=_LINK_CODES[code[code > 0]])
    frames: list[pd.DataFrame | None] = []
    missing: list[int] = []
    for number, entry in enumerate(checked):
        mine = failed[failed["_source"].to_numpy() == number]
        if mine.empty:
            frames.append(None)
            continue
        found = mine.merge(entry.pending, on="_row", how="left")
        if found["raw"].isna().any():
            missing.append(number)
            continue
        total = found["total"].notna()
        frames.append(pd.DataFrame({
            "_row": found["_row"], "line": found["line"].astype("int64"),
            "code": found["code"].where(~total, "total_row"),
            "field": found["total"].fillna("bill_id"), "value": found["value"],
            "raw": found["raw"]}))
    if missing:
        raise MissingRecords(missing)
    return frames


def combine(table: str, checked: list[Checked], valid_bills: pd.DataFrame | None = None,
            bill_lookup: Lookup | None = None) -> Combined:
    """One table's used rows, quarantine, per-file accounts and notes, from its files'
    own checks in file order ("read last" is the later file, then the later row).
    Payments are tied to ``valid_bills``, whose ids ``bill_lookup`` finds."""
    rows = concat_encoded([c.rows.assign(_source=i) for i, c in enumerate(checked)])
    rows["_order"] = np.arange(len(rows))
    linked = table == "payments" and valid_bills is not None
    link_code = np.zeros(len(rows), dtype=np.int64)
    link_frames: list = [None] * len(checked)
    if linked:
        order = rows["_order"]
        rows, link_code = link_payments(rows, valid_bills, bill_lookup)
        rows["_order"] = order
        link_frames = _link_quarantine(checked, rows, link_code)
    valid = link_code == 0
    duplicate = _losers(rows, valid, table).to_numpy(dtype=bool)
    # status 0 used, 1 quarantined, 2 duplicate; counted per file
    status = np.where(~valid, 1, np.where(duplicate, 2, 0))
    counts = np.bincount(rows["_source"].to_numpy() * 3 + status,
                         minlength=3 * len(checked)).reshape(len(checked), 3)
    own = np.array([len(c.quarantine) + len(c.rejected) for c in checked], dtype=np.int64)
    accounts = pd.DataFrame({
        "file": [c.shown for c in checked], "table": table,
        "read": np.array([c.read for c in checked], dtype=np.int64),
        "used": counts[:, 0], "quarantined": counts[:, 1] + own, "duplicate": counts[:, 2],
    }, columns=ACCOUNT_COLUMNS)
    used = status == 0
    notes = []
    for i, (code, name) in enumerate(checked[0].notes if checked else []):
        text = rows[f"_note{i}"]
        hit = text.notna().to_numpy() & used
        if hit.any():
            examples = text[hit].value_counts().head(3).index.tolist()
            notes.append({"code": code, "table": table, "field": name,
                          "count": int(hit.sum()), "examples": examples})
    helpers = [c for c in rows.columns if c.startswith("_")]
    kept = _kept(rows.drop(columns=helpers), used)
    return Combined(kept, _quarantine(table, checked, link_frames), accounts, notes,
                    rows["_key_hash"].to_numpy()[used] if hashed(rows, "_key_hash") else None)


def _quarantine(table: str, checked: list[Checked], link_frames: list) -> pd.DataFrame:
    """Every rejected row of the table: file by file, in line order within a file."""
    frames = []
    for entry, linked in zip(checked, link_frames, strict=True):
        own = entry.quarantine
        if linked is not None:
            own = pd.concat([own, linked], ignore_index=True).sort_values("_row", kind="stable")
        parts = [own.drop(columns="_row").assign(field=own["field"])]
        if len(entry.rejected):
            parts.append(entry.rejected.assign(field=""))
        frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        if len(entry.rejected):
            frame = frame.sort_values("line", kind="stable")
        frames.append(frame.assign(file=entry.shown, table=table))
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=QUARANTINE_COLUMNS)
    return pd.concat(frames, ignore_index=True)[QUARANTINE_COLUMNS]
