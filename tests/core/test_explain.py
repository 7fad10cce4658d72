"""Each reason an autocluster stays idle, as data and as `q -analyze` text."""

from __future__ import annotations

from skyflock.core.explain import Explanation, render
from skyflock.core.model import ClusterState, Plan
from tests.core.negotiation_kit import config, job, run, slot, snapshot


def _only(plan: Plan) -> Explanation:
    (e,) = plan.explanations.values()
    assert isinstance(e, Explanation)
    return e


def test_rejected_by_each_clause_of_the_job_requirements() -> None:
    req = 'TARGET.Arch == "X86_64" && TARGET.Tier <= 1 && TARGET.Memory >= RequestMemory'
    slots = [slot(f"t1-{i}", "cern", tier=1, memory=8192) for i in range(3)]
    slots += [slot(f"t2-{i}", "tsystems", tier=2, memory=65536) for i in range(5)]
    e = _only(run(snapshot([job("1.0", memory=32000, requirements=req)], slots)))
    counts = {c.text: (c.rejected, dict(c.by_cluster)) for c in e.clauses}
    assert counts == {
        'TARGET.Arch == "X86_64"': (0, {}),
        "TARGET.Tier <= 1": (5, {"tsystems": 5}),
        "TARGET.Memory >= RequestMemory": (3, {"cern": 3}),
    }
    by_cluster = {c.cluster: c for c in e.clusters}
    assert by_cluster["cern"].rejected_by_job == 3 and by_cluster["tsystems"].rejected_by_job == 5
    assert e.waiting == {"alice": {"no_slots": 1}}
    assert "rejected_by_job" in e.reasons()


def test_suggestions_name_the_change_and_the_cluster() -> None:
    req = "TARGET.Tier <= 1 && TARGET.Memory >= RequestMemory"
    slots = [slot(f"t1-{i}", "cern", tier=1, memory=8192) for i in range(3)]
    slots += [slot(f"t2-{i}", "tsystems", tier=2, memory=65536) for i in range(120)]
    e = _only(run(snapshot([job("1.0", memory=32000, requirements=req)], slots)))
    texts = [str(s) for s in e.suggestions]
    assert (
        "would match 120 slots on cluster tsystems with the clause `TARGET.Tier <= 1` removed"
        in texts
    )
    assert "would match 3 slots on cluster cern with RequestMemory <= 8192" in texts
    assert texts[0].startswith("would match 120")


def test_request_suggestion_without_a_memory_clause() -> None:
    # the job says nothing about memory in Requirements: too small is still found and fixed
    slots = [slot(f"m{i}", "tsystems", memory=8000) for i in range(120)]
    e = _only(run(snapshot([job("1.0", memory=16000, requirements="true")], slots)))
    assert e.clusters[0].too_small == 120
    assert [str(s) for s in e.suggestions] == [
        "would match 120 slots on cluster tsystems with RequestMemory <= 8000"
    ]


def test_rejected_by_the_slot() -> None:
    slots = [slot("s1", start='TARGET.Owner == "bob"'), slot("s2", start="false")]
    e = _only(run(snapshot([job("1.0", "alice")], slots)))
    assert e.clusters[0].rejected_by_slot == 2
    assert e.clusters[0].rejected_by_job == 0


def test_too_few_resources_left() -> None:
    slots = [slot("s1", cpus=8, left=(1, 16384, 10_000_000, 0))]
    e = _only(run(snapshot([job("1.0", cpus=4)], slots)))
    c = e.clusters[0]
    assert (c.too_few_left, c.available, c.too_small) == (1, 0, 0)
    assert "too_few_left" in e.reasons()


def test_fair_share_limit() -> None:
    # four slots, two equal submitters: each holds its share of two, the rest waits on fair share
    jobs = [job(f"{i + 1}.0", "alice") for i in range(6)] + [
        job(f"{100 + i}.0", "bob") for i in range(6)
    ]
    slots = [slot(f"s{i}", cpus=1, partitionable=False) for i in range(4)]
    e = _only(run(snapshot(jobs, slots)))
    assert e.waiting == {"alice": {"fair_share": 4}, "bob": {"fair_share": 4}}
    assert e.limits == {"alice": 2.0, "bob": 2.0}
    assert "fair-share limit reached (may hold 2.0" in render(e)


