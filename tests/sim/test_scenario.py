"""Scenario loading: every key read, every mistake named with its YAML line."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from skyflock.core.model import NO_GROUP
from skyflock.sim.scenario import ScenarioError, load_scenario, parse_duration, parse_mebibytes

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sim"

GOOD = """\
name: tiny
duration: 1d
cycle_interval: 2m
seed: 3
config:
  negotiator:
    halflife: 3600
groups:
  atlas: {quota: 8, accept_surplus: true}
  atlas.prod: {dynamic: 0.5}
clusters:
  - name: t1
    tier: 1
    machines: 2
    cpus: 8
    memory: 32G
    gpus: 1
    labels: {Site: CERN, HasSSD: true}
    start: 'TARGET.RequestCpus <= 8'
submitters:
  - {name: alice, group: atlas.prod, prio_factor: 10, ceiling: 6}
  - {name: bob}
workload:
  - submitter: alice
    count: 10
    at: 1h
    spread: 2h
    runtime: {distribution: uniform, min: 10m, max: 20m}
    request_cpus: 2
    request_memory: 3000
    requirements: 'Tier == 1'
    job_prio: 5
  - submitter: bob
    count: 1
    runtime: 30m
failures:
  - {cluster: t1, at: 12h, duration: 1h}
"""


def test_a_full_scenario_is_read() -> None:
    sc = load_scenario(GOOD, "tiny.yaml")
    assert (sc.name, sc.duration, sc.cycle_interval, sc.seed) == ("tiny", 86_400, 120, 3)
    assert sc.config.halflife == 3600
    prod = sc.config.group("atlas.prod")
    assert prod is not None and prod.dynamic_quota == 0.5
    (t1,) = sc.clusters
    assert (t1.machines, t1.cpus, t1.memory, t1.gpus, t1.tier) == (2, 8, 32 * 1024, 1, 1)
    assert t1.labels == {"Site": "CERN", "HasSSD": True}
    alice = sc.submitter("alice")
    assert alice.accounting_name == "atlas.prod.alice"
    configured = sc.config.submitter("atlas.prod.alice")
    assert configured is not None and configured.priority_factor == 10 and configured.ceiling == 6
    first, second = sc.workload
    assert (first.count, first.at, first.spread, first.request_cpus, first.job_prio) == (
        10,
        3600,
        7200,
        2,
        5,
    )
    assert (first.runtime.distribution, first.runtime.low, first.runtime.high) == (
        "uniform",
        600,
        1200,
    )
    assert second.runtime.distribution == "fixed" and second.runtime.mean == 1800
    assert sc.failures[0].cluster == "t1" and sc.failures[0].duration == 3600


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_examples_load(path: Path) -> None:
    sc = load_scenario(path.read_text(), str(path))
    assert sc.workload and sc.clusters


def test_the_cern_example_has_what_the_issue_asks_for() -> None:
    sc = load_scenario((EXAMPLES / "cern-burst.yaml").read_text())
    tiers = sorted(c.tier for c in sc.clusters)
    assert tiers[0] == 1 and tiers[-1] == 2
    top = {g.name.split(".")[0] for g in sc.config.groups}
    assert {"atlas", "cms", "lhcb"} <= top
    assert sc.duration == 7 * 86_400
    assert sum(c.machines * c.cpus for c in sc.clusters) <= 10_000


def _replace(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


BAD = [
    (_replace("duration: 1d", "duration: soon"), 2, "duration", "duration"),
    (_replace("duration: 1d\n", ""), 1, "scenario", "missing required key 'duration'"),
    (_replace("cycle_interval: 2m", "cycle_interval: 0"), 3, "cycle_interval", "longer than zero"),
    (
        _replace("    halflife: 3600", "    halflife: -1"),
        7,
        "config.negotiator.halflife",
        "at least",
    ),
    (
        _replace("    halflife: 3600", "    halflfe: 3600"),
        7,
        "config.negotiator.halflfe",
        "unknown",
    ),
    (
        _replace("atlas.prod: {dynamic: 0.5}", "atlas.prod: {dynamic: 2}"),
        10,
        "groups.atlas.prod.dynamic_quota",
        "fraction",
    ),
    (_replace("    machines: 2", "    machines: two"), 14, "clusters[0].machines", "whole number"),
    (_replace("    memory: 32G", "    memory: lots"), 16, "clusters[0].memory", "MiB"),
    (_replace("    tier: 1\n", "    tierr: 1\n"), 13, "clusters[0].tierr", "unknown key"),
    (
        _replace("'TARGET.RequestCpus <= 8'", "'TARGET.RequestCpus <= '"),
        19,
        "clusters[0].start",
        "bad ClassAd expression",
    ),
    (
        _replace("group: atlas.prod,", "group: atlas.test,"),
        21,
        "submitters[0].group",
        "no group 'atlas.test'",
    ),
    (
        _replace("  - submitter: bob", "  - submitter: carol"),
        33,
        "workload[1].submitter",
        "no submitter 'carol'",
    ),
    (_replace("    count: 10", "    count: 0"), 25, "workload[0].count", "at least 1"),
    (
        _replace("{distribution: uniform, min: 10m, max: 20m}", "{distribution: normal, mean: 1h}"),
        28,
        "workload[0].runtime.distribution",
        "exponential",
    ),
    (
        _replace("requirements: 'Tier == 1'", "requirements: 'Tier == == 1'"),
        31,
        "workload[0].requirements",
        "bad ClassAd expression",
    ),
    (
        _replace("{cluster: t1, at", "{cluster: t9, at"),
        37,
        "failures[0].cluster",
        "no cluster 't9'",
    ),
    (GOOD + "extra: 1\n", 38, "extra", "unknown key"),
    (_replace("  - {name: bob}", "  - {name: alice}"), 22, "submitters[1].name", "defined twice"),
]


@pytest.mark.parametrize(("text", "line", "key", "message"), BAD, ids=[b[2] for b in BAD])
def test_mistakes_name_the_key_and_line(text: str, line: int, key: str, message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(text, "s.yaml")
    error = str(info.value)
    assert error.startswith(f"s.yaml:{line}: {key}: "), error
    assert message in error


def test_yaml_syntax_error_names_the_line() -> None:
    with pytest.raises(ScenarioError, match=r"^s.yaml:3: not valid YAML"):
        load_scenario("duration: 1d\nclusters: []\n  bad: indent\n", "s.yaml")


def test_a_document_that_is_not_a_mapping() -> None:
    with pytest.raises(ScenarioError, match="expected a mapping"):
        load_scenario("- 1\n- 2\n", "s.yaml")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (90, 90.0),
        ("90", 90.0),
        ("30s", 30.0),
        ("5m", 300.0),
        ("2h", 7200.0),
        ("7d", 604_800.0),
        ("1w", 604_800.0),
        ("1d12h", 129_600.0),
        ("1.5h", 5400.0),
        ("soon", None),
        ("-5", None),
        (True, None),
        ("", None),
        ("5 parsecs", None),
    ],
)
def test_durations(text: object, seconds: float | None) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "mib"),
    [
        (4096, 4096),
        ("4096", 4096),
        ("4G", 4096),
        ("4GiB", 4096),
        ("512M", 512),
        ("1T", 1_048_576),
        ("1.5G", 1536),
        ("lots", None),
        (-1, None),
    ],
)
def test_sizes(text: object, mib: int | None) -> None:
    assert parse_mebibytes(text) == mib


def test_infinite_failure_and_ungrouped_submitters() -> None:
    sc = load_scenario(_replace("{cluster: t1, at: 12h, duration: 1h}", "{cluster: t1, at: 12h}"))
    assert math.isinf(sc.failures[0].duration)
    assert sc.submitter("bob").accounting_name == "bob"
    assert NO_GROUP not in {g.name for g in sc.config.groups}
