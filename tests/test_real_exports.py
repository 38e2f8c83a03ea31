"""A real export of another system (Boston 311), read through a profile file alone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from yuebao.flows.monthly_review import monthly_review

# The example folder as a user's clone has it: config, profile and the sample export.
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "boston311"


def test_boston_311_runs_end_to_end_from_its_profile(tmp_path, prefect_server):
    # Run a copy, so the outputs land in tmp_path and never in the repository.
    example = tmp_path / "boston311"
    shutil.copytree(EXAMPLE, example, ignore=shutil.ignore_patterns("out", "outbox"))
    assert (example / "boston311_sample.csv").is_file()

    result = monthly_review(str(example / "yuebao.toml"), "2024-06")
    month = example / "out" / "2024-06"
    quality = json.loads((month / "data_quality.json").read_text("utf-8"))
    assert quality["tables"]["tickets"]["read"] == 4995
    files = quality["files"][0]
    assert files["file"] == "boston311_sample.csv"  # named as the config names it
    assert files["read"] == files["used"] + files["quarantined"] + files["duplicate"]
    # The 311 neighbourhood becomes a folder name; "/" cannot be in one.
    assert (month / "Allston _ Brighton" / "review.md").is_file()
    dorchester = json.loads((month / "Dorchester" / "metrics.json").read_text("utf-8"))
    assert dorchester["timezone"] == "America/New_York"
    assert dorchester["tickets"]["created"] > 0
    assert dorchester["tickets"]["response_on_time_rate"] is None  # the export has no such time
    assert dorchester["fees"] is None
    portfolio = (month / "_portfolio" / "review.md").read_text("utf-8")
    assert portfolio.startswith("# City of Boston 311: Monthly Work Review, June 2024")
    assert "Dragon Boat" not in portfolio  # a US city gets no Chinese holidays
    assert "Juneteenth National Independence Day (June 19)" in portfolio  # but its own
    assert "**Independence Day** (July 4)" in portfolio  # in next month's plan
    assert "no public holidays next month" not in portfolio
    assert "| Monthly collection rate | — | at least" not in portfolio  # no fee export: no target
    assert "| Overdue open tickets | 7 | 0 |" in portfolio
    statuses = {d["scope"]: d["status"] for d in result["deliveries"]}
    assert statuses["Dorchester"] == "written" and statuses["Back Bay"] == "no_recipients"
