"""The review in both languages: the same five parts, the same figures, and English that is English.

The drafts are built through the real stages (ingest, metrics, draft) from the
hand-built fixture of test_metrics, plus three rows that exercise the data
quality sentences without changing any September figure: a ticket with an
impossible date (quarantined), a June ticket with an unknown priority and a
rating of 9 (kept, with notes), and an exact copy of T11 (a duplicate).
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
from dataclasses import asdict
from importlib import resources
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_metrics import BILLS, PAYMENTS, TICKETS

from yuebao.config import config_from_dict
from yuebao.months import Month
from yuebao.schema import PORTFOLIO
from yuebao.tasks.draft import Finding, month_drafts
from yuebao.tasks.ingest import ingest
from yuebao.tasks.metrics import build_scope, created_history, data_quality, month_documents
from yuebao.tasks.render import environment, labels, render_review, subject

LANGUAGES = ("zh", "en")
TEMPLATES = resources.files("yuebao.templates")

T11 = next(line for line in TICKETS.splitlines() if line.startswith("T11,"))
EXTRA_TICKETS = (
    "T90,a,1栋,1-1-101,2025-09-31 10:00:00,,,,repair,plumbing_electric,normal,,0,false\n"
    "T91,a,2栋,2-1-201,2025-06-10 10:00:00,2025-06-10 10:10:00,2025-06-10 12:00:00,"
    "2025-06-10 13:00:00,repair,elevator,high,9,0,false\n"
    f"{T11}\n"
)

HEADINGS = {
    "zh": ["一、本月工作概况", "二、成果与亮点", "三、问题与挑战", "四、经验提炼与下月计划",
           "五、结语"],
    "en": ["1. Overview of the month", "2. Achievements and highlights",
           "3. Problems and challenges", "4. Lessons learned and next month's plan",
           "5. Closing remarks"],
}

CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")


def _column(text: str, name: str) -> set[str]:
    return {row[name] for row in csv.DictReader(io.StringIO(text)) if row[name]}


# Chinese words that come from the data, not from the templates.
DATA_WORDS = sorted(_column(BILLS, "fee_item") | _column(BILLS, "building")
                    | _column(TICKETS, "building"), key=len, reverse=True)


def _without_data(text: str) -> str:
    for word in DATA_WORDS:
        text = text.replace(word, "")
    return text


def _drafts(folder: Path, language: str) -> dict[str, dict]:
    exports = {"tickets": TICKETS + EXTRA_TICKETS, "bills": BILLS, "payments": PAYMENTS}
    for name, text in exports.items():
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    config = config_from_dict({
        "language": language,
        "communities": [
            {"id": "a", "name": "Jinjiang Garden", "city": "北京", "households": 50,
             "managers": ["a@example.com"]},
            {"id": "b", "name": "Songhua Court", "city": "哈尔滨", "households": 20,
             "managers": ["b@example.com"]},
        ],
        "portfolio": {"name": "Example Property Services Co."},
    }, folder)
    data = ingest({t: [f"{t}.csv"] for t in exports}, folder, "Asia/Shanghai")
    month = Month(2025, 9)
    scope = build_scope(config, month, ["a", "b"])
    configured = [c.id for c in config.communities]
    targets = {s: config.targets_for(s if s in configured else None) for s in scope.scopes}
    metrics = month_documents(data.tickets, data.bills, data.payments, scope, data.available,
                              targets, data_quality(data, scope, configured))
    return month_drafts(metrics, created_history(data.tickets, scope), config, month)


@pytest.fixture(scope="module")
def drafts(tmp_path_factory) -> dict[str, dict[str, dict]]:
    return {lang: _drafts(tmp_path_factory.mktemp(lang), lang) for lang in LANGUAGES}


@pytest.fixture(scope="module")
def reviews(drafts) -> dict[str, dict[str, str]]:
    return {lang: {s: render_review(d, lang)[0] for s, d in drafts[lang].items()}
            for lang in LANGUAGES}


def _key_paths(table: dict, prefix: str = "") -> set[str]:
    paths = set()
    for key, value in table.items():
        path = f"{prefix}{key}"
        paths |= _key_paths(value, f"{path}.") if isinstance(value, dict) else {path}
    return paths


def _strings(value, path: str = ""):
    """Every string value of a parsed TOML document, with its key path (comments are gone)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def _toml(language: str, name: str) -> dict:
    return tomllib.loads(TEMPLATES.joinpath(language, name).read_text("utf-8"))


