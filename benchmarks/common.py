"""Shared parts of the benchmarks: sample data cache, fresh-process stages, tables.

Every measured stage runs in a fresh ``python benchmarks/stages.py`` subprocess,
so its wall time and peak memory are its own: no warm caches, no memory left
over from an earlier stage or scale. Inputs a stage needs (the exports, or the
ingested tables pickled by the ingest stage) are loaded first; then the peak
RSS is reset (Linux ``/proc/self/clear_refs``) and the stage runs. The peak
reported is ``getrusage(RUSAGE_SELF).ru_maxrss`` at the end: the process's
highest resident memory *while the stage ran*, its inputs included (they are
resident, as they are in a real run). Where the reset is not possible the
peak is the whole process's and the table says so.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
STAGES = HERE / "stages.py"
DEFAULT_CACHE = Path(os.environ.get("YUEBAO_BENCH_CACHE", "/tmp/yuebao-bench"))
MARKER = "@@result "
# Scale ×5 each step; 37 is the smallest whose month has 300,000 tickets (README.md).
DEFAULT_SCALES = (1.48, 7.4, 37.0)


@dataclass(frozen=True)
class Size:
    """One sample-data size: the arguments of ``yuebao sample-data``."""

    communities: int
    scale: float
    months: int
    seed: int = 7
    last_month: str = "2025-09"
    style: str = "canonical"

    @property
    def key(self) -> str:
        style = "" if self.style == "canonical" else f"-{self.style}"
        return (f"c{self.communities}-s{self.scale:g}-m{self.months}-seed{self.seed}"
                f"-{self.last_month}{style}")

    def args(self) -> list[str]:
        return ["--communities", str(self.communities), "--scale", f"{self.scale:g}",
                "--months", str(self.months), "--seed", str(self.seed),
                "--last-month", self.last_month, "--style", self.style]


def run_stage(stage: str, *args: str) -> dict:
    """Run one stage in a fresh interpreter and return the figures it prints."""
    command = [sys.executable, str(STAGES), stage, *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    results = [line[len(MARKER):] for line in done.stdout.splitlines()
               if line.startswith(MARKER)]
    if done.returncode != 0 or not results:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"stage {stage} failed ({done.returncode}): {' '.join(command)}")
    return json.loads(results[-1])


def ensure_sample(size: Size, cache: Path, regenerate: bool = False) -> dict:
    """The sample exports of ``size`` under ``cache``, generated once and then reused
    (again when the sample-data code has changed since).

    Returns the manifest: folder, files, rows per table, communities, and the
    generation's own time and peak (measured, but not part of any goal).
    """
    folder = cache / "data" / size.key
    manifest = folder / "manifest.json"
    generator = _generator()
    if manifest.is_file() and not regenerate:
        kept = json.loads(manifest.read_text("utf-8"))
        if kept.get("generator") == generator:
            return kept
    result = run_stage("generate", "--out", str(folder), *size.args())
    result["generator"] = generator
    manifest.write_text(json.dumps(result, ensure_ascii=False, indent=1), "utf-8")
    return result


def _generator() -> str:
    """A fingerprint of the sample-data code: cached exports of older code are made again.

    The generator is a package; every module of it is hashed (in name order, each
    name with its bytes), so a change to any of them makes the data again.
    """
    spec = importlib.util.find_spec("yuebao.tasks.sample_data")
    digest = hashlib.sha256()
    if spec and spec.origin:
        for path in sorted(Path(spec.origin).parent.glob("*.py")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def mb(kib: int) -> str:
    return f"{kib / 1024:,.0f}"


def table(rows: list[list[str]], header: list[str]) -> str:
    """A GitHub-flavoured Markdown table, right-aligned numbers."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).rjust(w) for c, w in zip(cells, widths, strict=True)) \
            + " |"

    rule = "|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def parser(description: str, repeat_help: str) -> argparse.ArgumentParser:
    """The options both benchmarks share: which sample data, how often to run."""
    arguments = argparse.ArgumentParser(description=description,
                                        formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--scales", type=float, nargs="+", default=list(DEFAULT_SCALES),
                           help=f"sample-data --scale values (default: {DEFAULT_SCALES})")
    arguments.add_argument("--communities", type=int, default=40)
    arguments.add_argument("--months", type=int, default=2,
                           help="months of history in the exports (default 2: the month and "
                                "the one before)")
    arguments.add_argument("--seed", type=int, default=7)
    arguments.add_argument("--month", default="2025-09",
                           help="the month computed; also the exports' last month")
    arguments.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                           help=f"where sample exports are kept and reused "
                                f"(default {DEFAULT_CACHE})")
    arguments.add_argument("--regenerate", action="store_true",
                           help="generate the sample exports again even if cached")
    arguments.add_argument("--repeat", type=int, default=1, help=repeat_help)
    arguments.add_argument("--json", type=Path, help="also write every figure to this file")
    return arguments
