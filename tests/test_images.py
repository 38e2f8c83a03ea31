"""The PNG charts: their figures against metrics.json, the pictures, review.docx and the email.

The month is the sample's (conftest ``sample``: four communities, 14 months to
2025-09) through the real stages (ingest, metrics, draft, render_scope) into a
folder, then composed and built into the email exactly as delivery does. Each
chart keeps the data it was drawn from (``Chart.data``); every figure of it is
compared with metrics.json read back from disk, and the images are decoded with
Pillow. The size test builds 40 communities' sample and measures the portfolio's
and one community's email.
"""

from __future__ import annotations

import copy
import email
import json
import re
import warnings
from datetime import datetime, timedelta, timezone
from email import policy
from io import BytesIO
from pathlib import Path

import pytest
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from PIL import Image

from yuebao.config import config_from_dict, load_config
from yuebao.months import Month
from yuebao.schema import PORTFOLIO, TICKET_CATEGORIES
from yuebao.tasks.charts import scope_charts
from yuebao.tasks.charts.trends import TREND_CHARTS
from yuebao.tasks.deliver.message import build_message
from yuebao.tasks.deliver.stage import compose
from yuebao.tasks.draft import month_drafts
from yuebao.tasks.ingest import ingest
from yuebao.tasks.metrics import history_task, metrics_task
from yuebao.tasks.render import render_scope
from yuebao.tasks.spreadsheet.charts import COMMUNITY_RATE_KEYS, TOP_BUILDINGS
from yuebao.words import labels

MONTH = Month(2025, 9)
DATE = datetime(2025, 10, 1, 8, 0, tzinfo=timezone(timedelta(hours=8)))
PARTS_ZH = {"overview": "## 一、本月工作概况", "highlights": "## 二、成果与亮点",
            "problems": "## 三、问题与挑战", "plan": "## 四、经验提炼与下月计划",
            "closing": "## 五、结语"}


def _month(config, month: Month = MONTH) -> tuple[dict, dict, dict]:
    """The month's documents, drafts and names, through the real stages (no Prefect)."""
    sources = {t: getattr(config.sources, t) for t in ("tickets", "bills", "payments")}
    ingested = ingest(sources, config.base_dir, config.timezone, config.sources.profile)
    metrics = metrics_task.fn(ingested, config, month)
    drafts = month_drafts(metrics, history_task.fn(ingested, config, month), config, month)
    names = {scope: draft["scope"]["name"] for scope, draft in drafts.items()}
    return metrics.documents, drafts, names


def _render(out: Path, documents: dict, drafts: dict, names: dict, scopes, language: str):
    communities = {s: d for s, d in documents.items() if s != PORTFOLIO}
    return [render_scope(scope, drafts[scope], documents[scope], out / scope.strip("_"),
                         language, names, communities if scope == PORTFOLIO else None)
            for scope in scopes]


@pytest.fixture(scope="module")
def month(sample, tmp_path_factory) -> dict:
    path, _ = sample
    config = load_config(path)
    documents, drafts, names = _month(config)
    out = tmp_path_factory.mktemp("images")
    community = next(s for s in documents if s != PORTFOLIO)
    rendered = _render(out, documents, drafts, names, [community, PORTFOLIO], "zh")
    return {"config": config, "documents": documents, "drafts": drafts, "names": names,
            "out": out, "community": community, "rendered": rendered}


def _read(month: dict, scope: str) -> dict:
    """metrics.json as written to the scope's folder: the reference for every figure."""
    folder = month["out"] / scope.strip("_")
    return json.loads((folder / "metrics.json").read_text("utf-8"))


def _charts(month: dict, scope: str, language: str = "zh"):
    documents = month["documents"]
    communities = {s: d for s, d in documents.items() if s != PORTFOLIO}
    return {c.name: c for c in scope_charts(documents[scope], month["drafts"][scope], language,
                                            month["names"],
                                            communities if scope == PORTFOLIO else None)}


# --- the figures -------------------------------------------------------------------


def test_trend_charts_hold_the_trend_of_metrics_json(month):
    for scope in (month["community"], PORTFOLIO):
        written = _read(month, scope)
        charts = _charts(month, scope)
        for name, (_, bars, keys, _, _) in TREND_CHARTS.items():
            chart = charts[name]
            assert chart.part == "overview"
            if name == "trend_tickets.png":  # stacked by type: test_tickets_stacked_by_type
                continue
            for key in (k for k in (bars, *keys) if k):
                trend = written["trend"][key]
                assert chart.data["categories"] == trend["months"], (scope, key)
                assert chart.data["series"][key] == trend["values"], (scope, key)
                target = written["compare"][key]["target"]
                assert chart.data["targets"].get(key) == target, (scope, key)
        assert len(charts["trend_rates.png"].data["targets"]) == 2  # both on-time targets


