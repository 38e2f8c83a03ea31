"""The styles of review.docx: fonts (East Asian ones named), sizes, spacing, the page.

Fonts are set on the styles and the document defaults, never on each run, so that
changing a style in Word still changes the whole document (see the package docstring).
"""

from __future__ import annotations

from docx.document import Document as WordDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

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

