"""Selection: which candidates the draft keeps, in what order.

One side per story, one sentence per pair told together, one finding per family,
largest effects first (ties at the cap by the size before it), then the caps.
"""

from __future__ import annotations

from dataclasses import replace

from yuebao.tasks.draft.candidates import Finding
from yuebao.tasks.metrics import kpi_catalogue

MAX_HIGHLIGHTS = 5
MAX_PROBLEMS = 6


def without_named(problems: list[Finding]) -> list[Finding]:
    """Leave out a low-collecting fee item or building that a collection-rate problem
    already names as a cause: the draft says each fact once."""
    named = {(g["name"]) for f in problems for part in ("items", "buildings")
             for g in f.extra.get(part, [])}
    overdue_kpi = any(f.key == "tickets.overdue_open_at_end" and f.rule != "overdue_open"
                      for f in problems)
    return [f for f in problems
            if not (f.rule.startswith("low_collection_") and f.extra["name"] in named)
            and not (overdue_kpi and f.rule == "overdue_open")]


def one_side_per_family(highlights: list[Finding],
                         problems: list[Finding]) -> tuple[list[Finding], list[Finding]]:
    """A family of KPIs telling one story is a highlight or a problem, not both.

    Without this, "arrears recovered rose on last month" and "the recovery rate fell
    on last year" would contradict each other; the stronger effect keeps the family.
    """
    catalogue = kpi_catalogue()

    def family(f: Finding) -> str | None:
        return catalogue.get(f.key, {}).get("family")

    best: dict[str, float] = {}
    for f in highlights + problems:
        name = family(f)
        if name:
            best[name] = max(best.get(name, 0.0), f.score)
    top_problem = {name for f in problems
                   if (name := family(f)) and f.score == best[name]}
    return ([f for f in highlights if family(f) not in top_problem],
            [f for f in problems if not family(f) or family(f) in top_problem])


# KPIs told in one sentence, the first key leading: the month's and the year's
# arrears recovery rate are one story (how much old debt came in), not two problems.
TOLD_TOGETHER = (("fees.arrears_recovery_rate", "fees.arrears_recovery_rate_ytd"),)


def _companion(f: Finding) -> dict:
    return {"rule": f.rule, "key": f.key, "kind": f.kind, "value": f.value,
            "reference": f.reference, "target": f.target, "delta": f.delta,
            "effect": f.score}


def told_together(highlights: list[Finding],
                   problems: list[Finding]) -> tuple[list[Finding], list[Finding]]:
    """A pair of :data:`TOLD_TOGETHER` found both becomes one finding.

    It is the leading key's finding, with the other in ``extra["with"]``; it takes
    the side, the effect and the size of the stronger of the two (so it ranks as
    the stronger would have), and the weaker is not written again. When the two
    lie on opposite sides (the month's rate up on last year, the year's still
    short of target), the stronger leads, so that a problem is always told by a
    problem's rule and answered by its action.
    """
    for lead, other in TOLD_TOGETHER:
        found = {f.key: f for f in highlights + problems if f.key in (lead, other)}
        if len(found) < 2:
            continue
        first, second = found[lead], found[other]
        stronger = max((first, second), key=lambda f: (f.score, f.size))
        side_is_problem = stronger in problems
        if (first in problems) != (second in problems):
            first, second = stronger, (second if stronger is first else first)
        merged = replace(first, score=stronger.score, uncapped=stronger.uncapped,
                         extra=first.extra | {"with": _companion(second)})
        highlights = [f for f in highlights if f not in (first, second)]
        problems = [f for f in problems if f not in (first, second)]
        (problems if side_is_problem else highlights).append(merged)
    return highlights, problems


def strongest(findings: list[Finding], limit: int) -> list[Finding]:
    """The largest effects first, one per family of KPIs that tell the same story.

    Effects that tie (several money figures at the cap) are ordered by their size
    before the cap; remaining ties keep the order the candidates were found in
    (the sort is stable).
    """
    catalogue = kpi_catalogue()
    chosen, families = [], set()
    for finding in sorted(findings, key=lambda f: (-f.score, -f.size)):
        family = catalogue.get(finding.key, {}).get("family") or (
            finding.key, repr(sorted(finding.extra.items())))
        if family not in families:
            families.add(family)
            chosen.append(finding)
    return chosen[:limit]
