"""review.html as a browser shows it: headless Chromium on a machine without a CJK font.

The pages are a community's and the portfolio's review of the realistic sample
(conftest ``sample``), rendered by the real pipeline functions. Chromium draws them
(screenshots kept beside the test's files), and DevTools says which fonts drew the
Chinese text: always the page's embedded font or a system CJK font, never a fallback
without Chinese glyphs (whose characters would be empty boxes). The same page with
the embedded font taken out is the control: it must look different and be caught.

``YUEBAO_UPDATE_ARTIFACTS=1`` copies the screenshots to ``tests/artifacts/``; the
committed ones are of the ``yuebao demo`` sample (``tests/artifacts/regenerate.py``).
"""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from browser import (
    CJK,
    cjk_fonts,
    find_chromium,
    screenshot,
    system_cjk_fonts,
    without_glyphs,
)
from conftest import SAMPLE_MONTH
from fontTools.ttLib import TTFont

from yuebao.config import load_config
from yuebao.months import Month
from yuebao.schema import PORTFOLIO
from yuebao.tasks.draft import month_drafts
from yuebao.tasks.email_page import HEADLINE_KEYS, headline
from yuebao.tasks.fonts import EMBEDDED_FAMILY
from yuebao.tasks.ingest import ingest_task
from yuebao.tasks.metrics import coverage_task, history_task, metrics_task
from yuebao.tasks.render import render_month
from yuebao.words import labels

ARTIFACTS = Path(__file__).parent / "artifacts"
FONT_RULE = re.compile(r"@font-face\{[^}]*\}")


@pytest.fixture(scope="session")
def chromium() -> str:
    path, why = find_chromium()
    if path is None:
        pytest.skip(f"headless Chromium is needed to look at review.html: {why}")
    return path


@pytest.fixture(scope="module")
def pages(sample, tmp_path_factory) -> dict[str, Path]:
    """review.html of the sample's first community and of the portfolio, as rendered."""
    config = load_config(sample[0])
    month = Month.parse(SAMPLE_MONTH)
    ingested = ingest_task.fn(config)
    metrics = metrics_task.fn(ingested, config, month,
                              coverage_task.fn(ingested, month, config.language))
    drafts = month_drafts(metrics, history_task.fn(ingested, config, month), config, month)
    community = config.communities[0].id
    drafts = {scope: drafts[scope] for scope in (community, PORTFOLIO)}
    folder = tmp_path_factory.mktemp("email-view")
    rendered, failures = render_month(drafts, metrics.documents, ingested, folder,
                                      config.language)
    assert not failures
    by_scope = {r.scope: folder / r.folder / "review.html" for r in rendered}
    return {"community": by_scope[community], "portfolio": by_scope[PORTFOLIO]}


