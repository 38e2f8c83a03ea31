"""Which findings the draft picks, and in what order, from hand-built metrics documents.

Each fixture is a dict shaped like metrics.json with only the figures a rule reads;
the expected effects are worked out by hand in the comments.
"""

from __future__ import annotations

from copy import deepcopy

import pytest

from yuebao.schema import TICKET_CATEGORIES
from yuebao.tasks.draft import build_draft, complaint_findings, fee_problems, kpi_findings
from yuebao.tasks.render import format_delta, format_value
from yuebao.tasks.significance import count_z, proportion_z, rate_base


def _entry(value, previous=None, year_ago=None, target=None, direction="at_least",
           status="no_target") -> dict:
    return {"value": value, "previous_month": previous, "same_month_last_year": year_ago,
            "target": target, "direction": direction, "status": status}


def _tickets(complaints: dict[str, int] | None = None, **over) -> dict:
    by_category = dict.fromkeys(TICKET_CATEGORIES, 0) | (complaints or {})
    tickets = {
        "created": 400, "resolved": 400, "overdue_open_at_end": 0, "overdue_open": [],
        "hotspots": [], "response_on_time_rate": 1.0, "resolution_on_time_rate": 1.0,
        "satisfaction": {"rated": 300, "rate": 0.95},
        "complaints": {"count": sum(by_category.values()), "by_category": by_category},
        "sla_breaches": {"response": {"count": 0}, "resolution": {"count": 0}},
    }
    return tickets | over


def _doc(tickets: dict | None, compare: dict, fees: dict | None = None) -> dict:
    quality = {"read": 1, "used": 1, "quarantined": 0, "duplicate": 0}
    return {"month": "2026-10", "community": "a", "tickets": tickets, "fees": fees,
            "compare": compare, "data_quality": {"tickets": quality, "bills": quality,
                                                  "payments": quality, "notes": []}}


def _draft(doc: dict, previous: dict | None) -> dict:
    return build_draft(doc, previous=previous, scope_name="A", city=None, targets={},
                       plan_items=[], holidays_now=[], holidays_next=[], workload=None,
                       community_rows=[], names={"a": "A"})


def test_the_tests_of_significance_by_hand():
    # 7 → 27: (27 − 7) / √34 = 20 / 5.831 = 3.430; 3 → 5: 2 / √8 = 0.707.
    assert count_z(27, 7) == pytest.approx(3.430, abs=1e-3)
    assert count_z(5, 3) == pytest.approx(0.707, abs=1e-3)
    # 90 % of 100 against 80 % of 100: pooled 0.85, se = √(0.85 · 0.15 · 0.02) = 0.0505,
    # z = 0.10 / 0.0505 = 1.980.
    assert proportion_z(0.9, 100, 0.8, 100) == pytest.approx(1.980, abs=1e-3)


def test_a_cleaning_complaint_surge_in_one_building_is_the_first_problem():
    # Cleaning 7 → 27 (z 3.430), the other complaints 13 both months, so the total
    # 20 → 40 is z = 20 / √60 = 2.582: the category, more concentrated, ranks first.
    spot = {"community": "a", "building": "7栋", "category": "cleaning", "count": 25}
    now = _tickets({"cleaning": 27, "noise": 13}, hotspots=[spot])
    before = _tickets({"cleaning": 7, "noise": 13})
    compare = {"tickets.complaints.count": _entry(40, 20, direction="at_most")}
    draft = _draft(_doc(now, compare), _doc(before, {}))
    first = draft["problems"][0]
    assert first["rule"] == "complaints_grew"
    assert first["extra"]["category"] == "cleaning"
    assert first["extra"]["building"] == "7栋"
    assert first["score"] == pytest.approx(3.430, abs=1e-3)
    assert draft["problems"][1]["key"] == "tickets.complaints.count"
    assert draft["problems"][1]["score"] == pytest.approx(2.582, abs=1e-3)


