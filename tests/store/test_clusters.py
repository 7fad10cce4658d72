"""The cluster registry: definitions, cordon, health, slot ads."""

from __future__ import annotations

import pytest

from skyflock.classad import ClassAd
from skyflock.core.model import ClusterState
from skyflock.store import ClusterRecord, Store, UnknownCluster


def test_put_get_list_delete(store: Store) -> None:
    local = ClusterRecord("local", "local", tier=0, caps={"cpus": 2})
    cloud = ClusterRecord("gke-eu", "kubernetes", tier=1, cost=0.04, config={"context": "gke_eu"})
    store.clusters.put(cloud)
    store.clusters.put(local)
    assert store.clusters.all() == [local, cloud]
    assert store.clusters.get("gke-eu") == cloud
    store.clusters.put(ClusterRecord("gke-eu", "kubernetes", tier=2))
    got = store.clusters.get("gke-eu")
    assert got is not None and got.tier == 2 and got.config == {}
    assert store.clusters.delete("gke-eu") is True
    assert store.clusters.delete("gke-eu") is False
    assert store.clusters.get("gke-eu") is None


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (ClusterRecord("x", "slurm"), "kind must be one of"),
        (ClusterRecord("", "local"), "a name is required"),
        (ClusterRecord("x", "local", caps={"cpus": "many"}), "caps.cpus must be a number"),
    ],
)
def test_bad_definitions_are_refused(store: Store, record: ClusterRecord, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        store.clusters.put(record)
    assert store.clusters.all() == []


def test_cordon_heartbeat_and_states(store: Store) -> None:
    store.clusters.put(ClusterRecord("local", "local"))
    store.clusters.put(ClusterRecord("pilots", "agents", tier=3))
    store.clusters.set_cordoned("pilots", True)
    store.clusters.heartbeat("local", healthy=False, message="disk full", now=77.0)
    local = store.clusters.get("local")
    assert local is not None
    assert (local.healthy, local.health_message, local.last_heartbeat) == (False, "disk full", 77)
    assert store.clusters.states() == {
        "local": ClusterState("local", 0, False, False),
        "pilots": ClusterState("pilots", 3, True, True),
    }
    with pytest.raises(UnknownCluster, match="no cluster named 'nowhere'"):
        store.clusters.heartbeat("nowhere")


def test_slots_are_replaced_and_go_with_their_cluster(store: Store) -> None:
    store.clusters.put(ClusterRecord("local", "local"))
    store.clusters.put(ClusterRecord("gke", "kubernetes"))
    slot = ClassAd({"Cpus": 2, "Memory": 4096, "ClusterName": "local"})
    store.clusters.set_slots("local", {"slot1@a": slot, "slot1@b": "Cpus = 1"}, now=5.0)
    store.clusters.set_slots("gke", {"node-1": ClassAd({"Cpus": 8})}, now=5.0)
    got = store.clusters.slots("local")
    assert [s.id for s in got] == ["slot1@a", "slot1@b"]
    assert got[0].ad.eval("Memory") == 4096 and got[1].ad.eval("Cpus") == 1
    store.clusters.set_slots("local", {"slot1@c": ClassAd({"Cpus": 4})}, now=6.0)
    assert [s.id for s in store.clusters.slots()] == ["node-1", "slot1@c"]
    store.clusters.delete("local")
    assert [s.id for s in store.clusters.slots()] == ["node-1"]
    with pytest.raises(UnknownCluster):
        store.clusters.set_slots("local", {})
