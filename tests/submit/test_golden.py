"""Golden submit descriptions: each tests/submit/golden/NAME.sub with NAME.json,
the job ads (HTCondor JSON form) and warnings it must give.

Set SKYFLOCK_UPDATE_GOLDEN=1 to rewrite the .json files; review the diff
against HTCondor's documented behaviour before committing it.
"""

from __future__ import annotations

import json
import os

import pytest

from skyflock.classad import ClassAd
from skyflock.submit import parse_submit_with_warnings
from tests.submit.conftest import BASE, ENVIRON, GOLDEN, memory_files

SUBMIT_FILES = sorted(GOLDEN.glob("*.sub"))


def render(name: str) -> dict[str, object]:
    text = (GOLDEN / name).read_text(encoding="utf-8")
    result = parse_submit_with_warnings(
        text,
        base_dir=BASE,
        filename=name,
        environ=ENVIRON,
        owner="alice",
        files=memory_files(GOLDEN),
        cluster_id=1,
    )
    return {
        "warnings": [str(w) for w in result.warnings],
        "jobs": [json.loads(ad.format("json")) for ad in result.jobs],
    }


def test_there_are_enough_golden_files() -> None:
    assert len(SUBMIT_FILES) >= 30


@pytest.mark.parametrize("path", SUBMIT_FILES, ids=[p.stem for p in SUBMIT_FILES])
def test_golden(path: os.PathLike[str]) -> None:
    name = os.path.basename(path)
    got = render(name)
    golden = GOLDEN / name.replace(".sub", ".json")
    if os.environ.get("SKYFLOCK_UPDATE_GOLDEN") == "1":
        golden.write_text(json.dumps(got, indent=1) + "\n", encoding="utf-8")
    assert golden.exists(), f"no golden file {golden.name}; run with SKYFLOCK_UPDATE_GOLDEN=1"
    assert got == json.loads(golden.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", SUBMIT_FILES[:10], ids=[p.stem for p in SUBMIT_FILES[:10]])
def test_job_ads_survive_the_json_round_trip(path: os.PathLike[str]) -> None:
    for job in render(os.path.basename(path))["jobs"]:  # type: ignore[attr-defined]
        ad = ClassAd.parse(json.dumps(job))
        assert json.loads(ad.format("json")) == job
