"""What a chart is once drawn: the image and everything said about it."""

from __future__ import annotations

from dataclasses import dataclass

# The parts of the review a chart can stand in, in the draft's order
# (templates/*/review.md.j2: 概况, 成果, 问题, 计划, 结语).
PARTS = ("overview", "highlights", "problems", "plan", "closing")


@dataclass(frozen=True)
class Chart:
    """One PNG chart of a scope's review.

    ``data`` is what was drawn, in metrics.json's own terms: ``categories`` (months,
    codes or names, in drawing order), ``series`` (values by KPI key or series code,
    one per category) and ``targets`` (the target lines by KPI key), so a test can
    compare the picture's numbers with metrics.json without reading pixels.
    """

    name: str  # the ASCII file name in the scope's charts/ folder
    part: str  # one of PARTS
    title: str
    alt: str  # states the figures, for a reader who sees no image
    data: dict
    png: bytes
    caption: str = ""  # "图3 …", numbered in the order of the review

    @property
    def path(self) -> str:
        """Where the review links it, relative to the scope's folder."""
        return f"charts/{self.name}"

