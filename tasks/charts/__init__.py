"""The PNG charts of a scope's review: one place that draws them for every output.

review.md links them (``![alt](charts/<name>.png)``, in the part each belongs to),
review.html shows them from the scope's ``charts/`` folder, review.docx holds them
as pictures with captions, and the email carries them inline (``cid:``). The
figures come from metrics.json only (and, for complaints, last month's and last
year's counts the draft compared with); every word from ``[chart]`` of
labels.toml. A chart whose data is missing (no fee export, no trend) is left out.
"""

from __future__ import annotations

from dataclasses import replace

from yuebao.tasks.charts.breakdowns import community_charts, complaints_chart, fee_charts
from yuebao.tasks.charts.draw import WIDTH_PX as CHART_WIDTH_PX
from yuebao.tasks.charts.model import PARTS, Chart
from yuebao.tasks.charts.trends import trend_charts
from yuebao.tasks.charts.words import ChartWords

__all__ = ["CHART_WIDTH_PX", "PARTS", "Chart", "scope_charts"]


def scope_charts(document: dict, draft: dict, language: str,
                 names: dict[str, str] | None = None,
                 communities: dict[str, dict] | None = None) -> list[Chart]:
    """Every chart of one scope, in the order the review shows them, captions numbered.

    ``communities`` (the month's community documents, for the portfolio) adds the
    communities side by side; ``names`` maps their ids to the names readers know.
    """
    words = ChartWords(language)
    names = dict(names or {})
    drawn = trend_charts(document, words)
    drawn += community_charts(communities, names, words)
    complaints = complaints_chart(document, draft.get("complaints_history") or {}, words)
    drawn += [complaints] if complaints else []
    drawn += fee_charts(document, words, names)
    drawn.sort(key=lambda chart: PARTS.index(chart.part))  # stable: in-part order kept
    return [replace(chart, caption=words.chart["caption"].format(number=number,
                                                                   title=chart.title))
            for number, chart in enumerate(drawn, start=1)]
