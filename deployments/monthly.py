"""Serve ``monthly_review`` on its schedule (deployments/schedules.toml).

    python -m yuebao.deployments.monthly --config /path/to/yuebao.toml

keeps a process running that starts the flow at 02:00 on the 1st of each month
in the config's time zone. Point ``PREFECT_API_URL`` at a Prefect server to see
the runs in its UI; without it Prefect runs a local temporary server.

With a Prefect server and a process work pool, use the repository's ``prefect.yaml``
instead (README "每月自动运行 Running every month"); both use the cron of schedules.toml.
"""

from __future__ import annotations

import argparse
import tomllib
from importlib import resources
from pathlib import Path

from prefect import serve
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

from yuebao.config import load_config
from yuebao.flows.monthly_review import monthly_review


def schedule_settings() -> dict:
    text = resources.files("yuebao.deployments").joinpath("schedules.toml").read_text("utf-8")
    return tomllib.loads(text)["monthly_review"]


def monthly_deployment(config_path: Path) -> RunnerDeployment:
    """The scheduled deployment of one company's config; one run at a time."""
    config = load_config(config_path)
    settings = schedule_settings()
    return monthly_review.to_deployment(
        name=settings["name"],
        schedules=[Cron(settings["cron"], timezone=config.timezone)],
        parameters={"config_path": str(Path(config_path).resolve())},
        description=settings["description"],
        tags=settings["tags"],
        concurrency_limit=1,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    args = parser.parse_args(argv)
    serve(monthly_deployment(args.config))


if __name__ == "__main__":
    main()
