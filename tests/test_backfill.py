"""Backfills under a real Prefect server: a failing month loses nothing, nothing runs twice."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import own_config

import yuebao.flows.monthly_review as review_flows
from yuebao.errors import RunFailed
from yuebao.flows.monthly_review import backfill, monthly_review
from yuebao.months import Month
from yuebao.tasks.bookkeeping import Reprocess, months_to_run


@pytest.fixture()
def config(sample, tmp_path) -> Path:
    return own_config(sample, tmp_path)


def test_a_failing_month_keeps_its_last_outputs_and_stops_nothing(config, tmp_path,
                                                                   prefect_server, monkeypatch):
    out = tmp_path / "out"
    monthly_review(str(config), "2025-08", send=False)
    august = (out / "2025-08" / "_portfolio" / "metrics.json").read_bytes()

    real_draft = review_flows.draft_task

    def draft_failing_in_august(metrics, history, config, month, *rest):
        if str(month) == "2025-08":
            raise RuntimeError("the draft of August broke")
        return real_draft(metrics, history, config, month, *rest)

    monkeypatch.setattr(review_flows, "draft_task", draft_failing_in_august)
    with pytest.raises(RunFailed, match=r"backfill: 1 of 3 months failed \(2025-08\)") as failed:
        backfill(str(config), "2025-07", "2025-09", reprocess="all")
    rows = failed.value.result["rows"]
    status = {(r["month"], r["scope"]): r["status"] for r in rows}
    assert status[("2025-08", "*")] == "failed"
    assert status[("2025-07", "_portfolio")] == "succeeded"
    assert status[("2025-09", "_portfolio")] == "succeeded"
    # August's earlier outputs are untouched; no staging folder is left behind.
    assert (out / "2025-08" / "_portfolio" / "metrics.json").read_bytes() == august
    assert not list(out.glob(".*staging*")) and not list(out.glob(".*retired*"))
    runs = json.loads((out / "runs.json").read_text("utf-8"))
    assert runs["2025-08"]["status"] == "failed" and "August broke" in runs["2025-08"]["error"]
    # By default nothing is sent in a backfill.
    assert not (tmp_path / "outbox").exists()

    monkeypatch.setattr(review_flows, "draft_task", real_draft)
    assert backfill(str(config), "2025-07", "2025-09", dry_run=True) == [
        {"month": m, "scope": "*", "status": "skipped", "detail": "already run"}
        for m in ("2025-07", "2025-08", "2025-09")]
    again = backfill(str(config), "2025-07", "2025-09", reprocess="failed")
    assert {r["month"] for r in again if r["status"] == "succeeded"} == {"2025-08"}
    assert json.loads((out / "runs.json").read_text("utf-8"))["2025-08"]["status"] == "succeeded"


def test_months_to_run():
    months = Month.parse("2025-01").range_to(Month.parse("2025-04"))
    status = {"2025-01": {"status": "succeeded"}, "2025-02": {"status": "failed"},
              "2025-03": {"status": "partial"}}
    assert [str(m) for m in months_to_run(status, months, Reprocess.NONE)] == [
        "2025-03", "2025-04"]
    assert [str(m) for m in months_to_run(status, months, Reprocess.FAILED)] == [
        "2025-02", "2025-03", "2025-04"]
    assert len(months_to_run(status, months, Reprocess.ALL)) == 4


def _children(parent_id) -> dict[str, str]:
    """The backfill's child flow runs, by name: their state types as Prefect recorded them."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent_id])))
    return {run.name: run.state.type.value for run in runs}


def _outputs(out: Path) -> dict[str, bytes]:
    return {str(path.relative_to(out)): path.read_bytes()
            for path in sorted(out.glob("2025-0[789]/*/*"))
            if path.name in ("metrics.json", "review.md", "review.json")}


def test_each_month_is_a_child_flow_run_and_parallel_months_give_the_same_outputs(
        config, tmp_path, prefect_server, monkeypatch):
    real_draft = review_flows.draft_task

    def draft_failing_in_august(metrics, history, config, month, *rest):
        if str(month) == "2025-08":
            raise RuntimeError("the draft of August broke")
        return real_draft(metrics, history, config, month, *rest)

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName

    monkeypatch.setattr(review_flows, "draft_task", draft_failing_in_august)
    ingests, fetches = [], []
    real_ingest, real_fetch = review_flows.ingest_task, review_flows.fetch_task

    def counted_ingest(config, fetched=None, workers=None):
        ingests.append(1)
        return real_ingest(config, fetched, workers)

    def counted_fetch(config):
        fetches.append(1)
        return real_fetch(config)

    monkeypatch.setattr(review_flows, "ingest_task", counted_ingest)
    monkeypatch.setattr(review_flows, "fetch_task", counted_fetch)
    state = backfill(str(config), "2025-07", "2025-09", reprocess="all", return_state=True)
    assert state.type.value == "FAILED"
    assert "1 of 3 months failed (2025-08)" in state.message
    assert len(ingests) == len(fetches) == 1  # one reading of the exports for the 3 months
    assert _children(state.state_details.flow_run_id) == {
        "review-2025-07": "COMPLETED", "review-2025-08": "FAILED",
        "review-2025-09": "COMPLETED"}
    with get_client(sync_client=True) as client:
        names = {run.name for run in client.read_task_runs(task_run_filter=TaskRunFilter(
            name=TaskRunFilterName(like_="render-2025-07")))}
    # Each scope renders as a task of its own, named by month and scope slug.
    assert {"render-2025-07-portfolio", "render-2025-07-jinjiang"} <= names, names
    serial = _outputs(tmp_path / "out")
    assert len(serial) == 2 * 5 * 3  # July and September, four communities and the portfolio

    shutil.rmtree(tmp_path / "out")
    state = backfill(str(config), "2025-07", "2025-09", reprocess="all", max_parallel=2,
                     return_state=True)
    assert state.type.value == "FAILED"
    assert _children(state.state_details.flow_run_id) == {
        "review-2025-07": "COMPLETED", "review-2025-08": "FAILED",
        "review-2025-09": "COMPLETED"}
    assert _outputs(tmp_path / "out") == serial
    runs = json.loads((tmp_path / "out" / "runs.json").read_text("utf-8"))
    assert {m: r["status"] for m, r in runs.items()} == {
        "2025-07": "succeeded", "2025-08": "failed", "2025-09": "succeeded"}