# --------------------------------------------------------------------------- labels


def test_labels_have_the_same_sections_and_keys_in_every_language():
    zh, en = _key_paths(_toml("zh", "labels.toml")), _key_paths(_toml("en", "labels.toml"))
    # month.names is optional (render.month_name falls back to the month's number);
    # English spells the months out, Chinese writes 9月.
    optional = {"month.names"}
    assert en - optional == zh - optional
    assert len(labels("en")["month"]["names"]) == 12
    assert labels("en")["month"]["names"][8] == "September"


def test_every_category_type_and_kpi_has_english_words():
    en = labels("en")
    for section in ("type", "category", "inspect", "kpi", "unit", "quarantine", "note",
                    "field", "table", "action"):
        for key, value in en[section].items():
            assert not CJK.search(value), (section, key, value)
    # A unit is written after a number with a space; only counts go without one.
    assert {k for k, v in en["unit"].items() if not v} == {"count", "households"}


FORBIDDEN = [
    "停水", "停电", "停暖", "停气", "断水", "断电", "断暖", "断气", "停止供水", "停止供电",
    "停止供暖", "停止供气", "停供", "限制出入", "限制进出", "禁止进入",
    "cut off", "cutting off", "cut the water", "cut the power", "cut the electricity",
    "cut the heating", "cut the gas", "shut off", "switch off the water",
    "switch off the power", "disconnect", "suspend the supply", "suspend supply",
    "stop the supply", "stop supplying", "withhold", "block access", "deny access",
    "lock out", "lockout", "restrict access",
]
# The end of the heating season set by the heat supplier (停暖 = "heating stops for
# the summer") is not a collection measure; it is allowed there and only there.
SEASON_END = {("zh", "seasonal.toml", "items.heating_end", "停暖")}


def _allowed(language: str, name: str, path: str, phrase: str) -> bool:
    return any(language == lang and name == file and path.startswith(prefix)
               and phrase == word for lang, file, prefix, word in SEASON_END)


def test_no_reader_facing_text_proposes_cutting_utilities_or_access():
    found = []
    scanned = 0
    languages = [f for f in TEMPLATES.iterdir()
                 if f.is_dir() and f.joinpath("labels.toml").is_file()]
    assert {f.name for f in languages} >= set(LANGUAGES)
    for folder in languages:
        for name in ("labels.toml", "seasonal.toml"):
            if not folder.joinpath(name).is_file():
                continue
            for path, text in _strings(_toml(folder.name, name)):
                scanned += 1
                for phrase in FORBIDDEN:
                    if phrase in text.lower() and not _allowed(folder.name, name, path, phrase):
                        found.append((folder.name, name, path, phrase))
        for template in folder.iterdir():
            if template.name.endswith(".j2"):
                text = re.sub(r"\{#.*?#\}", "", template.read_text("utf-8"), flags=re.S)
                text = "\n".join(line for line in text.splitlines()
                                 if not line.lstrip().startswith("#"))  # config comments
                found += [(folder.name, template.name, "", p) for p in FORBIDDEN
                          if p in text.lower()]
    assert scanned > 400  # both languages' labels and seasonal texts were read
    assert found == []


def test_the_fee_actions_name_only_lawful_steps():
    for language in LANGUAGES:
        words = labels(language)
        fee_actions = [v for k, v in words["action_for_kpi"].items() if k.startswith("fees.")]
        fee_actions += [words["action"]["arrears_aged"], words["action"]["low_collection_building"]]
        lawful = (["提醒", "上门", "分期", "催告", "调解", "仲裁", "诉讼", "起诉", "沟通"]
                  if language == "zh" else
                  ["reminder", "visit", "instalment", "demand letter", "mediation",
                   "arbitration", "legal action", "phone", "contacts"])
        for text in fee_actions:
            assert any(word in text.lower() for word in lawful), (language, text)


