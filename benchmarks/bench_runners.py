"""One month and a 12-month backfill on each task runner: wall time, peak memory, overhead.

    nice -n 10 .venv/bin/python benchmarks/bench_runners.py
    nice -n 10 .venv/bin/python benchmarks/bench_runners.py --runners threads dask-local:2 \\
        --communities 40 --scale 0.3 --backfill-months 12

The sample (``yuebao sample-data`` arguments) is generated once under the cache
folder. Each measurement runs in a fresh process with its own temporary
``PREFECT_HOME`` (Prefect's ephemeral server, as a shell run without
``PREFECT_API_URL`` has):

* ``plain``: the stage functions themselves (``.fn`` of every task, one scope
  after another, no Prefect): the work's own time, per month;
* ``month`` and ``backfill`` on each runner: the flow as ``yuebao run`` /
  ``yuebao backfill --no-send`` runs it.

Figures: wall time of the flow call (Prefect's server start excluded: it is
started before the clock starts), peak RSS of the whole process tree (the flow's
process, its worker processes and Dask's, sampled every 0.1 s with psutil), and
Prefect's overhead per month = (flow time - the plain stages' time) / months.
For a runner that renders scopes at once the "overhead" can be negative: it is
the net of Prefect's bookkeeping and the runner's parallelism.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

MARKER = "@@result "


def _tree_rss(root: psutil.Process) -> int:
    total = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return total


def measure(command: list[str], env: dict[str, str]) -> dict:
    """Run one measurement in a fresh process; its printed figures and the tree's peak RSS."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env)
    root, peak, done = psutil.Process(process.pid), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            with contextlib.suppress(psutil.Error):
                peak[0] = max(peak[0], _tree_rss(root))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    done.set()
    sampler.join()
    lines = [line[len(MARKER):] for line in out.splitlines() if line.startswith(MARKER)]
    if not lines:
        sys.stderr.write(out[-3000:] + err[-3000:])
        raise SystemExit(f"failed: {' '.join(command)}")
    return {**json.loads(lines[-1]), "peak_mb": peak[0] / 2**20}


# ----------------------------------------------------------------- inside the fresh process

def _plain(config_path: str, months: list[str]) -> dict:
    """The stages' own time: every task's function, no Prefect, scopes one by one."""
    from yuebao.config import load_config
    from yuebao.months import Month
    from yuebao.tasks.draft import draft_task
    from yuebao.tasks.ingest import ingest_task
    from yuebao.tasks.metrics import coverage_task, history_task, metrics_task
    from yuebao.tasks.render import render_task

    config = load_config(config_path)
    began = time.perf_counter()
    ingested = ingest_task.fn(config)
    ingest_seconds = time.perf_counter() - began
    per_month = []
    for text in months:
        month = Month.parse(text)
        began = time.perf_counter()
        spans = coverage_task.fn(ingested, month, config.language)
        metrics = metrics_task.fn(ingested, config, month, spans)
        history = history_task.fn(ingested, config, month)
        drafts = draft_task.fn(metrics, history, config, month)
        render_task.fn(drafts, metrics.documents, ingested, config, month)
        per_month.append(time.perf_counter() - began)
    return {"ingest_s": ingest_seconds, "month_s": per_month}


def _flow(config_path: str, months: list[str], runner: str) -> dict:
    from prefect.client.orchestration import get_client

    from yuebao.flows.monthly_review import backfill, monthly_review

    with get_client(sync_client=True) as client:  # starts the ephemeral server first
        client.hello()
    began = time.perf_counter()
    if len(months) == 1:
        state = monthly_review(config_path, months[0], send=False, task_runner=runner,
                               return_state=True)
    else:
        state = backfill(config_path, months[0], months[-1], reprocess="all",
                         task_runner=runner, return_state=True)
    wall = time.perf_counter() - began
    return {"wall_s": wall, "state": state.type.value}


def _warm_up(config_path: str) -> dict:
    """Fill the canonical cache, so that every measured run reads the exports as a
    monthly run does: from the cache (``--cold`` measures first reads instead)."""
    from yuebao.config import load_config
    from yuebao.tasks.ingest import ingest_task

    began = time.perf_counter()
    ingest_task.fn(load_config(config_path))
    return {"ingest_s": time.perf_counter() - began}


def inner(args: argparse.Namespace) -> None:
    months = args.months.split(",")
    figures = (_plain(args.config, months) if args.runner == "plain"
               else _warm_up(args.config) if args.runner == "warm-up"
               else _flow(args.config, months, args.runner))
    print(MARKER + json.dumps(figures), flush=True)


