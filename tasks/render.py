"""Render: draft data -> the files people read (review.md, review.html, metrics.json).

All wording comes from ``templates/<language>/``; this module only formats
numbers (exactly, from the rounded values of metrics.json) and writes files.
The HTML email body is made from the same Markdown, so the words exist once
(its layout: :mod:`yuebao.tasks.email_page`).
"""

from __future__ import annotations

import json
import logging
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import task_run

from yuebao.config import Config
from yuebao.errors import one_line
from yuebao.files import (
    reproducible_zip,
    scope_folders,
    slug,
    write_bytes,
    write_json,
    write_text,
)
from yuebao.inert import inert_csv, markdown_data, markdown_plain, markdown_text
from yuebao.months import Month
from yuebao.schema import PORTFOLIO
from yuebao.tasks.charts import Chart, scope_charts
from yuebao.tasks.document import write_review_docx
from yuebao.tasks.draft import review_record
from yuebao.tasks.email_page import email_html, headline
from yuebao.tasks.formatting import (  # noqa: F401  (re-exported: callers import them from here)
    LARGE_MONEY,
    environment,
    format_delta,
    format_prose,
    format_prose_delta,
    format_value,
)
from yuebao.tasks.ingest import Ingested
from yuebao.tasks.ingest.parse import suggest_format
from yuebao.tasks.spreadsheet import write_metrics_xlsx
from yuebao.words import labels

log = logging.getLogger(__name__)


def render_review(draft: dict, language: str,
                  charts: Sequence[Chart] = ()) -> tuple[str, str]:
    """The review as Markdown and as the HTML email body.

    Each chart is one Markdown image line in its part, ``![alt](charts/<name>.png)``:
    the plain-text email reads it as one sentence stating the figures, the HTML
    shows the picture from the scope's folder (or inline, once the email rewrites
    the ``src`` to its ``cid:``).
    """
    links = [{"path": chart.path, "part": chart.part, "alt": markdown_text(chart.alt)}
             for chart in charts]
    markdown = environment(language).get_template("review.md.j2").render(
        d=markdown_data(draft), charts=links)
    title = markdown_plain(markdown.splitlines()[0].lstrip("# ").strip())
    return markdown, email_html(markdown, title, language, headline(draft, language))


def subject(draft: dict, language: str) -> str:
    return environment(language).get_template("subject.txt.j2").render(d=draft).strip()


DATE_FIELDS = ("created_at", "first_response_at", "resolved_at", "closed_at", "due_date",
               "paid_at")


def quarantine_reasons(ingested: Ingested, language: str) -> dict[str, str]:
    """The quarantine labels, with the run's date bounds filled in (implausible_date)."""
    bounds = {"earliest": "?", "latest": "?", "days": "?", **ingested.date_bounds}
    return {code: text.format_map(bounds) if "{" in text else text
            for code, text in labels(language).get("quarantine", {}).items()}


def quality_files(month_dir: Path, ingested: Ingested, language: str) -> None:
    """``quarantine.csv`` and ``data_quality.json`` of one month's run."""
    reasons = quarantine_reasons(ingested, language)
    quarantine = ingested.quarantine.assign(
        reason=ingested.quarantine["code"].map(reasons).fillna(ingested.quarantine["code"]))
    month_dir.mkdir(parents=True, exist_ok=True)
    columns = ["file", "line", "table", "reason", "code", "field", "value", "raw"]
    # Every text cell is made inert but raw, the row as JSON: it starts with "{" and must parse.
    csv = inert_csv(quarantine[columns], set(columns) - {"line", "raw"})
    write_bytes(month_dir / "quarantine.csv", ("\ufeff" + csv).encode("utf-8"))
    write_json(month_dir / "data_quality.json", {
        "files": json.loads(ingested.files.to_json(orient="records", force_ascii=False)),
        "tables": ingested.totals(),
        "notes": ingested.notes,
    })


@dataclass(frozen=True)
class Rendered:
    """One scope's review as written to disk, ready to be emailed."""

    scope: str
    name: str
    subject: str
    markdown: str
    html: str
    folder: str  # inside the month's folder, which moves when it is published
    files: tuple[str, ...]  # the attachments
    charts: tuple[str, ...] = ()  # the images the HTML shows (charts/<name>.png)

    def paths(self, month_dir: Path) -> tuple[Path, ...]:
        return tuple(month_dir / self.folder / name for name in self.files)

    def chart_paths(self, month_dir: Path) -> tuple[Path, ...]:
        return tuple(month_dir / self.folder / name for name in self.charts)


