"""Matplotlib drawing of the charts: fonts, figure shapes and the PNG bytes.

Three things matter more than looks here:

* **Chinese without system fonts.** The machine that renders may have no CJK font
  at all (a fresh server, a container), and the charts are pictures, so the font
  must travel with the package: Noto Sans SC from the ``pylopdf-fonts-zh-cn``
  dependency is registered with matplotlib, DejaVu Sans (shipped by matplotlib)
  first for Latin letters and digits, Noto for everything DejaVu lacks.
* **The same data, the same bytes.** Outputs are compared byte for byte whatever
  the task runner, so nothing that varies is written: no PNG text chunks (no
  ``Software``, no date), a fixed size and dpi, a deterministic palette.
* **Small files.** Every chart goes into the email twice (inline, and inside the
  Word attachment), for up to 40 communities' worth of portfolio; the image is
  quantized to a 256-colour palette, which keeps a chart near 10–20 KB.

Matplotlib's global state (rcParams, the font cache) is not thread-safe, and the
threads task runner renders several scopes at once, so each figure is drawn
under one lock, with the object API only (never pyplot).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from importlib import resources
from io import BytesIO

import matplotlib

matplotlib.use("Agg")

from matplotlib import font_manager, ticker
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

WIDTH_PX, DPI = 640, 100
HEIGHT_PX = 340
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#17becf")
TARGET_COLOR = "#6e7781"
BAD_COLOR, GOOD_COLOR = "#cf222e", "#1a7f37"
PALETTE_COLORS = 256

_LOCK = threading.Lock()
_FONTS: list[str] = []

Values = Sequence[float | int | None]


def font_families() -> list[str]:
    """DejaVu Sans, then the packaged Noto Sans SC (registered once per process)."""
    if not _FONTS:
        path = resources.files("pylopdf_fonts_zh_cn").joinpath("NotoSansSC-Regular.otf")
        font_manager.fontManager.addfont(str(path))
        _FONTS.extend(["DejaVu Sans", font_manager.FontProperties(fname=str(path)).get_name()])
    return list(_FONTS)


def _style() -> dict:
    return {
        "font.family": font_families(), "font.size": 9, "axes.titlesize": 11,
        "axes.unicode_minus": False, "axes.spines.top": False, "axes.spines.right": False,
        "axes.edgecolor": "#8c959f", "axes.grid": True, "grid.color": "#e5e8eb",
        "grid.linewidth": 0.8, "axes.axisbelow": True, "legend.frameon": False,
        "legend.fontsize": 8, "savefig.facecolor": "white", "figure.facecolor": "white",
        "path.simplify": False,
    }


# Fixed margins for charts whose labels are short (months, amounts): measuring every
# label for a tight layout costs as much as drawing the chart.
FIXED_MARGINS = {"left": 0.15, "right": 0.98, "top": 0.9, "bottom": 0.1}


def render(draw: Callable[[Figure], None], height_px: int = HEIGHT_PX,
           tight: bool = True) -> bytes:
    """A PNG of ``draw(figure)``: 640 px wide, palette colours, no metadata."""
    with _LOCK, matplotlib.rc_context(_style()):
        figure = Figure(figsize=(WIDTH_PX / DPI, height_px / DPI), dpi=DPI)
        canvas = FigureCanvasAgg(figure)
        draw(figure)
        if tight:
            figure.tight_layout(pad=0.6)
        else:
            figure.subplots_adjust(**FIXED_MARGINS)
        canvas.draw()
        image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(),
                                 "raw", "RGBA", 0, 1).convert("RGB")
    palette = image.quantize(colors=PALETTE_COLORS, method=Image.Quantize.MEDIANCUT,
                             dither=Image.Dither.NONE)
    out = BytesIO()
    palette.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _nan(values: Values) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def value_axis(axes: Axes, kind: str, label: str, horizontal: bool = False) -> None:
    """Percent ticks for rates, whole-number ticks for counts, thousands separators for
    money and counts (a count axis never shows 2.5 tickets, rounded or not)."""
    axis = axes.xaxis if horizontal else axes.yaxis
    if kind == "rate":
        axis.set_major_formatter(ticker.PercentFormatter(1.0, decimals=0))
    elif kind in ("count", "money"):
        if kind == "count":
            axis.set_major_locator(ticker.MaxNLocator(integer=True))
        axis.set_major_formatter(ticker.FuncFormatter(lambda x, _: f"{x:,.0f}"))
    (axes.set_xlabel if horizontal else axes.set_ylabel)(label)


def short(value: float | int | None, kind: str) -> str:
    """A bar's label: rates as 86.4%, the rest with thousands separators."""
    if value is None:
        return ""
    if kind == "rate":
        return f"{value * 100:.1f}%"
    return f"{value:,.0f}" if kind in ("money", "count") else f"{value:,.1f}"


