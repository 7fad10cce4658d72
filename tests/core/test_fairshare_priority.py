"""Real and effective priorities: the half-life decay of `account` and priority factors."""

from __future__ import annotations

import math

import pytest

from skyflock.core import fairshare
from skyflock.core.config import negotiator_config
from skyflock.core.model import AccountingState, Claim, Job, SubmitterUsage

CONFIG = negotiator_config({})


def claim(submitter: str, cpus: int, job_id: str = "1.0", started_at: float = 0.0) -> Claim:
    job = Job(id=job_id, ad=None, submitter=submitter)  # type: ignore[arg-type]
    return Claim(
        job=job, slot_id="s", cpus=cpus, memory=1024, disk=1000, gpus=0, started_at=started_at
    )


@pytest.mark.parametrize(
    ("dt", "halflife", "expected"),
    [
        (0.0, 86_400.0, 1.0),
        (86_400.0, 86_400.0, 0.5),
        (2 * 86_400.0, 86_400.0, 0.25),
        (3_600.0, 7_200.0, math.sqrt(0.5)),
        (-5.0, 86_400.0, 1.0),
        (10.0, 0.0, 0.0),
    ],
)
def test_decay_factor_is_half_to_the_dt_over_halflife(
    dt: float, halflife: float, expected: float
) -> None:
    assert fairshare.decay_factor(dt, halflife) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("rp0", "cpus", "dt", "expected_rp"),
    [
        # rp(t) = b·rp(t−dt) + (1−b)·usage with b = 0.5^(dt/86400)
        (0.5, 10, 86_400.0, 0.5 * 0.5 + 0.5 * 10),
        (10.0, 10, 3_600.0, 10.0),
        (10.0, 0, 86_400.0, 5.0),
        (10.0, 0, 2 * 86_400.0, 2.5),
        (1.0, 0, 10 * 86_400.0, 0.5),  # floored at the minimum
        (4.0, 8, 43_200.0, 4.0 * 0.5**0.5 + (1 - 0.5**0.5) * 8),
    ],
)
def test_account_follows_the_half_life_formula(
    rp0: float, cpus: int, dt: float, expected_rp: float
) -> None:
    state = AccountingState({"alice": SubmitterUsage(real_priority=rp0)}, last_update=1000.0)
    running = [claim("alice", cpus)] if cpus else []
    after = fairshare.account(state, running, 1000.0 + dt, CONFIG)
    assert after.submitters["alice"].real_priority == pytest.approx(expected_rp, rel=1e-12)
    assert after.submitters["alice"].accumulated_usage == pytest.approx(cpus * dt)
    assert after.last_update == 1000.0 + dt


def test_account_sums_slot_weights_of_all_claims_of_a_submitter() -> None:
    state = AccountingState({}, last_update=0.0)
    running = [claim("bob", 2, "1.0"), claim("bob", 6, "1.1"), claim("carol", 1, "2.0")]
    after = fairshare.account(state, running, 86_400.0, CONFIG)
    assert after.submitters["bob"].real_priority == pytest.approx(0.25 + 0.5 * 8)
    assert after.submitters["carol"].real_priority == pytest.approx(0.25 + 0.5 * 1)
    assert after.submitters["bob"].accumulated_usage == pytest.approx(8 * 86_400.0)


@pytest.mark.parametrize(
    ("started_at", "ended_at", "charged"),
    [
        # the interval is (1000, 1100]; 2 cores
        (1010.0, 1010.5, 2 * 0.5),  # started and ended inside: what it ran
        (900.0, 1050.0, 2 * 50.0),  # started before the interval: from its start
        (1050.0, 1200.0, 2 * 50.0),  # an end after `now` is cut at `now`
        (900.0, 990.0, 0.0),  # ended before the interval: nothing (already charged)
        (1100.0, 1100.0, 0.0),  # no time inside: nothing, but the submitter is listed
    ],
)
def test_account_charges_ended_runs_for_their_time_inside_the_interval(
    started_at: float, ended_at: float, charged: float
) -> None:
    state = AccountingState({}, last_update=1000.0)
    ended = [(claim("frank", 2, started_at=started_at), ended_at)]
    after = fairshare.account(state, [], 1100.0, CONFIG, ended=ended)
    usage = after.submitters["frank"]
    assert usage.accumulated_usage == pytest.approx(charged)
    b = fairshare.decay_factor(100.0, CONFIG.halflife)
    expected = max(0.5, b * 0.5 + (1 - b) * charged / 100.0)
    assert usage.real_priority == pytest.approx(expected, rel=1e-12)