def test_tickets_stacked_by_type_are_the_trend_of_each_type(month):
    """The columns are tickets created by type, each the trend metrics.json has for it,
    and stacked they make the tickets created of each month."""
    from yuebao.tasks.metrics import TYPE_TREND_KEYS

    for scope in (month["community"], PORTFOLIO):
        written = _read(month, scope)
        chart = _charts(month, scope)["trend_tickets.png"]
        assert chart.title.endswith("（按类型）")
        series = chart.data["series"]
        types = [key for key in TYPE_TREND_KEYS if key in series]
        assert "tickets.by_type.repair" in types and "tickets.by_type.complaint" in types
        for key in types:
            assert series[key] == written["trend"][key]["values"], (scope, key)
        for key in set(TYPE_TREND_KEYS) - set(types):  # a type with no ticket is left out
            assert not any(written["trend"][key]["values"]), (scope, key)
        created = written["trend"]["tickets.created"]["values"]
        assert series["tickets.created"] == created
        assert [sum(series[key][i] for key in types) for i in range(len(created))] == created
        this_month = written["tickets"]["by_type"]
        assert f"报修 {this_month['repair']} 件" in chart.alt


def test_alt_text_states_the_figures(month):
    scope = month["community"]
    written = _read(month, scope)
    alt = _charts(month, scope)["trend_rates.png"].alt
    trend = written["trend"]["tickets.response_on_time_rate"]
    last = trend["values"][-1]
    target = written["compare"]["tickets.response_on_time_rate"]["target"]
    assert alt.startswith("近12个月响应及时率与处理及时率：响应及时率从 ")
    assert f"到 {last * 100:.2f}%（2025年9月），目标 {target * 100:.2f}%" in alt


def test_fee_item_and_building_charts_worst_first(month):
    for scope in (month["community"], PORTFOLIO):
        written = _read(month, scope)
        charts = _charts(month, scope)
        target = written["compare"]["fees.collection_rate_month"]["target"]
        items = {k: v["collection_rate_month"] for k, v in written["fees"]["by_fee_item"].items()
                 if v["collection_rate_month"] is not None}
        fee = charts["fee_items.png"]
        assert fee.data["categories"] == sorted(items, key=lambda k: items[k])
        assert fee.data["series"]["fees.collection_rate_month"] == sorted(items.values())
        assert fee.data["targets"] == {"fees.collection_rate_month": target}
        rates = [v["collection_rate_month"] for v in written["fees"]["by_building"].values()
                 if v["collection_rate_month"] is not None]
        buildings = charts["buildings.png"].data
        assert buildings["series"]["fees.collection_rate_month"] == sorted(rates)[:TOP_BUILDINGS]
        assert len(buildings["categories"]) == min(len(rates), TOP_BUILDINGS)
        assert charts["buildings.png"].part == "problems"
    # The portfolio's buildings name their community (its name, then the building).
    portfolio = _charts(month, PORTFOLIO)["buildings.png"].data["categories"]
    assert all(any(label.startswith(name + " ") for name in month["names"].values())
               for label in portfolio)


def test_arrears_bridge_and_aging(month):
    scope = month["community"]
    fees = _read(month, scope)["fees"]
    charts = _charts(month, scope)
    bridge = charts["arrears_bridge.png"].data["series"]["fees"]
    assert bridge == [fees["arrears_at_start"], fees["arrears_collected"], fees["new_arrears"],
                      fees["arrears_at_end"]]
    start, collected, new, end = bridge
    assert round(start - collected + new, 2) == end
    aging = charts["aging.png"].data
    assert aging["categories"] == list(fees["aging"])
    assert aging["series"]["fees.aging"] == list(fees["aging"].values())


