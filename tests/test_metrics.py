"""KPIs of September 2025 from a small hand-built fixture, every value worked out by hand.

Times are Asia/Shanghai; the month is [2025-09-01 00:00, 2025-10-01 00:00).
Community ``a`` has 50 households, ``b`` 20. The comments next to each expected
value show the arithmetic; nothing here was copied from the code's output.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yuebao.config import config_from_dict
from yuebao.months import Month
from yuebao.schema import TICKET_CATEGORIES, TICKET_TYPES
from yuebao.tasks.ingest import ingest
from yuebao.tasks.metrics import (
    TYPE_TREND_KEYS,
    build_scope,
    compare,
    kpi_catalogue,
    month_documents,
    month_metrics,
    scalar,
    trend,
)
from yuebao.tasks.metrics.tickets import TicketRows, _ticket_flags
from yuebao.tasks.sample_data import generate_sample

TICKETS = """\
ticket_id,community,building,unit,created_at,first_response_at,resolved_at,closed_at,type,category,priority,satisfaction,reopened,cancelled
T1,a,1栋,1-1-101,2025-09-01 00:00:00,2025-09-01 00:10:00,2025-09-01 02:00:00,2025-09-02 10:00:00,repair,plumbing_electric,urgent,5,0,false
T2,a,1栋,1-1-102,2025-09-10 08:00:00,2025-09-10 08:45:00,2025-09-11 10:00:00,2025-09-11 12:00:00,repair,plumbing_electric,normal,3,1,false
T3,a,2栋,2-1-201,2025-09-20 10:00:00,2025-09-20 12:00:00,2025-09-22 10:00:00,2025-10-02 09:00:00,complaint,noise,normal,2,0,false
T4,a,1栋,1-1-103,2025-09-30 23:50:00,2025-10-01 00:10:00,2025-10-01 03:00:00,,repair,plumbing_electric,normal,,0,false
T5,a,,,2025-08-25 09:00:00,2025-08-25 09:30:00,2025-09-02 09:00:00,2025-09-02 10:00:00,inquiry,other,normal,4,0,false
T6,a,1栋,1-1-104,2025-08-31 20:00:00,,,,repair,heating,normal,,0,false
T7,a,,,2025-09-05 10:00:00,2025-09-05 11:00:00,2025-09-05 11:00:00,2025-09-05 12:00:00,praise,other,normal,5,0,false
T8,a,1栋,1-1-105,2025-09-03 08:00:00,,,2025-09-03 09:00:00,repair,plumbing_electric,normal,,0,true
T9,a,1栋,1-1-106,2025-09-15 08:00:00,2025-09-15 09:00:00,,2025-10-05 10:00:00,complaint,cleaning,normal,,0,TRUE
T10,a,2栋,2-1-202,2025-09-25 10:00:00,2025-09-25 10:30:00,,2025-09-25 16:00:00,repair,elevator,urgent,4,0,false
T11,b,5栋,5-1-101,2025-09-12 09:00:00,2025-09-12 09:20:00,2025-09-12 15:00:00,2025-09-13 10:00:00,repair,plumbing_electric,normal,5,0,false
"""

BILLS = """\
bill_id,community,building,unit,fee_item,period,due_date,amount_due
B1,a,1栋,1-1-101,物业费,2025-09,2025-09-15,300.00
B2,a,1栋,1-1-102,物业费,2025-09,2025-09-30,300
B3,a,2栋,2-1-201,停车费,2025-09,2025-09-01,150.0
B4,a,2栋,2-1-201,物业费,2025-08,2025-08-15,300.00
B5,a,1栋,1-1-101,物业费,2024-06,2024-06-15,250.00
B6,a,1栋,1-1-102,物业费,2025-10,2025-10-15,300.00
B7,a,2栋,2-1-202,物业费,2025-09,2025-09-15,400.00
B8,a,,,水费,2025-09,2025-09-20,80.50
B9,a,1栋,1-1-103,物业费,2025-03,2025-03-10,200.00
B10,a,1栋,1-1-104,物业费,2025-07,2025-07-20,120.00
B11,b,5栋,5-1-101,物业费,2024-12,2024-12-20,500.00
B12,b,5栋,5-1-102,物业费,2025-05,2025-05-20,60.00
"""

PAYMENTS = """\
payment_id,bill_id,paid_at,amount
P1,B1,2025-09-10 10:00:00,300.00
P2,B2,2025-09-20 10:00:00,100.00
P3,B2,2025-10-03 10:00:00,200.00
P4,B3,2025-09-01 10:00:00,200.00
P5,B4,2025-08-20 10:00:00,100.00
P6,B4,2025-09-05 10:00:00,150.00
P7,B6,2025-09-25 10:00:00,300.00
P8,B7,2025-09-12 10:00:00,400.00
P9,B7,2025-09-20 10:00:00,-100.00
P10,B8,2025-09-21,80.50
P11,B10,2025-07-25 10:00:00,20.00
P12,B11,2025-02-01 10:00:00,200.00
P13,B11,2025-09-10 10:00:00,100.00
"""


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    folder: Path = tmp_path_factory.mktemp("fixture")
    for name, text in (("tickets", TICKETS), ("bills", BILLS), ("payments", PAYMENTS)):
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return ingest({t: [f"{t}.csv"] for t in ("tickets", "bills", "payments")}, folder,
                  "Asia/Shanghai")


def _metrics(data, communities: list[dict]) -> dict:
    config = config_from_dict({"communities": communities}, Path("."))
    scope = build_scope(config, Month(2025, 9), ["a", "b"])
    return month_metrics(data.tickets, data.bills, data.payments, scope, data.available)


@pytest.fixture(scope="module")
def september(tables) -> dict:
    return _metrics(tables, [{"id": "a", "households": 50}, {"id": "b", "households": 20},
                             {"id": "c", "households": 10}])


def test_sla_can_be_set_per_community(tables):
    slower = {"repair_normal": {"response_minutes": 60, "resolution_hours": 30}}
    result = _metrics(tables, [{"id": "a", "sla": slower}, {"id": "b"}])
    a = result["a"]["tickets"]
    # T2 (45 min, 26 h) is now on time; T4's response deadline moves to 10-01 00:50.
    assert a["response_on_time_rate"] == 0.8  # T1 T2 T3 T9 of 5; T10 (urgent) still late
    assert a["resolution_on_time_rate"] == 0.6  # T1 T2 T3 of 5
    assert result["b"]["tickets"]["response_on_time_rate"] == 1.0  # b keeps the default


def test_ticket_volumes(september):
    t = september["a"]["tickets"]
    # Counted: every ticket but T8 (cancelled, closed 09-03, before the month's end).
    # T9 is cancelled too, but only on 10-05: an ordinary ticket in September.
    assert t["created"] == 7  # T1 T2 T3 T4 T7 T9 T10 (T1 at exactly 00:00 on the 1st)
    assert t["by_type"] == {"repair": 4, "complaint": 2, "inquiry": 0, "suggestion": 0,
                            "praise": 1, "other": 0}
    assert t["by_category"]["plumbing_electric"] == 3  # T1 T2 T4
    assert t["by_category"]["elevator"] == 1 and t["by_category"]["heating"] == 0
    assert sum(t["by_category"].values()) == 7
    # Resolved in September: T1 T2 T3 T5 T7, and T10 by its closed_at (no resolved_at).
    assert t["resolved"] == 6
    assert t["open_at_start"] == 2  # T5 (resolved 09-02) and T6 (never)
    assert t["open_at_end"] == 3  # T4 (resolved 10-01 03:00), T6, T9 (closed 10-05)
    assert t["completion_rate"] == 0.7143  # 5 of 7: T1 T2 T3 T7 T10


def test_response_and_resolution_times(september):
    t = september["a"]["tickets"]
    # Responded before the end: 10, 45, 120, 60 (T7), 60 (T9), 30 (T10) minutes; T4 after.
    assert t["response_minutes"] == {"mean": 54.17,  # 325 / 6 = 54.1666…
                                     "median": 52.5,  # (45 + 60) / 2
                                     "p90": 90.0,  # position 4.5: 60 + 0.5 × (120 − 60)
                                     "count": 6}
    # SLA tickets created in M: T1 T2 T3 T4 T9 T10; T4 is pending (no answer before the end,
    # deadline 10-01 00:20 >= end). On time: T1 (10 ≤ 15), T3 (120 ≤ 240), T9 (60 ≤ 240);
    # late: T2 (45 > 30), T10 (30 > 15).
    assert t["response_on_time_rate"] == 0.6
    # Resolved in M: T1 2 h, T2 26 h, T3 48 h, T5 192 h, T7 1 h, T10 6 h.
    assert t["resolution_hours"] == {"mean": 45.83,  # 275 / 6
                                     "median": 16.0,  # (6 + 26) / 2
                                     "p90": 120.0,  # 48 + 0.5 × (192 − 48)
                                     "count": 6}
    # Without praise T7: on time T1 (2 ≤ 4), T3 (48 ≤ 72); late T2, T5 (192 > 72), T10 (6 > 4).
    assert t["resolution_on_time_rate"] == 0.4
    # Open at the end past the resolution deadline: T6 (09-01 20:00), T9 (09-18 08:00);
    # T4's deadline is 10-01 23:50.
    assert t["overdue_open_at_end"] == 2
    assert t["urgent"] == {"count": 2, "response_minutes_median": 20.0}  # T1 10, T10 30


def test_satisfaction_reopen_complaints_hotspots(september):
    t = september["a"]["tickets"]
    # Rated and known by the end among the 6 resolved: T1 5, T2 3, T5 4, T7 5, T10 4.
    # T3's rating is known only at its closing on 10-02.
    assert t["satisfaction"] == {"rated": 5, "rate": 0.8,  # 4 of 5 at 4 or more
                                 "mean": 4.2,  # 21 / 5
                                 "revisit_rate": 0.8333}  # 5 / 6
    assert t["reopen_rate"] == 0.1667  # T2 of 6 resolved
    assert t["complaints"]["count"] == 2  # T3 noise, T9 cleaning
    assert t["complaints"]["by_category"]["noise"] == 1
    assert t["complaints"]["per_100_households"] == 4.0  # 2 × 100 / 50
    # 1栋 plumbing: T1 T2 T4 (T8 is cancelled) = 3 = hotspot_min.
    assert t["hotspots"] == [{"community": "a", "building": "1栋",
                              "category": "plumbing_electric", "count": 3}]


def _no(codes: tuple[str, ...], **counts: int) -> dict[str, int]:
    """Every code of an enum with 0, but the counts given."""
    return {code: counts.get(code, 0) for code in codes}


def test_sla_breaches_are_the_rates_denominator_less_its_numerator(september):
    t = september["a"]["tickets"]
    response = t["sla_breaches"]["response"]
    # Denominator of response_on_time_rate: T1 T2 T3 T9 T10 (T4 pending); on time T1 T3 T9.
    assert t["response_on_time_rate"] == 0.6 and response["count"] == 5 - 3
    # Late: T2 (repair, normal, plumbing_electric, 1栋), T10 (repair, urgent, elevator, 2栋).
    assert response["by_type"] == _no(TICKET_TYPES, repair=2)
    assert response["by_category"] == _no(TICKET_CATEGORIES, plumbing_electric=1, elevator=1)
    assert response["by_priority"] == {"urgent": 1, "normal": 1}
    assert response["by_building"] == [{"community": "a", "building": "1栋", "count": 1},
                                       {"community": "a", "building": "2栋", "count": 1}]
    resolution = t["sla_breaches"]["resolution"]
    # Denominator of resolution_on_time_rate: T1 T2 T3 T5 T10 (T7 is praise); on time T1 T3.
    assert t["resolution_on_time_rate"] == 0.4 and resolution["count"] == 5 - 2
    # Late: T2 (repair, normal, plumbing_electric, 1栋), T5 (inquiry, normal, other, no
    # building), T10 (repair, urgent, elevator, 2栋).
    assert resolution["by_type"] == _no(TICKET_TYPES, repair=2, inquiry=1)
    assert resolution["by_category"] == _no(TICKET_CATEGORIES, plumbing_electric=1, other=1,
                                            elevator=1)
    assert resolution["by_priority"] == {"urgent": 1, "normal": 2}
    assert resolution["by_building"] == response["by_building"]  # T5 has no building
    # b: T11 answered in 20 of 30 minutes and resolved in 6 of 24 hours: no breach.
    b = september["b"]["tickets"]["sla_breaches"]
    assert b["response"]["count"] == 0 and b["response"]["by_building"] == []
    assert b["resolution"]["by_priority"] == {"urgent": 0, "normal": 0}
    # The portfolio: 4 of 6 on time (T11 too), so 6 − 4 = 2 breaches, a's.
    portfolio = september["_portfolio"]["tickets"]
    assert portfolio["response_on_time_rate"] == 0.6667
    assert portfolio["sla_breaches"]["response"] == response
    assert portfolio["sla_breaches"]["resolution"]["count"] == 3  # 7 − 4 (T11 on time)


def test_overdue_open_lists_every_ticket_counted(september):
    t = september["a"]["tickets"]
    # T6: repair, normal, created 08-31 20:00, 24 h: deadline 09-01 20:00, 29 days and 4
    # hours before 10-01 00:00. T9: complaint, 72 h: deadline 09-18 08:00, 12 days 16 hours.
    assert t["overdue_open_at_end"] == len(t["overdue_open"]) == 2
    assert t["overdue_open"] == [
        {"ticket_id": "T6", "community": "a", "building": "1栋", "category": "heating",
         "type": "repair", "priority": "normal", "created_at": "2025-08-31 20:00:00",
         "deadline": "2025-09-01 20:00:00", "days_overdue": 29},
        {"ticket_id": "T9", "community": "a", "building": "1栋", "category": "cleaning",
         "type": "complaint", "priority": "normal", "created_at": "2025-09-15 08:00:00",
         "deadline": "2025-09-18 08:00:00", "days_overdue": 12},
    ]
    assert september["b"]["tickets"]["overdue_open"] == []
    assert september["_portfolio"]["tickets"]["overdue_open"] == t["overdue_open"]


# A second month of tickets, for the order and the limit of the lists. All repairs,
# normal, plumbing_electric: response SLA 30 minutes, resolution 24 hours.
BREACHES = """\
ticket_id,community,building,created_at,first_response_at,resolved_at,type,category,priority
Q1,q,9栋,2025-09-02 08:00:00,2025-09-02 08:10:00,2025-09-02 12:00:00,repair,plumbing_electric,normal
Q2,q,9栋,2025-09-02 08:00:00,2025-09-02 09:00:00,,repair,plumbing_electric,normal
Q10,q,9栋,2025-09-02 08:00:00,2025-09-02 09:00:00,,repair,plumbing_electric,normal
Q4,q,9栋,2025-09-02 08:00:00,2025-09-02 09:00:00,2025-09-02 12:00:00,repair,plumbing_electric,normal
Q5,q,10栋,2025-09-02 08:00:00,2025-09-02 09:00:00,2025-09-02 12:00:00,repair,plumbing_electric,normal
Q6,q,10栋,2025-09-02 08:00:00,2025-09-02 09:00:00,2025-09-02 12:00:00,repair,plumbing_electric,normal
Q7,q,2栋,2025-09-02 08:00:00,2025-09-02 09:00:00,2025-09-02 12:00:00,repair,plumbing_electric,normal
Q8,q,2栋,2025-09-02 08:00:00,2025-09-02 09:00:00,2025-09-02 12:00:00,repair,plumbing_electric,normal
Q9,q,1栋,2025-09-02 08:00:00,2025-09-02 09:00:00,2025-09-02 12:00:00,repair,plumbing_electric,normal
Q11,q,3栋,2025-09-02 08:00:00,2025-09-02 09:00:00,2025-09-02 12:00:00,repair,plumbing_electric,normal
Q12,q,4栋,2025-09-02 08:00:00,2025-09-02 09:00:00,2025-09-02 12:00:00,repair,plumbing_electric,normal
Q13,q,5栋,2025-09-02 08:00:00,2025-09-02 09:00:00,2025-09-02 12:00:00,repair,plumbing_electric,normal
Q14,q,6栋,2025-09-02 08:00:00,2025-09-02 09:00:00,2025-09-02 12:00:00,repair,plumbing_electric,normal
Q15,q,7栋,2025-09-02 08:00:00,2025-09-02 09:00:00,2025-09-02 12:00:00,repair,plumbing_electric,normal
Q16,q,8栋,2025-09-02 08:00:00,2025-09-02 09:00:00,2025-09-02 12:00:00,repair,plumbing_electric,normal
Q17,q,11栋,2025-09-02 08:00:00,2025-09-02 09:00:00,2025-09-02 12:00:00,repair,plumbing_electric,normal
Q18,q,,2025-09-02 08:00:00,2025-09-02 09:00:00,2025-09-02 12:00:00,repair,plumbing_electric,normal
Q3,q,9栋,2025-08-20 08:00:00,2025-08-20 08:10:00,,repair,plumbing_electric,normal
Q19,q,5栋,2025-09-03 00:00:00,2025-09-03 00:10:00,,repair,plumbing_electric,normal
Q20,q,5栋,2025-09-30 00:00:00,2025-09-30 00:05:00,,repair,plumbing_electric,normal
Q21,q,5栋,2025-08-01 08:00:00,,,praise,other,normal
A1,r,0栋,2025-09-02 08:00:00,2025-09-02 09:00:00,,repair,plumbing_electric,normal
A2,r,0栋,2025-09-02 08:00:00,2025-09-02 09:00:00,2025-09-02 12:00:00,repair,plumbing_electric,normal
"""


@pytest.fixture(scope="module")
def breaches(tmp_path_factory) -> dict:
    folder: Path = tmp_path_factory.mktemp("breaches")
    (folder / "tickets.csv").write_text(BREACHES, encoding="utf-8")
    data = ingest({"tickets": ["tickets.csv"]}, folder, "Asia/Shanghai")
    config = config_from_dict({"communities": [{"id": "q"}, {"id": "r"}]}, folder)
    scope = build_scope(config, Month(2025, 9), ["q", "r"])
    return month_metrics(data.tickets, data.bills, data.payments, scope, data.available)


def test_breaches_by_building_in_code_point_order_at_most_ten(breaches):
    q = breaches["q"]["tickets"]
    # Created in September, answered before the end: Q1 … Q20 but Q3 and Q21 (August), 19;
    # on time: Q1 (10 min), Q19 (10), Q20 (5); the 16 others took 60 > 30 minutes.
    assert q["response_on_time_rate"] == 0.1579  # 3 / 19 = 0.15789…
    response = q["sla_breaches"]["response"]
    assert response["count"] == 19 - 3
    assert response["by_priority"] == {"urgent": 0, "normal": 16}
    assert response["by_category"]["plumbing_electric"] == 16
    # 9栋 Q2 Q10 Q4; 10栋 and 2栋 two each; eight buildings one each; Q18 has none.
    # By code point "10栋" < "2栋" and "11栋" < "1栋" ("1" < "栋"); 8栋 is the eleventh.
    assert [(b["building"], b["count"]) for b in response["by_building"]] == [
        ("9栋", 3), ("10栋", 2), ("2栋", 2), ("11栋", 1), ("1栋", 1), ("3栋", 1), ("4栋", 1),
        ("5栋", 1), ("6栋", 1), ("7栋", 1)]
    # Resolved in September, all in 4 of 24 hours: none late.
    assert q["resolution_on_time_rate"] == 1.0
    assert q["sla_breaches"]["resolution"]["count"] == 0
    assert q["sla_breaches"]["resolution"]["by_building"] == []
    # The portfolio adds r's A1 and A2 (60 minutes, late): 3 of 21 on time, 18 late; r/0栋
    # (2) comes after q/10栋 and q/2栋: community before building.
    portfolio = breaches["_portfolio"]["tickets"]
    assert portfolio["response_on_time_rate"] == 0.1429  # 3 / 21 = 0.142857…
    assert portfolio["sla_breaches"]["response"]["count"] == 21 - 3
    assert [(b["community"], b["building"], b["count"])
            for b in portfolio["sla_breaches"]["response"]["by_building"]] == [
        ("q", "9栋", 3), ("q", "10栋", 2), ("q", "2栋", 2), ("r", "0栋", 2), ("q", "11栋", 1),
        ("q", "1栋", 1), ("q", "3栋", 1), ("q", "4栋", 1), ("q", "5栋", 1), ("q", "6栋", 1)]


def test_overdue_open_in_order(breaches):
    q = breaches["q"]["tickets"]
    # Open at 10-01 00:00 with a deadline before it: Q3 (deadline 08-21 08:00: 40 days 16
    # hours), Q2 and Q10 (09-03 08:00: 27 days 16 hours), Q19 (09-04 00:00: 27 days
    # exactly). Q20's deadline is the end itself (not before it); Q21 is praise (no SLA).
    assert q["overdue_open_at_end"] == 4
    assert [(t["ticket_id"], t["deadline"], t["days_overdue"]) for t in q["overdue_open"]] == [
        ("Q3", "2025-08-21 08:00:00", 40), ("Q10", "2025-09-03 08:00:00", 27),
        ("Q19", "2025-09-04 00:00:00", 27), ("Q2", "2025-09-03 08:00:00", 27)]
    # Ties by community, then ticket_id: A1 (r, 27 days) after every q ticket of 27 days.
    portfolio = breaches["_portfolio"]["tickets"]
    assert portfolio["overdue_open_at_end"] == 5
    assert [t["ticket_id"] for t in portfolio["overdue_open"]] == ["Q3", "Q10", "Q19", "Q2",
                                                                   "A1"]
    assert breaches["r"]["tickets"]["overdue_open"][0]["building"] == "0栋"
    assert breaches["q"]["tickets"]["overdue_open"][0]["created_at"] == "2025-08-20 08:00:00"


def test_portfolio_tickets_from_all_rows(september):
    t = september["_portfolio"]["tickets"]
    # a plus T11 of b (20 min, 6 h, rated 5).
    assert t["created"] == 8
    assert t["completion_rate"] == 0.75  # 6 / 8
    assert t["response_minutes"] == {"mean": 49.29,  # 345 / 7
                                     "median": 45.0,
                                     "p90": 84.0,  # position 5.4: 60 + 0.4 × 60
                                     "count": 7}
    assert t["response_on_time_rate"] == 0.6667  # 4 / 6
    assert t["resolution_hours"]["p90"] == 105.6  # 48 + 0.4 × 144
    assert t["resolution_hours"]["mean"] == 40.14  # 281 / 7
    assert t["satisfaction"]["rate"] == 0.8333  # 5 / 6, not the mean of 0.8 and 1.0
    assert t["satisfaction"]["mean"] == 4.33  # 26 / 6
    assert t["complaints"]["per_100_households"] == 2.5  # 200 / 80 (a 50, b 20, c 10)
    assert september["b"]["tickets"]["hotspots"] == []


def test_fee_metrics_of_a(september):
    f = september["a"]["fees"]
    # Due in September: B1 300, B2 300 (due on the last day), B3 150 (due on the 1st),
    # B7 400, B8 80.50.
    assert f["due_in_month"] == 1230.50
    # Settled at the end: B1 300, B2 100 (P3 came on 10-03), B3 150 (200 paid: the 50
    # overpaid is not counted), B7 300 (400 less the 100 refund), B8 80.50.
    assert f["collected_for_month"] == 930.50
    assert f["collection_rate_month"] == 0.7562  # 93050 / 123050 = 0.756196…
    assert f["due_ytd"] == 1850.50  # + B4 300, B9 200, B10 120
    assert f["collected_ytd"] == 1200.50  # + B4 250, B10 20
    assert f["collection_rate_ytd"] == 0.6487  # 120050 / 185050 = 0.648743…
    # Due before 09-01, outstanding at the start: B4 200, B5 250, B9 200, B10 100.
    assert f["arrears_at_start"] == 750.0
    assert f["arrears_collected"] == 150.0  # B4: 200 → 50
    assert f["arrears_recovery_rate"] == 0.2
    assert f["arrears_recovery_rate_ytd"] == 0.0  # B5 only, 250 → 250
    # Paid in September: 300 + 100 + 200 + 150 + 300 + 400 − 100 + 80.50.
    assert f["cash_collected"] == 1430.50
    assert f["prepaid"] == 300.0  # P7 for B6, due 10-15
    assert f["arrears_at_end"] == 900.0  # B2 200, B4 50, B5 250, B7 100, B9 200, B10 100
    assert f["aging"] == {"1-30": 300.0,  # B2 (1 day), B7 (16 days)
                          "31-90": 150.0,  # B4 (47), B10 (73)
                          "91-180": 0.0,
                          "181-365": 200.0,  # B9 (205)
                          "366+": 250.0}  # B5 (473)
    assert f["households_billed"] == 4  # B8 has no unit
    assert f["household_payment_rate"] == 0.5  # 1-1-101 and 2-1-201 paid in full
    assert f["households_in_arrears"] == 6
    # Outstanding at the end of the bills due in September: B2 200, B7 100.
    assert f["new_arrears"] == 300.0  # = 1230.50 − 930.50
    assert f["arrears_at_end"] == 750.0 - 150.0 + 300.0
    # 物业费: at the start B4 200, B5 250, B9 200, B10 100; collected B4 150; new B2 200,
    # B7 100.
    assert f["by_fee_item"] == {
        "物业费": {"due_in_month": 1000.0, "collected_for_month": 700.0,
                 "collection_rate_month": 0.7, "arrears_at_end": 900.0,
                 "arrears_at_start": 750.0, "arrears_collected": 150.0, "new_arrears": 300.0},
        "停车费": {"due_in_month": 150.0, "collected_for_month": 150.0,
                 "collection_rate_month": 1.0, "arrears_at_end": 0.0,
                 "arrears_at_start": 0.0, "arrears_collected": 0.0, "new_arrears": 0.0},
        "水费": {"due_in_month": 80.5, "collected_for_month": 80.5,
               "collection_rate_month": 1.0, "arrears_at_end": 0.0,
               "arrears_at_start": 0.0, "arrears_collected": 0.0, "new_arrears": 0.0},
    }
    # 1栋: at the start B5 250, B9 200, B10 100, none collected; new B2 200.
    # 2栋: at the start B4 200, 150 collected; new B7 100.
    assert f["by_building"] == {
        "1栋": {"due_in_month": 600.0, "collected_for_month": 400.0,
               "collection_rate_month": 0.6667, "arrears_at_end": 750.0,
               "arrears_at_start": 550.0, "arrears_collected": 0.0, "new_arrears": 200.0},
        "2栋": {"due_in_month": 550.0, "collected_for_month": 450.0,
               "collection_rate_month": 0.8182, "arrears_at_end": 150.0,
               "arrears_at_start": 200.0, "arrears_collected": 150.0, "new_arrears": 100.0},
    }


def test_month_without_bills_gives_null_rates(september):
    f = september["b"]["fees"]
    assert f["due_in_month"] == 0.0
    assert f["collection_rate_month"] is None  # nothing due in September
    assert f["collection_rate_ytd"] == 0.0  # B12, 60 due in May, nothing paid
    assert f["household_payment_rate"] is None
    # B11 due 2024-12-20, 500: 200 paid in February, 100 in September; B12 (60) never paid.
    assert f["arrears_at_start"] == 360.0 and f["arrears_collected"] == 100.0
    assert f["arrears_recovery_rate"] == 0.2778  # 100 / 360 = 0.27777…
    assert f["arrears_recovery_rate_ytd"] == 0.6  # B11 only: (500 − 200) / 500
    assert f["aging"] == {"1-30": 0.0, "31-90": 0.0,
                          "91-180": 60.0,  # B12, 134 days
                          "181-365": 200.0,  # B11, 285 days
                          "366+": 0.0}
    assert f["households_in_arrears"] == 2
    assert f["new_arrears"] == 0.0 and f["arrears_at_end"] == 260.0  # 360 − 100 + 0
    assert f["by_building"]["5栋"]["arrears_at_start"] == 360.0  # B11 300, B12 60


def test_a_community_with_no_rows(september):
    c = september["c"]
    assert c["tickets"]["created"] == 0 and c["tickets"]["completion_rate"] is None
    assert c["tickets"]["response_minutes"] == {"mean": None, "median": None, "p90": None,
                                                "count": 0}
    assert c["tickets"]["satisfaction"]["rate"] is None
    assert c["tickets"]["complaints"]["per_100_households"] == 0.0  # 0 complaints, 10 households
    assert c["fees"]["due_in_month"] == 0.0 and c["fees"]["collection_rate_month"] is None
    assert c["fees"]["arrears_recovery_rate"] is None
    assert c["fees"]["by_fee_item"] == {} and c["fees"]["aging"]["366+"] == 0.0


def test_portfolio_fees(september):
    f = september["_portfolio"]["fees"]
    # 250 / 1110 (a 750, b 360), not the mean of the communities' rates.
    assert f["arrears_recovery_rate"] == 0.2252
    assert f["arrears_recovery_rate_ytd"] == 0.4  # (0 + 300) / (250 + 500)
    assert f["cash_collected"] == 1530.50
    assert f["arrears_at_end"] == 1160.0
    assert f["households_in_arrears"] == 8
    assert f["due_ytd"] == 1910.50  # a 1850.50 + B12 60
    assert set(f["by_building"]) == {"a/1栋", "a/2栋", "b/5栋"}
    assert f["by_building"]["b/5栋"]["collection_rate_month"] is None
    assert f["by_building"]["b/5栋"]["arrears_at_end"] == 260.0
    assert f["new_arrears"] == 300.0  # a 300, b 0
    assert f["arrears_at_end"] == 1110.0 - 250.0 + 300.0
    assert f["by_fee_item"]["物业费"]["arrears_at_start"] == 1110.0  # a 750, b 360
    assert f["by_fee_item"]["物业费"]["arrears_collected"] == 250.0  # a 150, b 100


# Bills whose groups are listed for arrears at the start only, or not at all, and a
# refund that turns a settled bill into arrears again: September 2025, community x.
GROUP_BILLS = """\
bill_id,community,building,unit,fee_item,period,due_date,amount_due
X1,x,3栋,3-101,车位费,2025-08,2025-08-10,100.00
X2,x,4栋,4-101,物业费,2025-07,2025-07-01,200.00
X3,x,4栋,4-102,物业费,2025-09,2025-09-30,120.00
X4,x,5栋,5-101,物业费,2025-06,2025-06-01,80.00
X5,x,,,水费,2025-09,2025-09-01,33.33
X6,x,3栋,3-102,物业费,2025-08,2025-08-31,0.01
"""

GROUP_PAYMENTS = """\
payment_id,bill_id,paid_at,amount
XP1,X1,2025-09-05 10:00:00,100.00
XP2,X2,2025-07-05 10:00:00,200.00
XP3,X2,2025-09-10 10:00:00,-50.00
XP4,X3,2025-09-30 23:59:59,20.00
XP5,X3,2025-10-01 00:00:00,100.00
XP6,X4,2025-06-02 10:00:00,80.00
"""


def _fen(yuan: float) -> int:
    """Yuan as printed in metrics.json back to exact fen (the floats are 2-decimal values)."""
    return round(Decimal(repr(yuan)) * 100)


def _bridges(fees: dict) -> bool:
    """arrears_at_end = arrears_at_start − arrears_collected + new_arrears, in exact fen."""
    return _fen(fees["arrears_at_end"]) == (_fen(fees["arrears_at_start"])
                                           - _fen(fees["arrears_collected"])
                                           + _fen(fees["new_arrears"]))


def test_groups_with_arrears_at_start_and_the_bridge(tmp_path):
    (tmp_path / "bills.csv").write_text(GROUP_BILLS, "utf-8")
    (tmp_path / "payments.csv").write_text(GROUP_PAYMENTS, "utf-8")
    data = ingest({"bills": ["bills.csv"], "payments": ["payments.csv"]}, tmp_path,
                  "Asia/Shanghai")
    config = config_from_dict({"communities": [{"id": "x"}]}, tmp_path)
    scope = build_scope(config, Month(2025, 9), ["x"])
    f = month_metrics(data.tickets, data.bills, data.payments, scope, data.available)["x"]
    f = f["fees"]
    # At the start (bills due before 09-01): X1 100, X6 0.01; X2 and X4 paid in full.
    assert f["arrears_at_start"] == 100.01
    # X1 100 − 0 = 100; X2 0 − 50 = −50 (refunded on 09-10): the refund reopens arrears.
    assert f["arrears_collected"] == 50.0
    # Due in September: X3 120 (20 paid at 23:59:59, 100 only at the end itself), X5 33.33
    # (due on the 1st: in the month, not arrears at the start).
    assert f["due_in_month"] == 153.33 and f["collected_for_month"] == 20.0
    assert f["new_arrears"] == 133.33  # X3 100 + X5 33.33
    # At the end: X2 50, X3 100, X5 33.33, X6 0.01.
    assert f["arrears_at_end"] == 183.34
    assert _bridges(f)  # 10001 − 5000 + 13333 = 18334 fen
    # (in floats 100.01 − 50.0 + 133.33 is 183.34000000000003, not 183.34)
    assert 100.01 - 50.0 + 133.33 != 183.34
    # 车位费 (X1): no bill due in September, no arrears at the end, listed for the start.
    # 物业费: X2 X3 X6 (X4 adds nothing); collected 0.01 at the start less 50.01 left.
    assert f["by_fee_item"] == {
        "水费": {"due_in_month": 33.33, "collected_for_month": 0.0,
               "collection_rate_month": 0.0, "arrears_at_end": 33.33,
               "arrears_at_start": 0.0, "arrears_collected": 0.0, "new_arrears": 33.33},
        "物业费": {"due_in_month": 120.0, "collected_for_month": 20.0,
                 "collection_rate_month": 0.1667, "arrears_at_end": 150.01,
                 "arrears_at_start": 0.01, "arrears_collected": -50.0, "new_arrears": 100.0},
        "车位费": {"due_in_month": 0.0, "collected_for_month": 0.0,
                 "collection_rate_month": None, "arrears_at_end": 0.0,
                 "arrears_at_start": 100.0, "arrears_collected": 100.0, "new_arrears": 0.0},
    }
    # 5栋 (X4, settled in June) has nothing due, nothing owed at either time: not listed.
    # X5 has no building.
    assert f["by_building"] == {
        "3栋": {"due_in_month": 0.0, "collected_for_month": 0.0,
               "collection_rate_month": None, "arrears_at_end": 0.01,
               "arrears_at_start": 100.01, "arrears_collected": 100.0, "new_arrears": 0.0},
        "4栋": {"due_in_month": 120.0, "collected_for_month": 20.0,
               "collection_rate_month": 0.1667, "arrears_at_end": 150.0,
               "arrears_at_start": 0.0, "arrears_collected": -50.0, "new_arrears": 100.0},
    }
    for group in [*f["by_fee_item"].values(), *f["by_building"].values()]:
        assert _bridges(group)


def test_the_bridge_holds_on_every_scope_and_month_of_sample_data(tmp_path):
    """arrears_at_end = arrears_at_start − arrears_collected + new_arrears, exactly, on
    every scope, fee item and building of 16 months of generated data (with its partial,
    excess and refunded payments); and each breach count is its rate's denominator less
    its numerator."""
    sample = generate_sample(tmp_path / "sample", seed=3, communities=3, months=16,
                             scale=0.1, last_month=Month(2025, 9), style="canonical")
    data = ingest({"tickets": [str(sample.tickets)], "bills": [str(sample.bills)],
                   "payments": [str(sample.payments)]}, tmp_path, "Asia/Shanghai")
    config = config_from_dict({"communities": [{"id": c.id, "households": c.households}
                                               for c in sample.communities]}, tmp_path)
    communities = [c.id for c in sample.communities]
    checked = 0
    for month in Month(2024, 9).range_to(Month(2025, 9)):
        scope = build_scope(config, month, communities)
        result = month_metrics(data.tickets, data.bills, data.payments, scope, data.available)
        rows = TicketRows.build(data.tickets, scope, list(scope.communities))
        flags = _ticket_flags(rows, scope)
        for s, blocks in result.items():
            fees, tickets = blocks["fees"], blocks["tickets"]
            assert _bridges(fees), (month, s)
            for group in [*fees["by_fee_item"].values(), *fees["by_building"].values()]:
                assert _bridges(group), (month, s)
                checked += 1
            mine = (np.ones(len(rows.community), dtype=bool) if s == "_portfolio"
                    else rows.community == rows.names.index(s))
            for kind in ("response", "resolution"):
                denominator = int((flags[f"{kind}_sla"] & mine).sum())
                numerator = int((flags[f"{kind}_on_time"] & mine).sum())
                breaches = tickets["sla_breaches"][kind]
                assert breaches["count"] == denominator - numerator, (month, s, kind)
                assert tickets[f"{kind}_on_time_rate"] == (
                    float(round(Fraction(numerator, denominator), 4)) if denominator else None)
                assert sum(breaches["by_priority"].values()) == breaches["count"]
                assert sum(breaches["by_type"].values()) == breaches["count"]
            assert len(tickets["overdue_open"]) == tickets["overdue_open_at_end"]
    assert checked > 100


def test_payments_are_tied_to_their_bills_once(tables, september):
    """Ingest keeps each payment's bill row; tied again by bill_id, the fees are the same."""
    bills, payments = tables.bills, tables.payments
    assert (bills["bill_id"].to_numpy()[payments["bill_row"]] == payments["bill_id"]).all()
    untied = dataclasses.replace(tables, payments=payments.drop(columns="bill_row"))
    again = _metrics(untied, [{"id": "a", "households": 50}, {"id": "b", "households": 20},
                              {"id": "c", "households": 10}])
    assert {s: d["fees"] for s, d in again.items()} == {
        s: d["fees"] for s, d in september.items()}


