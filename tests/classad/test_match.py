"""symmetric_match and rank_of, checked against HTCondor's library."""

from __future__ import annotations

import pytest

from skyflock.classad import ClassAd, rank_of, symmetric_match

classad2 = pytest.importorskip("classad2")

# Fully scoped references: HTCondor's Python bindings do not look in TARGET for
# an unscoped name missing from MY, which we do (test_unscoped_names_fall_back).
SLOT = '[ Arch = "X86_64"; OpSys = "LINUX"; Memory = 4096; Cpus = 4; Mips = 1000; Requirements = TARGET.RequestMemory <= Memory && TARGET.Owner =!= "mallory"; Rank = TARGET.Owner == "alice" ? 10 : 0 ]'

JOBS = [
    '[ Owner = "alice"; RequestMemory = 2048; Requirements = TARGET.Memory >= RequestMemory && TARGET.Arch == "x86_64"; Rank = TARGET.Mips ]',
    '[ Owner = "bob"; RequestMemory = 8192; Requirements = TARGET.Memory >= RequestMemory; Rank = TARGET.Memory / 1024.0 ]',
    '[ Owner = "mallory"; RequestMemory = 1; Requirements = true; Rank = "high" ]',
    '[ Owner = "carol"; RequestMemory = 1; Requirements = TARGET.Gpus > 0 ]',
    '[ Owner = "dave"; RequestMemory = 1; Rank = 3 ]',
    '[ Owner = "erin"; RequestMemory = 1; Requirements = TARGET.Cpus >= 4 && TARGET.Disk =?= undefined; Rank = undefined ]',
    '[ Owner = "frank"; RequestMemory = 1; Requirements = 1; Rank = true ]',
]


@pytest.mark.parametrize("job_text", JOBS)
def test_symmetric_match_agrees_with_htcondor(job_text: str) -> None:
    ours = symmetric_match(ClassAd.parse(job_text), ClassAd.parse(SLOT))
    theirs = classad2.ClassAd(job_text).symmetricMatch(classad2.ClassAd(SLOT))
    assert ours == theirs
    assert symmetric_match(ClassAd.parse(SLOT), ClassAd.parse(job_text)) == ours


@pytest.mark.parametrize("job_text", JOBS)
def test_rank_agrees_with_htcondor(job_text: str) -> None:
    c_job, c_slot = classad2.ClassAd(job_text), classad2.ClassAd(SLOT)
    value = classad2.ExprTree("Rank").eval(c_job, c_slot) if "Rank" in c_job else None
    expected = float(value) if type(value) in (int, float, bool) else 0.0
    assert rank_of(ClassAd.parse(job_text), ClassAd.parse(SLOT)) == expected


def test_expected_results() -> None:
    slot = ClassAd.parse(SLOT)
    assert [symmetric_match(ClassAd.parse(j), slot) for j in JOBS] == [
        True,
        False,
        False,
        False,
        False,
        True,
        True,
    ]
    assert rank_of(slot, ClassAd.parse(JOBS[0])) == 10.0
    assert rank_of(ClassAd.parse(JOBS[0]), slot) == 1000.0


def test_unscoped_names_fall_back_to_the_target() -> None:
    job = ClassAd.parse("[ RequestMemory = 10; Requirements = Memory >= RequestMemory ]")
    slot = ClassAd.parse("[ Memory = 20; Requirements = RequestMemory < Memory ]")
    assert symmetric_match(job, slot)
    slot["Memory"] = 5
    assert not symmetric_match(job, slot)


def test_rank_of_non_numbers_is_zero() -> None:
    slot = ClassAd.parse(SLOT)
    for rank in ('"high"', "undefined", "error", "{1}", "[a = 1]"):
        assert rank_of(ClassAd.parse(f"[ Rank = {rank} ]"), slot) == 0.0
    assert rank_of(ClassAd(), slot) == 0.0
