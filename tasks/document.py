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
import unicodedata
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
from docx.shared import Cm, Emu, Pt, RGBColor
from docx.table import Table
from docx.text.paragraph import Paragraph
from markdown_it import MarkdownIt
from markdown_it.token import Token

from yuebao.files import write_bytes
from yuebao.tasks.charts.model import Chart
from yuebao.words import labels

# (Latin font, East Asian font) for body text and headings. 宋体 body with 黑体
# headings is the usual look of a Chinese work report; the English draft still
# names Chinese fonts because community and building names stay Chinese.
FONTS = {
    "zh": {"body": ("Times New Roman", "SimSun"), "heading": ("Arial", "SimHei")},
    "en": {"body": ("Calibri", "SimSun"), "heading": ("Calibri", "SimHei")},
}
# Point sizes: 10.5 pt is 五号, the standard Chinese body size; 16/14/12 are 三号/四号/小四.
SIZES = {
    "zh": {"body": 10.5, 1: 16, 2: 14, 3: 12},
    "en": {"body": 11, 1: 16, 2: 13, 3: 12},
}
CODE_FONT = "Consolas"
HEADING_COLOR = RGBColor(0x1F, 0x3A, 0x5F)  # the email's heading colour
QUOTE_COLOR = RGBColor(0x55, 0x55, 0x55)
HEADER_FILL = "F0F3F6"
QUOTE_FILL, QUOTE_BORDER = "FFF8E1", "F0B400"
PICTURE_WIDTH_CM = 14.5  # a chart as wide as the A4 text block (21 cm less the margins)
MAX_LIST_LEVEL = 3  # the default template has List Bullet/Number 1–3
ALIGNMENTS = {"left": WD_ALIGN_PARAGRAPH.LEFT, "center": WD_ALIGN_PARAGRAPH.CENTER,
              "right": WD_ALIGN_PARAGRAPH.RIGHT}


# --- styles ------------------------------------------------------------------------


def _set_fonts(rpr, latin: str, east_asian: str) -> None:
    """Name the fonts on a ``w:rPr``; theme attributes would override them, so they go."""
    fonts = rpr.get_or_add_rFonts()
    for attribute in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attribute), None)
    for attribute, name in (("w:ascii", latin), ("w:hAnsi", latin), ("w:cs", latin),
                            ("w:eastAsia", east_asian)):
        fonts.set(qn(attribute), name)


# Children that must come after ``w:pBdr`` / ``w:shd`` in a ``w:pPr`` and after ``w:shd``
# in a ``w:tcPr``: Word refuses to open a file whose elements are out of schema order.
_AFTER_SHD_IN_PPR = (
    "w:tabs", "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap", "w:overflowPunct",
    "w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi", "w:adjustRightInd",
    "w:snapToGrid", "w:spacing", "w:ind", "w:contextualSpacing", "w:mirrorIndents",
    "w:suppressOverlap", "w:jc", "w:textDirection", "w:textAlignment", "w:textboxTightWrap",
    "w:outlineLvl", "w:divId", "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange",
)
_AFTER_SHD_IN_TCPR = ("w:noWrap", "w:tcMar", "w:textDirection", "w:tcFitText", "w:vAlign",
                      "w:hideMark", "w:headers", "w:cellIns", "w:cellDel", "w:cellMerge",
                      "w:tcPrChange")


def _shade(properties, fill: str) -> None:
    """Background colour of a paragraph (``w:pPr``) or cell (``w:tcPr``)."""
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), fill)
    after = _AFTER_SHD_IN_PPR if properties.tag == qn("w:pPr") else _AFTER_SHD_IN_TCPR
    properties.insert_element_before(shading, *after)


def _border(ppr, side: str, color: str, size: int = 12, space: int = 4) -> None:
    borders = ppr.find(qn("w:pBdr"))
    if borders is None:
        borders = OxmlElement("w:pBdr")
        ppr.insert_element_before(borders, "w:shd", *_AFTER_SHD_IN_PPR)
    line = OxmlElement(f"w:{side}")
    for name, value in (("w:val", "single"), ("w:sz", str(size)), ("w:space", str(space)),
                        ("w:color", color)):
        line.set(qn(name), value)
    borders.append(line)


