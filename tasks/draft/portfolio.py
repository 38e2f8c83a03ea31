"""The portfolio's table of communities: each one's headline KPIs, missed targets
and place, and the seasonal work of all communities merged."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, cast

from yuebao.config import Config
from yuebao.months import Month
from yuebao.tasks.draft.types import CommunityRow
from yuebao.tasks.metrics import kpi_catalogue, scalar
from yuebao.tasks.plan import city_info, seasonal_plan

RANKED_KPIS = ("completion_rate", "response_on_time_rate", "satisfaction_rate",
               "collection_rate_month")


def _value(row: CommunityRow, kpi: str) -> Any:
    return cast(dict[str, Any], row)[kpi]


def rank_communities(rows: list[CommunityRow]) -> list[CommunityRow]:
    """The communities best first: the mean of their ranks on the headline KPIs.

    Each KPI ranks the communities that have a value (1 = highest); the overall
    order is by the mean of those ranks, then by name, so a director sees at a
    glance who leads and who trails. A community with no headline value is last.
    """
    ranks: dict[str, list[int]] = {row["id"]: [] for row in rows}
    for kpi in RANKED_KPIS:
        valued = sorted((r for r in rows if _value(r, kpi) is not None),
                        key=lambda r: -_value(r, kpi))
        for position, row in enumerate(valued, start=1):
            ranks[row["id"]].append(position)
    mean = {cid: (sum(r) / len(r) if r else float("inf")) for cid, r in ranks.items()}
    ordered = sorted(rows, key=lambda r: (mean[r["id"]], r["name"]))
    return [row | {"rank": position, "mean_rank": round(mean[row["id"]], 2)
                   if ranks[row["id"]] else None}
            for position, row in enumerate(ordered, start=1)]


def community_row(doc: dict, name: str) -> CommunityRow:
    """One line of the portfolio's table of communities, with the targets it missed."""
    catalogue = kpi_catalogue()
    missed = [{"key": key, "kind": catalogue[key]["kind"], "value": entry["value"],
               "target": entry["target"]}
              for key, entry in doc["compare"].items() if entry["status"] == "missed"]
    return {
        "missed": missed,
        "id": doc["community"], "name": name,
        "created": scalar(doc, "tickets.created"),
        "completion_rate": scalar(doc, "tickets.completion_rate"),
        "response_on_time_rate": scalar(doc, "tickets.response_on_time_rate"),
        "satisfaction_rate": scalar(doc, "tickets.satisfaction.rate"),
        "collection_rate_month": scalar(doc, "fees.collection_rate_month"),
        "arrears_at_end": scalar(doc, "fees.arrears_at_end"),
    }


def community_cities(config: Config, communities: tuple[str, ...]) -> dict:
    """Each community's city and climate (None where the config does not say)."""
    cities = {}
    for community_id in communities:
        community = config.community(community_id)
        cities[community_id] = (community and city_info(
            community.city, community.climate_zone, community.heating_start,
            community.heating_end)) or None
    return cities


def community_plans(config: Config, cities: dict,
                     next_month: Month) -> dict[str, list[dict]]:
    """Next month's seasonal work for each community, from its city and climate."""
    return {community_id: [asdict(item) | {"communities": []} for item in
                           seasonal_plan(next_month, city, config.language,
                                         include_holidays=False)]
            for community_id, city in cities.items()}


def portfolio_plan(plans: dict[str, list[dict]], names: dict[str, str]) -> list[dict]:
    """The union of the communities' seasonal work, each item naming where it applies."""
    merged: dict[str, dict] = {}
    for community_id, items in plans.items():
        for item in items:
            entry = merged.setdefault(item["id"], dict(item, communities=[]))
            entry["communities"].append(names[community_id])
    return list(merged.values())