def test_three_to_five_is_not_a_finding():
    fell, grew = complaint_findings(_doc(_tickets({"security": 5}), {}),
                                    _doc(_tickets({"security": 3}), {}))
    assert fell == [] and grew == []
    # Nor 3 → 0 (z = −3 / √3 = −1.732), the old "安防门禁类投诉 0 件，较上月减少 3 件".
    fell, grew = complaint_findings(_doc(_tickets({"security": 0}), {}),
                                    _doc(_tickets({"security": 3}), {}))
    assert fell == [] and grew == []


def test_a_large_rate_move_on_many_tickets_is_a_problem():
    # 处理及时率 97.33% → 91.40%. Bases from the breaches: now 43 / (1 − 0.914) = 500,
    # before 12 / (1 − 0.9733) = 449.4. Pooled p = (457 + 437.4) / 949.4 = 0.9421;
    # se = √(0.9421 · 0.0579 · (1/500 + 1/449.4)) = 0.01519; z = −0.0593 / 0.01519 = −3.90.
    now = _tickets(resolution_on_time_rate=0.914,
                   sla_breaches={"response": {"count": 0}, "resolution": {"count": 43}})
    before = _tickets(resolution_on_time_rate=0.9733,
                      sla_breaches={"response": {"count": 0}, "resolution": {"count": 12}})
    assert rate_base(_doc(now, {}), "tickets.resolution_on_time_rate") == pytest.approx(500)
    compare = {"tickets.resolution_on_time_rate": _entry(0.914, 0.9733)}
    _, problems = kpi_findings(compare, _doc(now, compare), _doc(before, {}))
    assert [p.rule for p in problems] == ["worsened_vs_previous"]
    assert problems[0].score == pytest.approx(3.90, abs=0.01)


def test_a_small_rate_move_on_few_tickets_is_not():
    # Completion 90 % → 80 % on 20 tickets each: pooled 0.85, se = √(0.1275 · 0.1) = 0.1129,
    # z = −0.8857: noise.
    now, before = _tickets(created=20), _tickets(created=20)
    compare = {"tickets.completion_rate": _entry(0.8, 0.9)}
    assert kpi_findings(compare, _doc(now, compare), _doc(before, {})) == ([], [])


def test_an_uncovered_comparison_month_is_no_finding_and_shows_a_dash():
    compare = {"tickets.complaints.count": _entry(40, None, None, direction="at_most"),
               "fees.arrears_at_end": _entry(5e5, None, None, direction="at_most")}
    assert kpi_findings(compare, _doc(_tickets(), compare), None) == ([], [])
    assert format_value(None, "rate", "zh") == "—"


def test_arrears_at_start_are_not_a_problem_by_themselves():
    # Start arrears up 20 % (z would be 4 steps of 5 %), end arrears down: only the end is said.
    compare = {"fees.arrears_at_start": _entry(1.2e6, 1.0e6, direction="at_most"),
               "fees.arrears_at_end": _entry(0.9e6, 1.0e6, direction="at_most")}
    highlights, problems = kpi_findings(compare, _doc(None, compare), None)
    assert problems == []
    # End arrears −10 %: two steps of 5 %, z = 2.0, notable, a highlight.
    assert [(h.key, h.score) for h in highlights] == [("fees.arrears_at_end", 2.0)]


def test_a_fee_item_with_no_payments_is_named_for_a_missed_collection_rate():
    # Due 100,000: 物业费 80,000 collected 78,400 (98 %), 供暖费 20,000 collected 0.
    # Against the 95 % target only 供暖费 falls short; it costs 0.95 · 20,000 / 100,000
    # = 19 points of the rate, capped at 4.
    fees = {"due_in_month": 100000.0, "aging": None, "by_building": {}, "by_fee_item": {
        "物业费": {"due_in_month": 80000.0, "collection_rate_month": 0.98,
                 "arrears_at_end": 1600.0},
        "供暖费": {"due_in_month": 20000.0, "collection_rate_month": 0.0,
                 "arrears_at_end": 20000.0}}}
    found = fee_problems(_doc(None, {}, fees), None, 0.95)
    assert [(f.rule, f.extra["name"], f.score) for f in found] == [
        ("low_collection_item", "供暖费", 4.0)]


