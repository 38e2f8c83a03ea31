"""One benchmark stage in this fresh process; prints its figures as one JSON line.

Run by bench_ingest.py and bench_pipeline.py, one subprocess per stage, e.g.::

    python benchmarks/stages.py ingest --data /tmp/yuebao-bench/data/<key>/manifest.json

Stages: ``generate`` (sample exports), ``pyarrow`` (a plain ``pyarrow.csv.read_csv``
of the same files), ``duckdb`` (DuckDB ``read_csv`` of them), ``ingest`` (yuebao's
ingest), ``metrics`` (the month's metrics.json of every scope, which computes the
month, the previous month and the same month last year, then ``created_history``),
``pipeline`` (ingest, metrics and history in one process, as the monthly flow runs
them), ``month`` (the same through the canonical cache, each part measured, with a
digest of the figures: bench_cache.py).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import inspect
import json
import pickle
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path

from yuebao.prefect_env import configure

configure()

MARKER = "@@result "
_PARTS: dict[str, list[float]] = defaultdict(list)


def reset_peak() -> bool:
    """Start a new peak-RSS measurement here (Linux); False where it cannot be reset."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Measure:
    """Wall time and peak RSS of a block, the peak reset at its start."""

    def __enter__(self) -> Measure:
        self.reset = reset_peak()
        self.rss_before = rss_kib()
        self.cpu = cpu_seconds()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.start
        self.cpu = cpu_seconds() - self.cpu
        self.peak = peak_kib()

    def figures(self) -> dict:
        return {"seconds": self.seconds, "cpu_seconds": self.cpu, "peak_kib": self.peak,
                "rss_before_kib": self.rss_before, "peak_is_stage_only": self.reset}


def timed(module_name: str, name: str, label: str | None = None) -> None:
    """Accumulate the wall time of ``module.name`` calls under ``label`` (inclusive)."""
    module = importlib.import_module(module_name)
    original = getattr(module, name, None)
    if original is None:
        return

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            key = label or name
            if callable(key):
                key = key(*args, **kwargs)
            _PARTS[key].append(time.perf_counter() - start)

    setattr(module, name, wrapper)


def parts() -> dict:
    result = {k: {"seconds": sum(v), "calls": len(v)} for k, v in _PARTS.items()}
    _PARTS.clear()
    return result


def emit(result: dict) -> None:
    print(MARKER + json.dumps(result, ensure_ascii=False), flush=True)


def load_manifest(path: str) -> dict:
    return json.loads(Path(path).read_text("utf-8"))


def config_of(manifest: dict):
    from yuebao.config import config_from_dict

    raw = {
        "communities": [{"id": c["id"], "households": c["households"]}
                        for c in manifest["communities"]],
        "sources": {"profile": manifest["profile"], **manifest["patterns"]},
    }
    return config_from_dict(raw, base_dir=Path(manifest["folder"]))


# --- stages -----------------------------------------------------------------------------


def stage_generate(args) -> dict:
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    from yuebao.months import Month
    from yuebao.tasks.sample_data import generate_sample

    out = Path(args.out)
    extra = {}
    if "style" in inspect.signature(generate_sample).parameters:
        extra["style"] = args.style
    with Measure() as m:
        sample = generate_sample(out, seed=args.seed, communities=args.communities,
                                 months=args.months, scale=args.scale,
                                 last_month=Month.parse(args.last_month), **extra)
    files = {}
    for table in ("tickets", "bills", "payments"):
        paths = sample.files(table) if hasattr(sample, "files") else [getattr(sample, table)]
        files[table] = [str(Path(p).resolve()) for p in paths]
    only_created = pacsv.ConvertOptions(include_columns=["created_at"],
                                        column_types={"created_at": "string"})
    month_tickets = sum(
        pc.sum(pc.starts_with(pacsv.read_csv(path, convert_options=only_created)["created_at"],
                              args.last_month)).as_py() or 0
        for path in files["tickets"]) if args.style == "canonical" else None
    return {
        "size": {"communities": args.communities, "scale": args.scale, "months": args.months,
                 "seed": args.seed, "last_month": args.last_month},
        "folder": str(out.resolve()),
        "profile": getattr(sample, "profile", "canonical"),
        "patterns": {t: paths for t, paths in files.items()},
        "files": files,
        "bytes": {t: sum(Path(p).stat().st_size for p in paths) for t, paths in files.items()},
        "rows": sample.rows,
        "month_tickets": month_tickets,
        "communities": [{"id": c.id, "households": c.households} for c in sample.communities],
        "generate": m.figures(),
    }


