"""prefect.yaml on real parts: a Prefect server, a process work pool, a worker, the CLI.

The README's commands ("每月自动运行 Running every month"), each run as a user runs it:
``prefect server start`` with its own PREFECT_HOME, ``prefect work-pool create``,
``prefect deploy --all`` from the repository root, ``prefect worker start``,
``prefect deployment run ... --watch``, ``prefect automation create --from-file``.
Last, a run killed with its worker (SIGKILL) must be marked Crashed by the zombie-run
automation. Every process is started in its own process group and killed in a ``finally``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path
from uuid import UUID

import pytest
import yaml
from conftest import own_config

from yuebao.config import Config

REPO = Path(__file__).resolve().parents[1]
PREFECT_YAML = REPO / "prefect.yaml"
ZOMBIES = REPO / "deployments" / "crash-zombie-runs.yaml"
SERVER_START_SECONDS = 180  # a loaded 2-core machine is slow to migrate a new database
RUN_SECONDS = 300
ZOMBIE_SECONDS = 240  # 90 s without a heartbeat, then the automation's evaluation


def _deployments() -> dict[str, dict]:
    project = yaml.safe_load(PREFECT_YAML.read_text("utf-8"))
    return {d["name"]: d for d in project["deployments"]}


def test_prefect_yaml_has_the_cron_of_schedules_toml():
    """deployments/schedules.toml is the one source of the cron; prefect.yaml repeats it."""
    settings = tomllib.loads((REPO / "deployments" / "schedules.toml").read_text("utf-8"))
    monthly_settings = settings["monthly_review"]
    deployments = _deployments()
    monthly = deployments[monthly_settings["name"]]
    assert monthly["entrypoint"] == "yuebao.flows.monthly_review:monthly_review"
    assert [s["cron"] for s in monthly["schedules"]] == [monthly_settings["cron"]]
    assert monthly["schedules"][0]["timezone"] == Config.model_fields["timezone"].default
    assert monthly["description"] == monthly_settings["description"]
    assert monthly["tags"] == monthly_settings["tags"]
    assert monthly["concurrency_limit"] == 1
    backfill = deployments["backfill"]
    assert backfill["entrypoint"] == "yuebao.flows.monthly_review:backfill"
    assert not backfill["schedules"]
    for deployment in deployments.values():
        assert deployment["parameters"]["config_path"] == "{{ $YUEBAO_CONFIG }}"
        assert deployment["work_pool"]["name"] == "yuebao"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _prefect() -> str:
    beside = Path(sys.executable).with_name("prefect")
    return str(beside) if beside.exists() else (shutil.which("prefect") or "prefect")


class Processes:
    """Background processes, each its own process group, all ended by ``stop``."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.started: list[tuple[subprocess.Popen, Path]] = []

    def start(self, name: str, argv: list[str], env: dict, cwd: Path) -> subprocess.Popen:
        log = self.logs / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True)
        self.started.append((process, log))
        return process

    def stop(self) -> None:
        for process, _ in reversed(self.started):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process, _ in reversed(self.started):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            # the group may hold children (a flow run started by the worker)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text("utf-8", "replace").splitlines()[-lines:])


