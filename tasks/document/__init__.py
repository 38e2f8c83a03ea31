"""review.docx: the Markdown draft as a Word document the manager edits and signs off.

The manager finishes the draft in Word (or WPS), so structure has to survive as
Word structure: headings are Heading 1/2/3 (the navigation pane and a table of
contents work), lists are List Number/List Bullet paragraphs with real numbering
(each numbered list starts again at 1), tables are Word tables with a repeating
header row. The Markdown is read with markdown-it, the same parser that makes the
email, so the two never disagree about what is a list or a table.

Chinese text needs an East Asian font named in ``w:eastAsia``: without it Word falls
back to the theme's East Asian font, which on many installations is a Japanese
one. The fonts are set on the styles (and the document defaults), not on each run,
so changing a style in Word still changes the whole document.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from io import BytesIO
from pathlib import Path

from docx import Document
from docx.document import Document as WordDocument
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Emu, Pt
from docx.table import Table
from docx.text.paragraph import Paragraph
from markdown_it import MarkdownIt
from markdown_it.token import Token

from yuebao.files import write_bytes
from yuebao.tasks.charts.model import Chart
from yuebao.tasks.document.inline import _add_inline, _wide
from yuebao.tasks.document.styles import (
    ALIGNMENTS,
    CODE_FONT,
    HEADER_FILL,
    MAX_LIST_LEVEL,
    PICTURE_WIDTH_CM,
    SIZES,
    _border,
    _prepare,
    _shade,
)
from yuebao.words import labels

# --- blocks ------------------------------------------------------------------------


def _restarted_numbering(document: WordDocument, style_name: str, start: int) -> int:
    """A new ``w:num`` for one numbered list, so it counts from ``start`` again.

    Every List Number paragraph shares the style's numbering, so without this the
    second list of the review would go on from 6 where the first stopped.
    """
    style_numbering = document.styles[style_name].element.pPr.numPr.numId.val
    numbering = document.part.numbering_part.element
    abstract = numbering.num_having_numId(style_numbering).abstractNumId.val
    num = numbering.add_num(abstract)
    num.add_lvlOverride(ilvl=0).add_startOverride(start)
    return num.numId


def _number_paragraph(paragraph: Paragraph, num_id: int) -> None:
    numbering = paragraph._p.get_or_add_pPr().get_or_add_numPr()
    numbering.get_or_add_ilvl().val = 0
    numbering.get_or_add_numId().val = num_id


@cache
def _figure_pattern(language: str) -> re.Pattern[str]:
    """A figure as the review prints it: ``97.84%``, ``1,234.00 元``, ``不低于 95.00%``.

    Only the language's own units count, so ``7栋`` (a building) is text, not a figure.
    """
    words = labels(language)
    units = {u for u in words["unit"].values() if u} | {words["prose"]["large_money_unit"]}
    unit = "|".join(re.escape(u) for u in sorted(units - {""}, key=len, reverse=True))
    bounds = "|".join(re.escape(w) for w in words.get("document", {}).get("bounds", ()))
    lead = rf"(?:(?:{bounds})\s?)?" if bounds else ""
    return re.compile(rf"{lead}[-+−]?\d[\d,]*(?:\.\d+)?\s?(?:%|{unit})?")


def _display_width(text: str) -> int:
    return sum(2 if _wide(ch) else 1 for ch in text)


class _Builder:
    """Walks the markdown-it token stream and appends Word blocks in order."""

    def __init__(self, document: WordDocument, language: str,
                 images: Mapping[str, Chart] | None = None) -> None:
        self.document = document
        self.language = language
        self.images = dict(images or {})
        self.lists: list[dict] = []  # open lists, innermost last
        self.quote_depth = 0
        self.title: str | None = None

    # paragraphs

    def _body_paragraph(self) -> Paragraph:
        paragraph = self.document.add_paragraph()
        if self.language == "zh":
            # 首行缩进两字: the first line of a Chinese paragraph starts two characters in.
            size = SIZES["zh"]["body"]
            paragraph.paragraph_format.first_line_indent = Pt(2 * size)
            paragraph._p.pPr.ind.set(qn("w:firstLineChars"), "200")
        return paragraph

    def _paragraph(self) -> Paragraph:
        """A paragraph styled by where it stands: list item, continuation, quote or body."""
        if self.lists:
            current = self.lists[-1]
            level = min(len(self.lists), MAX_LIST_LEVEL)
            suffix = "" if level == 1 else f" {level}"
            if current["item_started"]:
                return self.document.add_paragraph(style=f"List Continue{suffix}")
            current["item_started"] = True
            if not current["ordered"]:
                return self.document.add_paragraph(style=f"List Bullet{suffix}")
            style = f"List Number{suffix}"
            if current["num_id"] is None:
                current["num_id"] = _restarted_numbering(self.document, style, current["start"])
            paragraph = self.document.add_paragraph(style=style)
            _number_paragraph(paragraph, current["num_id"])
            return paragraph
        if self.quote_depth:
            return self.document.add_paragraph(style="Quote")
        return self._body_paragraph()

    # charts

    def _chart(self, inline: Token) -> Chart | None:
        """The chart a paragraph consists of: one image whose source is a known chart.

        Any other image (there is none in a review) stays its alt text, as before.
        """
        children = [c for c in inline.children or [] if c.type != "softbreak"]
        if len(children) != 1 or children[0].type != "image":
            return None
        return self.images.get(str(children[0].attrs.get("src", "")))

    def _picture(self, chart: Chart) -> None:
        """The chart as a centred picture the width of the text, its caption below.

        The caption is a Caption-style paragraph (Word lists those in a table of
        figures); the alt text goes into the picture's description for screen readers.
        """
        section = self.document.sections[-1]
        width = min(section.page_width - section.left_margin - section.right_margin,
                    Cm(PICTURE_WIDTH_CM))
        paragraph = self.document.add_paragraph()
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        paragraph.paragraph_format.keep_with_next = True
        paragraph.paragraph_format.space_after = Pt(2)
        run = paragraph.add_run()
        run.add_picture(BytesIO(chart.png), width=width)
        for properties in run._r.iter(qn("wp:docPr")):
            properties.set("descr", chart.alt)
            properties.set("name", chart.name)
        caption = self.document.add_paragraph(chart.caption, style="Caption")
        caption.alignment = WD_ALIGN_PARAGRAPH.CENTER

    # tables

    def _table(self, tokens: list[Token], start: int) -> int:
        """A Word table from ``table_open`` at ``start``; returns the index after it."""
        rows: list[list[tuple[Token, str | None]]] = []
        header_rows = 0
        index = start + 1
        in_head = False
        while tokens[index].type != "table_close":
            token = tokens[index]
            if token.type == "thead_open":
                in_head = True
            elif token.type == "thead_close":
                in_head = False
            elif token.type == "tr_open":
                rows.append([])
                header_rows += in_head
            elif token.type in ("th_open", "td_open"):
                style = str(token.attrs.get("style", ""))
                align = style.removeprefix("text-align:") if style else None
                rows[-1].append((tokens[index + 1], align))
            index += 1
        columns = max(len(row) for row in rows)
        numeric = self._numeric_columns(rows, header_rows, columns)
        table = self.document.add_table(rows=len(rows), cols=columns)
        table.style = self.document.styles["Table Grid"]
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        for r, row in enumerate(rows):
            for c, (inline, align) in enumerate(row):
                cell = table.cell(r, c)
                paragraph = cell.paragraphs[0]
                paragraph.paragraph_format.space_after = Pt(0)
                paragraph.paragraph_format.line_spacing = 1.0
                if align in ALIGNMENTS:
                    paragraph.alignment = ALIGNMENTS[align]
                elif c in numeric:
                    paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
                _add_inline(paragraph, inline, bold=r < header_rows)
                if r < header_rows:
                    _shade(cell._tc.get_or_add_tcPr(), HEADER_FILL)
        for r in range(header_rows):
            # Repeat the header row at the top of each page the table runs onto.
            table.rows[r]._tr.get_or_add_trPr().append(OxmlElement("w:tblHeader"))
        self._size_columns(table, rows)
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if following is None or following.type == "table_open":
            # Two tables in a row would merge into one, and a document should end in
            # a paragraph: only then does an empty paragraph go after the table.
            self.document.add_paragraph()
        return index + 1

    def _numeric_columns(self, rows: list[list[tuple[Token, str | None]]], header_rows: int,
                         columns: int) -> set[int]:
        """Columns whose body cells are all figures (or a dash): their numbers line up
        on the right, as in a spreadsheet; a column the Markdown aligns keeps its own."""
        pattern = _figure_pattern(self.language)
        found = set()
        for c in range(columns):
            cells = [row[c][0].content.strip() for row in rows[header_rows:] if c < len(row)]
            figures = [text for text in cells if text not in ("", "—", "-")]
            if figures and all(pattern.fullmatch(text) for text in figures):
                found.add(c)
        return found

    def _size_columns(self, table: Table, rows: list[list[tuple[Token, str | None]]]) -> None:
        """Column widths by content, the whole table no wider than the text block."""
        section = self.document.sections[-1]
        available = section.page_width - section.left_margin - section.right_margin
        widths = [4] * len(table.columns)
        for row in rows:
            for c, (inline, _) in enumerate(row):
                widths[c] = max(widths[c], min(_display_width(inline.content), 40))
        total = sum(widths)
        for c, weight in enumerate(widths):
            width = Emu(int(available * weight / total))
            table.columns[c].width = width
            for cell in table.columns[c].cells:
                cell.width = width

    # the walk

    def render(self, tokens: list[Token]) -> None:
        index = 0
        while index < len(tokens):
            token = tokens[index]
            kind = token.type
            if kind == "heading_open":
                level = int(token.tag[1])
                paragraph = self.document.add_paragraph(style=f"Heading {level}")
                _add_inline(paragraph, tokens[index + 1])
                if level == 1 and self.title is None:
                    # The text as read, not the source: ``&lt;`` and ``\|`` are ``<`` and ``|``.
                    self.title = "".join(child.content for child in tokens[index + 1].children
                                         or [] if child.type in ("text", "code_inline"))
                index += 3
                continue
            if kind == "paragraph_open":
                chart = self._chart(tokens[index + 1])
                if chart is not None:
                    self._picture(chart)
                else:
                    _add_inline(self._paragraph(), tokens[index + 1])
                index += 3
                continue
            if kind == "table_open":
                index = self._table(tokens, index)
                continue
            if kind in ("bullet_list_open", "ordered_list_open"):
                self.lists.append({"ordered": kind == "ordered_list_open",
                                   "start": int(token.attrs.get("start", 1)),
                                   "num_id": None, "item_started": False})
            elif kind in ("bullet_list_close", "ordered_list_close"):
                self.lists.pop()
            elif kind == "list_item_open":
                self.lists[-1]["item_started"] = False
            elif kind == "blockquote_open":
                self.quote_depth += 1
            elif kind == "blockquote_close":
                self.quote_depth -= 1
            elif kind in ("fence", "code_block"):
                paragraph = self._paragraph()
                for number, line in enumerate(token.content.rstrip("\n").split("\n")):
                    if number:
                        paragraph.add_run().add_break()
                    paragraph.add_run(line).font.name = CODE_FONT
            elif kind == "html_block":
                self._paragraph().add_run(token.content.strip())
            elif kind == "hr":
                _border(self.document.add_paragraph()._p.get_or_add_pPr(), "bottom", "999999",
                        size=6, space=1)
            index += 1


def review_document(markdown: str, language: str = "zh",
                    images: Mapping[str, Chart] | None = None) -> WordDocument:
    """The Word document of one review (see the module docstring for the choices).

    ``images`` maps the Markdown's image sources (``charts/<name>.png``) to their
    charts, which become pictures with captions where the Markdown links them.
    """
    document = Document()
    _prepare(document, language)
    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    builder = _Builder(document, language, images)
    builder.render(parser.parse(markdown))
    properties = document.core_properties
    properties.title = builder.title or ""
    properties.language = "zh-CN" if language == "zh" else "en-US"
    properties.author = "yuebao"
    return document


def write_review_docx(markdown: str, path: Path, language: str = "zh",
                      images: Mapping[str, Chart] | None = None) -> Path:
    """Write ``review.docx`` atomically, so a crash never leaves half a document."""
    buffer = BytesIO()
    review_document(markdown, language, images).save(buffer)
    write_bytes(Path(path), buffer.getvalue())
    return Path(path)