# --------------------------------------------------------------------------- the review


def test_five_parts_in_order_in_both_languages(reviews):
    for language in LANGUAGES:
        for scope, markdown in reviews[language].items():
            parts = [line[3:] for line in markdown.splitlines() if line.startswith("## ")]
            assert parts == HEADINGS[language], (language, scope)


def test_english_review_has_no_chinese_except_data_values(drafts, reviews):
    for scope, markdown in reviews["en"].items():
        leftover = CJK.findall(_without_data(markdown))
        assert leftover == [], (scope, "".join(leftover))
        _, html = render_review(drafts["en"][scope], "en")
        assert CJK.findall(_without_data(html)) == [], scope
        assert CJK.findall(_without_data(subject(drafts["en"][scope], "en"))) == []


def test_no_unrendered_placeholders(reviews):
    for language in LANGUAGES:
        for scope, markdown in reviews[language].items():
            for mark in ("{", "}", "None", "Undefined", "  .", " ,", ".."):
                assert mark not in markdown, (language, scope, mark)


def test_key_figures_are_the_same_in_both_languages(reviews):
    zh, en = reviews["zh"]["a"], reviews["en"]["a"]
    for figure in ("71.43%", "75.62%", "64.87%", "80.00%", "1,230.50", "930.50", "1,430.50",
                   "900.00", "20.00%"):
        assert figure in zh and figure in en, figure
    assert "20.0 分钟" in zh and "20.0 min" in en  # minutes in sentences: 1 decimal
    assert "受理报事工单 7 件" in zh and "we received 7 tickets" in en
    # Ranked by effect (tasks/significance.py): the collection rate 9.38 points under
    # its target outranks a satisfaction miss on 5 rated tickets (z = −0.745), which
    # no longer fits in the six problems.
    assert ("Monthly collection rate: 75.62%, missing the target (at least 85.00%); "
            "last month it was 33.33%.") in en
    # 停车费 150 and 水费 80.50 are billed in September only: 230.50 of the month's due
    # 1,230.50 is 18.73 % ≥ 10 %, so arrears 750 → 900 against August is the billing
    # calendar, not a problem; the arrears recovered (August's bills) still compare.
    assert "Arrears at month end: 900.00 yuan, up 150.00 yuan from last month" not in en
    assert "billed only this month, 18.73% of this month's due" in en
    assert "只在本月计费，占本月应收 18.73%" in zh
    assert "September 2025" in en and "Seasonal work for October 2025" in en


def test_english_invents_no_numbers(reviews):
    """Every number of the English review is also in the Chinese one (headings aside)."""
    for scope in reviews["en"]:
        def numbers(markdown: str) -> set[str]:
            body = "\n".join(line for line in markdown.splitlines()
                             if not line.startswith("#"))
            return set(NUMBER.findall(body))
        assert numbers(reviews["en"][scope]) <= numbers(reviews["zh"][scope]), scope


def _shape(markdown: str) -> dict[str, int]:
    lines = markdown.splitlines()
    return {
        "numbered": sum(bool(re.match(r"^\d+\. ", line)) for line in lines),
        "bullets": sum(line.startswith("- ") for line in lines),
        "table_rows": sum(line.startswith("|") for line in lines),
        "subheadings": sum(line.startswith("### ") for line in lines),
        "bold": sum(line.startswith("**") for line in lines),
    }


def test_both_languages_have_the_same_structure(reviews):
    for scope in reviews["zh"]:
        assert _shape(reviews["en"][scope]) == _shape(reviews["zh"][scope]), scope


def test_subjects_and_titles(drafts, reviews):
    assert subject(drafts["en"]["a"], "en") == \
        "[Draft monthly review] Jinjiang Garden, September 2025"
    assert subject(drafts["zh"]["a"], "zh") == "【月报草稿】Jinjiang Garden 2025年9月工作总结"
    assert subject(drafts["en"][PORTFOLIO], "en") == \
        "[Draft monthly review] Example Property Services Co., September 2025"
    assert reviews["en"]["a"].splitlines()[0] == \
        "# Jinjiang Garden: Monthly Work Review, September 2025 (Draft)"