@pytest.fixture(scope="module")
def documents(tables) -> dict:
    config = config_from_dict({"communities": [{"id": "a", "households": 50},
                                               {"id": "b", "households": 20}]}, Path("."))
    scope = build_scope(config, Month(2025, 9), ["a", "b"])
    targets = {s: config.targets_for(s) for s in scope.scopes}
    return month_documents(tables.tickets, tables.bills, tables.payments, scope,
                           tables.available, targets, {"notes": []}).documents


def test_trend_of_twelve_months_as_of_each_months_end(documents):
    """Which months the fixture covers: tickets from 08-25 to 10-05 (August and September);
    payments from 02-01 to 10-03 (February to September); bills due in 2024-06, 2024-12,
    2025-03, 05, 07, 08, 09 and 10. A fee KPI reads bills and payments: March, May, July,
    August and September of the 12 months 2024-10 … 2025-09."""
    trend = documents["a"]["trend"]
    months = ["2024-10", "2024-11", "2024-12", "2025-01", "2025-02", "2025-03", "2025-04",
              "2025-05", "2025-06", "2025-07", "2025-08", "2025-09"]
    assert set(trend) == set(kpi_catalogue()) | set(TYPE_TREND_KEYS)
    assert all(t["months"] == months for t in trend.values())
    # Arrears of a at each month's end: March and May B5 250 + B9 200; July + B10 100
    # (120 less 20 paid on 07-25); August + B4 200 (300 less 100 on 08-20); September 900.
    arrears = trend["fees.arrears_at_end"]
    assert arrears["values"] == [None] * 5 + [450.0, None, 450.0, None, 550.0, 750.0, 900.0]
    assert arrears["best"] == {"month": "2025-05", "value": 450.0}  # at_most; tie: the later
    assert arrears["worst"] == {"month": "2025-09", "value": 900.0}
    # Due in the month and settled by its end: March B9 0 of 200; May nothing of a's due
    # (null, though covered); July B10 20 of 120; August B4 100 of 300.
    rate_month = trend["fees.collection_rate_month"]
    assert rate_month["values"] == [None] * 5 + [0.0, None, None, None, 0.1667, 0.3333,
                                                 0.7562]
    assert rate_month["best"] == {"month": "2025-09", "value": 0.7562}  # at_least: the max
    assert rate_month["worst"] == {"month": "2025-03", "value": 0.0}
    # Overdue at the end of August: T5 (inquiry, deadline 08-28 09:00, resolved 09-02);
    # T6's deadline is 09-01 20:00. September: T6 and T9.
    overdue = trend["tickets.overdue_open_at_end"]
    assert overdue["values"] == [None] * 10 + [1, 2]
    assert overdue["best"] == {"month": "2025-08", "value": 1}
    assert overdue["worst"] == {"month": "2025-09", "value": 2}
    # A volume has no better direction: no best, no worst.
    created = trend["tickets.created"]
    assert created["values"] == [None] * 10 + [2, 7]  # T5 T6; September's seven
    assert created["best"] is None and created["worst"] is None
    # By type: August T5 inquiry, T6 repair; September T1 T2 T4 T10 repair, T3 T9
    # complaint, T7 praise (the seven above).
    by_type = {key.rsplit(".", 1)[1]: trend[key]["values"][-2:] for key in TYPE_TREND_KEYS}
    assert by_type == {"repair": [1, 4], "complaint": [0, 2], "inquiry": [1, 0],
                       "suggestion": [0, 0], "praise": [0, 1], "other": [0, 0]}
    assert all(trend[key]["values"][:10] == [None] * 10 for key in TYPE_TREND_KEYS)
    assert all(trend[key]["best"] is None for key in TYPE_TREND_KEYS)
    b = documents["b"]["trend"]
    # b's year to date: B12 (60, due 05-20) is never paid; before May nothing is due.
    ytd = b["fees.collection_rate_ytd"]
    assert ytd["values"] == [None] * 5 + [None, None, 0.0, None, 0.0, 0.0, 0.0]
    assert ytd["best"] == ytd["worst"] == {"month": "2025-09", "value": 0.0}  # ties: latest
    # No value at all: no best and no worst.
    assert b["tickets.satisfaction.mean"]["values"][-1] == 5.0  # T11
    assert b["tickets.completion_rate"]["values"] == [None] * 10 + [None, 1.0]
    assert b["tickets.urgent.response_minutes_median"] == {
        "months": months, "values": [None] * 12, "best": None, "worst": None}


