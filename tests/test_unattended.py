"""Months left alone: coverage, one writer per month, honest outcomes in runs.json and Prefect.

The flows run under a real Prefect server (``prefect_server``); the lock is held
and broken by real processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import own_config

from yuebao.cli import main
from yuebao.errors import RunFailed
from yuebao.flows.monthly_review import monthly_review
from yuebao.tasks.bookkeeping import MonthBusy, read_runs, run_status
from yuebao.tasks.bookkeeping.lock import acquire_month, holder_path
from yuebao.tasks.metrics import NotCovered


@pytest.fixture()
def config(sample, tmp_path) -> Path:
    return own_config(sample, tmp_path)


def flow_run_state(name: str) -> str:
    """The state of the latest flow run with this name, as the Prefect server has it."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])),
            sort=FlowRunSort.START_TIME_DESC, limit=1)
    assert runs, f"no flow run named {name}"
    return runs[0].state.type.value


# --------------------------------------------------------------------------- coverage


def test_a_month_past_the_exports_fails_in_one_line_and_sends_nothing(
        config, tmp_path, prefect_server, capsys):
    status = main(["run", "--config", str(config), "--month", "2025-10"])

    err = capsys.readouterr().err
    assert status == 1
    assert err.strip().splitlines()[-1] == (
        "yuebao: 工单导出的数据截止到 2025-10-01：2025-10 尚未被完整覆盖，"
        "本月未计算，也未发送任何邮件")
    assert "Traceback" not in err
    assert not (tmp_path / "outbox").exists()
    assert not (tmp_path / "out" / "2025-10").exists()
    runs = read_runs(tmp_path / "out")
    assert runs["2025-10"]["status"] == "failed"
    assert "2025-10 尚未被完整覆盖" in runs["2025-10"]["error"]
    assert flow_run_state("review-2025-10") == "FAILED"


def test_a_month_before_the_exports_fails_and_overwrites_nothing(config, tmp_path,
                                                                 prefect_server):
    earlier = tmp_path / "out" / "2024-07"
    earlier.mkdir(parents=True)
    (earlier / "keep.txt").write_text("an earlier good output", "utf-8")

    with pytest.raises(NotCovered, match="工单导出的数据从 2024-08-01 开始：2024-07 在此之前"):
        monthly_review(str(config), "2024-07")

    assert (earlier / "keep.txt").read_text("utf-8") == "an earlier good output"
    assert sorted(p.name for p in earlier.iterdir()) == ["keep.txt"]
    assert not (tmp_path / "outbox").exists()


def test_comparisons_with_months_the_exports_do_not_cover_are_null(config, prefect_server):
    first_year = monthly_review(str(config), "2025-07", send=False)
    document = json.loads(Path(first_year["output_dir"], "_portfolio", "metrics.json")
                          .read_text("utf-8"))
    assert document["coverage"]["tickets"]["first"] == "2024-08-01"
    compare = document["compare"]
    # 2024-07 is before the ticket export: no year-ago ticket figure, never a 0.
    assert {entry["same_month_last_year"] for key, entry in compare.items()
            if key.startswith("tickets.")} == {None}
    assert compare["tickets.created"]["previous_month"] > 0
    assert compare["fees.collection_rate_month"]["previous_month"] is not None

    covered = monthly_review(str(config), "2025-08", send=False)
    later = json.loads(Path(covered["output_dir"], "_portfolio", "metrics.json")
                       .read_text("utf-8"))["compare"]
    assert later["tickets.created"]["same_month_last_year"] > 0


# --------------------------------------------------------------------------- runs.json


