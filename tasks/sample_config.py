"""The commented config file that ``yuebao demo`` and ``sample-data`` write next to the exports."""

from __future__ import annotations

from pathlib import Path

from yuebao.tasks.render import environment, write_text
from yuebao.tasks.sample_data import SampleSet


def write_sample_config(sample: SampleSet, path: Path, timezone: str = "Asia/Shanghai",
                        language: str = "zh") -> Path:
    """A complete config for the sample exports, with every key explained."""
    def relative(target: Path) -> str:
        return target.relative_to(path.parent).as_posix()

    text = environment(language).get_template("config.toml.j2").render(
        timezone=timezone, communities=sample.communities, tickets=relative(sample.tickets),
        bills=relative(sample.bills), payments=relative(sample.payments))
    write_text(path, text)
    return path