class _Text(HTMLParser):
    """The text a reader sees (not the style block)."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = False
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self._skip = tag == "style"

    def handle_endtag(self, tag):
        self._skip = False

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def _embedded_font(page: str) -> TTFont:
    data = re.search(r"data:font/woff2;base64,([A-Za-z0-9+/=]+)", page)
    assert data, "review.html embeds no font"
    return TTFont(io.BytesIO(base64.b64decode(data[1])))


def _without_font(page: Path, tmp_path: Path) -> Path:
    stripped = tmp_path / f"{page.parent.name}-no-font.html"
    text, removed = FONT_RULE.subn("", page.read_text("utf-8"))
    assert removed == 1
    stripped.write_text(text, "utf-8")
    return stripped


# --------------------------------------------------------------------------- without a browser


@pytest.mark.parametrize("which", ["community", "portfolio"])
def test_the_embedded_font_has_every_character_of_the_page_and_stays_small(pages, which):
    page = pages[which].read_text("utf-8")
    text = "".join(_Text(page).parts)
    cmap = _embedded_font(page).getBestCmap()
    missing = sorted({c for c in text if not c.isspace() and ord(c) not in cmap})
    assert not missing
    assert len(CJK.findall(text)) > 500  # a real Chinese page, not a trivial one
    font = re.search(r"base64,([A-Za-z0-9+/=]+)", page)[1]
    assert len(font) < 200_000  # a subset, not the 8 MB font
    assert f"'{EMBEDDED_FAMILY}',sans-serif" in page
    assert "'PingFang SC','Microsoft YaHei','Noto Sans SC'" in page


def test_the_page_is_email_safe(pages):
    page = pages["community"].read_text("utf-8")
    lowered = page.lower()
    for forbidden in ("<script", "<svg", "<link", "javascript:", "http://", "https://",
                      "@import", "<iframe"):
        assert forbidden not in lowered
    # The only pictures are the scope's own PNG charts, beside the page (cid: in the email).
    sources = re.findall(r"<img [^>]*src=\"([^\"]+)\"", page)
    assert sources and all(re.fullmatch(r"charts/[a-z_]+\.png", src) for src in sources)
    assert "max-width:720px" in page and "@media print" in page
    assert page.count("data:") == 1  # the font, and nothing else is embedded


def test_headline_box_and_status_cells_carry_colour_and_words(pages):
    page = pages["community"].read_text("utf-8")
    words = labels("zh")
    assert words["headline"]["title"] in page
    box = page.split(words["headline"]["title"], 1)[1].split("<h2", 1)[0]
    shown = [key for key in HEADLINE_KEYS if f">{words['kpi'][key]}<" in box]
    assert 4 <= len(shown) <= 6
    met, missed = words["status"]["met"], words["status"]["missed"]
    assert re.search(rf'color:#1a7f37;background:#dafbe1;[^"]*">{met}<', page)
    assert re.search(rf'color:#cf222e;background:#ffebe9;[^"]*">{missed}<', page)
    # Numbers right-aligned: the KPI table's value cells.
    assert re.search(r'<td style="[^"]*text-align:right;white-space:nowrap;">[0-9.,]+%</td>',
                     page)


def test_overview_topics_are_separate_paragraphs(pages):
    page = pages["community"].read_text("utf-8")
    overview = page.split("一、本月工作概况", 1)[1].split("<table", 1)[0]
    paragraphs = re.findall(r"<p [^>]*>(.*?)</p>", overview, re.S)
    # Received, handled (urgent tickets open it when there are any), fees: three paragraphs.
    where = [next((i for i, p in enumerate(paragraphs) if w in p), None)
             for w in ("本月共受理", "本月办结", "收费方面")]
    assert None not in where and len(set(where)) == 3, paragraphs[:4]


def test_headline_figures_of_the_hand_checked_fixture(tmp_path):
    """Community ``a`` of test_metrics, September 2025: 7 tickets (2 in August), on-time
    response 3 of 5 = 60.00% (August 50.00%, target 95%), collection 930.50 / 1,230.50 =
    75.62% (target 85%); its fee items changed since August, so fees compare with last
    year, which the exports do not cover."""
    from test_review_language import _drafts

    zh = {k["label"]: k for k in headline(_drafts(tmp_path, "zh")["a"], "zh")}
    assert list(zh) == ["受理工单", "响应及时率", "处理及时率", "回访满意率", "本月收缴率",
                        "期末欠费"]
    assert (zh["受理工单"]["value"], zh["受理工单"]["change"], zh["受理工单"]["status"],
            zh["受理工单"]["target"]) == ("7 件", "较上月 +5 件", "", "未设目标")
    assert (zh["响应及时率"]["value"], zh["响应及时率"]["change"],
            zh["响应及时率"]["status_text"], zh["响应及时率"]["target"]) == \
        ("60.00%", "较上月 +10 个百分点", "未达标", "目标 95.00%")
    assert (zh["本月收缴率"]["value"], zh["本月收缴率"]["change"],
            zh["本月收缴率"]["status"]) == ("75.62%", "无可比数据", "missed")
    assert (zh["期末欠费"]["value"], zh["期末欠费"]["change"]) == ("900.00 元", "无可比数据")
    (tmp_path / "en").mkdir()
    en = headline(_drafts(tmp_path / "en", "en")["a"], "en")
    assert [(k["value"], k["change"], k["status_text"]) for k in en[:2]] == [
        ("7", "vs last month +5", ""), ("60.00%", "vs last month +10 pp", "Missed")]


# --------------------------------------------------------------------------- in Chromium


@pytest.mark.parametrize("which", ["community", "portfolio"])
def test_chromium_draws_every_chinese_character_with_a_font_that_has_it(
        chromium, pages, which, tmp_path):
    used = cjk_fonts(chromium, pages[which], tmp_path / "profile")

    assert len(used) > 50
    assert not without_glyphs(used)
    if not system_cjk_fonts():  # then the embedded font is the one that drew them
        assert all(f["isCustomFont"] for _, fonts in used for f in fonts)
    png = screenshot(chromium, pages[which], tmp_path / f"review_{which}.png",
                     tmp_path / "profile-shot")
    assert png.stat().st_size > 50_000
    if os.environ.get("YUEBAO_UPDATE_ARTIFACTS") == "1":
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copyfile(png, ARTIFACTS / png.name)


def test_without_the_embedded_font_the_chinese_is_boxes_and_the_check_sees_it(
        chromium, pages, tmp_path):
    if system_cjk_fonts():
        pytest.skip("this machine has a CJK font, so the page needs no embedded one: "
                    + system_cjk_fonts()[0])
    stripped = _without_font(pages["community"], tmp_path)

    assert without_glyphs(cjk_fonts(chromium, stripped, tmp_path / "profile"))
    with_font = screenshot(chromium, pages["community"], tmp_path / "with.png",
                           tmp_path / "p1").read_bytes()
    boxes = screenshot(chromium, stripped, tmp_path / "without.png", tmp_path / "p2")
    assert boxes.read_bytes() != with_font
