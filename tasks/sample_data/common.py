"""What several generator modules share: seed keys, seeded generators, units, weights.

The seed-sequence keys sit together so that it is plain that each table of each
community (and each city's weather, and the zh-generic extra columns) draws from
its own stream: that is what keeps a community's rows independent of how many
others are generated, and what a new key must not collide with.
"""

from __future__ import annotations

import numpy as np

# Seed-sequence keys, so that each table of each community has its own stream.
_TRAITS, _TICKETS, _BILLS, _PAYMENTS = range(1, 5)
_WEATHER_KEY = 10_000
_DEFECTS_KEY = 99_999
_EXTRAS = 5  # seed-sequence key of the columns only the zh-generic exports have

_DAY = 86_400


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *keys]))


def _cum(rows: list[list[float]]) -> np.ndarray:
    weights = np.asarray(rows, dtype=float)
    cum = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    cum[:, -1] = 1.0
    return cum
