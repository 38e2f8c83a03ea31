"""The wording rules of review.md, over every draft of a 24-month demo backfill.

The demo's sample (four communities in 北京, 哈尔滨, 上海 and 深圳, 24 months) is
drafted month after month through the real stages, each month following up the
last one's review.json, in both languages. Every draft must then keep the rules a
manager reads it by: no line said twice, one precision per kind of figure (rates
and points 2 decimals, minutes and hours 1, money 2; 万元 above 100,000 in
Chinese prose), no raw community id anywhere (the portfolio names communities),
and seasonal work that belongs to the community's climate.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from yuebao.config import load_config
from yuebao.tasks.draft import month_drafts, review_record
from yuebao.tasks.ingest import ingest_task
from yuebao.tasks.metrics import NotCovered, coverage_task, history_task, metrics_task
from yuebao.tasks.render import render_review
from yuebao.tasks.sample_config import write_sample_config
from yuebao.tasks.sample_data import generate_sample

MONTHS = 24
# Figure, then its unit, as the templates write them ("87.05%", "23.4 分钟", "12.30 万元").
FIGURE = {
    "zh": re.compile(r"(?<![\d.,])(\d[\d,]*(?:\.\d+)?)(%(?!工单)| 个百分点| 分钟| 小时| 万元| 元)"),
    "en": re.compile(r"(?<![\d.,])(\d[\d,]*(?:\.\d+)?)(%(?!-)| pp\b| min\b| h\b| yuan\b)"),
}
DECIMALS = {"%": 2, "个百分点": 2, "pp": 2, "分钟": 1, "min": 1, "小时": 1, "h": 1,
            "万元": 2, "元": 2, "yuan": 2}
# Work that has no place in a climate: frost and heating in 深圳 (夏热冬暖), lawn
# mowing and pruning in 哈尔滨's winter (严寒).
NOT_IN_SHENZHEN = ("冻", "供暖", "积雪", "除雪", "融雪", "越冬", "入秋")
NOT_IN_HARBIN_WINTER = ("草坪", "修剪")


@pytest.fixture(scope="module")
def reviews(tmp_path_factory) -> dict[str, dict[tuple[str, str], str]]:
    """review.md of every scope and month of the backfill, by language."""
    folder = tmp_path_factory.mktemp("demo24")
    sample = generate_sample(folder, seed=7, communities=4, months=MONTHS, scale=0.2)
    config = load_config(write_sample_config(sample, folder / "yuebao.toml"))
    ingested = ingest_task.fn(config)
    months = [sample.last_month.shift(-back) for back in range(MONTHS - 1, -1, -1)]
    found: dict[str, dict[tuple[str, str], str]] = {}
    for language in ("zh", "en"):
        in_language = config.model_copy(update={"language": language})
        records, texts = None, {}
        for month in months:
            try:
                spans = coverage_task.fn(ingested, month, language)
            except NotCovered:
                continue
            drafts = month_drafts(metrics_task.fn(ingested, in_language, month, spans),
                                  history_task.fn(ingested, in_language, month),
                                  in_language, month, records)
            records = {scope: json.loads(json.dumps(review_record(draft)))
                       for scope, draft in drafts.items()}
            texts |= {(str(month), scope): render_review(draft, language)[0]
                      for scope, draft in drafts.items()}
        found[language] = texts
    return found


def _prose(text: str) -> list[str]:
    """The draft's lines that are not tables (a table row repeats its layout)."""
    return [line for line in text.splitlines() if line.strip() and not line.startswith("|")]


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n### ", start + len(heading))
    return text[start:end if end > 0 else None]


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_month_of_the_backfill_has_a_draft_per_scope(reviews, language):
    months = {month for month, _ in reviews[language]}
    assert len(months) >= MONTHS - 1  # the exports' first month may not be covered
    scopes = Counter(scope for _, scope in reviews[language])
    assert set(scopes) == {"jinjiang", "songhua", "pujiang", "nanshan", "_portfolio"}
    assert len(set(scopes.values())) == 1


@pytest.mark.parametrize("language", ["zh", "en"])
def test_no_line_repeats_within_a_draft(reviews, language):
    repeated = {key: line for key, text in reviews[language].items()
                for line, times in Counter(_prose(text)).items() if times > 1}
    assert repeated == {}


@pytest.mark.parametrize("language", ["zh", "en"])
def test_one_precision_per_kind_of_figure(reviews, language):
    wrong = []
    for key, text in reviews[language].items():
        for line in _prose(text):
            for number, unit in FIGURE[language].findall(line):
                unit = unit.strip()
                decimals = len(number.partition(".")[2])
                if decimals != DECIMALS[unit]:
                    wrong.append((key, f"{number} {unit}", line))
                if unit == "元" and float(number.replace(",", "")) >= 100_000:
                    wrong.append((key, f"{number} 元 (not in 万元)", line))
    assert wrong == []


def test_the_figures_the_rules_read_are_there(reviews):
    """The rules above are not vacuous: every kind of figure occurs in the drafts."""
    seen = {language: Counter(unit.strip() for text in texts.values()
                              for line in _prose(text)
                              for _, unit in FIGURE[language].findall(line))
            for language, texts in reviews.items()}
    assert {"%", "个百分点", "分钟", "小时", "万元", "元"} <= set(seen["zh"])
    assert {"%", "pp", "min", "h", "yuan"} <= set(seen["en"])


@pytest.mark.parametrize("language", ["zh", "en"])
def test_no_raw_community_id_in_any_draft(reviews, language):
    ids = re.compile(r"(?<![A-Za-z_])(jinjiang|songhua|pujiang|nanshan|_portfolio)(?![A-Za-z_])")
    leaked = {key: ids.findall(text) for key, text in reviews[language].items()
              if ids.search(text)}
    assert leaked == {}
    portfolio = [text for (_, scope), text in reviews[language].items() if scope == "_portfolio"]
    assert all("锦江小区" in text and "南山雅苑" in text for text in portfolio)


def test_seasonal_work_belongs_to_the_climate(reviews):
    heading = "月季节性工作\n"
    shenzhen = [(month, word) for (month, scope), text in reviews["zh"].items()
                if scope == "nanshan" for word in NOT_IN_SHENZHEN
                if word in _section(text, heading) + _section(text, "）节假日安排")]
    assert shenzhen == []
    winter = [(month, word) for (month, scope), text in reviews["zh"].items()
              if scope == "songhua" and int(month[5:]) % 12 + 1 in (11, 12, 1, 2, 3)
              for word in NOT_IN_HARBIN_WINTER if word in _section(text, heading)]
    assert winter == []
    # Harbin's plans do carry their winter work, so the check above reads real plans.
    assert any("防冻" in _section(text, heading) for (month, scope), text
               in reviews["zh"].items() if scope == "songhua")


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_ceiling_of_zero_reads_as_zero(reviews, language):
    """超时未办结工单的目标是 0 件: "目标 0 件", never "不高于 0 件"."""
    odd = re.compile(r"(不高于|at most) 0(?![.,\d])")
    assert [key for key, text in reviews[language].items() if odd.search(text)] == []
    assert any("超时未办结工单" in text for text in reviews["zh"].values())
