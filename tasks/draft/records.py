"""``review.json``: what each draft wrote, and last month's record read back.

The record lets a reader trace each sentence to ``metrics.json`` (rule, figures,
effect, rank), and lets next month's run follow up this month's actions: each
action keeps its subjects and baselines (:func:`.followup.subjects`).
"""

from __future__ import annotations

import json
import logging
from math import isfinite
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from yuebao.months import Month

log = logging.getLogger(__name__)

# /2: actions carry their subjects and baselines, and the record its follow-up.
REVIEW_SCHEMA = "yuebao.review/2"
FILE_NAME = "review.json"


def _finite(value: float | None) -> float | None:
    """JSON has no infinity: growth from zero before the cap is written as null."""
    return value if value is None or isfinite(value) else None


def review_record(draft: dict) -> dict:
    """What ``review.json`` holds: every highlight, problem, action and follow-up of
    the draft, with the rule, the figures and the rank that produced it."""
    def ranked(findings: list[dict]) -> list[dict]:
        return [{"rank": rank, "rule": f["rule"], "key": f["key"], "kind": f["kind"],
                 "value": f["value"], "reference": f["reference"], "target": f["target"],
                 "delta": f["delta"], "effect": f["score"],
                 "effect_uncapped": _finite(f.get("uncapped")), "extra": f["extra"]}
                for rank, f in enumerate(findings, start=1)]

    follow = draft.get("follow_up") or {"status": "no_record", "month": None, "items": []}
    return {
        "schema": REVIEW_SCHEMA, "month": draft["month"]["text"],
        "scope": draft["scope"]["id"],
        "highlights": ranked(draft["highlights"]),
        "problems": ranked(draft["problems"]),
        "actions": [{"rank": rank, "problem_rank": rank, "rule": a["rule"], "key": a["key"],
                     "value": a["value"], "extra": a["extra"],
                     "communities": a.get("communities", []),
                     "subjects": a.get("subjects", [])}
                    for rank, a in enumerate(draft["actions"], start=1)],
        "billing_change": draft.get("billing"),
        "follow_up": {"status": str(follow["status"]), "month": follow["month"],
                      "items": [item | {"verdict": str(item["verdict"])}
                                for item in follow["items"]]},
    }


def last_reviews(output_dir: Path, month: Month) -> dict[str, dict]:
    """Last month's ``review.json`` of every scope found in the output folder, by scope.

    Keyed by the scope the record itself names (not by folder name), so a draft
    never follows up another community's actions; records of another month or
    another schema, and unreadable files, are left out (logged): the draft then
    says there is no record.
    """
    previous = str(month.shift(-1))
    found: dict[str, dict] = {}
    for path in sorted((output_dir / previous).glob(f"*/{FILE_NAME}")):
        try:
            record = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as error:
            log.warning("%s: not read for the follow-up (%s)", path, error)
            continue
        if (not isinstance(record, dict) or record.get("schema") != REVIEW_SCHEMA
                or record.get("month") != previous or not isinstance(record.get("scope"), str)):
            log.info("%s: not a %s record of %s, not followed up", path, REVIEW_SCHEMA, previous)
            continue
        found.setdefault(record["scope"], record)
    return found


last_reviews_task = task(last_reviews, name="last-reviews", cache_policy=NO_CACHE)
