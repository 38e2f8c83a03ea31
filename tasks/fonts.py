"""The CJK font embedded in review.html: a subset of Noto Sans SC holding only the page's glyphs.

Mail clients on a manager's PC or phone have a Chinese system font and use it
(the font stack names them first); a machine without one (a fresh server or
container that turns the HTML into a picture or a PDF, a Linux desktop without
the CJK package) would otherwise draw every Chinese character as an empty box.
The page therefore carries its own font as a ``data:`` URI: Noto Sans SC from the
``pylopdf-fonts-zh-cn`` package (SIL Open Font License), cut down with fontTools to
the characters the page uses, so it costs tens of kilobytes instead of 8 MB.

The subset is a pure function of the page's characters: no time stamp is written
into it (``recalcTimestamp=False``), so the same draft gives the same bytes and
the send ledger's content hash does not change between runs.
"""

from __future__ import annotations

import base64
import io
from functools import cache
from html import unescape

from fontTools import subset
from fontTools.ttLib import TTFont
from pylopdf_fonts_zh_cn import sans_path

# The name the page's CSS gives the embedded font (not a system font's name, so a
# system Noto Sans SC, listed before it, is used when there is one).
EMBEDDED_FAMILY = "Yuebao Noto Sans SC"

# Kept from the font's name table: copyright, family, style, unique id, full name,
# version, PostScript name, licence and its URL (the OFL asks for the notice to travel).
_NAME_IDS = (0, 1, 2, 3, 4, 5, 6, 13, 14)
# Layout tables are left out: Chinese text needs no shaping, and they are a third of the size.
_DROP = ("GSUB", "GPOS", "GDEF", "BASE", "JSTF", "vhea", "vmtx", "VORG", "DSIG")


@cache
def _font_bytes() -> bytes:
    return sans_path().read_bytes()


def _options() -> subset.Options:
    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = []
    options.drop_tables = [*options.drop_tables, *_DROP]
    options.name_IDs = list(_NAME_IDS)
    options.name_languages = ["*"]
    options.hinting = False  # screens at email sizes do without; saves a tenth
    options.notdef_outline = True
    return options


def subset_font(text: str) -> bytes:
    """WOFF2 bytes of Noto Sans SC with the glyphs of ``text``'s characters (and .notdef)."""
    font = TTFont(io.BytesIO(_font_bytes()), recalcTimestamp=False, recalcBBoxes=False,
                  lazy=True)
    options = _options()
    subsetter = subset.Subsetter(options)
    subsetter.populate(text="".join(sorted(set(text))))
    subsetter.subset(font)
    out = io.BytesIO()
    font.flavor = options.flavor
    font.save(out)
    return out.getvalue()


def needs_font(text: str) -> bool:
    """Whether ``text`` has a character outside Latin-1 (CJK, full-width punctuation...)."""
    return any(ord(char) > 0xFF for char in text)


def font_face(page: str) -> str:
    """The ``@font-face`` rule embedding the glyphs of an HTML page, or "" if it needs none.

    The page's characters are read after unescaping entities (``&lt;`` is "<").
    """
    text = unescape(page)
    if not needs_font(text):
        return ""
    data = base64.b64encode(subset_font(text)).decode("ascii")
    return (f"@font-face{{font-family:'{EMBEDDED_FAMILY}';font-style:normal;"
            f"font-weight:400;src:url(data:font/woff2;base64,{data}) format('woff2');}}")
