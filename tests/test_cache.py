"""The canonical cache: a hit gives the same tables as a cold read, and a warm
``yuebao run`` the same files as a cold one; anything that could change an entry
misses; a damaged entry is rebuilt; two processes can fill it at once."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd
from filelock import FileLock

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


def test_low_cardinality_text_is_dictionary_encoded_across_files_cold_and_warm(tmp_path):
    """Two bills files name different communities, buildings and units, one building is
    empty everywhere in its file (an empty category read back from Parquet): the
    canonical tables hold them as categoricals with the sorted union of the files'
    text, each row its own value; payments take their bill's community."""
    (tmp_path / "b1.csv").write_text(
        "bill_id,community,building,unit,fee_item,period,due_date,amount_due\n"
        "B1,b,2,201,物业费,2025-09,2025-09-01,100.00\n"
        "B2,a,1,101,车位费,2025-08,2025-08-01,30.00\n", "utf-8")
    (tmp_path / "b2.csv").write_text(
        "bill_id,community,building,unit,fee_item,period,due_date,amount_due\n"
        "B3,c,,,物业费,2025-09,2025-09-01,80.00\n", "utf-8")
    (tmp_path / "p.csv").write_text("payment_id,bill_id,paid_at,amount\n"
                                    "P1,B3,2025-09-03 10:00:00,50\n"
                                    "P2,B1,2025-09-04 10:00:00,20\n", "utf-8")
    (tmp_path / "t.csv").write_text(TICKETS, "utf-8")
    sources = {"tickets": ["t.csv"], "bills": ["b1.csv", "b2.csv"], "payments": ["p.csv"]}
    cache = Cache(tmp_path / "cache")
    cold = ingest(sources, tmp_path, "Asia/Shanghai", cache=cache)
    warm = ingest(sources, tmp_path, "Asia/Shanghai", cache=cache)
    assert (cache.hits, cache.misses) == (4, 4)
    _same(cold, warm)
    for ingested in (cold, warm):
        bills = ingested.bills
        expected = {"community": (["a", "b", "c"], ["b", "a", "c"]),
                    "building": (["1", "2"], ["2", "1", None]),
                    "unit": (["101", "201"], ["201", "101", None]),
                    "fee_item": (["物业费", "车位费"], ["物业费", "车位费", "物业费"]),
                    "period": (["2025-08", "2025-09"], ["2025-09", "2025-08", "2025-09"])}
        for column, (categories, values) in expected.items():
            assert isinstance(bills[column].dtype, pd.CategoricalDtype), column
            assert list(bills[column].cat.categories) == categories
            assert str(bills[column].cat.categories.dtype) == "str"
            assert bills[column].astype(object).where(bills[column].notna(), None).tolist() \
                == values
        payments = ingested.payments
        assert payments["community"].dtype == bills["community"].dtype
        assert payments["community"].tolist() == ["c", "b"]
        tickets = ingested.tickets
        assert list(tickets["type"].cat.categories) == ["other", "repair"]  # T2: nonsense
        assert tickets["type"].tolist() == ["repair", "other"]
        assert tickets["community"].tolist() == ["a", "a"]


def test_duplicates_across_files_of_different_id_widths_are_found_cold_and_warm(tmp_path):
    """Each file's keys are hashed (and cached) on their own: the same id must hash the
    same in a file of short ids and one with a 40-character id, or a duplicate across
    them would pass as distinct. Read last wins: the second file's B1, P1 and T1."""
    long = "B" + "7" * 39
    (tmp_path / "b1.csv").write_text(
        "bill_id,community,building,unit,fee_item,period,due_date,amount_due\n"
        "B1,a,1,101,物业费,2025-09,2025-09-01,100.00\n"
        "B2,a,1,102,物业费,2025-09,2025-09-01,100.00\n", "utf-8")
    (tmp_path / "b2.csv").write_text(
        "bill_id,community,building,unit,fee_item,period,due_date,amount_due\n"
        f"{long},a,1,103,物业费,2025-09,2025-09-01,70.00\n"
        "B1,a,1,101,物业费,2025-09,2025-09-01,90.00\n", "utf-8")
    (tmp_path / "p1.csv").write_text("payment_id,bill_id,paid_at,amount\n"
                                     "P1,B1,2025-09-03 10:00:00,50\n", "utf-8")
    (tmp_path / "p2.csv").write_text("payment_id,bill_id,paid_at,amount\n"
                                     f"P{'9' * 30},{long},2025-09-03 10:00:00,5\n"
                                     "P1,B1,2025-09-04 10:00:00,60\n", "utf-8")
    (tmp_path / "t1.csv").write_text("ticket_id,community,created_at,type\n"
                                     "T1,a,2025-09-01 08:00:00,repair\n", "utf-8")
    (tmp_path / "t2.csv").write_text("ticket_id,community,created_at,type\n"
                                     "T1,a,2025-09-01 08:00:00,complaint\n"
                                     "T1,a-much-longer-community-name,2025-09-01 08:00:00,"
                                     "repair\n", "utf-8")
    sources = {"tickets": ["t1.csv", "t2.csv"], "bills": ["b1.csv", "b2.csv"],
               "payments": ["p1.csv", "p2.csv"]}
    cache = Cache(tmp_path / "cache")
    cold = ingest(sources, tmp_path, "Asia/Shanghai", cache=cache)
    warm = ingest(sources, tmp_path, "Asia/Shanghai", cache=cache)
    assert cache.hits == 6
    _same(cold, warm)
    for ingested in (cold, warm):
        assert ingested.totals()["bills"]["duplicate"] == 1
        assert ingested.totals()["payments"]["duplicate"] == 1
        assert ingested.totals()["tickets"]["duplicate"] == 1
        bills = ingested.bills.set_index("bill_id")["amount_due"]
        assert bills.to_dict() == {"B2": 10000, long: 7000, "B1": 9000}
        assert ingested.payments.set_index("payment_id")["amount"]["P1"] == 6000
        assert sorted(zip(ingested.tickets["community"], ingested.tickets["type"],
                          strict=True)) == [("a", "complaint"),
                                            ("a-much-longer-community-name", "repair")]


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