def test_the_drafts_figures_are_not_changed_by_ranking():
    spot = {"community": "a", "building": "7栋", "category": "cleaning", "count": 25}
    now = _tickets({"cleaning": 27}, hotspots=[spot])
    doc = _doc(now, {})
    _draft(deepcopy(doc), _doc(_tickets({"cleaning": 7}), {}))
    assert doc["tickets"]["hotspots"] == [spot]


def test_one_precision_per_kind_in_sentences():
    from yuebao.tasks.render import format_prose, format_prose_delta
    assert format_value(0.914, "rate", "zh") == "91.40%"
    # 84.95 % − 70.35 % = 14.6 points, written with 2 decimals.
    assert format_prose_delta(0.8495, 0.7035, "rate", "zh") == "14.60 个百分点"
    assert format_prose_delta(0.914, 0.9733, "rate", "en") == "5.93 pp"
    assert format_prose(21.03, "minutes", "zh") == "21.0 分钟"
    assert format_prose(5.8, "minutes", "en") == "5.8 min"
    # 1,330,881.14 yuan = 133.09 万元 in a Chinese sentence; below 100,000 stays in 元;
    # the table (format_value) keeps exact yuan; English sentences keep exact yuan.
    assert format_prose(1330881.14, "money", "zh") == "133.09 万元"
    assert format_prose(61457.36, "money", "zh") == "61,457.36 元"
    assert format_value(1330881.14, "money", "zh") == "1,330,881.14 元"
    assert format_prose(1330881.14, "money", "en") == "1,330,881.14 yuan"
    assert format_delta(0.914, 0.9733, "rate", "zh").startswith("5.93")


def test_a_fee_item_with_no_payments_is_the_named_cause_of_the_missed_rate():
    # Same fees as above: the shortfall is 1,600 (物业费) + 20,000 (供暖费) = 21,600;
    # 供暖费's 20,000 is 20,000 / 21,600 = 92.59 % of it, so it is named first, and the
    # separate "lowest fee item" problem for 供暖费 is not written again.
    fees = {"due_in_month": 100000.0, "collected_for_month": 78400.0,
            "collection_rate_month": 0.784, "aging": None, "arrears_at_end": 21600.0,
            "by_building": {}, "by_fee_item": {
                "物业费": {"due_in_month": 80000.0, "collected_for_month": 78400.0,
                         "collection_rate_month": 0.98, "arrears_at_end": 1600.0},
                "供暖费": {"due_in_month": 20000.0, "collected_for_month": 0.0,
                         "collection_rate_month": 0.0, "arrears_at_end": 20000.0}}}
    compare = {"fees.collection_rate_month": _entry(0.784, None, target=0.95,
                                                    status="missed")}
    doc = _doc(None, compare, fees)
    draft = build_draft(doc, previous=None, scope_name="A", city=None,
                        targets={"fees.collection_rate_month": 0.95}, plan_items=[],
                        holidays_now=[], holidays_next=[], workload=None,
                        community_rows=[], names={"a": "A"})
    assert [p["rule"] for p in draft["problems"]] == ["missed_target"]
    items = draft["problems"][0]["extra"]["items"]
    assert [(g["name"], g["shortfall"], g["share"]) for g in items] == [
        ("供暖费", 20000.0, 0.9259), ("物业费", 1600.0, 0.0741)]


def test_sla_breaches_planted_in_one_building_and_category_are_named():
    # 23 late responses of 400 (rate 0.9425), 9 in 7栋, 8 of them lifts; 1 in 3栋 is no
    # concentration and is left out. Against a 95 % target: z = −0.0075 / √(0.0475/400)
    # = −0.688, a missed target all the same.
    breaches = {"count": 23, "by_category": {"elevator": 8, "cleaning": 1},
                "by_building": [{"community": "a", "building": "7栋", "count": 9},
                                {"community": "a", "building": "3栋", "count": 1}]}
    tickets = _tickets(response_on_time_rate=0.9425,
                       sla_breaches={"response": breaches, "resolution": {"count": 0}})
    compare = {"tickets.response_on_time_rate": _entry(0.9425, None, target=0.95,
                                                       status="missed")}
    draft = _draft(_doc(tickets, compare), None)
    named = draft["problems"][0]["extra"]["breaches"]
    assert named["count"] == 23
    assert [(b["building"], b["count"]) for b in named["buildings"]] == [("7栋", 9)]
    assert named["categories"] == [{"category": "elevator", "count": 8}]


