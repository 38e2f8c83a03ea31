"""The commented config file that ``yuebao demo`` and ``sample-data`` write next to the exports."""

from __future__ import annotations

from pathlib import Path

from yuebao.schema import TABLES
from yuebao.tasks.render import environment, write_text
from yuebao.tasks.sample_data import SampleSet


def write_sample_config(sample: SampleSet, path: Path, timezone: str = "Asia/Shanghai",
                        language: str = "zh") -> Path:
    """A complete config for the sample exports, with every key explained.

    The sample's profile and globs are written as they are, relative to the
    config's folder (absolute when the exports are elsewhere).
    """
    def relative(pattern: str) -> str:
        target = sample.exports_dir.parent / pattern
        try:
            return target.relative_to(path.parent).as_posix()
        except ValueError:
            return target.as_posix()

    patterns = {table: [relative(p) for p in sample.patterns[table]]
                for table in TABLES}
    text = environment(language).get_template("config.toml.j2").render(
        timezone=timezone, communities=sample.communities, profile=sample.profile, **patterns)
    write_text(path, text)
    return path
