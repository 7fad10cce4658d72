"""The live queue's snapshot: idle jobs handed over in batches of one submission, same plan."""

from __future__ import annotations

import dataclasses

from skyflock.backends.base import SlotOffer
from skyflock.classad import ClassAd, parse
from skyflock.core.config import NegotiatorConfig
from skyflock.core.model import AccountingState
from skyflock.core.negotiate import negotiate
from skyflock.manager.snapshot import IDLE, ClusterView, LiveJob, LiveQueue


def _template(cluster: int, cpus: int, owner: str) -> ClassAd:
    ad = ClassAd(
        {
            "Owner": owner,
            "ClusterId": cluster,
            "RequestCpus": cpus,
            "RequestMemory": 1024,
            "RequestDisk": 1000,
            "JobPrio": 0,
        }
    )
    ad["Requirements"] = parse("TARGET.Cpus >= RequestCpus && TARGET.Memory >= RequestMemory")
    return ad


def _queue() -> LiveQueue:
    live = LiveQueue()
    for cluster, cpus, owner in ((1, 1, "alice"), (2, 2, "bob"), (3, 1, "alice")):
        template = _template(cluster, cpus, owner)
        for proc in range(5):
            own = {"Args": f"{proc}"} if cluster == 3 else {}
            live.add(
                LiveJob(
                    f"{cluster}.{proc}",
                    None,
                    owner,
                    IDLE,
                    "",
                    float(cluster),
                    template=template,
                    own=own,
                )
            )
    return live


def _clusters() -> dict[str, ClusterView]:
    offers = [
        SlotOffer(name=f"n{i}", cpus=4, memory_mib=8192, disk_kib=10**7, gpus=0) for i in range(3)
    ]
    return {"local": ClusterView("local", "local", tier=1, offers=offers)}


def test_jobs_of_one_submission_form_one_batch_with_their_own_values_varying() -> None:
    snap = _queue().snapshot(_clusters(), AccountingState())
    assert snap.batches is not None
    batches = sorted((list(b.jobs), sorted(b.varying)) for b in snap.batches)
    assert batches == [
        ([0, 1, 2, 3, 4], ["procid"]),
        ([5, 6, 7, 8, 9], ["procid"]),
        ([10, 11, 12, 13, 14], ["args", "procid"]),
    ]


def test_a_job_whose_ad_was_read_leaves_its_batch() -> None:
    live = _queue()
    job = live.get("1.3")
    assert job is not None
    job.ad["Foo"] = 1  # anyone who reads the ad may change it
    snap = live.snapshot(_clusters(), AccountingState())
    assert snap.batches is not None
    assert sorted(list(b.jobs) for b in snap.batches)[:2] == [[0, 1, 2, 4], [3]]


def test_mostly_read_ads_give_no_batches() -> None:
    live = _queue()
    for job in list(live)[:8]:
        assert job.ad is not None
    assert live.snapshot(_clusters(), AccountingState()).batches is None


def test_the_plan_is_the_same_with_and_without_batches() -> None:
    snap = _queue().snapshot(_clusters(), AccountingState())
    plain = dataclasses.replace(snap, batches=None)
    config = NegotiatorConfig()
    with_batches = negotiate(snap, config, 100.0, seed=1)
    without = negotiate(plain, config, 100.0, seed=1)
    assert with_batches.matches and with_batches.matches == without.matches
    assert with_batches.explanations == without.explanations
    assert dict(with_batches.autocluster_of) == dict(without.autocluster_of)
