"""Ingest + metrics of one month at growing scales: wall time and peak memory per stage.

    .venv/bin/python benchmarks/bench_pipeline.py                  # the default ladder
    .venv/bin/python benchmarks/bench_pipeline.py --scales 1 5     # any scales

Each scale's sample exports are generated once (``yuebao sample-data`` arguments:
communities, scale, months, seed, last month) under the cache folder and reused.
Then, each in a fresh process: ``ingest`` (reading and validating the three
exports), ``metrics`` (metrics.json of every community and the portfolio for the
month: thirteen month computations, the 12 months of the trend ending with the
month, and the same month last year), ``history`` (tickets created per month and category), and
``pipeline`` (all three in one process, as the monthly flow runs them: its peak
is the figure to hold against the memory goal). See README.md.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from common import Size, ensure_sample, mb, parser, run_stage, table

# 40 communities, 2 months of history; 37 is the smallest scale whose month has 300,000
# tickets (sample data: about 0.19 tickets per household a month). See README.md.
GOAL_SECONDS, GOAL_KIB = 60.0, 4 * 1024 * 1024


def measure_once(manifest: dict, cache: Path, month: str, stages: list[str],
                 dump: Path | None) -> dict:
    """Every stage of one size once, each in a fresh process."""
    size_key = Path(manifest["folder"]).name
    data = str(Path(manifest["folder"]) / "manifest.json")
    result = {}
    pickled = cache / "ingested" / f"{size_key}-{os.getpid()}.pickle"
    try:
        if "ingest" in stages or "metrics" in stages:
            pickled.parent.mkdir(parents=True, exist_ok=True)
            result["ingest"] = run_stage("ingest", "--data", data, "--save", str(pickled))
        if "metrics" in stages:
            extra = ["--dump", str(dump / f"{size_key}.json")] if dump else []
            result.update(run_stage("metrics", "--data", data, "--load", str(pickled),
                                    "--month", month, *extra))
    finally:
        pickled.unlink(missing_ok=True)
    if "pipeline" in stages:
        result["pipeline"] = run_stage("pipeline", "--data", data, "--month", month)
    return result


def median_run(runs: list[dict]) -> dict:
    """Per stage, the run with the median wall time; its peak is the highest of all runs."""
    result = dict(runs[0])
    for stage in ("ingest", "metrics", "history", "pipeline"):
        if stage not in runs[0]:
            continue
        ranked = sorted((r[stage] for r in runs), key=lambda f: f["seconds"])
        chosen = dict(ranked[len(ranked) // 2])
        chosen["peak_kib"] = max(f["peak_kib"] for f in ranked)
        chosen["runs"] = [round(r[stage]["seconds"], 2) for r in runs]
        result[stage] = chosen
    return result


def measure(size: Size, cache: Path, month: str, stages: list[str], regenerate: bool,
            dump: Path | None, repeat: int) -> dict:
    manifest = ensure_sample(size, cache, regenerate)
    runs = [measure_once(manifest, cache, month, stages, dump) for _ in range(repeat)]
    return {"size": size.key, "manifest": manifest, **median_run(runs)}


def report(results: list[dict]) -> str:
    lines = []
    header = ["scale", "tickets in month", "tickets", "bills", "payments", "stage",
              "wall s", "cpu s", "peak MB", "runs (wall s)"]
    rows = []
    for r in results:
        m = r["manifest"]
        size = m["size"]
        first = [f"{size['scale']:g}", f"{m['month_tickets']:,}", f"{m['rows']['tickets']:,}",
                 f"{m['rows']['bills']:,}", f"{m['rows']['payments']:,}"]
        stages = [("generate", m["generate"])]
        stages += [(name, r[name]) for name in ("ingest", "metrics", "history", "pipeline")
                   if name in r]
        for i, (name, f) in enumerate(stages):
            label = name + ("" if f.get("peak_is_stage_only", True) else " (process peak)")
            rows.append([*(first if i == 0 else [""] * len(first)), label,
                         f"{f['seconds']:.2f}",
                         f"{f['cpu_seconds']:.2f}" if "cpu_seconds" in f else "",
                         mb(f["peak_kib"]), " / ".join(f"{x:.2f}" for x in f.get("runs", []))])
    lines.append(table(rows, header))
    lines.append("")
    lines.append("wall s is the median of the runs; generate runs once and is measured but")
    lines.append("not held against the goals. Peak MB is the highest of the runs: the")
    lines.append("process's resident high-water mark while the stage ran (inputs included);")
    lines.append("cpu s is user + system time of the process (above wall s: threads at work).")

    parts_rows = []
    for r in results:
        for stage in ("ingest", "metrics"):
            for name, part in r.get(stage, {}).get("parts", {}).items():
                share = part["seconds"] / r[stage]["seconds"] if r[stage]["seconds"] else 0
                parts_rows.append([f"{r['manifest']['size']['scale']:g}", stage, name,
                                   str(part["calls"]), f"{part['seconds']:.2f}",
                                   f"{share:.0%}"])
    if parts_rows:
        lines += ["", "Where the time goes (inclusive time of each part):", ""]
        lines.append(table(parts_rows, ["scale", "stage", "part", "calls", "s", "share"]))

    lines += ["", f"Goals: the largest scale's pipeline under {GOAL_SECONDS:.0f} s and "
              f"{GOAL_KIB // 1024 ** 2} GB; scale x5 -> time x5.5 or less."]
    for r in results:
        if "pipeline" in r:
            p = r["pipeline"]
            ok = p["seconds"] < GOAL_SECONDS and p["peak_kib"] < GOAL_KIB
            lines.append(f"  scale {r['manifest']['size']['scale']:g}: pipeline "
                         f"{p['seconds']:.1f} s, {mb(p['peak_kib'])} MB"
                         f"{'' if ok else '  (over the goal)'}")
    by_scale = {r["manifest"]["size"]["scale"]: r for r in results}
    for scale, r in sorted(by_scale.items()):
        big = by_scale.get(scale * 5)
        if big is None:
            continue
        for stage in ("ingest", "metrics", "pipeline"):
            if stage in r and stage in big:
                ratio = big[stage]["seconds"] / r[stage]["seconds"]
                lines.append(f"  scale {scale:g} -> {scale * 5:g}: {stage} time x{ratio:.2f}"
                             f"{'' if ratio <= 5.5 else '  (over x5.5)'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    arguments = parser(__doc__, "run every stage this many times and report the median wall "
                                "time (and the highest peak): timings on a shared machine vary")
    arguments.add_argument("--stages", nargs="+", default=["ingest", "metrics", "pipeline"],
                           choices=["ingest", "metrics", "pipeline"],
                           help="stages to run (metrics also reports history; both need ingest)")
    arguments.add_argument("--dump", type=Path,
                           help="write each scale's metrics documents into this folder, to "
                                "check that an optimization changed no figure (untimed)")
    args = arguments.parse_args(argv)
    if args.dump:
        args.dump.mkdir(parents=True, exist_ok=True)

    results = []
    for scale in args.scales:
        size = Size(args.communities, scale, args.months, args.seed, args.month)
        print(f"scale {scale:g} ({size.key}) ...", file=sys.stderr, flush=True)
        results.append(measure(size, args.cache, args.month, args.stages, args.regenerate,
                               args.dump, max(args.repeat, 1)))
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), "utf-8")
    print(report(results))


if __name__ == "__main__":
    main()