def test_a_partial_run_records_only_its_scopes_and_is_not_the_month(config, tmp_path,
                                                                    prefect_server):
    out = tmp_path / "out"
    monthly_review(str(config), "2025-09", communities=["jinjiang"], send=False)

    record = read_runs(out)["2025-09"]
    assert record["status"] == "partial" and not record["full"]
    assert sorted(record["scopes"]) == ["jinjiang"]
    assert sorted(p.name for p in (out / "2025-09").iterdir() if p.is_dir()) == ["jinjiang"]

    monthly_review(str(config), "2025-09", send=False)
    record = read_runs(out)["2025-09"]
    assert record["status"] == "succeeded" and record["full"]
    assert sorted(record["scopes"]) == ["_portfolio", "jinjiang", "nanshan", "pujiang",
                                        "songhua"]

    # A month whose folder was deleted is not "already run".
    for path in sorted((out / "2025-09").rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    (out / "2025-09").rmdir()
    assert "2025-09" not in run_status(out)
    assert main(["backfill", "--config", str(config), "--from", "2025-09", "--to", "2025-09",
                 "--dry-run"]) == 0


def test_a_review_that_fails_to_render_fails_the_run_and_keeps_the_others(
        config, tmp_path, prefect_server, monkeypatch, capsys):
    import yuebao.tasks.render as render

    real = render.write_metrics_xlsx

    def broken_for_nanshan(document, path, language, names, communities=None):
        if document["community"] == "nanshan":
            raise OSError("disk full while writing nanshan's workbook")
        return real(document, path, language, names, communities)

    monkeypatch.setattr(render, "write_metrics_xlsx", broken_for_nanshan)
    assert main(["run", "--config", str(config), "--month", "2025-09"]) == 1

    out = capsys.readouterr()
    assert "nanshan | - | render_failed | OSError: disk full" in out.out
    assert out.err.strip().splitlines()[-1].startswith("yuebao: 2025-09 未全部完成：1 项失败")
    month = tmp_path / "out" / "2025-09"
    assert not (month / "nanshan").exists()  # no half-written folder
    assert (month / "jinjiang" / "metrics.xlsx").is_file()
    eml = sorted(p.stem for p in (tmp_path / "outbox" / "2025-09").glob("*.eml"))
    assert eml == ["_portfolio", "jinjiang", "pujiang", "songhua"]
    record = read_runs(tmp_path / "out")["2025-09"]
    assert record["status"] == "failed"
    assert not record["scopes"]["nanshan"]["rendered"]
    assert flow_run_state("review-2025-09") == "FAILED"

    # --reprocess failed redoes exactly the failed scope.
    monkeypatch.setattr(render, "write_metrics_xlsx", real)
    assert main(["backfill", "--config", str(config), "--from", "2025-09", "--to", "2025-09",
                 "--reprocess", "failed"]) == 0
    assert "nanshan" in capsys.readouterr().out
    record = read_runs(tmp_path / "out")["2025-09"]
    assert record["status"] == "succeeded"
    assert (month / "nanshan" / "metrics.xlsx").is_file()


# --------------------------------------------------------------------------- the lock

HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from yuebao.tasks.bookkeeping.lock import acquire_month
    lock = acquire_month(Path(sys.argv[1]), "2025-09", 5)
    Path(sys.argv[1], ".2025-09.staging-deadbeef").mkdir()
    print("holding", flush=True)
    time.sleep(120)
""")


def test_a_second_writer_fails_naming_the_holder_and_a_dead_holder_is_taken_over(tmp_path):
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        with pytest.raises(MonthBusy) as busy:
            acquire_month(out, "2025-09", 1.0)
        assert time.monotonic() - started >= 1.0
        message = str(busy.value)
        assert message.startswith("2025-09 is being written by another run (host ")
        assert f"PID {holder.pid}, since 20" in message
        assert "waited 1 s" in message
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()

    lock = acquire_month(out, "2025-09", 5)
    try:
        assert lock.took_over is not None and lock.took_over["pid"] == holder.pid
        assert not list(out.glob(".2025-09.staging*"))  # the dead run's debris is gone
        assert json.loads(holder_path(out, "2025-09").read_text())["pid"] == os.getpid()
    finally:
        lock.release()
    assert not holder_path(out, "2025-09").exists()


def test_a_run_killed_between_the_renames_of_publishing_gets_its_month_back(tmp_path):
    out = tmp_path / "out"
    (out / ".2025-09.retired-0123456789ab" / "jinjiang").mkdir(parents=True)
    (out / ".2025-09.retired-0123456789ab" / "jinjiang" / "review.md").write_text("good")
    (out / ".2025-09.staging-0123456789ab").mkdir()

    acquire_month(out, "2025-09", 1).release()

    assert (out / "2025-09" / "jinjiang" / "review.md").read_text() == "good"
    assert sorted(p.name for p in out.iterdir()) == [".locks", "2025-09"]


def test_a_busy_month_fails_the_flow_with_the_holders_line(config, tmp_path, prefect_server,
                                                           capsys):
    text = config.read_text("utf-8")
    config.write_text("lock_wait_seconds = 0.5\n" + text, "utf-8")
    lock = acquire_month(tmp_path / "out", "2025-09", 1)
    try:
        assert main(["run", "--config", str(config), "--month", "2025-09", "--no-send"]) == 1
    finally:
        lock.release()
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith(
        "yuebao: 2025-09 is being written by another run (host ")
    assert f"PID {os.getpid()}" in err and "Traceback" not in err
    assert "2025-09" not in read_runs(tmp_path / "out")  # the loser records nothing
    assert flow_run_state("review-2025-09") == "FAILED"


def test_runs_json_is_never_torn_by_months_ending_together(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from yuebao.tasks.bookkeeping.runs import record_month, scope_record

    out = tmp_path / "out"
    months = [f"2024-{m:02d}" for m in range(1, 13)]
    for month in months:
        (out / month).mkdir(parents=True)
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda m: record_month(out, m, scopes={"a": scope_record(True)}), months))
    assert sorted(read_runs(out)) == months
    assert {r["status"] for r in read_runs(out).values()} == {"succeeded"}


def test_a_backfill_with_a_failed_month_exits_1_and_ends_failed(config, tmp_path,
                                                                prefect_server, capsys):
    assert main(["backfill", "--config", str(config), "--from", "2025-09",
                 "--to", "2025-10"]) == 1
    out = capsys.readouterr()
    assert "2025-10" in out.out and "尚未被完整覆盖" in out.out
    assert out.err.strip().splitlines()[-1] == "yuebao: backfill: 1 of 2 months failed (2025-10)"
    assert flow_run_state("backfill-2025-09-to-2025-10") == "FAILED"
    assert read_runs(tmp_path / "out")["2025-09"]["status"] == "succeeded"

    with pytest.raises(RunFailed):
        from yuebao.flows.monthly_review import backfill

        backfill(str(config), "2025-10", "2025-10", reprocess="failed")


def test_every_month_and_scope_leaves_its_artifacts(config, prefect_server):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from yuebao.tasks.artifacts import slug

    monthly_review(str(config), "2025-08", send=False)

    keys = [f"{kind}-{slug(scope)}-2025-08" for scope in
            ("jinjiang", "songhua", "pujiang", "nanshan", "_portfolio")
            for kind in ("review", "kpis", "files")] + ["quality-2025-08"]
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys)))
    latest = {a.key: a for a in sorted(found, key=lambda a: a.created)}
    assert set(latest) == set(keys)
    assert latest["review-portfolio-2025-08"].type == "markdown"
    assert latest["review-portfolio-2025-08"].data.startswith("# ")
    table = json.loads(latest["kpis-jinjiang-2025-08"].data)
    assert table[0]["指标"] and "本月" in table[0]


def test_artifact_keys_are_slugs_that_never_collide():
    from yuebao.tasks.artifacts import slug

    assert slug("jinjiang") == "jinjiang"
    assert slug("_portfolio") == "portfolio"
    assert slug("portfolio") != "portfolio"
    chinese = slug("锦江小区")
    assert chinese.startswith("x-") and len(chinese) == 10 and chinese == slug("锦江小区")
    assert slug("Allston / Brighton").startswith("allston-brighton-")
    assert slug("a/b") != slug("a_b") != slug("a-b")
    for key in (chinese, slug("Allston / Brighton"), slug("a/b")):
        assert all(c.islower() or c.isdigit() or c == "-" for c in key)
