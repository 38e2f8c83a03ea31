"""Significance: how large a change, a gap or a concentration is, on one scale.

The draft has room for about five highlights and six problems, so it must rank
candidates the way a manager would: a cleaning-complaint count going 7 → 27 is
news, 3 → 5 is noise, and an on-time rate falling six points over four hundred
tickets matters more than either. Every candidate gets an *effect*, a z-like
number (about 2 = "clearly more than chance"), and the draft ranks by it.

- Counts (tickets, complaints): a Poisson test, ``z = (x − y) / sqrt(x + y)``.
- Rates of tickets: a two-proportion z, with the number of tickets behind each
  rate as its weight (see :func:`rate_base`).
- Rates of money (collection, recovery) and figures without a sampling model
  (minutes, hours, money, scores): a fixed step counts as one unit of z
  (``MONEY_RATE_STEP`` percentage points, ``RELATIVE_STEP`` or ``TIME_STEP``
  relative change), capped (``MAX_UNMODELLED``, ``MAX_TIME``) so a figure that
  grew from almost nothing cannot outrank every real finding.
- A missed target: the same tests, of the value against the target.

``docs/review.md`` states the rule for users; change both together.
"""

from __future__ import annotations

from math import inf, sqrt

# |z| at or above this is a change worth a sentence (two-sided, about 95 %).
Z_NOTABLE = 2.0
# A money-weighted rate has no count behind it: half a point is one unit of z,
# so a change of one percentage point is notable.
MONEY_RATE_STEP = 0.005
# Money and scores: a 5 % relative change is one unit of z, so a 10 % change is
# notable. Minutes and hours swing more from month to month (a few long tickets
# move a mean): 10 % is one unit, so 20 % is notable.
RELATIVE_STEP = 0.05
TIME_STEP = 0.10
# Figures without a count behind them cannot grow without limit: money (amounts
# and money rates) up to 4, the month's biggest money fact beside a real count
# surge; times and scores up to 3, below a strong count or rate finding.
MAX_UNMODELLED = 4.0
MAX_TIME = 3.0
# Rates whose numerator and denominator are money, not tickets.
MONEY_RATES = frozenset({
    "fees.collection_rate_month", "fees.collection_rate_ytd", "fees.arrears_recovery_rate",
    "fees.arrears_recovery_rate_ytd",
})


def count_z(value: float, reference: float) -> float:
    """Poisson test of two counts: the change in units of its own noise."""
    if value + reference <= 0:
        return 0.0
    return (value - reference) / sqrt(value + reference)


def proportion_z(value: float, n_value: float, reference: float, n_reference: float) -> float:
    """Two-proportion z: the change of a rate, weighted by the tickets behind it."""
    if n_value <= 0 or n_reference <= 0:
        return 0.0
    pooled = (value * n_value + reference * n_reference) / (n_value + n_reference)
    variance = pooled * (1 - pooled) * (1 / n_value + 1 / n_reference)
    if variance <= 0:
        return 0.0
    return (value - reference) / sqrt(variance)


def target_z(value: float, n_value: float, target: float) -> float:
    """One-proportion z of a rate against its target."""
    if n_value <= 0 or not 0 < target < 1:
        return (value - target) / MONEY_RATE_STEP
    return (value - target) / sqrt(target * (1 - target) / n_value)


def _unmodelled(value: float, reference: float, kind: str, key: str,
                capped: bool = True) -> float:
    """Effect of a figure with no sampling model: steps of a fixed size, capped.

    ``capped=False`` gives the size before the cap, which orders candidates that
    tie at the cap (a shortfall of 30 points before a shortfall of 3); growth from
    zero has no size and is infinite.
    """
    timed = kind in ("minutes", "hours", "score")
    cap = MAX_TIME if timed else MAX_UNMODELLED
    if kind == "rate":  # money-weighted rates, or a ticket rate without a base
        z = (value - reference) / MONEY_RATE_STEP
    elif reference == 0:
        z = (inf if not capped else cap) * ((value > 0) - (value < 0))
    else:
        step = TIME_STEP if kind in ("minutes", "hours") else RELATIVE_STEP
        z = (value - reference) / abs(reference) / step
    return max(-cap, min(cap, z)) if capped else z


def rate_base(doc: dict | None, key: str) -> float | None:
    """The number of tickets behind a ticket rate of one metrics document.

    metrics.json does not store every denominator, so it is derived:
    completion rate → tickets created; satisfaction rate → tickets rated;
    revisit and reopen rates → tickets resolved; household payment rate →
    households billed; on-time rates → the SLA breaches
    divided by the share that breached (``breaches / (1 − rate)``), or, when no
    ticket breached, tickets created (response) or resolved (resolution), an
    upper bound. None when the document has no tickets or the base is unknown.
    """
    if key == "fees.household_payment_rate":
        return ((doc or {}).get("fees") or {}).get("households_billed")
    tickets = (doc or {}).get("tickets")
    if not tickets:
        return None
    if key == "tickets.completion_rate":
        return tickets.get("created")
    if key == "tickets.satisfaction.rate":
        return (tickets.get("satisfaction") or {}).get("rated")
    if key in ("tickets.satisfaction.revisit_rate", "tickets.reopen_rate"):
        return tickets.get("resolved")
    for part, fallback in (("response", "created"), ("resolution", "resolved")):
        if key == f"tickets.{part}_on_time_rate":
            rate = tickets.get(f"{part}_on_time_rate")
            breaches = ((tickets.get("sla_breaches") or {}).get(part) or {}).get("count")
            if rate is not None and breaches and rate < 1:
                return breaches / (1 - rate)
            return tickets.get(fallback)
    return None


def change_effect(key: str, kind: str, value: float, reference: float,
                  n_value: float | None = None, n_reference: float | None = None,
                  capped: bool = True) -> float:
    """Signed effect of a change from ``reference`` to ``value`` (positive = up).

    ``capped=False``: the same before the cap of figures without a sampling model
    (the tie-break of candidates at the cap).
    """
    if kind in ("count", "households"):
        return count_z(value, reference)
    if kind == "per100":  # complaints per 100 households: the counts behind it
        return count_z(value, reference)
    if kind == "rate" and key not in MONEY_RATES and n_value and (n_reference or n_value):
        return proportion_z(value, n_value, reference, n_reference or n_value)
    return _unmodelled(value, reference, kind, key, capped)


def target_effect(key: str, kind: str, value: float, target: float,
                  n_value: float | None = None, capped: bool = True) -> float:
    """Size of the gap to a target, on the same scale as a change (absolute)."""
    if kind == "rate" and key not in MONEY_RATES and n_value:
        return abs(target_z(value, n_value, target))
    if kind in ("count", "households"):
        return abs(count_z(value, target))
    return abs(_unmodelled(value, target, kind, key, capped))


def is_notable(effect: float) -> bool:
    """Whether a change is more than noise."""
    return abs(effect) >= Z_NOTABLE - 1e-12
