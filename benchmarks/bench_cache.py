"""The canonical cache: how a month's cost grows with the history in the exports.

    nice .venv/bin/python benchmarks/bench_cache.py                       # 3 6 12 24 months
    nice .venv/bin/python benchmarks/bench_cache.py --history 3 12 --scale 0.5
    nice .venv/bin/python benchmarks/bench_cache.py --operator            # 5 GB of CSV
    nice .venv/bin/python benchmarks/bench_cache.py --zh-generic --scale 1

History growth (the default): for each length, canonical sample exports of that
many months ending with ``--month`` are generated once, then split into one file
per month and table (tickets by ``created_at``, bills by ``due_date``, payments
by ``paid_at``): the shape of a company that exports each month's rows once.
Each run is a fresh ``stages.py month`` process (ingest through the cache,
metrics, history, each measured on its own):

* **cold**: an empty cache, every file read, checked and stored;
* **warm**: the cache filled by the previous month's run (its ingest of every
  file but the month's own), then the month with its new files added.

Both runs' figures (every metrics document, the history, quarantine, the
per-file accounts and notes) are digested and must agree. As floors, in fresh
processes on the same files: ``pyarrow.csv.read_csv`` of every file and DuckDB
``read_csv`` of every file into a table (the ``bench`` extra).

``--operator``: the operator shape of issue 13 (6 communities, 15 months,
``--scale 250``: more than 300,000 tickets created in the month, 15 M bills and
10 M payments; the row counts are printed, check them). ``--zh-generic``: the
40-community zh-generic sample (CSV in GBK and UTF-8, ``.xlsx``) as
``yuebao sample-data --communities 40 --months 14 --scale 5`` writes it, one file
per community and table with the whole history: a new month changes every
file, so there the warm run is the same month again (cache filled by a first
run of the same files: a re-run, a backfill, ``validate`` before ``run``).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from common import DEFAULT_CACHE, Size, ensure_sample, mb, run_stage, table

# The column that puts a row in its month, per table of the canonical profile.
MONTH_COLUMN = {"tickets": "created_at", "bills": "due_date", "payments": "paid_at"}
_SPLIT = "split-v1"


def split_by_month(manifest: dict, cache: Path, regenerate: bool) -> dict:
    """The canonical exports of ``manifest`` as one file per month and table.

    Streams each file batch by batch (all columns as text, written back unquoted
    as the generator writes them). A row whose month cell is not ``YYYY-MM…``
    (the sample's deliberate defects) stays with the row before it. Returns a
    manifest like the generator's, whose ``months`` maps each month to its files.
    """
    source = Path(manifest["folder"])
    folder = cache / "split" / source.name
    done = folder / "manifest.json"
    if done.is_file() and not regenerate:
        kept = json.loads(done.read_text("utf-8"))
        if kept.get("split") == [_SPLIT, manifest["generator"]]:
            return kept
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    months: dict[str, dict[str, str]] = {}
    for name, paths in manifest["files"].items():
        (path,) = paths
        with open(path, "rb") as file:
            columns = file.readline().decode("utf-8").strip().split(",")
        reader = pacsv.open_csv(path, convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in columns}, strings_can_be_null=False))
        writers: dict[str, tuple] = {}
        carry: str | None = None
        for batch in reader:
            month = pc.utf8_slice_codeunits(batch.column(MONTH_COLUMN[name]), 0, 7)
            month = pc.if_else(pc.match_substring_regex(month, r"^\d{4}-\d{2}$"), month, None)
            month = pc.fill_null_forward(month)
            if carry is not None:
                month = month.fill_null(carry)
            month = pc.fill_null_backward(month)
            if month.null_count == len(month):
                month = pa.array([carry or manifest["size"]["last_month"]] * len(month))
            carry = month[-1].as_py()
            for value in pc.unique(month).to_pylist():
                if value not in writers:
                    out = folder / f"{name}-{value}.csv"
                    sink = pa.OSFile(str(out), "wb")
                    sink.write((",".join(columns) + "\n").encode())
                    writer = pacsv.CSVWriter(sink, batch.schema, write_options=pacsv.WriteOptions(
                        include_header=False, quoting_style="none"))
                    writers[value] = (sink, writer)
                    months.setdefault(value, {})[name] = str(out)
                writers[value][1].write_batch(batch.filter(pc.equal(month, value)))
        for sink, writer in writers.values():
            writer.close()
            sink.close()
    result = {**manifest, "folder": str(folder), "split": [_SPLIT, manifest["generator"]],
              "months": dict(sorted(months.items()))}
    result.update(_files(result, list(result["months"])))
    done.write_text(json.dumps(result, ensure_ascii=False, indent=1), "utf-8")
    return result


def _files(manifest: dict, months: list[str]) -> dict:
    """``files``, ``patterns`` and ``bytes`` of the given months' files."""
    files = {t: [manifest["months"][m][t] for m in months if t in manifest["months"][m]]
             for t in MONTH_COLUMN}
    return {"files": files, "patterns": files,
            "bytes": {t: sum(Path(p).stat().st_size for p in ps) for t, ps in files.items()}}


def _write(manifest: dict, path: Path) -> str:
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8")
    return str(path)


def _fresh(folder: Path) -> str:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return str(folder)


def measure(manifest: dict, cache: Path, month: str, new_month: bool) -> dict:
    """Floors, a cold run and a warm run of one data set (see the module's doc)."""
    folder = Path(manifest["folder"])
    every = _write(manifest, folder / "every.json")
    runs = cache / "runs" / folder.name
    result = {"manifest": manifest, "new_month": new_month,
              "pyarrow": run_stage("pyarrow", "--data", every),
              "duckdb": run_stage("duckdb", "--data", every)}
    try:
        result["cold"] = run_stage("month", "--data", every, "--month", month,
                                   "--cache-dir", _fresh(runs / "cold"))
        warm_cache = _fresh(runs / "warm")
        if new_month:
            before = [m for m in manifest["months"] if m < month]
            previous = _write({**manifest, **_files(manifest, before)}, folder / "previous.json")
            result["fill"] = run_stage("month", "--data", previous, "--month", before[-1],
                                       "--cache-dir", warm_cache, "--ingest-only")
        else:
            result["fill"] = run_stage("month", "--data", every, "--month", month,
                                       "--cache-dir", warm_cache, "--ingest-only")
        result["warm"] = run_stage("month", "--data", every, "--month", month,
                                   "--cache-dir", warm_cache)
        result["cache_bytes"] = sum(p.stat().st_size for p in Path(warm_cache).rglob("*")
                                    if p.is_file())
    finally:
        shutil.rmtree(runs, ignore_errors=True)
    return result


def _seconds(figures: dict) -> str:
    return f"{figures['seconds']:.2f} / {mb(figures['peak_kib'])}"


def report(results: list[dict]) -> str:
    header = ["exports", "rows", "CSV MB", "run", "ingest", "metrics", "history",
              "total s", "cpu s", "peak MB", "files hit / read"]
    rows = []
    for r in results:
        m = r["manifest"]
        first = [f"{m['size']['months']} months", f"{sum(m['rows'].values()):,}",
                 f"{sum(m['bytes'].values()) / 2**20:,.0f}"]
        for i, name in enumerate(("pyarrow", "duckdb", "cold", "warm")):
            f = r[name]
            cells = first if i == 0 else [""] * 3
            if name in ("pyarrow", "duckdb"):
                label = {"pyarrow": "pyarrow.csv", "duckdb": "duckdb read_csv"}[name]
                if name == "pyarrow" and any(p.endswith(".xlsx")
                                             for ps in m["files"].values() for p in ps):
                    label += " + calamine"
                if f.get("skipped_files"):
                    label += f" ({f['skipped_files']} files left out)"
                if f.get("as_text"):
                    label += f" ({f['as_text']} read as text)"
                rows.append([*cells, label, _seconds(f), "", "", f"{f['seconds']:.2f}",
                             f"{f['cpu_seconds']:.2f}", mb(f["peak_kib"]), ""])
                continue
            total = sum(f[s]["seconds"] for s in ("ingest", "metrics", "history"))
            cpu = sum(f[s]["cpu_seconds"] for s in ("ingest", "metrics", "history"))
            peak = max(f[s]["peak_kib"] for s in ("ingest", "metrics", "history"))
            label = name if name == "cold" or r.get("new_month", True) else "warm (same files)"
            rows.append([*cells, label, _seconds(f["ingest"]), _seconds(f["metrics"]),
                         _seconds(f["history"]), f"{total:.2f}", f"{cpu:.2f}", mb(peak),
                         f"{f['hits']} / {f['misses']}"])
    lines = [table(rows, header), "",
             "ingest / metrics / history: wall s / peak MB of each, measured apart in one",
             "process (the peak reset at each start, inputs held included). total: their sum;",
             "cpu s: user + system time of the process over the same spans (below wall s when",
             "the machine is shared, above it when pyarrow or DuckDB threads work in parallel).",
             "files hit / read: files taken from the cache / read and checked (and stored).", ""]
    for r in results:
        same = r["cold"]["digest"] == r["warm"]["digest"]
        fill = r["fill"]["ingest"]
        lines.append(f"{r['manifest']['size']['months']} months: cold and warm figures "
                     f"{'identical' if same else 'DIFFERENT'} (digest {r['cold']['digest']}); "
                     f"the previous run that filled the cache: {_seconds(fill)}; cache "
                     f"{r['cache_bytes'] / 2**20:,.0f} MB")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    import argparse

    arguments = argparse.ArgumentParser(description=__doc__,
                                        formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--history", type=int, nargs="+", default=[3, 6, 12, 24],
                           help="months of exports, the month computed included")
    arguments.add_argument("--communities", type=int, default=40)
    arguments.add_argument("--scale", type=float, help="sample-data --scale (default 1; "
                           "--operator 250, --zh-generic 5)")
    arguments.add_argument("--seed", type=int, default=7)
    arguments.add_argument("--month", default="2025-09")
    arguments.add_argument("--operator", action="store_true",
                           help="6 communities, 15 months, scale 250, canonical, split by month")
    arguments.add_argument("--zh-generic", action="store_true",
                           help="40 communities, 14 months, scale 5, zh-generic, as written")
    arguments.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                           help=f"sample exports and runs' caches (default {DEFAULT_CACHE})")
    arguments.add_argument("--regenerate", action="store_true")
    arguments.add_argument("--json", type=Path, help="also write every figure to this file")
    args = arguments.parse_args(argv)

    if args.operator:
        sizes = [Size(6, args.scale or 250, 15, args.seed, args.month)]
    elif args.zh_generic:
        sizes = [Size(40, args.scale or 5, 14, args.seed, args.month, "zh-generic")]
    else:
        sizes = [Size(args.communities, args.scale or 1, n, args.seed, args.month)
                 for n in args.history]
    results = []
    for size in sizes:
        print(f"{size.key} ...", file=sys.stderr, flush=True)
        manifest = ensure_sample(size, args.cache, args.regenerate)
        if size.style == "canonical":
            manifest = split_by_month(manifest, args.cache, args.regenerate)
        result = measure(manifest, args.cache, args.month, size.style == "canonical")
        results.append(result)
        m = result["manifest"]
        print(f"  rows {m['rows']}, tickets created in {args.month}: {m['month_tickets']}, "
              f"{sum(m['bytes'].values()) / 2**20:,.0f} MB, "
              f"{sum(map(len, m['files'].values()))} files", file=sys.stderr, flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), "utf-8")
    print(report(results))


if __name__ == "__main__":
    main()
