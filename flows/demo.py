"""Flows behind ``yuebao sample-data`` and ``yuebao demo``."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from yuebao.flows.monthly_review import monthly_review
from yuebao.months import Month
from yuebao.tasks.sample_config import write_sample_config
from yuebao.tasks.sample_data import generate_sample

CONFIG_NAME = "yuebao.toml"

generate_task = task(generate_sample, name="generate-sample", cache_policy=NO_CACHE)
config_task = task(write_sample_config, name="write-config", cache_policy=NO_CACHE)


@flow(name="sample_data")
def sample_data(out: str, seed: int = 7, communities: int = 4, months: int = 24,
                scale: float = 1.0, style: str = "zh-generic") -> dict:
    """Realistic sample exports and a config that reads them.

    ``style`` is ``zh-generic`` (each community's exports as its own system writes
    them: Chinese headers, GBK, Excel) or ``canonical`` (three CSV files in yuebao's
    own format).
    """
    sample = generate_task(Path(out), seed=seed, communities=communities, months=months,
                           scale=scale, style=style)
    config = config_task(sample, Path(out) / CONFIG_NAME)
    return {"exports_dir": str(sample.exports_dir), "config": str(config),
            "last_month": str(sample.last_month), "rows": sample.rows,
            "profile": sample.profile}


@flow(name="demo")
def demo(out: str = "demo", seed: int = 7, style: str = "zh-generic") -> dict:
    """Sample exports, then the latest complete month end to end, delivered to the outbox.

    The month before is drafted first (not sent), so that the latest month's draft
    opens part 4 with the follow-up of its actions, as a monthly run would.
    """
    sample = sample_data(out, seed, style=style)
    before = str(Month.parse(sample["last_month"]).shift(-1))
    monthly_review(sample["config"], before, send=False)
    return monthly_review(sample["config"], sample["last_month"])
