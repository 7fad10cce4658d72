"""Negotiator and accounting settings, read from the `[negotiator]`, `[groups]`
and `[submitters]` tables of skyflock's TOML config (and a simulator scenario's
`config:` key, which has the same shape).

Pure: it turns an already-parsed mapping into frozen dataclasses and names the
offending key in every error. `docs/config.md` documents each key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any


class ConfigError(ValueError):
    """A config value a person must fix; the message names the key."""


@dataclass(frozen=True, slots=True)
class GroupConfig:
    """One hierarchical accounting group (`atlas`, `atlas.prod`, ...).

    Exactly one of `quota` (static, in slot-weight units: cores by default) and
    `dynamic_quota` (a fraction of the parent's quota) may be set; neither
    means the group has no quota of its own and lives on surplus.
    """

    name: str
    quota: float | None = None
    dynamic_quota: float | None = None
    accept_surplus: bool = False
    priority_factor: float | None = None


@dataclass(frozen=True, slots=True)
class SubmitterConfig:
    """Configured defaults for one submitter; `userprio` settings override them."""

    name: str
    priority_factor: float | None = None
    floor: float | None = None
    ceiling: float | None = None


@dataclass(frozen=True, slots=True)
class NegotiatorConfig:
    interval: float = 5.0
    """Seconds between negotiation cycles (a submit or a job's end also triggers one)."""
    memory_quantum: int = 128
    """Dynamic slots' memory is rounded up to a multiple of this (MiB)."""
    halflife: float = 86_400.0
    """Half-life of decayed usage, seconds (HTCondor's PRIORITY_HALFLIFE)."""
    default_priority_factor: float = 1_000.0
    min_priority: float = 0.5
    slot_weight: str = "Cpus"
    """ClassAd expression over a dynamic slot: the usage one claim costs per second."""
    preemption_requirements: str = (
        "RemoteUserResourcesInUse > RemoteUserFairShare * 1.2"
        " && RemoteUserPrio > SubmitterUserPrio && TotalJobRunTime >= 600"
    )
    """When may a running job be preempted for a better-priority submitter: its
    submitter holds 20% more than its fair share, has a worse priority than the
    new job's submitter, and the job has run 10 minutes (docs/negotiation.md)."""
    preemption_rank: str = "RemoteUserPrio * 1000000 - TotalJobRunTime"
    """Among candidate victims, higher rank is preempted first."""
    pre_job_rank: str = "(MY.RemoteOwner =?= undefined) * 1000000000 - MY.Tier * 1000000"
    """Slot ordering before the job's Rank: unclaimed first, low Tier. Best fit
    (least remaining resources) is built in right after it; a rank that reads a
    slot's remaining resources forces the slow path (docs/negotiation.md)."""
    post_job_rank: str = "0"
    """Slot ordering after the job's Rank."""
    priority_preemption: bool = True
    rank_preemption: bool = True
    groups: tuple[GroupConfig, ...] = ()
    submitters: tuple[SubmitterConfig, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Keys of `[negotiator]` this version does not know (kept to warn about)."""

    def group(self, name: str) -> GroupConfig | None:
        for group in self.groups:
            if group.name == name:
                return group
        return None

    def submitter(self, name: str) -> SubmitterConfig | None:
        for submitter in self.submitters:
            if submitter.name == name:
                return submitter
        return None


_NUMBER = (int, float)


def _number(where: str, value: Any, *, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, _NUMBER):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{where}: must be at least {minimum}, got {value!r}")
    return float(value)


def _check_expression(where: str, text: str) -> None:
    from skyflock.classad import ClassAdSyntaxError, parse

    try:
        parse(text)
    except ClassAdSyntaxError as exc:
        raise ConfigError(f"{where}: bad ClassAd expression: {exc}") from None


def _optional_number(where: str, value: Any) -> float | None:
    return None if value is None else _number(where, value, minimum=0)


def _group(name: str, raw: Any) -> GroupConfig:
    where = f"groups.{name}"
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a table")
    known = {"quota", "dynamic_quota", "accept_surplus", "priority_factor"}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r} (known: {sorted(known)})")
    quota = _optional_number(f"{where}.quota", raw.get("quota"))
    dynamic = _optional_number(f"{where}.dynamic_quota", raw.get("dynamic_quota"))
    if quota is not None and dynamic is not None:
        raise ConfigError(f"{where}: set either quota or dynamic_quota, not both")
    if dynamic is not None and dynamic > 1:
        raise ConfigError(f"{where}.dynamic_quota: a fraction of the parent, 0..1, got {dynamic}")
    surplus = raw.get("accept_surplus", False)
    if not isinstance(surplus, bool):
        raise ConfigError(f"{where}.accept_surplus: expected true or false, got {surplus!r}")
    factor = _optional_number(f"{where}.priority_factor", raw.get("priority_factor"))
    return GroupConfig(name, quota, dynamic, surplus, factor)


def _submitter(name: str, raw: Any) -> SubmitterConfig:
    where = f"submitters.{name}"
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a table")
    known = {"priority_factor", "floor", "ceiling"}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r} (known: {sorted(known)})")
    return SubmitterConfig(
        name,
        _optional_number(f"{where}.priority_factor", raw.get("priority_factor")),
        _optional_number(f"{where}.floor", raw.get("floor")),
        _optional_number(f"{where}.ceiling", raw.get("ceiling")),
    )


def _flatten_groups(raw: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Accept both `[groups."atlas.prod"]` and nested `[groups.atlas.prod]` tables."""
    out: dict[str, Any] = {}
    settings = {"quota", "dynamic_quota", "accept_surplus", "priority_factor"}
    for key, value in raw.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            own = {k: v for k, v in value.items() if k in settings or not isinstance(v, Mapping)}
            out[name] = own
            nested = {k: v for k, v in value.items() if k not in own}
            out.update(_flatten_groups(nested, f"{name}."))
        else:
            raise ConfigError(f"groups.{name}: expected a table")
    return out


def negotiator_config(data: Mapping[str, Any]) -> NegotiatorConfig:
    """Build the config from a parsed TOML document (or a scenario's `config:`)."""
    raw = data.get("negotiator", {})
    if not isinstance(raw, Mapping):
        raise ConfigError("negotiator: expected a table")
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    scalar = {f.name: f for f in fields(NegotiatorConfig)}
    for key, value in raw.items():
        where = f"negotiator.{key}"
        if key in {"groups", "submitters", "extra"} or key not in scalar:
            extra[key] = value
            continue
        default = scalar[key].default
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: expected true or false, got {value!r}")
            values[key] = value
        elif isinstance(default, str):
            if not isinstance(value, str):
                raise ConfigError(f"{where}: expected a ClassAd expression as a string")
            _check_expression(where, value)
            values[key] = value
        elif isinstance(default, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(f"{where}: expected a whole number, got {value!r}")
            values[key] = int(_number(where, value, minimum=1))
        else:
            values[key] = _number(where, value, minimum=0)
    groups_raw = data.get("groups", {})
    if not isinstance(groups_raw, Mapping):
        raise ConfigError("groups: expected a table of groups")
    groups = tuple(_group(n, g) for n, g in sorted(_flatten_groups(groups_raw).items()))
    subs_raw = data.get("submitters", {})
    if not isinstance(subs_raw, Mapping):
        raise ConfigError("submitters: expected a table of submitters")
    submitters = tuple(_submitter(n, s) for n, s in sorted(subs_raw.items()))
    return NegotiatorConfig(**values, groups=groups, submitters=submitters, extra=extra)


def parse_config_text(text: str, source: str = "config") -> dict[str, Any]:
    """Parse TOML text, turning syntax errors into a ConfigError naming the source."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: {exc}") from None