def _encoding(path: str) -> str:
    """UTF-8 if the file decodes as such, else GB18030 (the zh-generic sample's GBK)."""
    try:
        with open(path, "rb") as file:
            file.read().decode("utf-8")
        return "utf8"
    except UnicodeDecodeError:
        return "gb18030"


def stage_pyarrow(args) -> dict:
    """Every file read plainly: ``pyarrow.csv.read_csv`` (default type inference), and
    an ``.xlsx`` workbook's first sheet through calamine, as the floor of reading."""
    import pyarrow.csv as pacsv
    from python_calamine import CalamineWorkbook

    manifest = load_manifest(args.data)
    encodings = {p: _encoding(p) for paths in manifest["files"].values() for p in paths
                 if not p.endswith(".xlsx")}  # found before the clock: not part of reading
    tables = {}
    with Measure() as m:
        for table, paths in manifest["files"].items():
            start = time.perf_counter()
            rows = 0
            for path in paths:
                if path.endswith(".xlsx"):
                    rows += len(CalamineWorkbook.from_path(path).get_sheet_by_index(0)
                                .to_python()) - 1
                    continue
                options = pacsv.ReadOptions(encoding=encodings[path])
                rows += pacsv.read_csv(path, read_options=options).num_rows
            tables[table] = {"rows": rows, "seconds": time.perf_counter() - start}
    return {**m.figures(), "tables": tables, "rows": sum(t["rows"] for t in tables.values())}


def stage_duckdb(args) -> dict:
    """Every UTF-8 CSV file into a DuckDB table with ``read_csv`` (type detection), the
    floor a data person would reach for. GBK files and workbooks are left out (DuckDB
    reads neither without extensions); ``skipped`` counts them. A file whose sampled
    types its later rows break (``2,184.00`` in a column detected as numbers) is read
    as text instead; ``as_text`` counts them."""
    import duckdb

    manifest = load_manifest(args.data)
    paths = {t: [p for p in ps if not p.endswith(".xlsx") and _encoding(p) == "utf8"]
             for t, ps in manifest["files"].items()}
    skipped = sum(len(ps) for ps in manifest["files"].values()) - sum(map(len, paths.values()))
    tables = {}
    as_text = 0
    with Measure() as m:
        connection = duckdb.connect()
        for table, files in paths.items():
            start = time.perf_counter()
            rows = 0
            for number, path in enumerate(files):
                name = f"{table}_{number}"
                try:
                    connection.execute(f"CREATE TABLE {name} AS SELECT * FROM read_csv(?)",
                                       [path])
                except duckdb.ConversionException:
                    as_text += 1
                    connection.execute(f"CREATE TABLE {name} AS SELECT * FROM "
                                       "read_csv(?, all_varchar = true)", [path])
                rows += connection.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
            tables[table] = {"rows": rows, "seconds": time.perf_counter() - start}
        connection.close()
    return {**m.figures(), "tables": tables, "skipped_files": skipped, "as_text": as_text,
            "rows": sum(t["rows"] for t in tables.values())}


def _ingest_breakdown() -> None:
    timed("yuebao.tasks.ingest", "read_source",
          lambda path, base_dir, profile, table, *a, **k: f"read {table}")
    timed("yuebao.tasks.ingest", "validate_table",
          lambda table, *a, **k: f"validate {table}")


def _ingest(manifest: dict, config):
    from yuebao.tasks.ingest import ingest

    sources = {t: getattr(config.sources, t) for t in ("tickets", "bills", "payments")}
    return ingest(sources, config.base_dir, config.timezone, config.sources.profile)


def stage_ingest(args) -> dict:
    import yuebao.tasks.ingest  # noqa: F401  (imports are not part of the stage)

    manifest = load_manifest(args.data)
    config = config_of(manifest)
    _ingest_breakdown()
    with Measure() as m:
        ingested = _ingest(manifest, config)
    totals = ingested.totals()
    result = {**m.figures(), "parts": parts(), "totals": totals,
              "rows": sum(t["read"] for t in totals.values())}
    if args.save:
        with open(args.save, "wb") as out:
            pickle.dump(ingested, out, protocol=pickle.HIGHEST_PROTOCOL)
    return result


