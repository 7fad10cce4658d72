"""The pie spin: capacity divided in inverse proportion to effective priority."""

from __future__ import annotations

import pytest

from skyflock.core.fairshare import submitter_limits

CASES = [
    # (demand, effective, capacity, floors, ceilings, expected)
    (
        "equal priorities split evenly",
        {"a": 100, "b": 100},
        {"a": 500, "b": 500},
        60,
        {},
        {},
        {"a": 30, "b": 30},
    ),
    (
        "inverse proportion",
        {"a": 100, "b": 100},
        {"a": 500, "b": 1000},
        60,
        {},
        {},
        {"a": 40, "b": 20},
    ),
    (
        "demand caps and leftovers respin",
        {"a": 10, "b": 100, "c": 100},
        {"a": 1, "b": 1, "c": 1},
        90,
        {},
        {},
        {"a": 10, "b": 40, "c": 40},
    ),
    (
        "respin keeps the ratio",
        {"a": 5, "b": 100, "c": 100},
        {"a": 1, "b": 1, "c": 2},
        65,
        {},
        {},
        {"a": 5, "b": 40, "c": 20},
    ),
    ("everyone satisfied", {"a": 3, "b": 4}, {"a": 1, "b": 9}, 100, {}, {}, {"a": 3, "b": 4}),
    (
        "ceiling caps and gives back",
        {"a": 100, "b": 100},
        {"a": 1, "b": 1},
        60,
        {},
        {"a": 10},
        {"a": 10, "b": 50},
    ),
    (
        "floor raises a bad-priority submitter",
        {"a": 100, "b": 100},
        {"a": 1, "b": 99},
        100,
        {"b": 20},
        {},
        {"a": 80, "b": 20},
    ),
    (
        "floor below the fair share changes nothing",
        {"a": 100, "b": 100},
        {"a": 1, "b": 1},
        100,
        {"b": 20},
        {},
        {"a": 50, "b": 50},
    ),
    (
        "floor capped by demand",
        {"a": 100, "b": 5},
        {"a": 1, "b": 99},
        100,
        {"b": 20},
        {},
        {"a": 95, "b": 5},
    ),
    (
        "floors beyond capacity are scaled",
        {"a": 100, "b": 100},
        {"a": 1, "b": 1},
        30,
        {"a": 40, "b": 20},
        {},
        {"a": 20, "b": 10},
    ),
    ("zero capacity", {"a": 10}, {"a": 1}, 0, {}, {}, {"a": 0}),
    ("no demand", {"a": 0, "b": 10}, {"a": 1, "b": 1}, 8, {}, {}, {"a": 0, "b": 8}),
]


@pytest.mark.parametrize(
    ("label", "demand", "effective", "capacity", "floors", "ceilings", "expected"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_submitter_limits(
    label: str,
    demand: dict[str, float],
    effective: dict[str, float],
    capacity: float,
    floors: dict[str, float],
    ceilings: dict[str, float],
    expected: dict[str, float],
) -> None:
    got = submitter_limits(demand, effective, capacity, floors=floors, ceilings=ceilings)
    assert got == pytest.approx(expected, abs=1e-9)
    assert sum(got.values()) <= capacity + 1e-9


def test_limits_match_an_explicit_respin_loop() -> None:
    """The closed form agrees with spinning the pie until nothing changes."""
    demand = {f"u{i}": float(3 + 7 * i % 23) for i in range(12)}
    effective = {f"u{i}": 500.0 + 250.0 * (i % 5) for i in range(12)}
    capacity = 80.0
    got = submitter_limits(demand, effective, capacity, floors={}, ceilings={})
    held = dict.fromkeys(demand, 0.0)
    left = capacity
    for _ in range(1000):
        hungry = [s for s in demand if demand[s] - held[s] > 1e-12]
        if left <= 1e-12 or not hungry:
            break
        weights = {s: 1.0 / effective[s] for s in hungry}
        total = sum(weights.values())
        spent = 0.0
        for s in hungry:
            give = min(left * weights[s] / total, demand[s] - held[s])
            held[s] += give
            spent += give
        left -= spent
    assert got == pytest.approx(held, abs=1e-6)