def test_email_body_is_marked_with_its_language(drafts):
    _, en = render_review(drafts["en"]["a"], "en")
    _, zh = render_review(drafts["zh"]["a"], "zh")
    assert '<html lang="en">' in en and "Please do not forward it to residents" in en
    assert '<html lang="zh-CN">' in zh
    assert "<title>Jinjiang Garden: Monthly Work Review, September 2025 (Draft)</title>" in en


def test_data_quality_is_reported_in_english(reviews):
    en = reviews["en"]["a"]
    assert ("**Data quality:** In this month's imported data, 1 ticket row could not be used"
            in en)
    assert "duplicate" not in en  # removed duplicates change no community's figures
    assert "1 duplicate row was also removed" in reviews["en"][PORTFOLIO]
    assert "Tickets with an unrecognised “priority”, counted as “other” or “normal”: 1." in en
    assert "Satisfaction ratings outside 1–5, ignored (the tickets were kept): 1." in en
    assert "7. The data owner corrects the problem records" in en


def test_each_community_tells_only_its_own_quarantined_rows(drafts, reviews):
    """T90 (an impossible date) is community a's: b's draft has no rejected row, the
    portfolio's has the run's; metrics.json keeps the run's counts in every scope."""
    assert drafts["zh"]["a"]["quality"]["quarantined"] == 1
    assert drafts["zh"]["b"]["quality"]["quarantined"] == 0
    assert drafts["zh"][PORTFOLIO]["quality"]["quarantined"] == 1
    assert "工单 1 行因格式或内容问题未能使用" in reviews["zh"]["a"]
    assert "未能使用" not in reviews["zh"]["b"]
    assert "另有 1 行重复记录已去重" in reviews["zh"][PORTFOLIO]


def test_quarantined_rows_are_attributed_by_the_community_they_name():
    import json

    import pandas as pd

    from yuebao.tasks.metrics.quality import quarantine_communities

    raw = [json.dumps({"项目": "a", "x": 1}), json.dumps({"项目": " b "}), "not json",
           json.dumps({"项目": ""}), json.dumps({"其他": "a"})]
    quarantine = pd.DataFrame({"table": ["tickets"] * 4 + ["bills"],
                               "file": ["t.csv"] * 4 + ["b.csv"], "raw": raw})
    columns = {("tickets", "t.csv"): {"community": "项目"},
               ("bills", "b.csv"): {"community": "项目名称"}}
    named = quarantine_communities(quarantine, columns)
    assert named.tolist()[:2] == ["a", "b"]
    assert named.isna().tolist() == [False, False, True, True, True]


# --------------------------------------------------------------------------- every rule


def _finding(rule: str, key: str, kind: str, value, reference=None, target=None,
             **extra) -> dict:
    finding = Finding(rule, key, kind, value, reference, target, extra=extra)
    return asdict(finding) | {"delta": finding.delta}


