"""Fair share over many negotiation rounds: negotiate + account, round after round.

The steady states checked here are derived in docs/fairshare.md ("Steady states").
"""

from __future__ import annotations

import math

import pytest

from skyflock.core.config import negotiator_config
from skyflock.core.fairshare import decay_factor
from skyflock.core.model import AccountingState, SubmitterUsage
from tests.core.rounds import Rounds, shares

DT = 300.0


def test_equal_submitters_converge_to_equal_shares_within_20_cycles() -> None:
    config = negotiator_config({"negotiator": {"halflife": 3600}})
    # c submits first and asks for bigger jobs; the pool is still split evenly by cores
    rounds = Rounds(config, {"a": 1, "b": 1, "c": 2}, machines=6, cores=8, dt=DT)
    usage = rounds.run(20)
    got = shares(usage)
    for name in ("a", "b", "c"):
        assert got[name] == pytest.approx(1 / 3, rel=0.05), got
    # and it holds round by round once the histories have met
    last = usage[-1]
    assert max(last.values()) - min(last.values()) <= 2


@pytest.mark.parametrize(("factor_b", "rounds"), [(2000.0, 90), (4000.0, 90)])
def test_a_larger_priority_factor_gets_the_derived_smaller_share(
    factor_b: float, rounds: int
) -> None:
    """u_a / u_b = sqrt(f_b / f_a): twice the factor gives sqrt(2) : 1, not 2 : 1."""
    config = negotiator_config(
        {"negotiator": {"halflife": 1800}, "submitters": {"b": {"priority_factor": factor_b}}}
    )
    usage = Rounds(config, {"a": 1, "b": 1}, machines=6, cores=8, dt=DT).run(rounds)
    ratio = math.sqrt(factor_b / 1000.0)
    expected_a = ratio / (1 + ratio)
    got = shares(usage[-30:])
    assert got["a"] == pytest.approx(expected_a, rel=0.05), got
    assert got["b"] == pytest.approx(1 - expected_a, rel=0.05), got
    # and not the naive inverse-factor split
    naive_a = factor_b / (1000.0 + factor_b)
    assert abs(got["a"] - naive_a) > 0.05


def test_heavy_past_usage_gets_less_until_it_decays_by_the_half_life() -> None:
    halflife = 3600.0
    config = negotiator_config({"negotiator": {"halflife": halflife}})
    capacity = 48.0
    start = AccountingState({"heavy": SubmitterUsage(real_priority=400.0)}, last_update=0.0)
    rounds = Rounds(config, {"heavy": 1, "light": 1}, machines=6, cores=8, dt=DT, state=start)
    usage = rounds.run(60)
    # the prediction: integrate rp(t+dt) = b·rp(t) + (1-b)·u(t) with u split by 1/rp
    b = decay_factor(DT, halflife)
    rp = {"heavy": 400.0, "light": 0.5}
    predicted: list[float] = []
    held = {"heavy": 0.0, "light": 0.0}
    for _ in range(60):
        rp = {n: max(0.5, b * rp[n] + (1 - b) * held[n]) for n in rp}
        total = 1 / rp["heavy"] + 1 / rp["light"]
        held = {n: capacity * (1 / rp[n]) / total for n in rp}
        predicted.append(held["heavy"] / capacity)
    simulated = [row["heavy"] / capacity for row in usage]
    for t in (0, 5, 10, 20, 30, 45, 59):
        assert simulated[t] == pytest.approx(predicted[t], abs=0.05), (
            t,
            simulated[t],
            predicted[t],
        )
    assert simulated[0] < 0.05  # heavy gets almost nothing at first
    assert simulated[-1] == pytest.approx(0.5, abs=0.05)  # ... and half once its past has decayed
    # the real priority followed the half-life formula with the usage it got
    assert rounds.state.submitters["heavy"].real_priority == pytest.approx(rp["heavy"], rel=0.05)


def test_ceiling_and_floor_hold_over_rounds() -> None:
    config = negotiator_config(
        {
            "negotiator": {"halflife": 3600},
            "submitters": {"a": {"ceiling": 10}, "c": {"floor": 20, "priority_factor": 100000}},
        }
    )
    usage = Rounds(config, {"a": 1, "b": 1, "c": 1}, machines=6, cores=8, dt=DT).run(20)
    for row in usage:
        assert row["a"] <= 10
        assert row["c"] >= 20
        assert sum(row.values()) == 48