def test_complaints_this_month_last_month_and_last_year(month, tmp_path):
    scope = month["community"]
    config = month["config"]
    chart = _charts(month, scope)["complaints_by_category.png"]
    now = _read(month, scope)["tickets"]["complaints"]["by_category"]
    # Last month's and last year's counts, as their own runs' metrics.json hold them.
    before = _month(config, MONTH.shift(-1))[0][scope]["tickets"]["complaints"]["by_category"]
    year_ago = _month(config, MONTH.shift(-12))[0][scope]["tickets"]
    data = chart.data
    assert data["categories"] == [c for c in TICKET_CATEGORIES
                                  if now[c] or before[c] or (year_ago and
                                      year_ago["complaints"]["by_category"][c])]
    assert data["series"]["this_month"] == [now[c] for c in data["categories"]]
    assert data["series"]["previous_month"] == [before[c] for c in data["categories"]]
    if year_ago:
        last = year_ago["complaints"]["by_category"]
        assert data["series"]["last_year"] == [last[c] for c in data["categories"]]


def test_portfolio_puts_the_communities_side_by_side(month):
    charts = _charts(month, PORTFOLIO)
    documents = {s: _read(month, s) if s in (month["community"], PORTFOLIO) else d
                 for s, d in month["documents"].items()}
    communities = [c.id for c in month["config"].communities]
    rates = charts["communities_rates.png"]
    assert rates.part == "overview"
    assert rates.data["categories"] == communities
    for key in COMMUNITY_RATE_KEYS:
        group, _, name = key.partition(".")
        expected = []
        for community in communities:
            value = documents[community][group]
            for part in name.split("."):
                value = value[part]
            expected.append(value)
        assert rates.data["series"][key] == expected, key
    arrears = charts["communities_arrears.png"].data
    assert arrears["series"]["fees.arrears_at_end"] == [
        documents[c]["fees"]["arrears_at_end"] for c in communities]
    assert "communities_rates.png" not in _charts(month, month["community"])


def test_a_tickets_only_export_skips_the_fee_charts(month):
    scope = month["community"]
    document = copy.deepcopy(month["documents"][scope])
    document["fees"] = None
    for key, trend in document["trend"].items():
        if key.startswith("fees."):
            trend["values"] = [None] * len(trend["values"])
    names = set(c.name for c in scope_charts(document, month["drafts"][scope], "zh"))
    assert names == {"trend_tickets.png", "trend_rates.png", "trend_response.png",
                     "trend_satisfaction.png", "complaints_by_category.png"}
    document["tickets"] = None
    document["trend"] = {}
    assert scope_charts(document, {}, "zh") == []


def test_words_come_from_the_labels(month):
    for language in ("zh", "en"):
        words = labels(language)["chart"]
        charts = _charts(month, PORTFOLIO, language)
        titles = {words[key] for key in words if isinstance(words[key], str)}
        for number, chart in enumerate(charts.values(), start=1):
            assert chart.title in titles
            assert chart.caption == words["caption"].format(number=number, title=chart.title)
            assert chart.name.isascii() and chart.name.endswith(".png")
    english = _charts(month, month["community"], "en")["trend_rates.png"].alt
    assert english.startswith("Response and resolution on-time rates, last 12 months: ")
    assert not re.search(r"[\u4e00-\u9fff]", english)


# --- the pictures ------------------------------------------------------------------


def test_pngs_decode_are_small_and_the_same_bytes_every_time(month):
    scope = month["community"]
    first = _charts(month, scope)
    again = _charts(month, scope)
    folder = month["out"] / scope / "charts"
    assert sorted(p.name for p in folder.iterdir()) == sorted(first)
    for name, chart in first.items():
        assert chart.png == again[name].png, name
        assert (folder / name).read_bytes() == chart.png, name
        image = Image.open(BytesIO(chart.png))
        image.load()
        assert image.format == "PNG" and image.width == 640, name
        assert 200 <= image.height <= 1200, name
        assert not image.info.get("Software") and "dpi" not in image.text, name
        assert len(chart.png) <= 60_000, (name, len(chart.png))
        assert len(image.convert("RGB").getcolors(65536) or []) > 8, name  # not blank