def _every_rule(draft: dict, overdue: int) -> dict:
    """The real draft with one finding of every rule, built from its own figures."""
    d = dict(draft)
    fees, tickets = draft["fees"], draft["tickets"]
    item, item_fees = next(iter(fees["by_fee_item"].items()))
    building, building_fees = next(iter(fees["by_building"].items()))
    spots = tickets["hotspots"] + [dict(tickets["hotspots"][0], building="2栋", count=1),
                                   dict(tickets["hotspots"][0], category="elevator")]
    d["highlights"] = [
        _finding("improved_vs_previous", "tickets.response_minutes.median", "minutes", 20, 30),
        _finding("improved_vs_last_year", "fees.arrears_recovery_rate", "rate", 0.2, 0.1, 0.05),
        _finding("complaints_fell", "tickets.complaints.by_category", "count", 1, 4,
                 category="noise"),
    ]
    d["problems"] = [
        _finding("missed_target", "tickets.completion_rate", "rate", 0.7143, None, 0.95),
        _finding("worsened_vs_previous", "tickets.resolution_hours.mean", "hours", 30.5, 24),
        _finding("worsened_vs_last_year", "tickets.complaints.count", "count", 2, 0),
        _finding("complaints_grew", "tickets.complaints.by_category", "count", 5, 1,
                 category="cleaning"),
        _finding("overdue_open", "tickets.overdue_open_at_end", "count", overdue),
        _finding("hotspot", "tickets.hotspots", "count", spots[0]["count"], spots=spots),
        _finding("low_collection_item", "fees.by_fee_item", "rate",
                 item_fees["collection_rate_month"], None, 0.85, name=item,
                 arrears_at_end=item_fees["arrears_at_end"]),
        _finding("low_collection_building", "fees.by_building", "rate",
                 building_fees["collection_rate_month"], None, 0.85, name=building,
                 arrears_at_end=building_fees["arrears_at_end"]),
        _finding("arrears_aged", "fees.aging.366+", "money", fees["aging"]["366+"], 100.0),
    ]
    d["actions"] = [{"rule": p["rule"], "key": p["key"], "extra": p["extra"],
                     "value": p["value"]} for p in d["problems"]]
    d["keep_doing"] = d["highlights"]
    d["holidays_now"] = draft["plan"]["holidays"]
    d["quality"] = dict(draft["quality"], approximate_payments=True, notes=[
        *draft["quality"]["notes"],
        {"code": "unconfigured_community", "community": "c"},
        {"code": "unreadable_count", "table": "tickets", "field": "reopened", "count": 2},
    ])
    d["plan"] = dict(draft["plan"], workload={
        "trend": 1.1, "base_month": "2024-10", "total": 12,
        "by_category": {"plumbing_electric": 7, "elevator": 4, "noise": 1}})
    return d


@pytest.mark.parametrize("scope", ["a", PORTFOLIO])
@pytest.mark.parametrize("overdue", [1, 3])
def test_every_rule_renders_in_both_languages(drafts, scope, overdue):
    rendered = {}
    for language in LANGUAGES:
        markdown, _ = render_review(_every_rule(drafts[language][scope], overdue), language)
        assert "{" not in markdown and "None" not in markdown
        parts = [line[3:] for line in markdown.splitlines() if line.startswith("## ")]
        assert parts == HEADINGS[language]
        rendered[language] = markdown
    en = rendered["en"]
    assert CJK.findall(_without_data(en)) == []
    assert _shape(en) == _shape(rendered["zh"])
    assert "Median response time: 20.0 min, 10.0 min shorter than last month." in en
    assert ("Monthly arrears recovery rate: 20.00%, up 10.00 pp from the same month last year, "
            "meeting the target.") in en
    assert "Noise complaints: 1, down 3 from last month." in en
    assert ("Average resolution time: 30.5 h, 6.5 h longer than last month; "
            "this needs attention.") in en
    assert "Cleaning complaints: 5, up 4 from last month, a marked increase." in en
    if overdue == 1:
        assert "At month end, 1 ticket was still open past the resolution deadline." in en
    else:
        assert "At month end, 3 tickets were still open past the resolution deadline." in en
    place = "Jinjiang Garden 1栋" if scope == PORTFOLIO else "1栋"
    assert f"{place}, plumbing and electrical (3 tickets)" in en
    assert "(1 ticket)" in en
    second = "Jinjiang Garden 2栋" if scope == PORTFOLIO else "2栋"
    assert (f"inspect the lift traction machines, door operators and safety circuits in {place}, "
            f"as well as the water supply pipes, drains and electrical wiring in {place} and "
            f"{second} in the first ten days of next month") in en
    assert "the lowest of all fee items and below the 85.00% target" in en
    assert "the lowest of all buildings" in en
    assert "Arrears more than a year old rose to 250.00 yuan, up 150.00 yuan" in en
    assert ("- Noise complaints at 1 this month: share the lessons and build them into next "
            "month's team reviews.") in en
    assert "Holidays this month: National Day (October 1) and Mid-Autumn Festival (October 6)" \
        in en
    assert ("we expect about 12 tickets next month: plumbing and electrical 7, lift 4 "
            "and noise 1.") in en
    assert "(×1.10)" in en and "1.10 倍" in rendered["zh"]
    assert "Community “c” is in the data but not in the config" in en
    assert "Tickets whose reopen count could not be read, counted as 0: 2." in en
    assert "- Export the full payment ledger" in en
    # The closing names the top two highlights and top three problems, not list counts.
    assert ("The main gains were median response time at 20.0 min (last month 30.0 min) and "
            "monthly arrears recovery rate at 20.00% (a year ago 10.00%). What most needs "
            "work: completion rate of the month's tickets at 71.43% (target 95.00%); average "
            "resolution time at 30.5 h (last month 24.0 h); complaints at 2 (a year ago 0).") in en