def test_overdue_tickets_are_listed_most_overdue_first():
    listed = [{"ticket_id": f"T{i}", "community": "a", "building": f"{i}栋",
               "category": "elevator", "days_overdue": 30 - i} for i in range(7)]
    tickets = _tickets(overdue_open_at_end=7, overdue_open=listed)
    draft = _draft(_doc(tickets, {}), None)
    overdue = next(p for p in draft["problems"] if p["rule"] == "overdue_open")
    # √7 = 2.646; the first five of the list (it is already most overdue first).
    assert overdue["score"] == pytest.approx(2.646, abs=1e-3)
    assert [t["ticket_id"] for t in overdue["extra"]["tickets"]] == ["T0", "T1", "T2", "T3", "T4"]


# --------------------------------------------------------------------------- rendered drafts


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, dict[str, str]]:
    from test_review_language import _drafts  # the small two-community run of that file

    from yuebao.tasks.render import render_review
    out = {}
    for language in ("zh", "en"):
        drafts = _drafts(tmp_path_factory.mktemp(language), language)
        out[language] = {s: render_review(d, language)[0] for s, d in drafts.items()}
        out[language]["_drafts"] = drafts
    return out


def test_the_portfolio_draft_names_communities_and_ranks_them(rendered):
    for language in ("zh", "en"):
        drafts, markdown = rendered[language]["_drafts"], rendered[language]["_portfolio"]
        keys = drafts["_portfolio"]["fees"]["by_building"]
        assert keys and all("/" in key for key in keys)
        for key in keys:  # "a/1栋" is printed "Jinjiang Garden 1栋"
            assert key not in markdown
        rows = drafts["_portfolio"]["communities"]
        # Songhua (b): completion 100 %, response 100 %, satisfaction 100 %, no collection
        # rate → places 1, 1, 1 = mean 1; Jinjiang (a): places 2, 2, 2, 1 = mean 1.75.
        assert [(r["name"], r["rank"], r["mean_rank"]) for r in rows] == [
            ("Songhua Court", 1, 1.0), ("Jinjiang Garden", 2, 1.75)]
    zh = rendered["zh"]["_portfolio"]
    assert "| 1 | Songhua Court |" in zh and "| 2 | Jinjiang Garden |" in zh
    assert "- Songhua Court：年度累计收缴率 0.00%（目标 90.00%）。" in zh
    assert "本月收缴率（重点：Jinjiang Garden）：" in zh


def test_no_line_repeats_in_a_rendered_draft(rendered):
    for language in ("zh", "en"):
        for scope, markdown in rendered[language].items():
            if scope == "_drafts":
                continue
            lines = [line for line in markdown.splitlines()
                     if line.strip() and not line.startswith("|")]
            repeated = {line for line in lines if lines.count(line) > 1}
            assert not repeated, (language, scope, repeated)


def test_what_data_cannot_know_is_one_marked_line_each_in_its_part(rendered):
    zh, en = rendered["zh"]["a"], rendered["en"]["a"]
    overview, highlights = zh.split("## 二、")[0], zh.split("## 二、")[1].split("## 三、")[0]
    assert overview.count("【请补充：") == 2 and highlights.count("【请补充：") == 4
    assert "【请补充：本月业主表扬、锦旗与感谢信】" in highlights
    assert zh.count("【请补充：") == 6 and en.count("[To add: ") == 6


