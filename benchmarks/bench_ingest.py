"""yuebao's ingest against a plain ``pyarrow.csv.read_csv`` of the same files.

    .venv/bin/python benchmarks/bench_ingest.py                 # default sizes
    .venv/bin/python benchmarks/bench_ingest.py --scales 1 5    # any scales

For each size the sample exports (built-in ``canonical`` profile) are generated
once and reused. Then, each in a fresh process: ``pyarrow`` reads every file
with ``pyarrow.csv.read_csv`` and default options (type inference, no
validation, nothing else), and ``yuebao`` runs ``ingest``: reading, trimming,
parsing timestamps, dates and money exactly, quarantining, resolving
duplicates, accounting every row. Rows per second count the rows of all three
files; peak MB is the process's resident high-water mark during the read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common import DEFAULT_CACHE, Size, ensure_sample, mb, run_stage, table

DEFAULT_SCALES = (1.48, 7.4, 37.0)  # as bench_pipeline.py: see README.md


def median(runs: list[dict]) -> dict:
    """The run with the median wall time, with the highest peak of all runs."""
    chosen = dict(sorted(runs, key=lambda f: f["seconds"])[len(runs) // 2])
    chosen["peak_kib"] = max(f["peak_kib"] for f in runs)
    chosen["runs"] = [round(f["seconds"], 2) for f in runs]
    return chosen


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=float, nargs="+", default=list(DEFAULT_SCALES),
                        help=f"sample-data --scale values (default: {DEFAULT_SCALES})")
    parser.add_argument("--communities", type=int, default=40)
    parser.add_argument("--months", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--last-month", default="2025-09")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help=f"where sample exports are kept and reused (default {DEFAULT_CACHE})")
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--repeat", type=int, default=1,
                        help="read this many times (fresh processes), report the median wall "
                             "time and the highest peak")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args(argv)
    args.repeat = max(args.repeat, 1)

    rows, results = [], []
    for scale in args.scales:
        size = Size(args.communities, scale, args.months, args.seed, args.last_month)
        print(f"scale {scale:g} ({size.key}) ...", file=sys.stderr, flush=True)
        manifest = ensure_sample(size, args.cache, args.regenerate)
        data = str(Path(manifest["folder"]) / "manifest.json")
        plain = median([run_stage("pyarrow", "--data", data) for _ in range(args.repeat)])
        ours = median([run_stage("ingest", "--data", data) for _ in range(args.repeat)])
        results.append({"manifest": manifest, "pyarrow": plain, "yuebao": ours})
        total_bytes = sum(manifest["bytes"].values())
        for name, f in (("pyarrow.csv.read_csv", plain), ("yuebao ingest", ours)):
            rows.append([f"{scale:g}", f"{f['rows']:,}", f"{total_bytes / 2**20:,.0f}", name,
                         f"{f['seconds']:.2f}", f"{f['cpu_seconds']:.2f}",
                         f"{f['rows'] / f['seconds']:,.0f}", mb(f["peak_kib"])])
        rows.append(["", "", "", "ratio", f"x{ours['seconds'] / plain['seconds']:.1f}", "",
                     "", f"x{ours['peak_kib'] / plain['peak_kib']:.1f}"])
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), "utf-8")
    print(table(rows, ["scale", "rows", "CSV MB", "reader", "wall s", "cpu s", "rows/s",
                       "peak MB"]))
    print("\nPeak MB: resident high-water mark of a fresh process while it read the files.")
    for r in results:
        parts = r["yuebao"].get("parts", {})
        if parts:
            scale = r["manifest"]["size"]["scale"]
            shown = ", ".join(f"{k} {v['seconds']:.2f} s" for k, v in parts.items())
            print(f"scale {scale:g}, yuebao ingest: {shown}")


if __name__ == "__main__":
    main()