@dataclass(frozen=True)
class RenderedMonth:
    """The month's published folder, the scopes rendered into it and those that failed."""

    month_dir: Path
    reviews: list[Rendered]
    failures: dict[str, str] = field(default_factory=dict)  # scope -> what went wrong


def render_scope(scope: str, draft: dict, document: dict, folder: Path, language: str,
                 names: dict[str, str], communities: dict[str, dict] | None = None) -> Rendered:
    """One scope's files, made beside its folder and swapped in whole.

    A scope that fails half-way therefore keeps its last good files instead of
    a mix of old and new ones.
    """
    fresh = folder.with_name(f".{folder.name}.new")
    if fresh.exists():
        shutil.rmtree(fresh)
    try:
        charts = scope_charts(document, draft, language, names, communities)
        markdown, html = render_review(draft, language, charts)
        write_json(fresh / "metrics.json", document)
        write_text(fresh / "review.md", markdown)
        write_json(fresh / "review.json", review_record(draft))
        for chart in charts:
            write_bytes(fresh / chart.path, chart.png)
        write_text(fresh / "review.html", html)
        write_review_docx(markdown, fresh / "review.docx", language,
                          {chart.path: chart for chart in charts})
        write_metrics_xlsx(document, fresh / "metrics.xlsx", language, names, communities)
        as_of = Month.parse(document["month"]).end(document["timezone"]).to_pydatetime()
        for office in ("review.docx", "metrics.xlsx"):
            reproducible_zip(fresh / office, as_of)
        if folder.exists():
            shutil.rmtree(folder)
        fresh.rename(folder)
    finally:
        if fresh.exists():
            shutil.rmtree(fresh)
    return Rendered(
        scope=scope, name=draft["scope"]["name"],
        subject=subject(draft, language), markdown=markdown, html=html,
        folder=folder.name, files=("review.docx", "metrics.xlsx"),
        charts=tuple(chart.path for chart in charts),
    )


def render_month(drafts: dict[str, dict], documents: dict[str, dict], ingested: Ingested,
                 month_dir: Path, language: str,
                 scopes: list[str] | None = None) -> tuple[list[Rendered], dict[str, str]]:
    """Write the month's files into ``month_dir`` (a staging folder, see :func:`publish`).

    One scope failing to render does not stop the others; its error is returned
    beside the scopes that were rendered.
    """
    quality_files(month_dir, ingested, language)
    rendered, failures = [], {}
    for job in scope_jobs(drafts, documents, month_dir, language, scopes):
        try:
            rendered.append(render_scope(**job))
        except Exception as error:
            log.exception("%s: the review could not be rendered", job["scope"])
            failures[job["scope"]] = one_line(error, named=True)
    return rendered, failures


def scope_jobs(drafts: dict[str, dict], documents: dict[str, dict], month_dir: Path,
               language: str, scopes: list[str] | None = None) -> list[dict]:
    """The arguments of :func:`render_scope` for each scope to render, in draft order.

    Each job is plain data (dicts, strings, a path), so a job can be rendered by a
    thread, another process or a Dask worker alike.
    """
    names = {scope: draft["scope"]["name"] for scope, draft in drafts.items()}
    folders = scope_folders(drafts)
    communities = {s: d for s, d in documents.items() if s != PORTFOLIO}
    return [{"scope": scope, "draft": draft, "document": documents[scope],
             "folder": month_dir / folders[scope], "language": language, "names": names,
             "communities": communities if scope == PORTFOLIO else None}
            for scope, draft in drafts.items() if scopes is None or scope in scopes]


def staging_dir(output_dir: Path, month: str) -> Path:
    """A private copy of the month's folder to write into; the old one stays until publish.

    The name is unique to the run, so no two runs ever share one, whatever the
    interleaving.
    """
    final = output_dir / month
    staging = output_dir / f".{month}.staging-{uuid.uuid4().hex[:12]}"
    if final.exists():
        shutil.copytree(final, staging)
    staging.mkdir(parents=True, exist_ok=True)
    return staging


def publish(staging: Path, output_dir: Path, month: str) -> Path:
    """Swap the finished staging folder in, so a failed run leaves the last good outputs.

    Between the two renames the month has no folder; a run killed there leaves
    the retired one, which the next holder of the month's lock puts back
    (``tasks.bookkeeping.lock``).
    """
    final = output_dir / month
    retired = output_dir / f".{month}.retired-{staging.name.rpartition('-')[2]}"
    if final.exists():
        final.rename(retired)
    staging.rename(final)
    if retired.exists():
        shutil.rmtree(retired)
    return final