def test_one_story_is_a_highlight_or_a_problem_never_both():
    # Arrears recovered 100 → 150 (+50 %, ten 5 % steps, capped at 4.0) and the recovery
    # rate 25 % → 24 % on last year (−1 point = −2.0): one family, the stronger side wins.
    compare = {"fees.arrears_collected": _entry(150.0, 100.0),
               "fees.arrears_recovery_rate": _entry(0.24, None, 0.25)}
    draft = _draft(_doc(None, compare), None)
    assert [(h["key"], h["score"]) for h in draft["highlights"]] == [
        ("fees.arrears_collected", 4.0)]
    assert draft["problems"] == []


def test_review_json_keeps_the_rule_figures_and_rank_of_every_finding():
    import json

    from yuebao.tasks.draft import review_record
    spot = {"community": "a", "building": "7栋", "category": "cleaning", "count": 25}
    now = _tickets({"cleaning": 27, "noise": 13}, hotspots=[spot])
    compare = {"tickets.complaints.count": _entry(40, 20, direction="at_most")}
    record = review_record(_draft(_doc(now, compare), _doc(_tickets({"cleaning": 7,
                                                                     "noise": 13}), {})))
    json.dumps(record)  # plain JSON
    first = record["problems"][0]
    assert (first["rank"], first["rule"], first["value"], first["reference"],
            first["delta"]) == (1, "complaints_grew", 27, 7, 20)
    assert first["effect"] == pytest.approx(3.430, abs=1e-3)
    assert first["extra"]["building"] == "7栋"
    assert [a["rule"] for a in record["actions"]] == [p["rule"] for p in record["problems"]]


def test_ties_at_the_cap_are_ordered_by_the_size_before_the_cap():
    # Due 100,000 in the month, collection target 95 %. 维修基金 (due 5,000) collected
    # nothing: (0.95 − 0) × 5,000 / 100,000 = 4.75 points = 9.5 half-point steps; 供暖费
    # (due 80,000) collected half: (0.95 − 0.5) × 0.8 = 36 points = 72 steps. Both are
    # capped at 4.0; 维修基金 is found first (lowest rate), but 供暖费 is 72 against 9.5.
    def item(due, got):
        return {"due_in_month": due, "collected_for_month": got,
                "collection_rate_month": got / due, "arrears_at_end": due - got}
    fees = {"due_in_month": 100000.0, "aging": None, "by_building": {},
            "by_fee_item": {"维修基金": item(5000.0, 0.0), "供暖费": item(80000.0, 40000.0),
                            "物业费": item(15000.0, 15000.0)}}
    found = fee_problems(_doc(None, {}, fees), None, 0.95)
    assert [(f.extra["name"], f.score, f.uncapped) for f in found] == [
        ("维修基金", 4.0, 9.5), ("供暖费", 4.0, 72.0)]
    draft = build_draft(_doc(None, {}, fees), previous=None, scope_name="A", city=None,
                        targets={"fees.collection_rate_month": 0.95}, plan_items=[],
                        holidays_now=[], holidays_next=[], workload=None,
                        community_rows=[], names={"a": "A"})
    assert [p["extra"]["name"] for p in draft["problems"]] == ["供暖费", "维修基金"]


def test_the_months_and_the_years_recovery_rate_are_one_sentence():
    # Month 23.62 % against 35.51 % a year ago: −11.89 points = −23.78 steps (cap 4.0);
    # year to date 20.88 % against 47.93 %: −27.05 points = −54.1 steps (cap 4.0). One
    # problem, led by the month's rate, ranked by the stronger (54.1 before the cap).
    compare = {"fees.arrears_recovery_rate": _entry(0.2362, None, 0.3551),
               "fees.arrears_recovery_rate_ytd": _entry(0.2088, None, 0.4793)}
    draft = _draft(_doc(None, compare), None)
    assert [(p["key"], p["score"], p["uncapped"]) for p in draft["problems"]] == [
        ("fees.arrears_recovery_rate", 4.0, 54.1)]
    assert draft["problems"][0]["extra"]["with"]["key"] == "fees.arrears_recovery_rate_ytd"
    from yuebao.tasks.render import environment
    zh = environment("zh").get_template("_findings.md.j2").module.finding(
        draft["problems"][0], draft).strip()
    assert zh == ("本月清欠率为 23.62%，较去年同期下降 11.89 个百分点；"
                  "年度清欠率为 20.88%，较去年同期下降 27.05 个百分点，需引起重视。")
    en = environment("en").get_template("_findings.md.j2").module.finding(
        draft["problems"][0], draft).strip()
    assert "; year-to-date arrears recovery rate: 20.88%, down 27.05" in en
    # Both are followed up next month.
    assert [s["key"] for s in draft["actions"][0]["subjects"]] == [
        "fees.arrears_recovery_rate", "fees.arrears_recovery_rate_ytd"]


