"""The simulator's loop over the real negotiator: usage, waits, failures, quotas."""

from __future__ import annotations

import pytest

from skyflock.core.model import NO_GROUP
from skyflock.sim.engine import simulate
from skyflock.sim.scenario import load_scenario

ONE_MACHINE = """
duration: 3h
cycle_interval: 5m
clusters:
  - {name: c1, tier: 1, machines: 1, cpus: 4, memory: 16G}
submitters:
  - {name: alice}
workload:
  - {submitter: alice, count: 1, at: 0, runtime: 1h, request_cpus: 2}
  - {submitter: alice, count: 1, at: 1m, runtime: 30m, request_cpus: 1}
"""


def test_core_seconds_waits_and_completions_are_exact() -> None:
    report = simulate(load_scenario(ONE_MACHINE)).to_dict()
    alice = report["submitters"]["alice"]
    assert alice["core_seconds"] == pytest.approx(2 * 3600 + 1 * 1800)
    assert alice["jobs_completed"] == 2
    # the first starts at the cycle at t=0, the second waits from 1m to the 5m cycle
    assert alice["mean_wait_s"] == pytest.approx((0 + 240) / 2)
    assert alice["p95_wait_s"] == pytest.approx(240)
    assert alice["share"] == pytest.approx(1.0)
    assert report["clusters"]["c1"]["utilization"] == pytest.approx(9000 / (4 * 3 * 3600), abs=1e-5)
    assert report["groups"][NO_GROUP]["core_seconds"] == pytest.approx(9000)


TWO = """
duration: 6h
cycle_interval: 5m
seed: 4
config: {negotiator: {halflife: 3600}}
clusters:
  - {name: local, tier: 1, machines: 4, cpus: 8, memory: 32G}
submitters:
  - {name: alice}
  - {name: bob}
workload:
  - {submitter: alice, count: 400, runtime: 20m}
  - {submitter: bob, count: 400, runtime: 20m}
"""


def test_two_equal_submitters_share_the_pool_evenly() -> None:
    report = simulate(load_scenario(TWO)).to_dict()
    shares = {n: s["share"] for n, s in report["submitters"].items()}
    assert shares["alice"] == pytest.approx(0.5, rel=0.05)
    assert shares["bob"] == pytest.approx(0.5, rel=0.05)
    assert report["clusters"]["local"]["utilization"] > 0.9
    assert report["cycles"] == 6 * 12 + 1
    assert report["rejected_plan_entries"] == 0


def test_a_run_is_deterministic() -> None:
    text = TWO.replace("runtime: 20m", "runtime: {distribution: exponential, mean: 20m}")
    scenario = load_scenario(text.replace("duration: 6h", "duration: 2h"))
    assert simulate(scenario).to_dict() == simulate(scenario).to_dict()


FAILOVER = """
duration: 10h
cycle_interval: 5m
clusters:
  - {name: onprem, tier: 1, machines: 2, cpus: 8, memory: 32G}
  - {name: cloud, tier: 2, machines: 2, cpus: 8, memory: 32G}
submitters:
  - {name: alice}
workload:
  - {submitter: alice, count: 8, runtime: 8h}
  - {submitter: alice, count: 24, at: 1h, runtime: 6h}
failures:
  - {cluster: cloud, at: 2h, duration: 3h}
"""


def test_overflow_to_the_higher_tier_and_a_failure_loses_its_jobs() -> None:
    report = simulate(load_scenario(FAILOVER))
    data = report.to_dict()
    # the first 8 jobs fit on the tier-1 cluster alone; the cloud only takes the overflow
    first = next(s for s in report.samples if s.time == 0)
    assert first.cores_by_cluster == {"onprem": 8}
    # while the cloud is down nothing runs there, and its jobs were lost and requeued
    during = [s for s in report.samples if 2 * 3600 <= s.time < 5 * 3600]
    assert during and all(s.cores_by_cluster.get("cloud", 0) == 0 for s in during)
    assert all("cloud" in s.down for s in during)
    assert data["jobs_lost"] == 16
    after = [s for s in report.samples if 5 * 3600 <= s.time < 6 * 3600]
    assert any(s.cores_by_cluster.get("cloud", 0) > 0 for s in after)
    # utilisation counts only the hours the cloud was up
    cloud_busy = report.busy_core_seconds["cloud"]
    assert report.available_core_seconds["cloud"] == pytest.approx(16 * 7 * 3600)
    assert data["clusters"]["cloud"]["utilization"] == pytest.approx(cloud_busy / (16 * 7 * 3600))


QUOTAS = """
duration: 6h
cycle_interval: 5m
config: {negotiator: {halflife: 3600}}
groups:
  physics: {quota: 24}
  physics.hep: {dynamic_quota: 0.75, accept_surplus: true}
  physics.lep: {dynamic_quota: 0.25, accept_surplus: true}
  chemistry: {quota: 8}
clusters:
  - {name: campus, machines: 5, cpus: 8, memory: 32G}
submitters:
  - {name: higgs, group: physics.hep}
  - {name: dirac, group: physics.lep}
  - {name: curie, group: chemistry}
  - {name: guest}
workload:
  - {submitter: higgs, count: 300, runtime: 30m}
  - {submitter: dirac, count: 300, runtime: 30m}
  - {submitter: curie, count: 300, runtime: 30m}
  - {submitter: guest, count: 300, runtime: 30m}
"""


def test_group_quotas_hold_in_the_simulation() -> None:
    report = simulate(load_scenario(QUOTAS))
    shares = {n: g["share"] for n, g in report.to_dict()["groups"].items()}
    # 40 cores: physics 24 (hep 18, lep 6), chemistry 8, <none> the other 8
    expected = {
        "physics.hep": 18 / 40,
        "physics.lep": 6 / 40,
        "chemistry": 8 / 40,
        NO_GROUP: 8 / 40,
    }
    for group, share in expected.items():
        assert shares[group] == pytest.approx(share, rel=0.05), shares
    for sample in report.samples[1:]:
        assert (
            sample.cores_by_group.get("physics.hep", 0)
            + sample.cores_by_group.get("physics.lep", 0)
            <= 24
        )
        assert sample.cores_by_group.get("chemistry", 0) <= 8
