"""The cluster shape of a submit (`parse_submit_cluster`): it expands to exactly
the ads `parse_submit` gives, keeps per job only what depends on per-job
macros, and merges several queue statements and clusters into one shape."""

from __future__ import annotations

import json
import os

import pytest

from skyflock.classad import ClassAd
from skyflock.submit import parse_submit, parse_submit_cluster
from skyflock.submit.builder import NO_HITS_LIMIT
from tests.submit.conftest import BASE, ENVIRON, GOLDEN, memory_files

SUBMIT_FILES = sorted(GOLDEN.glob("*.sub"))


def _both(name: str) -> tuple[list[ClassAd], list[ClassAd]]:
    text = (GOLDEN / name).read_text(encoding="utf-8")
    kwargs = {
        "base_dir": BASE,
        "filename": name,
        "environ": ENVIRON,
        "owner": "alice",
        "files": memory_files(GOLDEN),
        "cluster_id": 1,
    }
    cluster = parse_submit_cluster(text, **kwargs)  # type: ignore[arg-type]
    singles = [cluster.ad(i) for i in range(len(cluster))]
    return cluster.ads(), singles


def _golden_jobs(name: str) -> list[object]:
    golden = json.loads((GOLDEN / name.replace(".sub", ".json")).read_text(encoding="utf-8"))
    return golden["jobs"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", SUBMIT_FILES, ids=[p.stem for p in SUBMIT_FILES])
def test_cluster_shape_expands_to_the_golden_ads(path: os.PathLike[str]) -> None:
    name = os.path.basename(path)
    ads, singles = _both(name)
    want = _golden_jobs(name)
    assert [json.loads(ad.format("json")) for ad in ads] == want
    assert [json.loads(ad.format("json")) for ad in singles] == want


SCAN = """\
executable = /bin/true
arguments = $(Process)
output = out.$(Cluster).$(Process)
request_memory = 64M
queue 5
"""


def test_only_per_job_attributes_are_kept_per_job() -> None:
    cluster = parse_submit_cluster(SCAN, cluster_id=7, base_dir="/s", owner="alice")
    assert len(cluster) == 5 and cluster.cluster_id == 7
    assert [sorted(p) for p in cluster.procs] == [["Args", "Out"]] * 5
    assert [p["Out"] for p in cluster.procs] == [f"out.7.{i}" for i in range(5)]
    assert cluster.cluster_ad.eval("Cmd") == "/bin/true"
    assert cluster.cluster_ad.eval("RequestMemory") == 64
    assert cluster.cluster_ad.eval("ClusterId") == 7
    assert "ProcId" not in cluster.cluster_ad and "Args" not in cluster.cluster_ad
    assert list(cluster.ids()) == [(7, i) for i in range(5)]


def test_nothing_per_job_when_nothing_varies() -> None:
    cluster = parse_submit_cluster("executable = /bin/true\nqueue 3\n", owner="alice")
    assert cluster.procs == [{}, {}, {}]
    cluster.procs[0]["x"] = 1  # each job's dict is its own
    assert cluster.procs[1] == {}


def test_several_queue_statements_share_what_they_have_in_common() -> None:
    text = (GOLDEN / "10_multiple_queues.sub").read_text(encoding="utf-8")
    cluster = parse_submit_cluster(text, base_dir=BASE, owner="alice")
    assert cluster.cluster_ad.eval("Cmd") == f"{BASE}/scan.sh"
    assert [p["Arguments"] for p in cluster.procs] == ["91 3.0", "93 3.0", "95 5.0"]
    assert [(n.cluster_id, n.first_proc, n.count) for n in cluster.numbering] == [(1, 0, 3)]


def test_a_new_executable_starts_a_new_cluster_in_the_numbering() -> None:
    text = (GOLDEN / "11_new_cluster.sub").read_text(encoding="utf-8")
    cluster = parse_submit_cluster(text, base_dir=BASE, owner="alice", cluster_id=4)
    assert list(cluster.ids()) == [(4, 0), (4, 1), (5, 0), (5, 1)]
    assert "Cmd" not in cluster.cluster_ad
    assert [p["Cmd"] for p in cluster.procs] == [f"{BASE}/prepare.sh"] * 2 + [
        f"{BASE}/analyse.sh"
    ] * 2
    assert [(ad.eval("ClusterId"), ad.eval("ProcId")) for ad in cluster.ads()] == list(
        cluster.ids()
    )
    assert all("ClusterId" not in p and "ProcId" not in p for p in cluster.procs)


def test_a_rule_whose_inputs_repeat_is_built_once_per_value() -> None:
    text = (
        'executable = /bin/true\nrequirements = TARGET.Mass == "$(m)"\nqueue 100 m in (a, b, c)\n'
    )
    cluster = parse_submit_cluster(text, owner="alice")
    exprs = {id(p["Requirements"]) for p in cluster.procs}
    assert len(exprs) == 3
    assert parse_submit(text, owner="alice")[4].lookup("Requirements") is not None


def test_a_rule_whose_inputs_never_repeat_stops_caching() -> None:
    text = "executable = /bin/true\nrequirements = TARGET.Slot == $(Process)\nqueue 200\n"
    cluster = parse_submit_cluster(text, owner="alice")
    assert len({str(p["Requirements"]) for p in cluster.procs}) == 200
    assert NO_HITS_LIMIT < 200


def test_an_empty_queue_gives_an_empty_cluster() -> None:
    cluster = parse_submit_cluster("executable = /bin/true\nqueue 0\n", owner="alice")
    assert len(cluster) == 0 and cluster.ads() == [] and cluster.cluster_id is None
