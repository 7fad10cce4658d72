"""Submitting: ClusterIds from one counter, ProcIds in order, the ads as given
with the store's columns over them, hot columns read from the ads."""

from __future__ import annotations

import threading

import pytest

from skyflock.classad import ClassAd, parse
from skyflock.store import NewJob, Store
from skyflock.submit import parse_submit, parse_submit_cluster
from tests.store.factories import job_ad


def test_submit_numbers_clusters_and_procs(store: Store) -> None:
    first = store.jobs.submit([job_ad(), job_ad()], now=50)
    second = store.jobs.submit_cluster(job_ad("bob"), [{}, {}, {}], now=60)
    assert first.cluster_id == 1 and first.job_ids == ("1.0", "1.1")
    assert second.cluster_id == 2 and second.job_ids == ("2.0", "2.1", "2.2")
    records = store.jobs.query()
    assert [(r.cluster_id, r.proc_id) for r in records] == [
        (1, 0),
        (1, 1),
        (2, 0),
        (2, 1),
        (2, 2),
    ]
    assert {r.status for r in records} == {1}
    assert [e.kind for e in store.events.for_job("2.2")] == ["submitted"]


def test_full_ad_round_trips_with_columns_overlaid(store: Store) -> None:
    ad = job_ad(
        "carol",
        AccountingGroup="cms.carol",
        AcctGroup="cms",
        JobPrio=7,
        WorkflowId="wf-1",
        StepName="fit",
        Arguments='say "hi"\n\tthere\\',
        Weight=2.5,
        Big=10**12,
        Flag=False,
        Tags=["a", "b"],
    )
    ad["Requirements"] = parse("TARGET.Memory >= RequestMemory && TARGET.Cpus >= 1")
    ad["JobStatus"] = 4  # the store's column wins over a stale attribute
    (job_id,) = store.jobs.submit([ad], now=1234.5).job_ids
    rec = store.jobs.get(job_id)
    assert rec is not None
    assert (rec.owner, rec.submitter, rec.acct_group, rec.job_prio) == (
        "carol",
        "cms.carol",
        "cms",
        7,
    )
    assert (rec.workflow_id, rec.step_name, rec.q_date) == ("wf-1", "fit", 1234.5)
    back = rec.ad
    for name in ("Arguments", "Weight", "Big", "Flag", "Tags", "RequestMemory"):
        assert back.eval(name) == ad.eval(name), name
    assert str(back.lookup("Requirements")) == str(ad.lookup("Requirements"))
    assert (back.eval("ClusterId"), back.eval("ProcId"), back.eval("JobStatus")) == (1, 0, 1)
    assert back.eval("QDate") == 1234.5


def test_submit_cluster_proc_values_override_the_cluster_ad(store: Store) -> None:
    base = job_ad("dave", AccountingGroup="atlas.dave", Arguments="0")
    procs = [
        {"Arguments": "1"},
        {"Arguments": "2", "AccountingGroup": "atlas.prod"},
        {"Arguments": parse('strcat("x", 3)')},
    ]
    ids = store.jobs.submit_cluster(base, procs, now=5).job_ids
    recs = [store.jobs.get(i) for i in ids]
    assert [r.ad.eval("Arguments") for r in recs if r] == ["1", "2", "x3"]
    assert [r.submitter for r in recs if r] == ["atlas.dave", "atlas.prod", "atlas.dave"]
    # The shared attributes were stored once, in the cluster ad.
    assert all(r and "Cmd" not in r.ad_text and "Cmd" in r.cluster_ad_text for r in recs)


def test_submit_of_full_ads_shares_identical_expressions(store: Store) -> None:
    base = job_ad("erin")
    ads = []
    for i in range(3):
        ad = base.copy()
        ad["Arguments"] = str(i)
        ads.append(ad)
    ids = store.jobs.submit(ads).job_ids
    recs = [store.jobs.get(i) for i in ids]
    assert [r.ad.eval("Arguments") for r in recs if r] == ["0", "1", "2"]
    assert all(r and r.ad_text == f'Arguments = "{i}"' for i, r in enumerate(recs))


def test_submit_refuses_an_ad_without_owner_and_changes_nothing(store: Store) -> None:
    with pytest.raises(ValueError, match="job ad 1: job ad has no Owner"):
        store.jobs.submit([job_ad(), ClassAd({"Cmd": "/bin/true"})])
    with pytest.raises(ValueError, match="no job ads"):
        store.jobs.submit([])
    assert store.jobs.count() == 0
    assert store.jobs.submit([job_ad()]).cluster_id == 1


def test_submit_encoded_needs_no_classad(store: Store) -> None:
    new = [NewJob('Arguments = "a"', "frank", "frank", job_prio=3, q_date=9.0)]
    result = store.jobs.submit_encoded('Owner = "frank"\nCmd = "/bin/echo"', new, now=10)
    rec = store.jobs.get(result.job_ids[0])
    assert rec is not None
    assert (rec.owner, rec.job_prio, rec.q_date) == ("frank", 3, 9.0)
    assert rec.ad.eval("Cmd") == "/bin/echo" and rec.ad.eval("Arguments") == "a"


def test_concurrent_submitters_never_share_a_cluster_id(store: Store) -> None:
    got: list[int] = []
    lock = threading.Lock()

    def submitter() -> None:
        for _ in range(5):
            cid = store.jobs.submit_cluster(job_ad(), [{}, {}]).cluster_id
            with lock:
                got.append(cid)

    threads = [threading.Thread(target=submitter) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(1, 21))
    assert store.jobs.count() == 40