def test_a_lone_submitter_is_not_held_by_fair_share() -> None:
    jobs = [job(f"{i + 1}.0", "alice") for i in range(6)]
    slots = [slot(f"s{i}", cpus=1, partitionable=False) for i in range(4)]
    assert _only(run(snapshot(jobs, slots))).waiting == {"alice": {"no_slots": 2}}


def test_ceiling_while_slots_are_free() -> None:
    jobs = [job(f"{i + 1}.0", "alice") for i in range(6)] + [
        job(f"{100 + i}.0", "bob") for i in range(6)
    ]
    slots = [slot(f"s{i}", cpus=1, partitionable=False) for i in range(10)]
    e = _only(run(snapshot(jobs, slots), config(submitters={"bob": {"ceiling": 2}})))
    assert e.waiting == {"bob": {"ceiling": 4}}
    assert e.limits["bob"] == 2.0
    assert e.clusters[0].available == 2


def test_group_quota_reason() -> None:
    groups = {"atlas": {"quota": 1}}
    jobs = [job(f"{i + 1}.0", "u", group="atlas.u") for i in range(3)]
    plan = run(snapshot(jobs, [slot("s1", cpus=4)]), config(groups=groups))
    assert _only(plan).waiting == {"atlas.u": {"group_quota": 2}}


def test_cordoned_and_unhealthy_clusters() -> None:
    slots = [slot("a", "down"), slot("b", "closed"), slot("c", "open", cpus=1)]
    clusters = {
        "down": ClusterState("down", healthy=False),
        "closed": ClusterState("closed", cordoned=True),
    }
    plan = run(snapshot([job("1.0", cpus=2, requirements="true")], slots, clusters=clusters))
    e = _only(plan)
    by_cluster = {c.cluster: c for c in e.clusters}
    assert by_cluster["down"].unavailable == "unhealthy"
    assert by_cluster["closed"].unavailable == "cordoned"
    assert by_cluster["open"].too_small == 1
    assert {"cluster_unhealthy", "cluster_cordoned", "too_small"} <= e.reasons()


def test_every_idle_job_finds_its_explanation() -> None:
    jobs = [job(f"{i + 1}.0", cpus=1 + i % 3) for i in range(12)]
    plan = run(snapshot(jobs, [slot("s1", cpus=4)]))
    matched = {m.job_id for m in plan.matches}
    for j in jobs:
        key = plan.autocluster_of[j.id]
        if j.id not in matched:
            assert key in plan.explanations


def test_render_reads_like_an_analysis() -> None:
    req = "TARGET.Tier <= 1 && TARGET.Memory >= RequestMemory"
    slots = [slot(f"t2-{i}", "tsystems", tier=2, memory=65536) for i in range(3)]
    slots.append(slot("down-1", "down"))
    plan = run(
        snapshot(
            [job("7.0", memory=4000, requirements=req)],
            slots,
            clusters={"down": ClusterState("down", healthy=False)},
        )
    )
    text = render(_only(plan), job_id="7.0")
    assert text.startswith("Job 7.0: 1 idle job(s)")
    assert "1 job(s) of alice: no usable slot can run it (see below)" in text
    assert "tsystems" in text and "cluster unhealthy" in text
    assert "[1]       3  TARGET.Tier <= 1  (tsystems 3)" in text
    assert (
        "would match 3 slots on cluster tsystems with the clause `TARGET.Tier <= 1` removed" in text
    )


def test_render_names_requests_in_units_people_read() -> None:
    slots = [slot("big-1", "cern", memory=65536)]
    plan = run(snapshot([job("9.0", memory=4 * 1024 * 1024)], slots))
    text = render(_only(plan), job_id="9.0")
    assert "requests 1 CPU, 4 TiB memory," in text
    assert "MiB memory" not in text


def test_a_single_slot_is_not_plural() -> None:
    req = "TARGET.Tier <= 1"
    plan = run(snapshot([job("3.0", requirements=req)], [slot("t2-0", "tsystems", tier=2)]))
    text = render(_only(plan), job_id="3.0")
    assert "would match 1 slot on cluster tsystems" in text