def test_chinese_is_drawn_with_the_packaged_font(month):
    """The machine may have no CJK font: the glyphs come from the package's Noto Sans SC.

    matplotlib warns "Glyph … missing from font(s)" for every character it draws as a
    box; drawing every chart of both scopes in both languages must warn none. And the
    same Chinese text drawn with DejaVu Sans alone (boxes) is a different picture.
    """
    from matplotlib import font_manager

    from yuebao.tasks.charts import draw

    families = draw.font_families()
    path = font_manager.findfont(font_manager.FontProperties(family=families[1]),
                                 fallback_to_default=False)
    assert Path(path).name == "NotoSansSC-Regular.otf" and "pylopdf_fonts_zh_cn" in path
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for language in ("zh", "en"):
            for scope in (month["community"], PORTFOLIO):
                _charts(month, scope, language)
    assert not [w for w in caught if "missing from font" in str(w.message)]

    def title(family: list[str]) -> bytes:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return draw.render(lambda figure: figure.text(0.1, 0.5, "响应及时率",
                                                          family=family, fontsize=20))
    assert title(families) != title(["DejaVu Sans"])


# --- review.md, review.html, review.docx --------------------------------------------


def _part_of(lines: list[str], index: int) -> str:
    heading = [line for line in lines[:index] if line.startswith("## ")][-1]
    return next(part for part, text in PARTS_ZH.items() if heading.startswith(text))


def test_markdown_and_html_link_each_chart_in_its_part(month):
    for rendered in month["rendered"]:
        folder = month["out"] / rendered.folder
        markdown = (folder / "review.md").read_text("utf-8")
        lines = markdown.splitlines()
        charts = _charts(month, rendered.scope)
        linked = {}
        for index, line in enumerate(lines):
            found = re.fullmatch(r"!\[(.+)\]\((charts/[a-z_]+\.png)\)", line)
            if found:
                linked[found.group(2)] = (_part_of(lines, index), found.group(1))
        assert set(linked) == {c.path for c in charts.values()} == set(rendered.charts)
        for chart in charts.values():
            assert linked[chart.path][0] == chart.part
        html = (folder / "review.html").read_text("utf-8")
        sources = re.findall(r'<img [^>]*src="([^"]+)"', html)
        assert sorted(sources) == sorted(rendered.charts)
        assert all((folder / source).is_file() for source in sources)
        assert "<svg" not in html and "<script" not in html and "http" not in " ".join(sources)


def test_docx_has_the_pictures_with_captions_in_their_parts(month):
    for rendered in month["rendered"]:
        folder = month["out"] / rendered.folder
        charts = list(_charts(month, rendered.scope).values())
        document = Document(str(folder / "review.docx"))
        part, seen = None, []
        paragraphs = document.paragraphs
        for index, paragraph in enumerate(paragraphs):
            if paragraph.style.name == "Heading 2":
                part = next(p for p, text in PARTS_ZH.items()
                            if paragraph.text == text.removeprefix("## "))
            pictures = paragraph._p.findall(".//" + qn("pic:pic"))
            if not pictures:
                continue
            described = paragraph._p.find(".//" + qn("wp:docPr"))
            caption = paragraphs[index + 1]
            seen.append((described.get("name"), part, caption.text, caption.style.name,
                         described.get("descr")))
            assert paragraph.alignment == WD_ALIGN_PARAGRAPH.CENTER
        assert seen == [(c.name, c.part, c.caption, "Caption", c.alt) for c in charts]
        embedded = sorted(len(p.blob) for p in document.part.package.parts
                          if p.content_type == "image/png")
        assert embedded == sorted(len(c.png) for c in charts)


def test_docx_numbers_are_right_aligned(month):
    folder = month["out"] / month["rendered"][0].folder
    document = Document(str(folder / "review.docx"))
    table = next(t for t in document.tables if t.cell(0, 0).text == "指标")
    assert [c.text for c in table.rows[0].cells][:3] == ["指标", "本月", "上月"]
    for row in table.rows[1:]:
        assert row.cells[0].paragraphs[0].alignment is None  # the KPI's name: text
        for cell in row.cells[1:5]:
            assert cell.paragraphs[0].alignment == WD_ALIGN_PARAGRAPH.RIGHT, cell.text
    assert table.rows[0].cells[1].paragraphs[0].alignment == WD_ALIGN_PARAGRAPH.RIGHT


# --- the email ---------------------------------------------------------------------


def _emails(month: dict) -> list:
    return compose(month["rendered"], month["out"], month["config"], str(MONTH))