def test_fee_rates_are_not_compared_with_last_month_across_a_seasonal_bill():
    # October billed 物业费 100,000 and 供暖费 300,000 (75 % of its due); November only
    # 物业费. The collection rate 70 % → 95 % (+25 points = 50 steps) is the calendar,
    # not a highlight; against last November (94 %, +1 point = 2.0) it is one.
    def fees(items):
        return {"due_in_month": sum(items.values()), "aging": None, "by_building": {},
                "by_fee_item": {k: {"due_in_month": v, "collected_for_month": v,
                                    "collection_rate_month": 1.0, "arrears_at_end": 0.0}
                                for k, v in items.items()}}
    october = _doc(None, {}, fees({"物业费": 100000.0, "供暖费": 300000.0}))
    same_items = _doc(None, {}, fees({"物业费": 100000.0}))
    compare = {"fees.collection_rate_month": _entry(0.95, 0.70)}
    now = _doc(None, compare, fees({"物业费": 100000.0}))
    draft = _draft(now, october)
    assert draft["highlights"] == []
    assert draft["billing"] == {"only_this_month": [], "only_last_month": ["供暖费"],
                                "share_this_month": 0.0, "share_last_month": 0.75}
    assert [h["rule"] for h in _draft(now, same_items)["highlights"]] == [
        "improved_vs_previous"]
    now = _doc(None, {"fees.collection_rate_month": _entry(0.95, 0.70, 0.94)},
               fees({"物业费": 100000.0}))
    assert [(h["rule"], h["score"]) for h in _draft(now, october)["highlights"]] == [
        ("improved_vs_last_year", 2.0)]
    # An item of 5 % of the due billed in one month only is not enough to matter.
    small = _doc(None, {}, fees({"物业费": 95000.0, "车位费": 5000.0}))
    assert _draft(now, small)["billing"] is None
    # Arrears recovered 100 → 300 (+200 %, capped at 4.0) follow last month's bills:
    # blurred by October's 供暖费, not by an item billed this month only.
    recovered = {"fees.arrears_collected": _entry(300.0, 100.0)}
    assert _draft(_doc(None, recovered, fees({"物业费": 100000.0})), october)["highlights"] == []
    assert [h["key"] for h in _draft(_doc(None, recovered, fees({"物业费": 100000.0,
                                                                 "供暖费": 300000.0})),
                                     same_items)["highlights"]] == ["fees.arrears_collected"]
    # Households in arrears follow the bills too: 463 → 362 is not a highlight across them.
    compare = {"fees.households_in_arrears": _entry(362, 463, direction="at_most")}
    assert _draft(_doc(None, compare, fees({"物业费": 100000.0})), october)["highlights"] == []


