"""The example scenarios behave as their comments say (slow: whole simulated days)."""

from __future__ import annotations

from pathlib import Path

import pytest

from skyflock.core.model import NO_GROUP
from skyflock.sim.engine import simulate
from skyflock.sim.report import Report
from skyflock.sim.scenario import load_scenario

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sim"

pytestmark = pytest.mark.slow

DAY = 86_400


def run(name: str) -> Report:
    path = EXAMPLES / name
    return simulate(load_scenario(path.read_text(), str(path)))


def test_cern_burst_overflows_to_the_cloud_only_for_the_spike() -> None:
    report = run("cern-burst.yaml")
    data = report.to_dict()
    assert data["cycles"] == 7 * 24 * 12 + 1
    assert data["rejected_plan_entries"] == 0
    before = [s for s in report.samples if s.time < 4 * DAY]
    spike = [s for s in report.samples if 4 * DAY + 3600 <= s.time < 4 * DAY + 8 * 3600]
    assert all(s.cores_by_cluster.get("cloud-t2", 0) == 0 for s in before)
    assert max(s.cores_by_cluster.get("cloud-t2", 0) for s in spike) > 400
    assert data["jobs_lost"] > 0  # the cloud outage hit running jobs
    # the spike shows in CMS analysis's share of the running cores
    assert max(s.cores_by_group.get("cms.analysis", 0) for s in spike) > 500
    assert set(data["groups"]) == {
        "atlas.analysis",
        "atlas.prod",
        "cms.analysis",
        "cms.prod",
        "lhcb",
    }


def test_groups_quotas_caps_physics_and_gives_the_rest_to_chemistry() -> None:
    report = run("groups-quotas.yaml")
    for sample in report.samples:
        physics = sample.cores_by_group.get("physics.hep", 0) + sample.cores_by_group.get(
            "physics.lep", 0
        )
        assert physics <= 160
    late = report.samples[-1].cores_by_group
    assert late.get("physics.hep", 0) == pytest.approx(160, abs=8)  # lep's quota absorbed by hep
    assert late.get("chemistry", 0) + late.get(NO_GROUP, 0) == pytest.approx(96, abs=8)


def test_two_submitters_split_evenly() -> None:
    shares = {n: s["share"] for n, s in run("two-submitters.yaml").to_dict()["submitters"].items()}
    assert shares == pytest.approx({"alice": 0.5, "bob": 0.5}, abs=0.025)
