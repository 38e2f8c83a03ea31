"""The canonical cache: a hit gives the same tables as a cold read; anything that could
change an entry misses; a damaged entry is rebuilt."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from yuebao.tasks.ingest import Cache, ingest

TICKETS = ("ticket_id,community,created_at,type,category,priority\n"
           "T1,a,2025-09-01 08:00:00,repair,elevator,urgent\n"
           "T2,a,2025-09-02 08:00:00,nonsense,elevator,normal\n"
           ",a,2025-09-02 08:00:00,repair,elevator,normal\n")
BILLS = ("bill_id,community,building,unit,fee_item,period,due_date,amount_due\n"
         "B1,a,1,101,物业费,2025-09,2025-09-01,100.00\nB2,a,1,102,物业费,2025-09,2025-09-01,-1\n")
PAYMENTS = ("payment_id,bill_id,paid_at,amount\nP1,B1,2025-09-03 10:00:00,50\n"
            "P2,B9,2025-09-03 10:00:00,50\n")


def _run(folder: Path, cache: Cache):
    sources = {"tickets": ["tickets.csv"], "bills": ["bills.csv"], "payments": ["payments.csv"]}
    return ingest(sources, folder, "Asia/Shanghai", cache=cache)


def _write(folder: Path) -> None:
    for name, text in (("tickets", TICKETS), ("bills", BILLS), ("payments", PAYMENTS)):
        (folder / f"{name}.csv").write_text(text, "utf-8")


def _same(a, b) -> None:
    for name in ("tickets", "bills", "payments", "quarantine", "files"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert a.notes == b.notes


def test_a_hit_gives_the_tables_of_a_cold_read_and_a_change_misses(tmp_path):
    _write(tmp_path)
    cache = Cache(tmp_path / "cache")
    cold = _run(tmp_path, cache)
    assert (cache.hits, cache.misses) == (0, 3)
    warm = _run(tmp_path, cache)
    assert (cache.hits, cache.misses) == (3, 3)
    _same(cold, warm)
    assert list(cold.quarantine["code"]) == ["missing", "not_positive", "unknown_bill"]
    (tmp_path / "bills.csv").write_text(BILLS + "B9,a,1,103,物业费,2025-09,2025-09-01,50\n")
    third = _run(tmp_path, cache)
    assert cache.misses == 4  # the bills file only; P2 now finds its bill
    assert list(third.quarantine["code"]) == ["missing", "not_positive"]
    other = Cache(tmp_path / "cache", code="another version")
    _run(tmp_path, other)
    assert other.misses == 3


def test_a_damaged_entry_is_rebuilt(tmp_path):
    _write(tmp_path)
    cache = Cache(tmp_path / "cache")
    cold = _run(tmp_path, cache)
    parquet = sorted((tmp_path / "cache").rglob("rows.parquet"))
    parquet[0].write_bytes(parquet[0].read_bytes()[:20])
    manifests = [m for m in sorted((tmp_path / "cache").rglob("manifest.json"))
                 if m.parent != parquet[0].parent]
    manifests[0].unlink()
    again = Cache(tmp_path / "cache")
    _same(cold, _run(tmp_path, again))
    assert again.misses == 2 and again.hits == 1
