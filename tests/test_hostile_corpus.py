"""The hostile corpus (tests/data/hostile/manifest.toml): every case through ingest, the
validate report and, where the manifest gives a month, the month's metrics and draft.

Each case must end in a clear one-line error or in quarantined rows with their reason
and physical line, with ``read = used + quarantined + duplicate`` for every file, no
traceback and no hang (each case is bounded by an alarm).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from yuebao.config import config_from_dict
from yuebao.errors import UsageError
from yuebao.months import Month
from yuebao.tasks.draft import draft_task
from yuebao.tasks.ingest import ingest, ingest_task
from yuebao.tasks.metrics import history_task, metrics_task
from yuebao.tasks.render import (
    quarantine_reasons,
    render_review,
    render_task,
    validation_report,
)

CORPUS = Path(__file__).parent / "data" / "hostile"
CASES = tomllib.loads((CORPUS / "manifest.toml").read_text("utf-8"))["case"]
TZ = "Asia/Shanghai"
SECONDS = 60  # per case, generous for 2 shared cores; a hang fails instead of blocking


@contextlib.contextmanager
def bounded(seconds: int) -> Iterator[None]:
    def stop(signum, frame):
        raise TimeoutError(f"the case took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _staged(case: dict, folder: Path) -> None:
    """The case's file (and profile) in a folder of its own, as a company would have it."""
    target = folder / case["file"]
    if "link" in case:
        target.symlink_to(case["link"])
    elif "fill" in case:
        text = (CORPUS / case["file"]).read_text("utf-8")
        target.write_text(text.replace("{fill}", case["fill"]["char"] * case["fill"]["count"]),
                          "utf-8")
    else:
        shutil.copyfile(CORPUS / case["file"], target)
    if case["profile"].endswith(".toml"):
        shutil.copyfile(CORPUS / case["profile"], folder / case["profile"])


def _name(case: dict) -> str:
    return f"{case['file']}-{case['profile']}"


@pytest.mark.parametrize("case", CASES, ids=_name)
def test_every_hostile_case_ends_clearly(case, tmp_path):
    _staged(case, tmp_path)
    sources = {case["table"]: [case["file"]]}
    with bounded(SECONDS):
        if case["outcome"] == "error":
            with pytest.raises(UsageError) as caught:
                ingest(sources, tmp_path, TZ, case["profile"])
            message = str(caught.value)
            assert "\n" not in message and "Traceback" not in message
            if "message" in case:
                assert message.startswith(case["message"]), message
            else:
                assert case["contains"] in message, message
            return
        data = ingest(sources, tmp_path, TZ, case["profile"])
        report = validation_report(data, "config.toml", case["profile"], "zh")
        english = validation_report(data, "config.toml", case["profile"], "en")
    q = data.quarantine
    assert q[["line", "code"]].values.tolist() == case["quarantined"]
    assert set(q["file"]) <= {case["file"]} and (q["table"] == case["table"]).all()
    assert (q["raw"].str.startswith("{")).all()  # every raw row is JSON
    account = data.files.iloc[0]
    assert account["read"] == account["used"] + account["quarantined"] + account["duplicate"]
    assert (account["used"], account["quarantined"], account["duplicate"]) == (
        case["used"], len(case["quarantined"]), case.get("duplicate", 0))
    for code in set(q["code"]):  # every reason in words, the date bounds filled in
        assert quarantine_reasons(data, "zh")[code] in report
        assert quarantine_reasons(data, "en")[code] in english
    assert "{" not in report and "{" not in english


def _kpi(block: dict, path: str) -> object:
    value: object = block
    for part in path.split("."):
        assert isinstance(value, dict), path
        value = value[part]
    return value


MONTHS = [c for c in CASES if "month" in c]


@pytest.mark.parametrize("case", MONTHS, ids=_name)
def test_a_month_from_a_hostile_export_has_the_figures_worked_out_by_hand(case, tmp_path):
    _staged(case, tmp_path)
    month = case["month"]
    config = config_from_dict({
        "communities": [{"id": c} for c in month["communities"]], "output_dir": "out",
        "sources": {"profile": case["profile"], case["table"]: [case["file"]]}}, tmp_path)
    period = Month.parse(month["month"])
    with bounded(SECONDS):
        ingested = ingest_task.fn(config)
        metrics = metrics_task.fn(ingested, config, period)
        history = history_task.fn(ingested, config, period)
        drafts = draft_task.fn(metrics, history, config, period)
        zh, _ = render_review(drafts["_portfolio"], "zh")
        en, _ = render_review(drafts["_portfolio"], "en")
        written = render_task.fn(drafts, metrics.documents, ingested, config, period)
    assert written.failures == {}  # every scope's draft, workbook and document written
    quarantine = (written.month_dir / "quarantine.csv").read_text("utf-8-sig").splitlines()
    assert len(quarantine) == 1 + len(case["quarantined"])
    portfolio = metrics.documents["_portfolio"]
    for path, expected in month["expect"].items():
        assert _kpi(portfolio, path) == (None if expected == "null" else expected), path
    for community, figures in month.get("by_community", {}).items():
        for path, expected in figures.items():
            assert _kpi(metrics.documents[community], path) == expected, (community, path)
    if "draft_says" in month:
        assert zh.count(month["draft_says"]) == 1
        assert en.count("Only payment records were exported, no bills") == 1
    assert "None" not in zh and "None" not in en