def test_what_a_crash_leaves_of_an_unsynced_entry_is_a_miss(tmp_path):
    """Entries are renamed into place but not synced to disk: after a crash a part may
    be empty or short, or the manifest cut off, and each such entry is rebuilt."""
    _write(tmp_path)
    cold = _run(tmp_path, Cache(tmp_path / "cache"))
    entries = sorted(m.parent for m in (tmp_path / "cache").rglob("manifest.json"))
    assert len(entries) == 3
    (entries[0] / "rows.parquet").write_bytes(b"")
    quarantine = entries[1] / "quarantine.parquet"
    quarantine.write_bytes(quarantine.read_bytes()[:-8])
    manifest = entries[2] / "manifest.json"
    manifest.write_bytes(manifest.read_bytes()[: manifest.stat().st_size // 2])
    again = Cache(tmp_path / "cache")
    _same(cold, _run(tmp_path, again))
    assert again.misses == 3 and again.hits == 0
    third = Cache(tmp_path / "cache")
    _same(cold, _run(tmp_path, third))
    assert third.hits == 3


def _profile(folder: Path, extra: str = "") -> str:
    """A profile file: the canonical one under the same name, not strict (so that its
    labels are mapped), with ``extra`` added."""
    from importlib import resources

    text = resources.files("yuebao.knowledge").joinpath("profiles", "canonical.toml").read_text(
        "utf-8")
    path = folder / "profile.toml"
    assert "strict = true\n" in text
    path.write_text(text.replace("strict = true\n", "strict = false\n") + extra, "utf-8")
    return str(path)


def test_a_changed_mapping_misses_and_its_rows_follow_the_new_mapping(tmp_path):
    _write(tmp_path)
    sources = {"tickets": ["tickets.csv"], "bills": ["bills.csv"], "payments": ["payments.csv"]}
    cache = Cache(tmp_path / "cache")
    before = ingest(sources, tmp_path, "Asia/Shanghai", _profile(tmp_path), cache=cache)
    assert (cache.hits, cache.misses) == (0, 3)
    assert list(before.tickets["type"]) == ["repair", "other"]  # an unknown label
    assert [n["code"] for n in before.notes] == ["unknown_label"]
    # Same file name, same profile name, one more value mapped: "nonsense" is a repair.
    changed = _profile(tmp_path, '\n[tickets.values.type]\nnonsense = "repair"\n')
    after = ingest(sources, tmp_path, "Asia/Shanghai", changed, cache=cache)
    assert (cache.hits, cache.misses) == (0, 6)  # the whole profile is in every key
    assert list(after.tickets["type"]) == ["repair", "repair"]
    assert after.notes == []
    assert list(after.quarantine["code"]) == ["missing", "not_positive", "unknown_bill"]
    uncached = ingest(sources, tmp_path, "Asia/Shanghai", changed)
    _same(after, uncached)


# ------------------------------------------------------------------ two processes at once

def _fill(folder: str, cache_dir: str, start, out: str) -> None:
    """A process of its own: wait for the start, ingest through the shared cache,
    and leave its tables and counts as a pickle."""
    import pickle

    from yuebao.tasks.ingest import Cache, ingest

    cache = Cache(Path(cache_dir))
    start.wait(60)
    got = ingest(_SOURCES, Path(folder), "Asia/Shanghai", cache=cache)
    Path(out).write_bytes(pickle.dumps((got, cache.hits, cache.misses)))


_SOURCES = {"tickets": ["tickets*.csv"], "bills": ["bills*.csv"], "payments": ["payments*.csv"]}


def _many_files(folder: Path) -> None:
    """Twelve files of a few thousand rows: long enough for two processes to overlap."""
    for month in range(1, 5):
        tickets = ["ticket_id,community,created_at,type,category,priority"]
        bills = ["bill_id,community,building,unit,fee_item,period,due_date,amount_due"]
        payments = ["payment_id,bill_id,paid_at,amount"]
        for n in range(3000):
            tickets.append(f"T{month}-{n},c{n % 3},2025-0{month}-0{1 + n % 9} 08:00:00,"
                           f"{'repair' if n % 50 else 'nonsense'},elevator,normal")
            bills.append(f"B{month}-{n},c{n % 3},{n % 7},{n},物业费,2025-0{month},"
                         f"2025-0{month}-01,{100 + n % 13}.50")
            payments.append(f"P{month}-{n},B{month}-{n if n % 40 else 99999},"
                            f"2025-0{month}-1{n % 9} 10:00:00,{50 + n % 5}")
        for name, lines in (("tickets", tickets), ("bills", bills), ("payments", payments)):
            (folder / f"{name}-{month}.csv").write_text("\n".join(lines) + "\n", "utf-8")


def test_two_processes_filling_the_cache_at_once_do_not_corrupt_it(tmp_path):
    import multiprocessing
    import pickle

    _many_files(tmp_path)
    expected = ingest(_SOURCES, tmp_path, "Asia/Shanghai")  # no cache
    assert len(expected.quarantine) > 0
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    outs = [tmp_path / f"out{i}.pickle" for i in range(2)]
    workers = [context.Process(target=_fill, args=(str(tmp_path), str(tmp_path / "cache"), start,
                                                   str(out))) for out in outs]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(300)
        assert worker.exitcode == 0
    results = [pickle.loads(out.read_bytes()) for out in outs]
    for got, _, _ in results:
        _same(expected, got)
    # Every file was checked once by one process or the other, never twice.
    assert sum(misses for _, _, misses in results) == 12
    assert sum(hits for _, hits, _ in results) == 12
    assert not list((tmp_path / "cache").rglob("*.tmp"))
    after = Cache(tmp_path / "cache")
    _same(expected, ingest(_SOURCES, tmp_path, "Asia/Shanghai", cache=after))
    assert (after.hits, after.misses) == (12, 0)


# ------------------------------------------------------------------ through the command

def _outputs(month_dir: Path) -> dict[str, bytes]:
    names = ("metrics.json", "data_quality.json", "quarantine.csv")
    return {p.relative_to(month_dir).as_posix(): p.read_bytes()
            for name in names for p in sorted(month_dir.rglob(name))}


def test_a_warm_run_writes_the_figures_and_quarantine_of_a_cold_run(tmp_path, prefect_server):
    """``yuebao run --no-send`` twice: the second reads every export from the cache."""
    from yuebao.cli import main
    from yuebao.months import Month
    from yuebao.tasks.sample_config import write_sample_config
    from yuebao.tasks.sample_data import generate_sample

    data = generate_sample(tmp_path, seed=5, communities=2, months=3, scale=0.15,
                           last_month=Month.parse("2025-09"))  # zh-generic: CSV, GBK, .xlsx
    config = write_sample_config(data, tmp_path / "yuebao.toml")
    cache = Path(os.environ["YUEBAO_CACHE_DIR"])  # this test's own (conftest)
    month_dir = tmp_path / "out" / "2025-09"
    command = ["run", "--config", str(config), "--month", "2025-09", "--no-send"]

    assert main(command) == 0
    cold = _outputs(month_dir)
    manifests = sorted(cache.rglob("manifest.json"))
    files = sum(len(data.files(t)) for t in data.rows)
    assert len(manifests) == files  # one entry per export file, filled by the cold run
    filled = {m: m.stat().st_mtime_ns for m in manifests}
    for path in month_dir.rglob("*.json"):
        path.unlink()
    (month_dir / "quarantine.csv").unlink()
    # An entry of an export replaced long ago: the run removes it (cache_keep_days, 90).
    stale = cache / "v1" / "zz" / ("zz" + "0" * 30)
    stale.mkdir(parents=True)
    (stale / "rows.parquet").write_bytes(b"rows of an old export")
    os.utime(stale, (time.time() - 100 * 86400,) * 2)

    assert main(command) == 0
    warm = _outputs(month_dir)
    assert not stale.exists()
    assert {m: m.stat().st_mtime_ns for m in sorted(cache.rglob("manifest.json"))} == filled
    # metrics.json of two communities and the portfolio, data_quality.json, quarantine.csv
    assert sorted(cold) == sorted(warm) and len(cold) == 3 + 2
    for name in cold:
        assert warm[name] == cold[name], name
    quarantined = pd.read_csv(month_dir / "quarantine.csv", dtype=str, encoding="utf-8-sig")
    assert len(quarantined) > 0  # the sample's defects


def test_entries_unused_for_the_kept_days_are_pruned_and_the_rest_stay(tmp_path):
    """A month's run reads last month's entries again (they stay); an export replaced
    since leaves an entry nobody reads, removed once unused for ``cache_keep_days``.
    A half-written entry ages the same way; one another process holds is left."""
    _write(tmp_path)
    cache = Cache(tmp_path / "cache")
    _run(tmp_path, cache)
    entries = sorted((tmp_path / "cache" / "v1").glob("*/*"))
    assert len([e for e in entries if e.is_dir()]) == 3
    (tmp_path / "bills.csv").write_text(BILLS + "B9,a,1,103,物业费,2025-09,2025-09-01,50\n")
    old = time.time() - 100 * 86400
    for entry in (tmp_path / "cache" / "v1").glob("*/*"):
        if entry.is_dir():
            os.utime(entry, (old, old))
    half = tmp_path / "cache" / "v1" / "zz" / ("zz" + "0" * 30)
    half.mkdir(parents=True)
    (half / "rows.parquet").write_bytes(b"partial")
    os.utime(half, (old, old))
    held = tmp_path / "cache" / "v1" / "yy" / ("yy" + "0" * 30)
    held.mkdir(parents=True)
    os.utime(held, (old, old))
    warm = _run(tmp_path, cache)  # tickets and payments read again: used today
    with FileLock(str(held) + ".lock"):
        pruned = cache.prune(90)
    assert pruned.entries == 2  # the replaced bills file's entry and the half-written one
    assert pruned.bytes > 0
    left = {e.name for e in (tmp_path / "cache" / "v1").glob("*/*") if e.is_dir()}
    assert half.name not in left and held.name in left
    assert len(left) == 4  # tickets, payments, the new bills, the held one
    again = Cache(tmp_path / "cache")
    _same(warm, _run(tmp_path, again))
    assert (again.hits, again.misses) == (3, 0)
    assert cache.prune(90).entries == 1  # the held one, now free


def test_an_entry_read_back_as_pandas_would_read_it(tmp_path):
    """Dictionary columns are made categorical by the cache itself: batches sharing one
    dictionary, batches of different dictionaries, missing values, a table of dictionary
    columns only and an empty one all read back as ``to_pandas`` reads them."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from yuebao.tasks.ingest.cache import _frame, _parquet

    def back(frame: pd.DataFrame, cached: bool = False, **options) -> pa.Table:
        buffer = io.BytesIO()
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if cached:  # as the cache writes it: LZ4, dictionaries only where they were
            _parquet(table, buffer)
        else:
            pq.write_table(table, buffer, **options)
        return pq.read_table(pa.BufferReader(buffer.getvalue()))

    units = pd.Series(["1-101", None, "1-102", "2-1"] * 50, dtype="str").astype("category")
    frame = pd.DataFrame({"bill_id": [f"B{i}" for i in range(200)], "unit": units,
                          "amount_due": pd.array(range(200), dtype="Int64")})
    one_dictionary = back(frame, row_group_size=20)  # ten batches, one dictionary
    assert one_dictionary.column("unit").num_chunks > 1
    two = pa.concat_tables([back(frame.iloc[:100]), back(frame.iloc[100:].assign(
        unit=pd.Series(["9-9"] * 100, dtype="str").astype("category")))])
    cached = back(frame, cached=True)
    assert pa.types.is_dictionary(cached.schema.field("unit").type)
    assert cached.schema.field("bill_id").type in (pa.string(), pa.large_string())
    for table in (one_dictionary, two, back(frame[["unit"]]), back(frame.iloc[:0]), cached,
                  back(frame[["bill_id"]], cached=True)):
        expected = table.to_pandas()
        got = _frame(table)
        if len(table):
            pd.testing.assert_frame_equal(got, expected, check_exact=True)
        assert list(got.columns) == list(expected.columns) and len(got) == len(expected)
    assert _frame(two)["unit"].cat.categories.tolist() == ["1-101", "1-102", "2-1", "9-9"]
    assert _frame(back(frame.iloc[:0]))["unit"].cat.categories.dtype == "str"
