"""The ``yuebao`` command as a user runs it: a separate process, Prefect ephemeral, offline."""

from __future__ import annotations

import email
import email.policy
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd


def _yuebao(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(home / "prefect-home")}
    return subprocess.run([sys.executable, "-m", "yuebao.cli", *args], capture_output=True,
                          text=True, env=env, timeout=600, cwd=home)


def _all_rows(config_path: Path, table: str) -> pd.DataFrame:
    """Every row of a table's exports, quarantined ones too, as the config's profile reads
    them (the demo's exports are per community, in GBK, UTF-8 and Excel)."""
    from yuebao.config import load_config
    from yuebao.profile import load_profile
    from yuebao.tasks.ingest.read import find_exports, read_source

    config = load_config(config_path)
    profile = load_profile(config.sources.profile, config.base_dir)
    paths = find_exports(getattr(config.sources, table), config.base_dir, table)
    return pd.concat([read_source(p, config.base_dir, profile, table).rows for p in paths])


def test_sample_data_style_defaults_to_real_world_exports():
    from yuebao.cli import STYLES, _parser
    from yuebao.tasks.sample_data import STYLES as GENERATOR_STYLES

    assert set(STYLES) == set(GENERATOR_STYLES)
    for command in (["sample-data", "--out", "x"], ["demo"]):
        assert _parser().parse_args(command).style == "zh-generic"
    assert _parser().parse_args(["sample-data", "--out", "x", "--style", "canonical"]).style \
        == "canonical"


def test_demo_runs_end_to_end_without_errors(tmp_path):
    result = _yuebao("demo", "--out", str(tmp_path / "demo"), home=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output and "ERROR" not in output
    reviews = re.findall(r"(\S+/review\.md)", result.stdout)
    emails = re.findall(r"(\S+\.eml)", result.stdout)
    assert len(reviews) == 5 and len(emails) == 5  # four communities and the portfolio
    assert all(Path(p).is_file() for p in reviews + emails)
    # The month before was drafted first, so each draft follows up its actions.
    for path in reviews:
        follow = Path(path).read_text("utf-8").split("上月整改事项跟踪")[1].split("###")[0]
        assert "没有本项目" not in follow
        assert re.search(r"(已见效|有改善|未见效|本月无数据)。", follow)
    # Personal data of the exports never reaches what is emailed.
    tickets = _all_rows(tmp_path / "demo" / "yuebao.toml", "tickets")
    phones = set(tickets["reporter_phone"].dropna()) - {""}
    names = set(tickets["reporter_name"].dropna()) - {""}
    assert len(phones) > 100 and len(names) > 100
    emailed = [Path(p).read_text("utf-8") for p in reviews]
    for path in emails:
        message = email.message_from_bytes(Path(path).read_bytes(), policy=email.policy.default)
        emailed += [part.get_content() for part in message.walk()
                    if part.get_content_maintype() == "text"]
        assert message["Subject"] and "月" in message["Subject"]
    assert all("工作总结" in text for text in emailed)
    for text in emailed:
        assert not any(phone in text for phone in phones)
        assert not any(name in text for name in names if len(name) >= 2)


def test_usage_error_is_one_line_and_exit_2(tmp_path):
    result = _yuebao("run", "--config", str(tmp_path / "nope.toml"), home=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"yuebao: config file not found: {tmp_path / 'nope.toml'}"]
    assert result.stdout == ""


def test_an_error_inside_the_flow_is_one_line_with_no_traceback(tmp_path):
    (tmp_path / "tickets.csv").write_bytes(b"PK\x03\x04\x00\x00not a table")
    (tmp_path / "yuebao.toml").write_text('[sources]\ntickets = ["tickets.csv"]\n', "utf-8")

    result = _yuebao("run", "--config", str(tmp_path / "yuebao.toml"), "--month", "2025-09",
                     "--no-send", home=tmp_path)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.startswith("yuebao:")]
    assert lines == ["yuebao: tickets.csv: not a table: the file is binary "
                     "(an Excel file named .csv?)"]


def test_a_temporary_server_that_does_not_start_says_what_to_do(tmp_path):
    (tmp_path / "yuebao.toml").write_text("", "utf-8")
    env_home = tmp_path / "home"
    env_home.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "yuebao.cli", "run", "--config", str(tmp_path / "yuebao.toml"),
         "--month", "2025-09", "--no-send"], capture_output=True, text=True, timeout=300,
        cwd=tmp_path,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")},
             "PREFECT_HOME": str(env_home),
             "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "1"})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert ("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS higher (now 1 s), or start one "
            "with 'prefect server start'") in result.stderr
