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

import json
import sys
from pathlib import Path

from common import Size, ensure_sample, mb, parser, run_stage, table


def median(runs: list[dict]) -> dict:
    """The run with the median wall time, with the highest peak of all runs."""
    chosen = dict(sorted(runs, key=lambda f: f["seconds"])[len(runs) // 2])
    chosen["peak_kib"] = max(f["peak_kib"] for f in runs)
    chosen["runs"] = [round(f["seconds"], 2) for f in runs]
    return chosen


def main(argv: list[str] | None = None) -> None:
    arguments = parser(__doc__, "read this many times (fresh processes), report the median "
                                "wall time and the highest peak")
    args = arguments.parse_args(argv)
    args.repeat = max(args.repeat, 1)

    rows, results = [], []
    for scale in args.scales:
        size = Size(args.communities, scale, args.months, args.seed, args.month)
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
