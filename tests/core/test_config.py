"""The negotiator config: TOML tables to frozen settings, errors that name the key."""

from __future__ import annotations

import pytest

from skyflock.core.config import ConfigError, negotiator_config, parse_config_text

TOML = """
[negotiator]
halflife = 3600
default_priority_factor = 100
memory_quantum = 256
slot_weight = "Cpus + GPUs * 10"
priority_preemption = false

[groups.atlas]
quota = 600
accept_surplus = true

[groups.atlas.prod]
dynamic_quota = 0.75

[groups."cms"]
dynamic_quota = 0.25
priority_factor = 500

[submitters."atlas.prod.alice"]
priority_factor = 10
floor = 4
ceiling = 100
"""


def test_a_full_config_is_read() -> None:
    config = negotiator_config(parse_config_text(TOML))
    assert config.halflife == 3600.0
    assert config.default_priority_factor == 100.0
    assert config.memory_quantum == 256
    assert config.slot_weight == "Cpus + GPUs * 10"
    assert config.priority_preemption is False
    assert [g.name for g in config.groups] == ["atlas", "atlas.prod", "cms"]
    atlas = config.group("atlas")
    assert atlas is not None and atlas.quota == 600.0 and atlas.accept_surplus
    prod = config.group("atlas.prod")
    assert prod is not None and prod.dynamic_quota == 0.75 and not prod.accept_surplus
    alice = config.submitter("atlas.prod.alice")
    assert alice is not None and (alice.priority_factor, alice.floor, alice.ceiling) == (10, 4, 100)


def test_defaults() -> None:
    config = negotiator_config({})
    assert (config.halflife, config.min_priority, config.default_priority_factor) == (
        86400.0,
        0.5,
        1000.0,
    )
    assert config.slot_weight == "Cpus" and config.groups == () and config.submitters == ()


@pytest.mark.parametrize(
    ("data", "names"),
    [
        ({"negotiator": {"halflife": "a day"}}, "negotiator.halflife"),
        ({"negotiator": {"halflife": -1}}, "negotiator.halflife"),
        ({"negotiator": {"memory_quantum": 0}}, "negotiator.memory_quantum"),
        ({"negotiator": {"memory_quantum": 1.5}}, "negotiator.memory_quantum"),
        ({"negotiator": {"rank_preemption": "yes"}}, "negotiator.rank_preemption"),
        ({"negotiator": {"slot_weight": 3}}, "negotiator.slot_weight"),
        ({"negotiator": {"preemption_rank": "1 +"}}, "negotiator.preemption_rank"),
        ({"negotiator": 5}, "negotiator"),
        ({"groups": {"atlas": {"quota": 1, "dynamic_quota": 0.5}}}, "groups.atlas"),
        ({"groups": {"atlas": {"dynamic_quota": 1.5}}}, "groups.atlas.dynamic_quota"),
        ({"groups": {"atlas": {"quota": -3}}}, "groups.atlas.quota"),
        ({"groups": {"atlas": {"accept_surplus": 1}}}, "groups.atlas.accept_surplus"),
        ({"groups": {"atlas": {"prod": {"quotas": 3}}}}, "groups.atlas.prod"),
        ({"groups": {"atlas": 3}}, "groups.atlas"),
        ({"groups": []}, "groups"),
        ({"submitters": {"bob": {"floor": "x"}}}, "submitters.bob.floor"),
        ({"submitters": {"bob": {"weight": 2}}}, "submitters.bob"),
        ({"submitters": {"bob": 1}}, "submitters.bob"),
    ],
)
def test_errors_name_the_key(data: dict[str, object], names: str) -> None:
    with pytest.raises(ConfigError) as info:
        negotiator_config(data)
    assert str(info.value).startswith(f"{names}:") or str(info.value).startswith(f"{names}.")
    assert names in str(info.value)


def test_toml_syntax_error_names_the_source() -> None:
    with pytest.raises(ConfigError, match=r"^skyflock.toml: .*line 1"):
        parse_config_text("[negotiator\n", "skyflock.toml")
