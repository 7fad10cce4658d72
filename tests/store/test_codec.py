"""The ClassAd side of the store: plain values formatted by the store read back
identically through the ClassAd parser; cluster/proc ads split and merge."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from skyflock.classad import ClassAd, parse
from skyflock.store.codec import Constraint, hot_ad, record_ad
from skyflock.store.records import job_record
from skyflock.store.submit_codec import encode_ads, encode_cluster, encode_submit, format_attrs

plain = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)
names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(names, plain, min_size=1, max_size=6))
def test_format_attrs_reads_back_through_the_parser(values: dict) -> None:  # type: ignore[type-arg]
    ad = ClassAd.parse(format_attrs(values))
    seen = {n.lower() for n in values}
    assert {n.lower() for n in ad} == seen
    unique = {n.lower(): (n, v) for n, v in values.items()}
    for name, value in unique.values():
        got = ad.eval(name)
        assert type(got) is type(value)
        assert got == value or (isinstance(value, float) and math.isclose(got, value))


def test_format_attrs_handles_what_it_cannot_format_itself() -> None:
    values = {
        "true": 1,
        "Odd-Name": "x",
        "Inf": math.inf,
        "L": [1, "a"],
        "E": parse("a + 1"),
    }
    ad = ClassAd.parse(format_attrs(values))
    assert ad.eval("true") == 1 and ad.eval("Odd-Name") == "x"
    assert ad.eval("Inf") == math.inf and ad.eval("L") == [1, "a"]
    assert str(ad.lookup("E")) == "a + 1"


def test_encode_cluster_and_encode_ads_agree() -> None:
    base = ClassAd({"Owner": "alice", "Cmd": "/bin/true", "Arguments": "0"})
    cluster_text, jobs = encode_cluster(base, [{"Arguments": "1"}, {"Arguments": "2"}])
    ads = []
    for i in (1, 2):
        ad = base.copy()
        ad["Arguments"] = str(i)
        ads.append(ad)
    cluster_text2, jobs2 = encode_ads(ads)
    for proc_text, proc_text2, i in zip(
        [j.ad_text for j in jobs], [j.ad_text for j in jobs2], (1, 2), strict=True
    ):
        full = ClassAd.parse(cluster_text)
        full.update(ClassAd.parse(proc_text))
        full2 = ClassAd.parse(cluster_text2)
        full2.update(ClassAd.parse(proc_text2))
        for ad in (full, full2):
            assert ad.eval("Arguments") == str(i) and ad.eval("Cmd") == "/bin/true"
    assert "Arguments" not in cluster_text2


def _row(**overrides: object) -> dict:  # type: ignore[type-arg]
    row = {
        "id": "3.1",
        "cluster_id": 3,
        "proc_id": 1,
        "status": 5,
        "substate": "",
        "owner": "alice",
        "submitter": "alice",
        "acct_group": None,
        "job_prio": 2,
        "q_date": 10.0,
        "workflow_id": None,
        "step_name": None,
        "cluster_name": "local",
        "slot_id": "slot1@x",
        "claim_cpus": 1,
        "claim_memory": 128,
        "claim_disk": 1,
        "claim_gpus": 0,
        "handle": None,
        "hold_reason": "too big",
        "hold_reason_code": 34,
        "hold_reason_subcode": 0,
        "num_job_starts": 1,
        "num_job_completions": 0,
        "exit_code": None,
        "exit_signal": None,
        "entered_status_at": 20.0,
        "job_start_date": 15.0,
        "job_current_start_date": None,
        "wall_clock": 5.0,
        "completion_date": None,
        "ad": 'RequestCpus = 2\nJobStatus = 1\nHoldReason = "stale"',
        "cluster_ad": 'Owner = "alice"\nCmd = "/bin/sleep"',
    }
    row.update(overrides)
    return row


def test_overlay_makes_the_columns_authoritative() -> None:
    ad = record_ad(job_record(_row()))
    assert (ad.eval("JobStatus"), ad.eval("HoldReason"), ad.eval("HoldReasonCode")) == (
        5,
        "too big",
        34,
    )
    assert (ad.eval("ClusterId"), ad.eval("ProcId"), ad.eval("Cmd")) == (3, 1, "/bin/sleep")
    assert ad.eval("LastRemoteHost") == "slot1@x" and "RemoteHost" not in ad
    idle = record_ad(job_record(_row(status=1)))
    assert "HoldReason" not in idle and idle.eval("JobStatus") == 1


def test_overlay_shows_how_the_last_run_ended_as_condor_history_does() -> None:
    stale = "ExitCode = 5\nExitBySignal = true\nExitSignal = 2\nJobStatus = 1"
    never = record_ad(job_record(_row(status=1, ad=stale)))
    assert not {"ExitCode", "ExitBySignal", "ExitSignal"} & set(never)
    killed = record_ad(job_record(_row(status=4, exit_signal=9, ad=stale)))
    assert (killed.eval("ExitBySignal"), killed.eval("ExitSignal")) == (True, 9)
    assert "ExitCode" not in killed
    exited = record_ad(job_record(_row(status=4, exit_code=3, ad=stale)))
    assert (exited.eval("ExitBySignal"), exited.eval("ExitCode")) == (False, 3)
    assert "ExitSignal" not in exited


def test_hot_constraints_skip_the_ad_and_agree_with_full_evaluation() -> None:
    rec = job_record(_row())
    for text, hot in [
        ("JobStatus == 5 && HoldReasonCode == 34", True),
        ('Owner == "alice" && JobPrio > 1', True),
        ("RequestCpus == 2", False),
        ('Cmd == "/bin/sleep" && JobStatus == 5', False),
    ]:
        c = Constraint(text)
        assert c.needs_full_ad is not hot, text
        assert c.matches(rec) is True, text
        assert c.matches_ad(record_ad(rec)) is True
    assert Constraint("JobStatus == 5").matches_ad(hot_ad(rec)) is True


def test_line_breaking_characters_survive() -> None:
    values = {"A": "x\x85y", "B": "p\u2028q\u2029r", "C": "\x1c\x0b"}
    for text in (format_attrs(values), format_attrs({"A": values["A"]})):
        ad = ClassAd.parse(text)
        for name in ClassAd.parse(text):
            assert ad.eval(name) == values[name]
    cluster_text, _ = encode_cluster(ClassAd({"Owner": "a", **values}), [{}])
    ad = ClassAd.parse(cluster_text)
    assert [ad.eval(n) for n in values] == list(values.values())


@settings(max_examples=150, deadline=None)
@given(st.lists(st.dictionaries(names, plain, max_size=5), min_size=1, max_size=4))
def test_encode_submit_proc_texts_read_back_through_the_parser(procs: list) -> None:  # type: ignore[type-arg]
    cluster = ClassAd({"Owner": "alice", "Cmd": "/bin/true"})
    encoded = encode_submit(cluster, procs)
    assert len(encoded.texts) == len(procs)
    for values, text in zip(procs, encoded.texts, strict=True):
        ad = ClassAd.parse(text) if text else ClassAd()
        unique = {n.lower(): v for n, v in values.items()}
        assert {n.lower() for n in ad} == set(unique)
        for name, value in unique.items():
            got = ad.eval(name)
            assert type(got) is type(value)
            assert got == value or (isinstance(got, float) and math.isclose(got, value))


def test_encode_submit_shares_hot_values_unless_a_proc_overrides_them() -> None:
    cluster = ClassAd({"Owner": "alice", "AccountingGroup": "atlas.alice", "Cmd": "/bin/x"})
    shared = encode_submit(cluster, [{"Args": "1"}, {"Args": parse('strcat("a", 2)')}])
    assert not isinstance(shared.hot, list) and shared.hot.submitter == "atlas.alice"
    assert shared.texts == ['Args = "1"', 'Args = strcat("a", 2)']
    own = encode_submit(cluster, [{"Args": "1"}, {"AccountingGroup": "cms.bob"}])
    assert isinstance(own.hot, list)
    assert [h.submitter for h in own.hot] == ["atlas.alice", "cms.bob"]
    assert [h.ad_text for h in own.hot] == own.texts
    # Names that must be quoted, and keywords, take the general path.
    odd = encode_submit(cluster, [{"true": 1, "a-b": 2}])
    back = ClassAd.parse(odd.texts[0])
    assert back.eval("true") == 1 and back.eval("a-b") == 2
