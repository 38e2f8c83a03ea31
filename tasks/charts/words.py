"""The words of the charts: ``[chart]`` of labels.toml, KPI names, figures as the review
prints them, and the alt texts that state each chart's figures."""

from __future__ import annotations

from collections.abc import Sequence

from yuebao.months import Month
from yuebao.tasks.spreadsheet.cells import _Words
from yuebao.words import month_name

MAX_ALT_ITEMS = 10  # an alt text lists at most this many bars, then says how many more


class ChartWords(_Words):
    """The spreadsheet's look-ups (KPI and group names) plus the chart's own words."""

    def __init__(self, language: str) -> None:
        super().__init__(language)
        self.chart = self.all["chart"]

    def month(self, text: str) -> str:
        """An axis label: ``9月`` / ``Sep``."""
        return self.chart["months"][Month.parse(text).month - 1]

    def long_month(self, text: str) -> str:
        parsed = Month.parse(text)
        return month_name(parsed.year, parsed.month, self.language)

    def figure(self, value: float | int | None, kind: str) -> str:
        """A figure exactly as the review's sentences print it (万元 from 10 万 in Chinese)."""
        from yuebao.tasks.render import format_prose  # render draws the charts: import late

        return format_prose(value, kind, self.language)

    def target(self, label: str) -> str:
        return self.chart["target"].format(label=label)

    def alt(self, title: str, parts: Sequence[str]) -> str:
        return self.chart["alt"].format(title=title,
                                        parts=self.chart["part_separator"].join(parts))

    def series(self, label: str, months: Sequence[str], values: Sequence, kind: str,
               target: float | None = None) -> str | None:
        """``响应及时率从 95.10%（2025年12月）到 97.84%（2026年11月），目标 95.00%``."""
        known = [(m, v) for m, v in zip(months, values, strict=True) if v is not None]
        if not known:
            return None
        (first_month, first), (last_month, last) = known[0], known[-1]
        text = self.chart["alt_series"].format(
            label=label, first=self.figure(first, kind), last=self.figure(last, kind),
            first_month=self.long_month(first_month), last_month=self.long_month(last_month))
        if target is not None:
            text += self.chart["alt_target"].format(value=self.figure(target, kind))
        return text

    def items(self, names: Sequence[str], values: Sequence, kind: str) -> str:
        """``停车费 86.35%、物业费 86.64%`` (the first ``MAX_ALT_ITEMS``, then how many more)."""
        shown = [self.chart["alt_item"].format(label=name, value=self.figure(value, kind))
                 for name, value in list(zip(names, values, strict=True))[:MAX_ALT_ITEMS]]
        if len(names) > MAX_ALT_ITEMS:
            shown.append(self.chart["alt_more"].format(count=len(names)))
        return self.chart["separator"].join(shown)

    def span(self, label: str, names: Sequence[str], values: Sequence, kind: str) -> str | None:
        """``回访满意率最低 80.00%（松花小区），最高 97.00%（锦江小区）``."""
        known = [(v, n) for n, v in zip(names, values, strict=True) if v is not None]
        if not known:
            return None
        low = min(known, key=lambda item: item[0])
        high = max(known, key=lambda item: item[0])
        return self.chart["alt_range"].format(
            label=label, low=self.figure(low[0], kind), low_name=low[1],
            high=self.figure(high[0], kind), high_name=high[1])
