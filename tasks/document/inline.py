"""The runs of one paragraph of review.docx: text with bold, italic and code marks.

Chinese lines are joined without a space (see :func:`_softbreak`).
"""

from __future__ import annotations

import unicodedata

from docx.text.paragraph import Paragraph
from markdown_it.token import Token

from yuebao.tasks.document.styles import CODE_FONT


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