def _prepare(document: WordDocument, language: str) -> None:
    """Fonts, sizes, spacing and page of the document's styles, for this language."""
    fonts, sizes = FONTS.get(language, FONTS["en"]), SIZES.get(language, SIZES["en"])
    defaults = document.styles.element.find(qn("w:docDefaults"))
    default_rpr = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    _set_fonts(default_rpr, *fonts["body"])
    lang = default_rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        default_rpr.append(lang)
    lang.set(qn("w:val"), "en-US")
    lang.set(qn("w:eastAsia"), "zh-CN")

    normal = document.styles["Normal"]
    _set_fonts(normal.element.get_or_add_rPr(), *fonts["body"])
    normal.font.size = Pt(sizes["body"])
    normal.paragraph_format.space_after = Pt(4)
    normal.paragraph_format.line_spacing = 1.3

    for level in (1, 2, 3):
        for name in (f"Heading {level}", f"Heading {level} Char"):
            style = document.styles[name]
            _set_fonts(style.element.get_or_add_rPr(), *fonts["heading"])
            style.font.size = Pt(sizes[level])
            style.font.bold = True
            style.font.color.rgb = HEADING_COLOR
        paragraph = document.styles[f"Heading {level}"].paragraph_format
        paragraph.space_before = Pt({1: 6, 2: 14, 3: 10}[level])
        paragraph.space_after = Pt({1: 14, 2: 6, 3: 4}[level])
    document.styles["Heading 1"].paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER

    quote = document.styles["Quote"]
    _set_fonts(quote.element.get_or_add_rPr(), *fonts["body"])
    quote.font.italic = False  # slanted Chinese characters are hard to read
    quote.font.color.rgb = QUOTE_COLOR
    quote.paragraph_format.left_indent = Cm(0.3)
    quote_ppr = quote.element.get_or_add_pPr()
    _border(quote_ppr, "left", QUOTE_BORDER, size=18, space=6)
    _shade(quote_ppr, QUOTE_FILL)

    # A4 with Word's Chinese default margins.
    for section in document.sections:
        section.page_width, section.page_height = Cm(21), Cm(29.7)
        section.top_margin = section.bottom_margin = Cm(2.54)
        section.left_margin = section.right_margin = Cm(3.17)


# --- inline content ----------------------------------------------------------------


def _wide(character: str) -> bool:
    return bool(character) and unicodedata.east_asian_width(character) in "WF"


def _softbreak(before: str, after: str) -> str:
    """A line break inside a paragraph: nothing between Chinese characters, else a space.

    Chinese has no spaces between words, so joining two Chinese lines with a space
    (as HTML does) would put a stray gap in the middle of the paragraph.
    """
    return "" if _wide(before[-1:]) or _wide(after[:1]) else " "


def _following_text(children: list[Token], index: int) -> str:
    for child in children[index + 1:]:
        if child.content:
            return child.content
        if child.type in ("softbreak", "hardbreak"):
            return ""
    return ""


def _add_inline(paragraph: Paragraph, token: Token, *, bold: bool = False) -> None:
    """The runs of one inline token: text with bold, italic and code marks."""
    strong = emphasis = 0
    written = ""
    children = token.children or []
    for index, child in enumerate(children):
        kind = child.type
        text = None
        if kind in ("text", "html_inline", "image"):
            text = child.content
        elif kind == "code_inline":
            run = paragraph.add_run(child.content)
            run.font.name = CODE_FONT
            written += child.content
        elif kind == "softbreak":
            text = _softbreak(written, _following_text(children, index))
        elif kind == "hardbreak":
            paragraph.add_run().add_break()
            written = ""
        elif kind == "strong_open":
            strong += 1
        elif kind == "strong_close":
            strong -= 1
        elif kind == "em_open":
            emphasis += 1
        elif kind == "em_close":
            emphasis -= 1
        if text:
            run = paragraph.add_run(text)
            if bold or strong:
                run.bold = True
            if emphasis:
                run.italic = True
            written += text


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
