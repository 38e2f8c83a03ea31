"""The monthly schedule: 02:00 on the 1st in the company's time zone, one run at a time."""

from __future__ import annotations

from yuebao.deployments.monthly import monthly_deployment


def test_the_deployment_runs_monthly_in_the_config_time_zone(sample):
    config, _ = sample
    deployment = monthly_deployment(config)
    assert deployment.name == "monthly"
    assert deployment.parameters == {"config_path": str(config.resolve())}
    schedule = deployment.schedules[0].schedule
    assert schedule.cron == "0 2 1 * *"
    assert schedule.timezone == "Asia/Shanghai"
    assert deployment.concurrency_limit == 1
