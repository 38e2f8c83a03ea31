"""Regenerate the committed screenshots of review.html: ``yuebao demo``, then Chromium.

    .venv/bin/python tests/artifacts/regenerate.py [--demo DIR]

Runs ``yuebao demo --out DIR`` (a temporary folder unless given; an existing demo
there is reused), screenshots the latest month's review.html of the first
community (jinjiang) and of the portfolio with the same headless Chromium and
flags as tests/test_email_view.py, writes them here as ``review_community.png`` and
``review_portfolio.png``, and prints each email's size in the demo's outbox.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from browser import find_chromium, screenshot, system_cjk_fonts  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=Path,
                        help="the demo folder (default: a temporary one, removed after)")
    options = parser.parse_args()
    chromium, why = find_chromium()
    if chromium is None:
        sys.exit(why)
    if system_cjk_fonts():
        print(f"note: this machine has a CJK font ({system_cjk_fonts()[0]}); the screenshots "
              "then do not show the embedded font alone", file=sys.stderr)
    work = Path(tempfile.mkdtemp(prefix="yuebao-shots-"))
    demo = options.demo or work / "demo"
    if not (demo / "out").is_dir():
        env = {**os.environ, "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
               "PREFECT_HOME": str(work / "prefect")}
        yuebao = Path(sys.executable).with_name("yuebao")
        subprocess.run([str(yuebao), "demo", "--out", str(demo)], check=True, env=env,
                       stdout=subprocess.DEVNULL)
    month = max(p for p in (demo / "out").iterdir() if p.is_dir() and p.name[:1].isdigit())
    communities = sorted(p for p in month.iterdir()
                         if (p / "review.html").is_file() and p.name != "_portfolio")
    community = next((p for p in communities if p.name == "jinjiang"), communities[0])
    for name, folder in (("community", community), ("portfolio", month / "_portfolio")):
        png = screenshot(chromium, folder / "review.html", work / f"review_{name}.png",
                         work / f"profile-{name}")
        shutil.copyfile(png, HERE / png.name)
        print(f"{HERE / png.name}: {folder.relative_to(demo)}/review.html, "
              f"{png.stat().st_size:,} bytes")
    for eml in sorted((demo / "outbox" / month.name).glob("*.eml")):
        print(f"{eml.name}: {eml.stat().st_size:,} bytes")
    shutil.rmtree(work, ignore_errors=True)  # the temporary demo too, when it was one


if __name__ == "__main__":
    main()