def test_email_carries_the_charts_inline_and_every_cid_resolves(month):
    for outgoing in _emails(month):
        assert outgoing.images and all(path.is_file() for _, path in outgoing.images)
        _, data = build_message(outgoing, sender="r@example.com", sender_name=None, date=DATE)
        message = email.message_from_bytes(data, policy=policy.default)
        assert message.get_content_type() == "multipart/mixed"
        alternative = message.get_payload()[0]
        assert alternative.get_content_type() == "multipart/alternative"
        text, related = alternative.get_payload()
        assert text.get_content() == outgoing.text  # the plain text: one line per chart
        assert related.get_content_type() == "multipart/related"
        html_part, *images = related.get_payload()
        html = html_part.get_content()
        cids = re.findall(r'src="cid:([^"]+)"', html)
        parts = {part["Content-ID"].strip("<>"): part for part in images}
        assert sorted(cids) == sorted(parts)  # every cid resolves, no part dangles
        assert 'src="charts/' not in html
        files = dict(outgoing.images)
        for part in images:
            assert part.get_content_type() == "image/png"
            assert part.get_content_disposition() == "inline"
            assert part.get_content() == files[f"charts/{part.get_filename()}"].read_bytes()
        attached = [p.get_filename() for p in message.get_payload()[1:]]
        assert attached == list(outgoing.names())  # no image among them
        assert [name.rsplit(".", 1)[1] for name in attached] == ["docx", "xlsx"]


def test_a_changed_chart_changes_the_content_hash(month, tmp_path):
    from yuebao.tasks.deliver.message import content_hash

    outgoing = _emails(month)[0]
    source, path = outgoing.images[0]
    copy_path = tmp_path / Path(path).name
    copy_path.write_bytes(path.read_bytes())
    same = type(outgoing)(**{**outgoing.__dict__, "images": ((source, copy_path),
                                                               *outgoing.images[1:])})
    assert content_hash(same) == content_hash(outgoing)
    copy_path.write_bytes(path.read_bytes() + b"\0")
    assert content_hash(same) != content_hash(outgoing)


def test_the_email_of_40_communities_stays_under_2_mb(tmp_path_factory):
    from yuebao.tasks.sample_data import generate_sample

    folder = tmp_path_factory.mktemp("forty")
    sample = generate_sample(folder, seed=3, communities=40, months=13, scale=0.05,
                             last_month=MONTH, style="canonical")
    config = config_from_dict({
        "communities": [{"id": c.id, "name": c.name, "city": c.city, "households": c.households,
                         "managers": [f"{c.id}@example.com"]} for c in sample.communities],
        "portfolio": {"name": "某某物业", "recipients": ["boss@example.com"]},
        "sources": {"profile": "canonical", "tickets": [str(sample.tickets)],
                    "bills": [str(sample.bills)], "payments": [str(sample.payments)]},
    }, folder)
    documents, drafts, names = _month(config)
    out = folder / "out"
    rendered = _render(out, documents, drafts, names, [sample.communities[0].id, PORTFOLIO],
                       "zh")
    sizes = {}
    for outgoing in compose(rendered, out, config, str(MONTH)):
        _, data = build_message(outgoing, sender="r@example.com", sender_name=None, date=DATE)
        sizes[outgoing.scope] = len(data)
        message = email.message_from_bytes(data, policy=policy.default)
        related = message.get_payload()[0].get_payload()[1]
        assert len(related.get_payload()) - 1 == len(outgoing.images)
    print("email sizes at 40 communities:", sizes)
    assert all(size < 2_000_000 for size in sizes.values()), sizes
    rates = next(r for r in rendered if r.scope == PORTFOLIO).charts
    assert "charts/communities_rates.png" in rates
    image = Image.open(out / "portfolio" / "charts" / "communities_rates.png")
    assert image.height >= 40 * 18  # one row per community


def test_the_prefect_artifact_keeps_each_chart_as_its_alt_text(month):
    from yuebao.files import slug
    from yuebao.tasks.artifacts import _charts_as_text, month_artifacts
    from yuebao.tasks.render import RenderedMonth

    rendered = month["rendered"][0]
    folder = month["out"] / rendered.folder
    markdown = (folder / "review.md").read_text("utf-8")
    artifacts = {a.key: a.data for a in month_artifacts(
        str(MONTH), RenderedMonth(month["out"], [rendered]), month["documents"], _no_files(),
        "zh")}
    text = artifacts[f"review-{slug(rendered.scope)}-{MONTH}"]
    assert text == _charts_as_text(markdown) and "charts/" not in text
    for chart in _charts(month, rendered.scope).values():
        assert f"\n{chart.alt}\n" in text  # the alt text has no Markdown character to escape


def _no_files():
    import pandas as pd

    return pd.DataFrame(columns=["file", "table", "read", "used", "quarantined", "duplicate"])