def test_reserved_cluster_id_is_used_once(store: Store) -> None:
    reserved = store.jobs.new_cluster_id()
    other = store.jobs.submit([job_ad()]).cluster_id
    assert (reserved, other) == (1, 2)
    assert store.jobs.submit([job_ad()], cluster_id=reserved).job_ids == ("1.0",)
    with pytest.raises(ValueError, match="cluster 1 has already been submitted"):
        store.jobs.submit([job_ad()], cluster_id=reserved)
    with pytest.raises(ValueError, match="cluster 9 was not reserved"):
        store.jobs.submit([job_ad()], cluster_id=9)
    assert store.jobs.count() == 2


SCAN_FILE = """\
executable = /bin/true
arguments = $(Process)
output = out/$(Cluster).$(Process)
error = say "hi"\\there.$(Process)
accounting_group = atlas
queue 3
queue 2 group in (cms, lhcb)
"""


def test_submit_cluster_of_a_parsed_description_reads_back_as_parse_submit(store: Store) -> None:
    text = SCAN_FILE + "accounting_group = $(group)\nqueue 1 group in (cms, lhcb)\n"
    cid = store.jobs.new_cluster_id()
    cluster = parse_submit_cluster(text, cluster_id=cid, base_dir="/s", owner="alice")
    result = store.jobs.submit_cluster(cluster.cluster_ad, cluster.procs, cluster_id=cid, now=7)
    want = parse_submit(text, cluster_id=cid, base_dir="/s", owner="alice")
    records = [store.jobs.get(i) for i in result.job_ids]
    assert len(records) == len(want) == 9
    for rec, ad in zip(records, want, strict=True):
        assert rec is not None
        for name, expr in ad.items():
            if name not in ("JobStatus", "ProcId", "QDate"):
                assert str(rec.ad.lookup(name)) == str(expr), (rec.id, name)
    # The hot columns follow the per-job accounting group of the last statement.
    assert [r.submitter for r in records if r] == ["atlas.alice"] * 7 + ["cms.alice", "lhcb.alice"]
    # Each proc ad holds only what differs; the rest is in the cluster ad, once.
    first = records[0]
    assert first is not None and "Cmd" in first.cluster_ad_text and "Cmd" not in first.ad_text
    # (the accounting group differs between the statements, so each job has its own)
    assert first.ad_text == (
        'AcctGroup = "atlas"\nAcctGroupUser = "alice"\nAccountingGroup = "atlas.alice"\n'
        'Args = "0"\nOut = "out/1.0"\nErr = "say \\"hi\\"\\\\there.0"'
    )


def test_submit_cluster_writes_one_submitted_event_per_job_in_order(store: Store) -> None:
    ids = store.jobs.submit_cluster(job_ad(), [{"Arguments": str(i)} for i in range(3)], now=4)
    for job_id in ids.job_ids:
        events = store.events.for_job(job_id)
        assert [(e.kind, e.time) for e in events] == [("submitted", 4.0)]
    seqs = [store.events.for_job(j)[0].seq for j in ids.job_ids]
    assert seqs == sorted(seqs)


def test_submit_cluster_constants_that_need_quoting(store: Store) -> None:
    ad = job_ad("o'brien", AccountingGroup="g'1.o'brien", WorkflowId="w\t1\\x\n")
    ids = store.jobs.submit_cluster(ad, [{}, {"Note": "a\tb\\c\nd\u2028e"}], now=3).job_ids
    recs = [store.jobs.get(i) for i in ids]
    assert [(r.owner, r.submitter, r.workflow_id) for r in recs if r] == [
        ("o'brien", "g'1.o'brien", "w\t1\\x\n")
    ] * 2
    last = recs[1]
    assert last is not None and last.ad.eval("Note") == "a\tb\\c\nd\u2028e"


def test_submit_cluster_refuses_an_empty_cluster_or_no_owner(store: Store) -> None:
    with pytest.raises(ValueError, match="no job ads"):
        store.jobs.submit_cluster(job_ad(), [])
    with pytest.raises(ValueError, match="no Owner"):
        store.jobs.submit_cluster(ClassAd({"Cmd": "/bin/true"}), [{}])
    assert store.jobs.count() == 0


@pytest.mark.parametrize("per_proc", [False, True], ids=["whole-cluster", "one-proc"])
def test_submit_on_hold_is_queued_held_with_code_15(store: Store, per_proc: bool) -> None:
    template = job_ad("dana")
    if per_proc:  # only proc 1 says JobStatus = 5
        procs: list[dict[str, object]] = [{}, {"JobStatus": 5}, {}]
    else:
        template["JobStatus"] = 5
        procs = [{}, {}, {}]
    ids = store.jobs.submit_cluster(template, procs, now=70).job_ids
    held_ids = {ids[1]} if per_proc else set(ids)
    for job_id in ids:
        rec = store.jobs.get(job_id)
        assert rec is not None
        kinds = [(e.kind, e.code) for e in store.events.for_job(job_id)]
        if job_id in held_ids:
            assert (rec.status, rec.hold_reason_code) == (5, 15)
            assert rec.ad.eval("HoldReason") == "submitted on hold"
            assert kinds == [("submitted", None), ("held", 15)]
        else:
            assert (rec.status, rec.hold_reason_code) == (1, None)
            assert kinds == [("submitted", None)]
    # a job submitted on hold is released like any held job
    assert store.jobs.release(sorted(held_ids), now=80).moved == tuple(sorted(held_ids))