def test_trend_ends_with_the_month_and_the_previous_month(documents):
    for scope, document in documents.items():
        for key, t in document["trend"].items():
            assert t["values"][-1] == scalar(document, key), (scope, key)
            if key in document["compare"]:
                assert t["values"][-2] == document["compare"][key]["previous_month"]


def test_trend_best_and_worst_by_direction_ties_to_the_later_month():
    months = [Month(2025, 1), Month(2025, 2), Month(2025, 3), Month(2025, 4)]
    rates = [0.9, 0.8, 0.9, 0.8]  # at_least: 0.9 best (Jan, Mar → Mar), 0.8 worst (→ Apr)
    minutes = [12.0, None, 12.0, 20.0]  # at_most: 12 best (Jan, Mar → Mar), 20 worst
    values = [{key: None for key in kpi_catalogue()} for _ in months]
    for month, rate_value, minute in zip(values, rates, minutes, strict=True):
        month["tickets.completion_rate"] = rate_value
        month["tickets.response_minutes.median"] = minute
        month["tickets.created"] = 5
    # March is not covered for tickets: its value is null, whatever was computed.
    result = trend(months, values, lambda month, key: month != Month(2025, 3))
    assert result["tickets.completion_rate"] == {
        "months": ["2025-01", "2025-02", "2025-03", "2025-04"],
        "values": [0.9, 0.8, None, 0.8],
        "best": {"month": "2025-01", "value": 0.9}, "worst": {"month": "2025-04", "value": 0.8}}
    median = result["tickets.response_minutes.median"]
    assert median["values"] == [12.0, None, None, 20.0]
    assert median["best"] == {"month": "2025-01", "value": 12.0}
    assert median["worst"] == {"month": "2025-04", "value": 20.0}
    covered_all = trend(months, values)
    assert covered_all["tickets.completion_rate"]["best"] == {"month": "2025-03", "value": 0.9}
    assert covered_all["tickets.response_minutes.median"]["best"] == {"month": "2025-03",
                                                                     "value": 12.0}
    assert covered_all["tickets.created"]["best"] is None  # direction none
    assert covered_all["fees.due_in_month"]["values"] == [None] * 4


