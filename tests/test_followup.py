"""Follow-up of last month's actions (上月整改事项跟踪), from a two-month fixture.

September's draft has three problems, each with an action: cleaning complaints
grew 7 → 27, the response on-time rate missed its 95 % target at 90 %, and the
fee item 供暖费 collected 50 % against a 95 % target. Its review.json is written
where the run writes it; October's draft reads it back. Expected verdicts by hand:

- cleaning complaints 27 → 9: Poisson z = (9 − 27) / √36 = −3.0, three units the
  good way (down), no target → 已见效 (effective);
- response on-time rate 90.00 % → 90.00 % over 400 tickets: z = 0, target still
  missed → 未见效 (not effective);
- 供暖费: no bill due in October, no arrears → not listed → 本月无数据 (no data).
"""

from __future__ import annotations

import json

import pytest
from test_findings import _doc, _entry, _tickets

from yuebao.months import Month
from yuebao.tasks.draft import build_draft
from yuebao.tasks.draft.followup import Verdict, follow_up, judge
from yuebao.tasks.draft.records import last_reviews, review_record
from yuebao.tasks.render import environment

TARGETS = {"tickets.response_on_time_rate": 0.95, "fees.collection_rate_month": 0.95}


def _fees(items: dict[str, tuple[float, float]]) -> dict:
    by_item = {name: {"due_in_month": due, "collected_for_month": got,
                      "collection_rate_month": got / due, "arrears_at_end": due - got}
               for name, (due, got) in items.items()}
    due = sum(d for d, _ in items.values())
    got = sum(g for _, g in items.values())
    return {"due_in_month": due, "collected_for_month": got,
            "collection_rate_month": got / due if due else None, "aging": None,
            "arrears_at_end": due - got, "by_fee_item": by_item, "by_building": {}}


def _month_doc(month: str, cleaning: int, fees: dict, community: str = "a") -> dict:
    tickets = _tickets({"cleaning": cleaning, "noise": 13}, response_on_time_rate=0.9,
                       sla_breaches={"response": {"count": 40}, "resolution": {"count": 0}})
    compare = {"tickets.response_on_time_rate": _entry(0.9, 0.9, target=0.95,
                                                       status="missed")}
    return _doc(tickets, compare, fees) | {"month": month, "community": community}


def _build(doc: dict, previous: dict | None, last_review: dict | None = None) -> dict:
    return build_draft(doc, previous=previous, scope_name="A", city=None, targets=TARGETS,
                       plan_items=[], holidays_now=[], holidays_next=[], workload=None,
                       community_rows=[], names={"a": "A"}, last_review=last_review)


@pytest.fixture()
def two_months(tmp_path):
    """September's record written to out/2026-09/<folder>/review.json, and October's docs."""
    august = _month_doc("2026-08", 7, _fees({"物业费": (100000.0, 100000.0)}))
    september = _month_doc("2026-09", 27, _fees({"物业费": (100000.0, 100000.0),
                                                  "供暖费": (20000.0, 10000.0)}))
    record = review_record(_build(september, august))
    folder = tmp_path / "2026-09" / "锦江小区"
    folder.mkdir(parents=True)
    (folder / "review.json").write_text(json.dumps(record, ensure_ascii=False), "utf-8")
    # Another community's record in the same month, with an action on cleaning too.
    other = review_record(_build(_month_doc("2026-09", 30, _fees({"物业费": (1.0, 1.0)}),
                                            community="b"),
                                 _month_doc("2026-08", 2, _fees({"物业费": (1.0, 1.0)}),
                                            community="b")))
    (tmp_path / "2026-09" / "b").mkdir()
    (tmp_path / "2026-09" / "b" / "review.json").write_text(json.dumps(other), "utf-8")
    october = _month_doc("2026-10", 9, _fees({"物业费": (100000.0, 100000.0)}))
    return {"out": tmp_path, "september": september, "october": october, "record": record}


def test_actions_record_their_subjects_and_baselines(two_months):
    # Ranked by effect: the missed target (0.90 − 0.95) / √(0.95 · 0.05 / 400) = −4.588;
    # 供暖费 costs (0.95 − 0.5) × 20,000 / 120,000 = 7.5 points = 15 steps, capped at 4.0;
    # cleaning 7 → 27 is 3.430.
    subjects = [s for a in two_months["record"]["actions"] for s in a["subjects"]]
    assert [(s["kind"], s["baseline"]) for s in subjects] == [
        ("kpi", 0.9), ("fee_item", 0.5), ("complaint_category", 27)]
    assert subjects[0]["key"] == "tickets.response_on_time_rate"
    assert subjects[0]["target"] == 0.95
    # 40 late of 40 / (1 − 0.9) = 400 tickets behind the rate.
    assert subjects[0]["base"] == pytest.approx(400)
    assert subjects[1]["name"] == "供暖费" and subjects[1]["target"] == 0.95
    assert subjects[2]["category"] == "cleaning"