def _wait_healthy(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.skip(f"`prefect server start` cannot run here (exit {server.returncode}):\n"
                        f"{_tail(log)}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    pytest.skip(f"`prefect server start` did not answer /api/health within "
                f"{SERVER_START_SECONDS} s:\n{_tail(log)}")


def _cli(args: list[str], env: dict, cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([_prefect(), *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _flow_run(client, step: subprocess.CompletedProcess):
    """The flow run that ``prefect deployment run`` created (its ``UUID:`` line)."""
    found = re.search(r"UUID: ([0-9a-f-]{36})", step.stdout)
    assert found, step.stdout[-3000:]
    return client.read_flow_run(UUID(found.group(1)))


def _wait_for(client, run_id: UUID, state: str, seconds: float):
    deadline = time.monotonic() + seconds
    while True:
        run = client.read_flow_run(run_id)
        if run.state.type.value == state:
            return run
        assert time.monotonic() < deadline, f"still {run.state} after {seconds} s"
        assert not run.state.is_final(), run.state
        time.sleep(1)


def _processes_of_flow_run(run_id: UUID) -> list[int]:
    """PIDs whose environment names this flow run (the worker starts it in its own session)."""
    wanted = f"PREFECT__FLOW_RUN_ID={run_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if wanted in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_deployed_month_and_backfill_run_on_a_process_worker(sample, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterKey,
        FlowRunFilter,
        FlowRunFilterId,
        TaskRunFilter,
        TaskRunFilterName,
    )
    from prefect.settings import PREFECT_API_URL, temporary_settings

    config = own_config(sample, tmp_path)
    # A deployed run uses the runner its config names: the metrics in parts on a pool.
    config.write_text('task_runner = "processes"\n' + config.read_text("utf-8"), "utf-8")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    home = tmp_path / "prefect-home"
    home.mkdir()
    env = {name: value for name, value in os.environ.items() if not name.startswith("PREFECT_")}
    env.update({
        "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_CLI_PROMPT": "false", "PREFECT_HOME": str(home),
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        "YUEBAO_CONFIG": str(config),
    })
    processes = Processes(tmp_path)
    timings: dict[str, float] = {}
    began = time.monotonic()
    try:
        server = processes.start("server", [_prefect(), "server", "start", "--host",
                                            "127.0.0.1", "--port", str(port)], env, tmp_path)
        _wait_healthy(url, server, tmp_path / "server.log")
        timings["server"] = time.monotonic() - began

        # The README's way: the API URL goes into the profile in PREFECT_HOME.
        step = _cli(["config", "set", f"PREFECT_API_URL={url}"], env, REPO, 120)
        assert step.returncode == 0, step.stdout + step.stderr
        step = _cli(["work-pool", "create", "yuebao", "--type", "process"], env, REPO, 120)
        assert step.returncode == 0, step.stdout + step.stderr
        step = _cli(["deploy", "--all"], env, REPO, 300)
        assert step.returncode == 0, step.stdout + step.stderr
        step = _cli(["automation", "create", "--from-file", str(ZOMBIES)], env, REPO, 120)
        assert step.returncode == 0, step.stdout + step.stderr
        timings["pool, deploy, automation"] = time.monotonic() - began - sum(timings.values())

        worker = processes.start("worker", [_prefect(), "worker", "start", "--pool", "yuebao"],
                                 env, tmp_path)
        mark = time.monotonic()
        step = _cli(["deployment", "run", "monthly_review/monthly", "--param", "month=2025-09",
                     "--watch", "--watch-timeout", str(RUN_SECONDS)], env, tmp_path,
                    RUN_SECONDS + 30)
        timings["monthly run"] = time.monotonic() - mark
        assert step.returncode == 0, (step.stdout + step.stderr)[-3000:] + _tail(
            tmp_path / "worker.log")

        with temporary_settings({PREFECT_API_URL: url}), get_client(sync_client=True) as client:
            run = _flow_run(client, step)
            deployment = client.read_deployment_by_name("monthly_review/monthly")
            assert run.state.type.value == "COMPLETED", run.state
            assert run.name == "review-2025-09"
            assert run.parameters["config_path"] == str(config)
            assert deployment.schedules[0].schedule.cron == "0 2 1 * *"
            assert deployment.schedules[0].schedule.timezone == "Asia/Shanghai"
            assert deployment.work_pool_name == "yuebao"
            artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["review-portfolio-2025-09"])))
            assert artifacts and artifacts[0].flow_run_id == run.id
            parts = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])),
                task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_="-part-")))
            pool = min(os.cpu_count() or 1, 4)  # a part per process, at most one per community
            assert sorted((p.name, p.state.type.value) for p in parts) == [
                (f"metrics-2025-09-part-{n}", "COMPLETED") for n in range(1, pool + 1)
                if pool > 1]
            automations = client.read_automations_by_name("yuebao-crash-zombie-runs")
            assert automations and automations[0].enabled

        reviews = sorted((tmp_path / "out" / "2025-09").glob("*/review.md"))
        assert len(reviews) >= 5, reviews  # four communities and the portfolio

        # 2025-09 is done, so the backfill runs August and October; the exports end in
        # September, so October is not covered and the backfill ends Failed.
        mark = time.monotonic()
        step = _cli(["deployment", "run", "backfill/backfill", "--param", "first=2025-08",
                     "--param", "last=2025-10", "--watch", "--watch-timeout", str(RUN_SECONDS)],
                    env, tmp_path, RUN_SECONDS + 30)
        timings["backfill run"] = time.monotonic() - mark
        assert step.returncode == 1, (step.stdout + step.stderr)[-3000:]
        with temporary_settings({PREFECT_API_URL: url}), get_client(sync_client=True) as client:
            run = _flow_run(client, step)
            assert run.state.type.value == "FAILED", run.state
            assert run.name == "backfill-2025-08-to-2025-10"
            assert "1 of 3 months failed (2025-10)" in run.state.message
        assert (tmp_path / "out" / "2025-08" / "_portfolio" / "review.md").exists()
        assert not (tmp_path / "out" / "2025-10" / "_portfolio").exists()
        assert "NotCovered" in (tmp_path / "worker.log").read_text("utf-8", "replace")

        # A zombie: the machine goes away mid-run (worker and flow run killed with SIGKILL),
        # so nothing reports the end. The automation marks the run Crashed once its
        # heartbeats (every 30 s) stop for 90 s.
        mark = time.monotonic()
        step = _cli(["deployment", "run", "backfill/backfill", "--param", "first=2024-10",
                     "--param", "last=2025-09", "--param", "reprocess=all"], env, tmp_path, 120)
        assert step.returncode == 0, step.stdout + step.stderr
        with temporary_settings({PREFECT_API_URL: url}), get_client(sync_client=True) as client:
            run = _flow_run(client, step)
            run = _wait_for(client, run.id, "RUNNING", RUN_SECONDS)
            time.sleep(5)  # its first heartbeat goes out as it starts running
            os.killpg(worker.pid, signal.SIGKILL)
            pids = _processes_of_flow_run(run.id)
            assert pids, "the flow run's process was not found"
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            killed = time.monotonic()
            assert client.read_flow_run(run.id).state.type.value == "RUNNING"
            run = _wait_for(client, run.id, "CRASHED", ZOMBIE_SECONDS)
            assert "missing heartbeats" in run.state.message
        timings["zombie crashed after kill"] = time.monotonic() - killed
        timings["zombie phase"] = time.monotonic() - mark
    finally:
        processes.stop()
        timings["total"] = time.monotonic() - began
        print("timings (s):", {k: round(v, 1) for k, v in timings.items()})