def _metrics_breakdown() -> None:
    timed("yuebao.tasks.metrics", "prepare", "prepare arrays (once)")
    timed("yuebao.tasks.metrics", "ticket_partial", "tickets (x13 months)")
    timed("yuebao.tasks.metrics", "fee_partial", "fees (x13 months)")
    timed("yuebao.tasks.metrics", "month_blocks", "blocks per scope (x13 months)")
    timed("yuebao.tasks.metrics", "_data_communities", "communities in the data")


def _metrics(ingested, config, month):
    from yuebao.tasks.metrics import history_task, metrics_task

    with Measure() as metrics:
        documents = metrics_task.fn(ingested, config, month)
    metrics_parts = parts()
    with Measure() as history:
        created = history_task.fn(ingested, config, month)
    return documents, created, metrics, metrics_parts, history


def stage_metrics(args) -> dict:
    from yuebao.months import Month

    manifest = load_manifest(args.data)
    config = config_of(manifest)
    with open(args.load, "rb") as source:
        ingested = pickle.load(source)
    _metrics_breakdown()
    documents, created, metrics, metrics_parts, history = _metrics(
        ingested, config, Month.parse(args.month))
    if args.dump:
        Path(args.dump).write_text(json.dumps(
            {"documents": documents.documents, "previous": documents.previous,
             "history": created}, ensure_ascii=False, sort_keys=True, indent=0), "utf-8")
    portfolio = documents.documents["_portfolio"]
    return {"metrics": {**metrics.figures(), "parts": metrics_parts},
            "history": history.figures(),
            "created": portfolio["tickets"]["created"] if portfolio["tickets"] else None}


def stage_month(args) -> dict:
    """One month as the monthly run computes it, through the canonical cache at
    ``--cache-dir``: ingest, metrics and history, each measured on its own (the peak
    reset at each start), and a digest of every figure, so that a cold and a warm
    run can be shown to agree. ``--ingest-only``: fill the cache and stop."""
    import hashlib

    from yuebao.months import Month
    from yuebao.tasks.ingest import Cache, ingest
    from yuebao.tasks.metrics import history_task, metrics_task

    manifest = load_manifest(args.data)
    config = config_of(manifest)
    month = Month.parse(args.month)
    cache = Cache(Path(args.cache_dir)) if args.cache_dir else None
    sources = {t: getattr(config.sources, t) for t in ("tickets", "bills", "payments")}
    with Measure() as read:
        ingested = ingest(sources, config.base_dir, config.timezone, config.sources.profile,
                          cache=cache)
    result = {"ingest": read.figures(), "totals": ingested.totals(),
              "hits": cache.hits if cache else None, "misses": cache.misses if cache else None}
    if args.ingest_only:
        return result
    with Measure() as metrics:
        documents = metrics_task.fn(ingested, config, month)
    with Measure() as history:
        created = history_task.fn(ingested, config, month)
    text = json.dumps({"documents": documents.documents, "previous": documents.previous,
                       "history": created, "quarantine": ingested.quarantine.to_csv(),
                       "files": ingested.files.to_csv(), "notes": ingested.notes},
                      ensure_ascii=False, sort_keys=True, default=str)
    return {**result, "metrics": metrics.figures(), "history": history.figures(),
            "digest": hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]}


def stage_pipeline(args) -> dict:
    from yuebao.months import Month
    from yuebao.tasks.metrics import history_task, metrics_task

    manifest = load_manifest(args.data)
    config = config_of(manifest)
    month = Month.parse(args.month)
    with Measure() as m:
        ingested = _ingest(manifest, config)
        metrics_task.fn(ingested, config, month)
        history_task.fn(ingested, config, month)
    return m.figures()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=["generate", "pyarrow", "duckdb", "ingest", "metrics",
                                          "pipeline", "month"])
    parser.add_argument("--data", help="manifest.json of the sample exports")
    parser.add_argument("--out", help="generate: folder to write the exports into")
    parser.add_argument("--communities", type=int, default=40)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--months", type=int, default=13)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--last-month", default="2025-09")
    parser.add_argument("--style", default="canonical", help="generate: the export style")
    parser.add_argument("--cache-dir", help="month: the canonical cache (default: none)")
    parser.add_argument("--ingest-only", action="store_true", help="month: ingest only")
    parser.add_argument("--month", default="2025-09", help="the month computed")
    parser.add_argument("--save", help="ingest: pickle the ingested tables here (untimed)")
    parser.add_argument("--load", help="metrics: the pickled ingested tables")
    parser.add_argument("--dump", help="metrics: write every document here (untimed)")
    args = parser.parse_args(argv)
    emit(globals()[f"stage_{args.stage}"](args))


if __name__ == "__main__":
    sys.exit(main())