def test_a_pair_told_together_across_sides_is_led_by_the_stronger_side():
    """The month's recovery rate up on last year (a highlight) and the year's short of
    its target (the stronger, a problem): one problem, told and answered by the
    problem's rule, with the improvement as its companion."""
    from yuebao.tasks.draft import Finding
    from yuebao.tasks.draft.selection import told_together

    month = Finding(rule="improved_vs_last_year", key="fees.arrears_recovery_rate",
                    kind="rate", value=0.3114, reference=0.1708, score=2.0)
    year = Finding(rule="missed_target", key="fees.arrears_recovery_rate_ytd", kind="rate",
                   value=0.0571, target=0.10, score=3.5)
    highlights, problems = told_together([month], [year])
    assert highlights == []
    [merged] = problems
    assert (merged.rule, merged.key, merged.score) == ("missed_target",
                                                       "fees.arrears_recovery_rate_ytd", 3.5)
    assert merged.extra["with"]["rule"] == "improved_vs_last_year"
    assert merged.extra["with"]["value"] == 0.3114

    # On the same side the leading key still leads, with the stronger's effect.
    month_worse = Finding(rule="worsened_vs_last_year", key="fees.arrears_recovery_rate",
                          kind="rate", value=0.10, reference=0.17, score=1.0)
    _, [same_side] = told_together([], [month_worse, year])
    assert (same_side.key, same_side.score) == ("fees.arrears_recovery_rate", 3.5)


def _trend(values, month="2026-11", best=None, worst=None):
    months = [f"{2026 if m > 0 else 2025}-{(m - 1) % 12 + 1:02d}"
              for m in range(12 - len(values), 12)]
    assert months[-1] == month
    return {"months": months, "values": values, "best": best, "worst": worst}


def test_trend_notes_first_time_on_target_best_worst_and_in_a_row():
    from yuebao.tasks.draft import Finding
    from yuebao.tasks.draft.trend import trend_note

    rate = "tickets.response_on_time_rate"  # at least 95 %
    met = Finding(rule="improved_vs_previous", key=rate, kind="rate", value=0.96,
                  reference=0.93, target=0.95)
    # On target for the first time in the 5 months with a value (one not covered).
    first = _trend([0.90, None, 0.91, 0.94, 0.93, 0.96],
                   best={"month": "2026-11", "value": 0.96})
    assert trend_note(met, first, "2026-11", True) == {"code": "first_met", "months": 5}
    # Met before: best of 7 months instead.
    best = _trend([0.95, 0.90, 0.91, 0.92, 0.94, 0.93, 0.96],
                  best={"month": "2026-11", "value": 0.96})
    assert trend_note(met, best, "2026-11", True) == {"code": "best", "months": 7}
    # Fewer than 6 months with a value: no "best".
    short = _trend([0.95, 0.90, 0.93, 0.96], best={"month": "2026-11", "value": 0.96})
    assert trend_note(met, short, "2026-11", True) is None  # and only two rises in a row
    rising = _trend([0.97, 0.91, 0.92, 0.95, 0.96], best={"month": "2026-07", "value": 0.97})
    assert trend_note(met, rising, "2026-11", True) == {"code": "better_in_a_row", "months": 3}
    # A month not covered breaks the run: 0.92 -> None -> 0.95 -> 0.96 is one rise.
    broken = _trend([0.97, 0.91, 0.92, None, 0.95, 0.96],
                    best={"month": "2026-06", "value": 0.97})
    assert trend_note(met, broken, "2026-11", True) is None

    # Lower is better: arrears at the end rising four months running, a problem.
    arrears = Finding(rule="worsened_vs_previous", key="fees.arrears_at_end", kind="money",
                      value=69276.55, reference=61558.09)
    worse = _trend([70000.0, 50000.0, 52000.0, 55000.0, 61558.09, 69276.55],
                   worst={"month": "2026-06", "value": 70000.0})
    assert trend_note(arrears, worse, "2026-11", False) == {"code": "worse_in_a_row",
                                                            "months": 4}
    worst = _trend([50000.0, 52000.0, 55000.0, 70000.0, 61558.09, 69276.55, 71000.0],
                   worst={"month": "2026-11", "value": 71000.0})
    assert trend_note(arrears, worst, "2026-11", False) == {"code": "worst", "months": 7}
    # Not the draft's month, or a rule that is not a KPI's: no note.
    assert trend_note(arrears, worst, "2026-10", False) is None
    hotspot = Finding(rule="hotspot", key="fees.arrears_at_end", kind="money")
    assert trend_note(hotspot, worst, "2026-11", False) is None
