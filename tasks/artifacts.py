"""Artifacts: what a month's run leaves in the Prefect UI beside its logs.

For every month and scope: the draft (Markdown), its KPI table, and a link to its
files; for the month, the data-quality counts per file; for a backfill, its status
table. The keys are stable, so the UI's Artifacts page shows each one's history
from month to month: ``review-<scope-slug>-<yyyy-mm>``, ``kpis-…``, ``files-…``,
``quality-<yyyy-mm>``, ``backfill-<from>-<to>``.

Building the artifacts is plain data (:func:`month_artifacts`); only the task
talks to Prefect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from prefect import task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from yuebao.files import slug
from yuebao.tasks.metrics import kpi_catalogue
from yuebao.tasks.render import RenderedMonth, format_value
from yuebao.words import labels

__all__ = ["Artifact", "artifacts_task", "backfill_table_task", "month_artifacts", "slug"]


@dataclass(frozen=True)
class Artifact:
    key: str
    kind: str  # "markdown", "table" or "link"
    description: str
    data: object  # the Markdown text, the table rows, or the link


def kpi_rows(document: dict, language: str) -> list[dict[str, str]]:
    """The month's ``compare`` block as a table a person reads: formatted, with words."""
    words = labels(language)
    catalogue = kpi_catalogue()
    header = words["run"]["kpi_columns"]
    rows = []
    for key, entry in document["compare"].items():
        kind = catalogue[key]["kind"]
        rows.append(dict(zip(header, [
            words["kpi"].get(key, key),
            format_value(entry["value"], kind, language),
            format_value(entry["previous_month"], kind, language),
            format_value(entry["same_month_last_year"], kind, language),
            format_value(entry["target"], kind, language),
            words["status"].get(entry["status"], "—") if entry["status"] else "—",
        ], strict=True)))
    return rows


# A chart's line in review.md; its picture lives in the scope's folder, which the
# Prefect UI (a web page) cannot show, so the artifact keeps the alt text instead.
_CHART_LINE = re.compile(r"^!\[(.*)\]\(charts/[a-z_]+\.png\)$", re.MULTILINE)


def _charts_as_text(markdown: str) -> str:
    """The review with each chart as its alt text, which states the chart's figures."""
    return _CHART_LINE.sub(r"\1", markdown)


def month_artifacts(month: str, rendered: RenderedMonth, documents: dict[str, dict],
                    files: pd.DataFrame, language: str) -> list[Artifact]:
    """Every artifact of one month's run."""
    artifacts = []
    for review in rendered.reviews:
        name = f"{slug(review.scope)}-{month}"
        folder = rendered.month_dir / review.folder
        artifacts += [
            Artifact(f"review-{name}", "markdown", review.subject,
                     _charts_as_text(review.markdown)),
            Artifact(f"kpis-{name}", "table", review.subject,
                     kpi_rows(documents[review.scope], language)),
            Artifact(f"files-{name}", "link", review.subject, Path(folder).as_uri()),
        ]
    quality = files[["file", "table", "read", "used", "quarantined", "duplicate"]]
    artifacts.append(Artifact(f"quality-{month}", "table", f"data quality {month}",
                              quality.astype({"read": int, "used": int, "quarantined": int,
                                              "duplicate": int}).to_dict("records")))
    return artifacts


def publish(artifacts: list[Artifact]) -> None:
    for artifact in artifacts:
        if artifact.kind == "markdown":
            create_markdown_artifact(str(artifact.data), key=artifact.key,
                                     description=artifact.description)
        elif artifact.kind == "table":
            create_table_artifact(artifact.data, key=artifact.key,  # type: ignore[arg-type]
                                  description=artifact.description)
        else:
            create_link_artifact(str(artifact.data), key=artifact.key,
                                 description=artifact.description)


@task(name="artifacts", task_run_name="artifacts-{month}", cache_policy=NO_CACHE)
def artifacts_task(month: str, rendered: RenderedMonth, documents: dict[str, dict],
                   files: pd.DataFrame, language: str) -> list[str]:
    """Prefect task: the month's drafts, KPI tables, file links and data quality in the UI."""
    artifacts = month_artifacts(month, rendered, documents, files, language)
    publish(artifacts)
    return [a.key for a in artifacts]


@task(name="backfill-table", cache_policy=NO_CACHE)
def backfill_table_task(first: str, last: str, rows: list[dict]) -> str:
    """Prefect task: the backfill's status table, one row per month and scope."""
    key = f"backfill-{first}-{last}"
    create_table_artifact(rows, key=key, description=f"backfill {first} .. {last}")
    return key
