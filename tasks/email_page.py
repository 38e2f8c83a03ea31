"""The layout of review.html, the HTML email: a headline box, then the Markdown draft.

Email-safe by construction: one table-based column of at most 720 px, every style
inline (a ``<style>`` block only for what clients may drop without harm: the
embedded CJK font and the print rules), no JavaScript, no images, no SVG, nothing
fetched from anywhere. The words come from the Markdown (rendered with raw HTML
off, so nothing from an export is live) and from ``templates/<language>/``.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.token import Token

from yuebao.tasks.charts import CHART_WIDTH_PX
from yuebao.tasks.fonts import EMBEDDED_FAMILY, font_face
from yuebao.tasks.formatting import environment, format_delta, format_value
from yuebao.tasks.spreadsheet.charts import TREND_KEYS
from yuebao.words import labels

# The KPIs of the headline box, in order: the trend's headline KPIs (the same that
# metrics.xlsx charts over 12 months) less the median response time and the
# year-to-date collection rate, which the table below the overview carries.
HEADLINE_KEYS = tuple(key for key in TREND_KEYS if key not in (
    "tickets.response_minutes.median", "fees.collection_rate_ytd"))

# Target status colours (GitHub's accessible green and red), always beside the word.
STATUS_COLOURS = {"met": ("#1a7f37", "#dafbe1"), "missed": ("#cf222e", "#ffebe9")}

_EMAIL_STYLES = {
    "h1": "font-size:20px;color:#1f3a5f;margin:0 0 12px;",
    "h2": "font-size:17px;color:#1f3a5f;border-bottom:1px solid #d0d7de;padding-bottom:4px;"
          "margin:20px 0 8px;",
    "h3": "font-size:15px;color:#1f3a5f;margin:14px 0 6px;",
    "p": "margin:8px 0;line-height:1.7;",
    "li": "margin:3px 0;line-height:1.7;",
    "table": "border-collapse:collapse;margin:8px 0;font-size:13px;width:100%;",
    "th": "border:1px solid #d0d7de;background:#f0f3f6;padding:4px 8px;text-align:left;",
    "td": "border:1px solid #d0d7de;padding:4px 8px;",
    "blockquote": "margin:8px 0;padding:6px 10px;background:#fff8e1;border-left:3px solid "
                  "#f0b400;color:#555;",
}


_IMAGE_STYLE = "display:block;max-width:100%;height:auto;margin:10px 0;border:0;"


def _status_style(text: str, words: dict[str, str]) -> str:
    for status, (colour, background) in STATUS_COLOURS.items():
        if text == words[status]:
            return f"color:{colour};background:{background};font-weight:bold;"
    return ""


def _style_tokens(tokens: list[Token], language: str) -> None:
    """Inline styles on every block; a status cell (达标 / 未达标) in its colour.

    Markdown's column alignment (``---:``) arrives as ``style="text-align:right"``
    and is kept after the tag's own style, so that it wins; such a number column
    does not wrap a figure from its unit.
    """
    words = labels(language)["status"]
    for index, token in enumerate(tokens):
        style = _EMAIL_STYLES.get(token.tag)
        if token.nesting != 1 or style is None:
            continue
        if token.tag == "td" and index + 1 < len(tokens):
            style += _status_style(tokens[index + 1].content.strip(), words)
        aligned = token.attrGet("style")
        if aligned == "text-align:right":  # a number column: "900.00 yuan" on one line
            aligned += ";white-space:nowrap"
        token.attrSet("style", f"{style}{aligned};" if aligned else style)


def _change(compare: dict, key: str, kind: str, fees_vs_last_year: bool,
            language: str) -> str:
    """"较上月 +16 件": the change against last month, or last year where last month's
    fee items differ (the draft's own rule), or a word when there is nothing to compare."""
    words = labels(language)["headline"]
    references = ("same_month_last_year",) if fees_vs_last_year and key.startswith("fees.") \
        else ("previous_month", "same_month_last_year")
    value = compare["value"]
    for reference in references:
        before = compare.get(reference)
        if value is None or before is None:
            continue
        since = words[f"vs_{reference}"]
        if value == before:
            return f"{since} {words['unchanged']}"
        sign = "+" if value > before else "−"
        return f"{since} {sign}{format_delta(value, before, kind, language)}"
    return words["no_comparison"]


def headline(draft: dict, language: str) -> list[dict[str, str]]:
    """The headline box's KPIs: label, value, change, status (met/missed/"") and its words.

    Only the KPIs the scope has (a missing export leaves its KPIs out).
    """
    words, status_words = labels(language)["headline"], labels(language)["status"]
    fees_vs_last_year = bool(draft.get("billing"))
    items = []
    for key in HEADLINE_KEYS:
        compare = draft["compare"].get(key)
        if compare is None:
            continue
        kind = draft["kinds"][key]
        status = compare.get("status") if compare.get("status") in STATUS_COLOURS else ""
        target = compare.get("target")
        target_text = (words["target"].format(target=format_value(target, kind, language))
                       if target is not None else words["no_target"])
        items.append({
            "label": labels(language)["kpi"][key],
            "value": format_value(compare["value"], kind, language),
            "change": _change(compare, key, kind, fees_vs_last_year, language),
            "status": status,
            "status_text": status_words[status] if status else "",
            "target": target_text,
        })
    return items


def email_html(markdown: str, title: str, language: str,
               kpis: list[dict[str, str]] | None = None) -> str:
    """review.html: the title, the headline box of ``kpis``, then the rest of the draft."""
    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = parser.parse(markdown)
    _style_tokens(tokens, language)
    body = parser.renderer.render(tokens, parser.options, {})
    # Outlook for Windows ignores max-width: the width attribute is what it sizes by.
    body = body.replace("<img ", f'<img width="{CHART_WIDTH_PX}" style="{_IMAGE_STYLE}" ')
    heading, _, rest = body.partition("</h1>\n")
    page = environment(language).get_template("email.html.j2")
    boxes = kpis or []
    rows = [boxes[i:i + 3] for i in range(0, len(boxes), 3)]
    values = {"title": title, "heading": f"{heading}</h1>" if rest else "",
              "body": rest or body, "rows": rows, "colours": STATUS_COLOURS,
              "embedded_family": EMBEDDED_FAMILY}
    # The font is cut to the page's characters, so the page is rendered twice: once to
    # know them (the font rule is ASCII: it adds none), once with the rule in.
    return page.render(**values, font_face=font_face(page.render(**values, font_face="")))