@task(name="render", task_run_name="render-{month}", cache_policy=NO_CACHE)
def render_task(drafts: dict[str, dict], documents: dict[str, dict], ingested: Ingested,
                config: Config, month: Month, scopes: list[str] | None = None) -> RenderedMonth:
    """Prefect task: write the month's outputs and publish them in one step."""
    output_dir = config.resolve(config.output_dir)
    staging = staging_dir(output_dir, str(month))
    try:
        rendered, failures = render_month(drafts, documents, ingested, staging,
                                          config.language, scopes)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return RenderedMonth(publish(staging, output_dir, str(month)), rendered, failures)


def _render_scope_run_name() -> str:
    """``render-2025-09-jinjiang``: the month and the scope's slug (as in artifact keys)."""
    parameters = task_run.parameters
    return f"render-{parameters['month']}-{slug(parameters['scope'])}"


@task(name="render-scope", task_run_name=_render_scope_run_name, cache_policy=NO_CACHE,
      retries=0)
def render_scope_task(month: str, scope: str, draft: dict, document: dict, folder: Path,
                      language: str, names: dict[str, str],
                      communities: dict[str, dict] | None = None) -> Rendered:
    """Prefect task: one scope's files (pure work on the run's data: no retries)."""
    return render_scope(scope, draft, document, folder, language, names, communities)


def render_scopes(drafts: dict[str, dict], documents: dict[str, dict], ingested: Ingested,
                  config: Config, month: Month, runner: Any,
                  scopes: list[str] | None = None) -> RenderedMonth:
    """The month's outputs, each scope a task of its own submitted to ``runner``.

    The scopes render at once (threads, processes or Dask workers, as the started
    task runner is); the month is published only when all have ended, exactly as
    :func:`render_task` does it one scope after another. Called inside a flow.
    """
    output_dir = config.resolve(config.output_dir)
    staging = staging_dir(output_dir, str(month))
    try:
        quality_files(staging, ingested, config.language)
        jobs = scope_jobs(drafts, documents, staging, config.language, scopes)
        futures = [runner.submit(render_scope_task, {"month": str(month), **job})
                   for job in jobs]
        rendered, failures = [], {}
        for job, future in zip(jobs, futures, strict=True):
            outcome = future.result(raise_on_failure=False)
            if isinstance(outcome, BaseException):
                log.error("%s: the review could not be rendered: %s", job["scope"],
                          one_line(outcome, named=True))
                failures[job["scope"]] = one_line(outcome, named=True)
            else:
                rendered.append(outcome)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return RenderedMonth(publish(staging, output_dir, str(month)), rendered, failures)


def validation_report(ingested: Ingested, config_path: str, profile: str, language: str,
                      month: Month | None = None, timezone: str = "Asia/Shanghai") -> str:
    """What ``yuebao validate`` prints: per-file mapping and counts, why rows were rejected."""
    q = ingested.quarantine.assign(where=ingested.quarantine["file"] + ":"
                                   + ingested.quarantine["line"].astype("str"))
    reasons = [
        {"table": table, "code": code, "field": field, "count": len(group),
         "examples": group["where"].head(3).tolist()}
        for (table, code, field), group in q.groupby(["table", "code", "field"], sort=False)
    ]
    texts = quarantine_reasons(ingested, language)
    for reason, (_, group) in zip(reasons, q.groupby(["table", "code", "field"], sort=False),
                                  strict=True):
        reason["label"] = texts.get(reason["code"], reason["code"])
        if reason["code"] == "unreadable" and reason["field"] in DATE_FIELDS:
            # One value as the file has it, and the date_formats entry that reads it.
            value = str(group["value"].iloc[0])
            reason["value"], reason["format"] = value, suggest_format(value)
    in_month = None
    if month is not None:
        start, end = month.start(timezone), month.end(timezone)
        first, after = pd.Timestamp(month.first_day), pd.Timestamp(month.shift(1).first_day)
        created = ingested.tickets["created_at"]
        due = ingested.bills["due_date"]
        paid = ingested.payments["paid_at"]
        in_month = {"tickets": int(((created >= start) & (created < end)).sum()),
                    "bills": int(((due >= first) & (due < after)).sum()),
                    "payments": int(((paid >= start) & (paid < end)).sum())}
    return environment(language).get_template("validate.txt.j2").render(
        config_path=config_path, profile=profile,
        files=ingested.files.to_dict("records"), columns=ingested.columns,
        reasons=reasons, notes=ingested.notes, month=str(month) if month else None,
        in_month=in_month)
