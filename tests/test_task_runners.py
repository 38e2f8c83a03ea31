"""The task_runner option: a process pool and a Dask cluster give the same bytes.

A 12-community sample is reviewed for one month on the default runner (threads:
the files read one by one, the metrics in one pass), on ``processes`` (a pool of
one process per core) and on ``dask-local:2`` (a real LocalCluster of two worker
processes). On workers each export file is read as a task, the metrics are
computed in a part per worker and each scope is rendered as a task; every
metrics.json, review.md, review.json and chart must be identical.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from yuebao.config import config_from_dict
from yuebao.errors import UsageError
from yuebao.runners import check_spec, task_runner

MONTH = "2025-09"


@pytest.fixture(scope="module")
def twelve(tmp_path_factory) -> Path:
    from yuebao.months import Month
    from yuebao.tasks.sample_config import write_sample_config
    from yuebao.tasks.sample_data import generate_sample

    folder = tmp_path_factory.mktemp("twelve")
    data = generate_sample(folder, seed=5, communities=12, months=14, scale=0.1,
                           last_month=Month.parse(MONTH))
    return write_sample_config(data, folder / "yuebao.toml")


def _config_into(config: Path, out: Path) -> Path:
    text = config.read_text("utf-8").replace('output_dir = "out"', f'output_dir = "{out}"')
    copy = config.with_name(f"{out.name}.toml")
    copy.write_text(text, "utf-8")
    return copy


def _outputs(month_dir: Path) -> dict[str, bytes]:
    return {str(path.relative_to(month_dir)): path.read_bytes()
            for name in ("metrics.json", "review.md", "review.json", "charts/*.png")
            for path in sorted(month_dir.glob(f"*/{name}"))}


def test_dask_local_cluster_gives_byte_identical_outputs(twelve, tmp_path, prefect_server):
    from yuebao.flows.monthly_review import monthly_review

    made, parts, reads = {}, {}, {}
    for spec in ("threads", "processes", "dask-local:2"):
        out = tmp_path / spec.replace(":", "-")
        state = monthly_review(str(_config_into(twelve, out)), MONTH, send=False,
                               task_runner=spec, return_state=True)
        made[spec] = _outputs(out / MONTH)
        parts[spec] = _task_runs(state.state_details.flow_run_id, "metrics-", "-part-")
        reads[spec] = _task_runs(state.state_details.flow_run_id, "", "read-")
    charts = sum(1 for name in made["threads"] if name.endswith(".png"))
    assert len(made["threads"]) == 3 * 13 + charts  # twelve communities and the portfolio
    assert charts >= 13 * 6  # at least the six trends of each scope
    assert made["processes"] == made["threads"]
    assert made["dask-local:2"] == made["threads"]
    # Threads compute the metrics in one pass; a pool or cluster in a part per worker.
    pool = min(task_runner("processes")._max_workers, 12)
    assert parts == {"threads": {}, "processes": {
        f"{MONTH}-part-{n}": "COMPLETED" for n in range(1, pool + 1) if pool > 1},
        "dask-local:2": {
        f"{MONTH}-part-{n}": "COMPLETED" for n in (1, 2)}}
    # On workers each export file is read and checked as a task of its own.
    assert reads["threads"] == {}
    for spec in ("processes", "dask-local:2"):
        assert {name.rsplit("-", 1)[0] for name in reads[spec]} == {
            "read-tickets", "read-bills", "read-payments"}, reads
        assert set(reads[spec].values()) == {"COMPLETED"}


def _task_runs(flow_run_id, prefix: str, like: str) -> dict[str, str]:
    """The flow run's task runs named like ``like``: name (less ``prefix``) and state."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        TaskRunFilter,
        TaskRunFilterName,
    )

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_=like)))
    return {run.name.removeprefix(prefix): run.state.type.value for run in runs}


def test_task_runner_specs_are_checked_when_the_config_is_read(tmp_path):
    for spec in ("threads", "processes", "dask://10.0.0.5:8786", "dask-local:4"):
        assert config_from_dict({"task_runner": spec}, tmp_path).task_runner == spec
    for spec in ("dask", "dask-local:0", "dask://host", "thread", "dask-local:x"):
        with pytest.raises(UsageError, match="task_runner"):
            config_from_dict({"task_runner": spec}, tmp_path)
        with pytest.raises(UsageError):
            check_spec(spec)