def test_last_months_actions_are_followed_up_with_this_months_figures(two_months):
    records = last_reviews(two_months["out"], Month.parse("2026-10"))
    assert set(records) == {"a", "b"}  # keyed by the scope each record names
    draft = _build(two_months["october"], two_months["september"], records["a"])
    fu = draft["follow_up"]
    assert fu["status"] == "followed" and fu["month"] == "2026-09"
    got = [(i["subject"]["kind"], i["baseline"], i["value"], i["verdict"], i["effect"])
           for i in fu["items"]]
    assert got == [("kpi", 0.9, 0.9, Verdict.NOT_EFFECTIVE, 0.0),
                   ("fee_item", 0.5, None, Verdict.NO_DATA, None),
                   ("complaint_category", 27, 9, Verdict.EFFECTIVE, 3.0)]
    # The follow-up is in October's own record too.
    again = review_record(draft)
    assert [i["verdict"] for i in again["follow_up"]["items"]] == [
        "not_effective", "no_data", "effective"]
    json.dumps(again)


def test_the_follow_up_lines_in_both_languages(two_months):
    record = last_reviews(two_months["out"], Month.parse("2026-10"))["a"]
    draft = _build(two_months["october"], two_months["september"], record)
    zh = environment("zh").get_template("_findings.md.j2").module.follow_up(draft)
    assert zh.strip().splitlines() == [
        "1. 响应及时率：上月 90.00%，本月 90.00%（目标不低于 95.00%），未见效。",
        "2. 收费项目“供暖费”本月收缴率：上月 50.00%，本月无数据。",
        "3. 清洁类投诉：上月 27 件，本月 9 件，已见效。",
    ]
    en = environment("en").get_template("_findings.md.j2").module.follow_up(draft)
    assert en.strip().splitlines()[1] == (
        "2. Collection rate of “供暖费”: 50.00% last month, no figure this month.")
    assert en.strip().splitlines()[2].endswith("9 this month: effective.")


def test_no_record_is_one_line_and_another_scopes_record_is_never_read(two_months):
    records = last_reviews(two_months["out"], Month.parse("2026-10"))
    # Community b's record handed to a's draft is not followed up in it.
    draft = _build(two_months["october"], two_months["september"], records["b"])
    assert draft["follow_up"] == {"status": "no_record", "month": "2026-09", "items": []}
    zh = environment("zh").get_template("_findings.md.j2").module.follow_up(draft)
    assert len(zh.strip().splitlines()) == 1 and "2026-09" in zh
    # Nor a record of another month (a run of November finds no October folder).
    assert last_reviews(two_months["out"], Month.parse("2026-11")) == {}
    assert follow_up(records["a"], two_months["october"], "2026-08")["status"] == "no_record"


def test_verdict_rule_by_hand():
    # A complaint count 10 → 7: z = −3 / √17 = −0.728, less than one unit: not effective;
    # 20 → 12: −8 / √32 = −1.414: improved; overdue 4 → 0: none left: effective.
    count = {"kind": "complaint_category", "value_kind": "count", "direction": "at_most",
             "category": "cleaning"}
    assert judge(count | {"baseline": 10}, 7, False, {})[0] == Verdict.NOT_EFFECTIVE
    assert judge(count | {"baseline": 20}, 12, False, {})[0] == Verdict.IMPROVED
    overdue = {"kind": "kpi", "key": "tickets.overdue_open_at_end", "value_kind": "count",
               "direction": "at_most", "target": None, "base": None, "baseline": 4}
    assert judge(overdue, 0, False, {})[0] == Verdict.EFFECTIVE
    # A fee item 50 % → 80 % against 95 %: 60 half-point steps (capped at 4): a clear
    # move the good way that still misses the target: improved, not effective.
    item = {"kind": "fee_item", "value_kind": "rate", "direction": "at_least",
            "target": 0.95, "name": "供暖费", "baseline": 0.5}
    assert judge(item, 0.8, False, {}) == (Verdict.IMPROVED, 4.0)
    assert judge(item, 0.96, False, {})[0] == Verdict.EFFECTIVE