def test_compare_status_and_direction():
    current = {"tickets": {"response_on_time_rate": 0.97, "response_minutes": {"median": 9.0}},
               "fees": None}
    previous = {"tickets": {"response_on_time_rate": 0.95, "response_minutes": {"median": 12.0}},
                "fees": None}
    result = compare(current, previous, None, {"tickets.response_on_time_rate": 0.98})
    assert result["tickets.response_on_time_rate"] == {
        "value": 0.97, "previous_month": 0.95, "same_month_last_year": None, "target": 0.98,
        "direction": "at_least", "status": "missed"}
    assert result["tickets.response_minutes.median"]["direction"] == "at_most"
    assert result["tickets.response_minutes.median"]["status"] == "no_target"
    assert "fees.collection_rate_month" not in result  # neither a target nor a history


def test_kpis_of_fields_the_export_lacks_are_null(tmp_path):
    (tmp_path / "t.csv").write_text(
        "ticket_id,community,created_at,resolved_at\n"
        "T1,a,2025-09-01 08:00:00,2025-09-01 09:00:00\n"
        "T2,a,2025-09-02 08:00:00,\n", "utf-8")
    data = ingest({"tickets": ["t.csv"]}, tmp_path, "Asia/Shanghai")
    config = config_from_dict({"communities": [{"id": "a"}]}, tmp_path)
    scope = build_scope(config, Month(2025, 9), ["a"])
    t = month_metrics(data.tickets, data.bills, data.payments, scope, data.available)["a"]
    assert t["fees"] is None  # no fee export at all
    t = t["tickets"]
    assert t["completion_rate"] == 0.5 and t["resolution_hours"]["count"] == 1
    # No response, rating or reopen column: unknown, not 0.
    assert t["response_on_time_rate"] is None and t["response_minutes"]["count"] == 0
    assert t["sla_breaches"]["response"] is None
    # T1 (type missing: other, 72 h) resolved in 1 hour: on time.
    assert t["resolution_on_time_rate"] == 1.0 and t["sla_breaches"]["resolution"]["count"] == 0
    # T2 is open, its deadline (09-05 08:00) before the end: overdue, a building unknown.
    assert t["overdue_open"] == [
        {"ticket_id": "T2", "community": "a", "building": None, "category": "other",
         "type": "other", "priority": "normal", "created_at": "2025-09-02 08:00:00",
         "deadline": "2025-09-05 08:00:00", "days_overdue": 25}]
    assert t["satisfaction"]["rate"] is None and t["satisfaction"]["revisit_rate"] is None
    assert t["reopen_rate"] is None
    assert t["complaints"]["per_100_households"] is None  # households unknown


@settings(max_examples=80, deadline=None)
@given(digits=st.lists(st.tuples(st.sampled_from([0, 1, 2, 255, 256, 32767, 32768, 65535]),
                                 st.sampled_from([0, 1, 7, 32768, 65534, 65535])),
                       max_size=200),
       beyond=st.booleans())
def test_payments_sorted_by_bill_as_a_stable_argsort(digits, beyond):
    """The two 16-bit radix passes give NumPy's stable argsort: ties in their order, the
    high and low 16 bits each at their extremes; values past 32 bits take the argsort
    itself."""
    from yuebao.tasks.metrics.fees import _stable_order

    values = [high * 2**16 + low for high, low in digits] + ([2**40] if beyond else [])
    array = np.array(values, dtype=np.int64)
    assert _stable_order(array).tolist() == np.argsort(array, kind="stable").tolist()