# ----------------------------------------------------------------- the driver

LAST_MONTH = "2025-09"


def sample(cache: Path, communities: int, scale: float, months: int) -> Path:
    """The sample exports and their config, generated once (canonical CSV, seed 7)."""
    from yuebao.months import Month
    from yuebao.tasks.sample_config import write_sample_config
    from yuebao.tasks.sample_data import generate_sample

    folder = cache / f"runners-c{communities}-s{scale:g}-m{months}-{LAST_MONTH}"
    config = folder / "yuebao.toml"
    if not config.is_file():
        data = generate_sample(folder, seed=7, communities=communities, months=months,
                               scale=scale, last_month=Month.parse(LAST_MONTH),
                               style="canonical")
        write_sample_config(data, config)
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runners", nargs="+",
                        default=["threads", "processes", "dask-local:2"])
    parser.add_argument("--communities", type=int, default=40)
    parser.add_argument("--scale", type=float, default=0.3)
    parser.add_argument("--backfill-months", type=int, default=12)
    parser.add_argument("--kinds", nargs="+", default=["month", "backfill"])
    parser.add_argument("--cold", action="store_true",
                        help="every run with an empty canonical cache (default: filled once "
                             "before the runs, as for a monthly run)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir())
                        / "yuebao-bench")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--months", help=argparse.SUPPRESS)
    parser.add_argument("--runner", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        inner(args)
        return

    from yuebao.months import Month

    config = sample(args.cache, args.communities, args.scale, args.backfill_months + 2)
    last = Month.parse(LAST_MONTH)
    window = [str(m) for m in last.shift(1 - args.backfill_months).range_to(last)]
    results = []
    canonical = Path(tempfile.mkdtemp(prefix="bench-runners-cache-"))
    if not args.cold:
        warm = measure([sys.executable, __file__, "--inner", "--config", str(config),
                        "--months", str(last), "--runner", "warm-up"],
                       {**os.environ, "YUEBAO_CACHE_DIR": str(canonical)})
        print(f"canonical cache filled in {warm['ingest_s']:.1f} s", flush=True)
    for kind, months in (("month", [str(last)]), ("backfill", window)):
        if kind not in args.kinds:
            continue
        for runner in ["plain", *args.runners]:
            with tempfile.TemporaryDirectory() as home:
                out = Path(home) / "out"
                # Beside the sample's config: its export paths are relative to it.
                own = config.with_name(f"bench-{Path(home).name}.toml")
                own.write_text(config.read_text("utf-8").replace(
                    'output_dir = "out"', f'output_dir = "{out}"'), "utf-8")
                env = {**os.environ, "PREFECT_HOME": home, "DO_NOT_TRACK": "1",
                       "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                       "PREFECT_LOGGING_LEVEL": "WARNING",
                       "YUEBAO_CACHE_DIR": str(canonical if not args.cold else Path(home))}
                env.pop("PREFECT_API_URL", None)
                try:
                    figures = measure([sys.executable, __file__, "--inner", "--config",
                                       str(own), "--months", ",".join(months),
                                       "--runner", runner], env)
                finally:
                    own.unlink()
            figures.update(kind=kind, runner=runner, months=len(months))
            results.append(figures)
            print(json.dumps(figures), flush=True)
    shutil.rmtree(canonical, ignore_errors=True)
    _report(results, args.communities)


def _report(results: list[dict], communities: int) -> None:
    plain = {r["kind"]: r for r in results if r["runner"] == "plain"}
    print(f"\n{communities} communities; figures of one run each\n")
    print("| run | runner | wall s | peak MB (tree) | Prefect overhead per month s |")
    print("|---|---|---:|---:|---:|")
    for r in results:
        base = plain[r["kind"]]
        work = base["ingest_s"] + sum(base["month_s"])
        if r["runner"] == "plain":
            print(f"| {r['kind']} ({r['months']} mo) | no Prefect (stages only) | {work:.1f} | "
                  f"{r['peak_mb']:,.0f} | — |")
            continue
        overhead = (r["wall_s"] - work) / r["months"]
        print(f"| {r['kind']} ({r['months']} mo) | {r['runner']} | {r['wall_s']:.1f} | "
              f"{r['peak_mb']:,.0f} | {overhead:+.2f} ({r['state']}) |")


if __name__ == "__main__":
    main()