def test_a_claim_that_started_inside_the_interval_is_charged_from_its_start() -> None:
    state = AccountingState({}, last_update=0.0)
    after = fairshare.account(state, [claim("gina", 4, started_at=75.0)], 100.0, CONFIG)
    assert after.submitters["gina"].accumulated_usage == pytest.approx(4 * 25.0)


def test_many_short_runs_add_up_to_the_core_seconds_they_used() -> None:
    # 1000 runs of 0.05 s on one core between two cycles: 50 core-seconds, not 0
    ended = [(claim("hal", 1, f"1.{i}", 10.0 + i * 0.05), 10.05 + i * 0.05) for i in range(1000)]
    after = fairshare.account(AccountingState({}, last_update=0.0), [], 60.0, CONFIG, ended=ended)
    assert after.submitters["hal"].accumulated_usage == pytest.approx(50.0)


def test_first_account_only_records_the_time() -> None:
    after = fairshare.account(AccountingState(), [claim("dave", 4)], 500.0, CONFIG)
    assert after.last_update == 500.0
    assert after.submitters["dave"].real_priority == 0.5
    assert after.submitters["dave"].accumulated_usage == 0.0


def test_account_keeps_userprio_settings() -> None:
    usage = SubmitterUsage(real_priority=3.0, priority_factor=10.0, floor=2.0, ceiling=8.0)
    after = fairshare.account(AccountingState({"eve": usage}, 0.0), [], 60.0, CONFIG)
    kept = after.submitters["eve"]
    assert (kept.priority_factor, kept.floor, kept.ceiling) == (10.0, 2.0, 8.0)
    assert kept.real_priority < 3.0


def test_many_small_steps_equal_one_big_step() -> None:
    state = AccountingState({"f": SubmitterUsage(real_priority=20.0)}, 0.0)
    running = [claim("f", 3)]
    one = fairshare.account(state, running, 36_000.0, CONFIG)
    many = state
    for step in range(1, 101):
        many = fairshare.account(many, running, step * 360.0, CONFIG)
    assert many.submitters["f"].real_priority == pytest.approx(
        one.submitters["f"].real_priority, rel=1e-9
    )


FACTORS = negotiator_config(
    {
        "negotiator": {"default_priority_factor": 100},
        "groups": {"atlas": {"quota": 10, "priority_factor": 50, "prod": {"quota": 5}}},
        "submitters": {"atlas.prod.alice": {"priority_factor": 7}},
    }
)


@pytest.mark.parametrize(
    ("submitter", "state_factor", "expected"),
    [
        ("atlas.prod.alice", 3.0, 3.0),  # userprio setting wins
        ("atlas.prod.alice", None, 7.0),  # [submitters.X]
        ("atlas.prod.bob", None, 50.0),  # the nearest group that sets one
        ("atlas.carol", None, 50.0),
        ("cms.dave", None, 100.0),  # the default
        ("erin", None, 100.0),
    ],
)
def test_priority_factor_precedence(
    submitter: str, state_factor: float | None, expected: float
) -> None:
    state = AccountingState(
        {submitter: SubmitterUsage(real_priority=2.0, priority_factor=state_factor)}
    )
    assert fairshare.priority_factor(state, submitter, FACTORS) == expected
    assert fairshare.effective_priority(state, submitter, FACTORS) == pytest.approx(2.0 * expected)


@pytest.mark.parametrize(("rp", "expected"), [(0.1, 0.5), (0.5, 0.5), (12.0, 12.0)])
def test_effective_priority_uses_at_least_the_minimum_real_priority(
    rp: float, expected: float
) -> None:
    state = AccountingState({"x": SubmitterUsage(real_priority=rp)})
    assert fairshare.effective_priority(state, "x", CONFIG) == pytest.approx(expected * 1000.0)
    assert fairshare.effective_priority(AccountingState(), "new", CONFIG) == pytest.approx(500.0)


def test_submitter_bounds_prefer_userprio_over_config() -> None:
    config = negotiator_config(
        {"submitters": {"a": {"floor": 4, "ceiling": 40}, "b": {"ceiling": 9}}}
    )
    state = AccountingState({"a": SubmitterUsage(floor=6.0)})
    floors, ceilings = fairshare.submitter_bounds(state, ["a", "b", "c"], config)
    assert floors == {"a": 6.0}
    assert ceilings == {"a": 40.0, "b": 9.0}