def lines(title: str, x: Sequence[str], series: Sequence[tuple[str, Values]],
          targets: Sequence[tuple[str, float]], kind: str, axis_label: str,
          bars: Sequence[tuple[str, Values]] = ()) -> bytes:
    """A trend: one line per series (a gap where a month is null), dashed targets,
    and optionally columns behind the lines: one series plain, several stacked."""
    def draw(figure: Figure) -> None:
        axes = figure.subplots()
        positions = list(range(len(x)))
        base = [0.0] * len(x)
        for index, (label, values) in enumerate(bars):
            heights = [0.0 if v != v else v for v in _nan(values)]  # NaN: nothing stacked
            axes.bar(positions, heights, bottom=base, width=0.6, label=label,
                     color="#9ecae1" if len(bars) == 1 else COLORS[index % len(COLORS)])
            base = [b + h for b, h in zip(base, heights, strict=True)]
        shift = len(bars)
        for index, (label, values) in enumerate(series):
            axes.plot(positions, _nan(values), marker="o", markersize=4, linewidth=1.8,
                      color=COLORS[(index + shift) % len(COLORS)], label=label)
        for index, (label, value) in enumerate(targets):
            axes.axhline(value, linestyle=(0, (4, 3)), linewidth=1.2,
                         color=COLORS[(index + shift) % len(COLORS)]
                         if len(targets) > 1 else TARGET_COLOR, alpha=0.8, label=label)
        axes.set_xticks(positions, list(x))
        axes.set_title(title)
        value_axis(axes, kind, axis_label)
        if kind != "rate":
            axes.set_ylim(bottom=0)
        axes.grid(axis="x", visible=False)
        if len(series) + len(targets) + len(bars) > 1:
            axes.legend(loc="best", ncols=2 if len(bars) < 4 else 3)
    return render(draw, tight=False)


def columns(title: str, x: Sequence[str], series: Sequence[tuple[str, Values]], kind: str,
            axis_label: str) -> bytes:
    """Grouped columns: one group per category, one column per series."""
    def draw(figure: Figure) -> None:
        axes = figure.subplots()
        width = 0.8 / max(len(series), 1)
        for index, (label, values) in enumerate(series):
            offset = (index - (len(series) - 1) / 2) * width
            axes.bar([p + offset for p in range(len(x))], _nan(values), width=width * 0.95,
                     color=COLORS[index % len(COLORS)], label=label)
        axes.set_xticks(range(len(x)), list(x))
        if len(x) > 8:
            axes.tick_params(axis="x", labelrotation=35)
        axes.set_title(title)
        value_axis(axes, kind, axis_label)
        axes.grid(axis="x", visible=False)
        if len(series) > 1:
            axes.legend(loc="best")
    return render(draw)


def ranking(title: str, names: Sequence[str], values: Values, kind: str, axis_label: str,
            target: tuple[str, float] | None = None) -> bytes:
    """Horizontal bars, the first name on top; red below the target, green at or above."""
    height = max(HEIGHT_PX, 90 + 26 * len(names))

    def draw(figure: Figure) -> None:
        axes = figure.subplots()
        numbers = _nan(values)
        colors = [COLORS[0] if target is None or math.isnan(v)
                  else (BAD_COLOR if v < target[1] else GOOD_COLOR) for v in numbers]
        bars = axes.barh(range(len(names)), numbers, color=colors, height=0.6)
        axes.bar_label(bars, labels=[short(v, kind) for v in values], padding=3, fontsize=8)
        axes.set_yticks(range(len(names)), list(names))
        axes.set_ylim(len(names) - 0.5, -1.3)  # the first name on top, room for the target
        if target is not None:
            axes.axvline(target[1], linestyle=(0, (4, 3)), color=TARGET_COLOR)
            axes.text(target[1], -0.75, f"{target[0]} {short(target[1], kind)}", ha="center",
                      va="center", fontsize=8, color=TARGET_COLOR,
                      bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
        axes.set_title(title)
        value_axis(axes, kind, axis_label, horizontal=True)
        known = [v for v in numbers if not math.isnan(v)] + ([target[1]] if target else [])
        if known:
            axes.set_xlim(0, max(known) * 1.15 or 1)
        axes.grid(axis="y", visible=False)
    return render(draw, height)


def bridge(title: str, names: Sequence[str], start: float, collected: float, new: float,
           end: float, axis_label: str) -> bytes:
    """A waterfall: start, minus what was collected, plus what is new, equals the end."""
    def draw(figure: Figure) -> None:
        axes = figure.subplots()
        bottoms = [0.0, start - collected, start - collected, 0.0]
        heights = [start, collected, new, end]
        colors = [COLORS[0], GOOD_COLOR, BAD_COLOR, COLORS[0]]
        bars = axes.bar(range(4), heights, bottom=bottoms, color=colors, width=0.6)
        signs = ("", "−", "+", "")
        axes.bar_label(bars, labels=[f"{s}{short(v, 'money')}" for s, v in zip(
            signs, heights, strict=True)], label_type="center", fontsize=8, color="white")
        axes.set_xticks(range(4), list(names))
        axes.set_title(title)
        value_axis(axes, "money", axis_label)
        axes.grid(axis="x", visible=False)
    return render(draw, tight=False)


def dots(title: str, names: Sequence[str], series: Sequence[tuple[str, Values]]) -> bytes:
    """Rates of many communities: one row per community, one marker per rate."""
    height = max(HEIGHT_PX, 110 + 18 * len(names))
    markers = ("o", "s", "D", "^", "v", "P")

    def draw(figure: Figure) -> None:
        axes = figure.subplots()
        rows = list(range(len(names)))
        for index, (label, values) in enumerate(series):
            axes.scatter(_nan(values), rows, s=22, marker=markers[index % len(markers)],
                         color=COLORS[index % len(COLORS)], label=label, zorder=3)
        axes.set_yticks(rows, list(names))
        axes.invert_yaxis()
        axes.set_title(title)
        value_axis(axes, "rate", "", horizontal=True)  # the legend below says what is drawn
        axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06 * HEIGHT_PX / height),
                    ncols=3)
    return render(draw, height)