def test_closing_is_grammatical_for_one_and_for_none(drafts):
    draft = dict(drafts["en"]["b"], highlights=drafts["en"]["b"]["highlights"][:1],
                 problems=drafts["en"]["b"]["problems"][:1])
    closing = render_review(draft, "en")[0].rstrip().splitlines()[-1]
    assert ("The main gains were arrears recovered this month at 100.00 yuan (last month "
            "0.00 yuan). What most needs work: year-to-date collection rate at 0.00% "
            "(target 90.00%).") in closing
    quiet = dict(draft, highlights=[], problems=[], actions=[], keep_doing=[])
    markdown = render_review(quiet, "en")[0]
    assert "concentrated on repair response, complaint handling and fee collection. " \
        "Next month we will keep up what is working," in markdown
    assert "there are no highlights to report" in markdown
    assert "Every indicator met its target" in markdown


def test_missing_exports_are_said_in_one_line(drafts):
    draft = dict(drafts["en"]["a"], tickets=None, fees=None)
    markdown = render_review(draft, "en")[0]
    assert "No ticket export was provided this month" in markdown
    assert "No fee export was provided this month" in markdown


# --------------------------------------------------------------------------- config example


def test_english_config_example_is_valid_and_english(tmp_path):
    community = SimpleNamespace(id="jinjiang", name="Jinjiang Garden", city="北京", households=600)
    text = environment("en").get_template("config.toml.j2").render(
        timezone="Asia/Shanghai", communities=[community], profile="zh-generic",
        tickets=["exports/*/工单.*"], bills=["exports/*/账单.*"], payments=["exports/*/收款.*"])
    config = config_from_dict(tomllib.loads(text), tmp_path)
    assert config.language == "en"
    assert config.portfolio.name == "Example Property Services Co."
    assert config.community("jinjiang").households == 600
    assert config.sources.profile == "zh-generic"
    assert config.sources.tickets == ["exports/*/工单.*"]
    comments = [line.split("#", 1)[1] for line in text.splitlines() if "#" in line]
    assert comments and not any(CJK.search(c) for c in comments)
    zh = environment("zh").get_template("config.toml.j2").render(
        timezone="Asia/Shanghai", communities=[community], profile="canonical",
        tickets=["t.csv"], bills=["b.csv", "b2.csv"], payments=["p.csv"])
    assert _key_paths(tomllib.loads(zh)) == _key_paths(tomllib.loads(text))


def test_next_months_holidays_show_the_break_and_the_swapped_working_days(reviews):
    # The drafts are for September 2025; October's 国庆节 and 中秋节 share one break
    # (State Council notice for 2025: 10月1日至8日放假调休，9月28日、10月11日上班).
    zh, en = reviews["zh"]["a"], reviews["en"]["a"]
    assert ("**国庆节**（10月1日）：10月1日至10月8日放假调休，共8天；"
            "9月28日（周日）、10月11日（周六）上班。节前开展安全大检查") in zh
    assert "**中秋节**（10月6日）：与国庆节连休（10月1日至10月8日）。加强门岗值守" in zh
    assert ("**National Day** (October 1): Days off October 1 to October 8 (8 days, with "
            "swapped working days); working days Sunday September 28 and Saturday October 11. "
            "Run a full safety check") in en
    assert ("**Mid-Autumn Festival** (October 6): Part of the National Day break "
            "(October 1 to October 8). Strengthen gate duty") in en
