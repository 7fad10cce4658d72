"""Simulator scenarios: a YAML description of a federation and its workload,
checked key by key into frozen dataclasses.

A scenario names the simulated span (`duration`), the negotiation period
(`cycle_interval`), the negotiator `config` (the same keys as the TOML config
file), `clusters` of identical machines, accounting `groups`, `submitters`,
the `workload` (batches of jobs arriving at or spread after a time) and
`failures` (a cluster down for a while). Every mistake raises one
`ScenarioError` naming the key and, when the YAML is at hand, its line.

Neighbours: `sim.engine` runs a `Scenario`; `core.config` turns the `config`,
`groups` and `submitters` keys into the negotiator's settings;
`cli.simulate_cmd` reads the file and prints the error. `docs/simulator.md`
documents every key; `examples/sim/` shows them in use.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from skyflock.core.config import ConfigError, NegotiatorConfig, negotiator_config


class ScenarioError(ValueError):
    """A scenario mistake; the message names the key (and line when known)."""


# ---------------------------------------------------------------------------
# the model


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    name: str
    tier: int
    machines: int
    cpus: int
    memory: int
    """MiB per machine."""
    disk: int
    """KiB per machine."""
    gpus: int
    labels: Mapping[str, str | int | float | bool] = field(default_factory=dict)
    start: str = "true"
    """The machines' `Start` expression (ClassAd source)."""


@dataclass(frozen=True, slots=True)
class SubmitterSpec:
    name: str
    group: str | None = None
    prio_factor: float | None = None
    floor: float | None = None
    ceiling: float | None = None

    @property
    def accounting_name(self) -> str:
        """The fair-share unit: `group.name` in a group, else the plain name."""
        return f"{self.group}.{self.name}" if self.group else self.name


@dataclass(frozen=True, slots=True)
class Runtime:
    """How long a job runs: `fixed` (mean), `exponential` (mean) or `uniform` (low..high)."""

    distribution: str
    mean: float
    low: float = 0.0
    high: float = 0.0


@dataclass(frozen=True, slots=True)
class WorkloadSpec:
    submitter: str
    count: int
    at: float
    spread: float
    runtime: Runtime
    request_cpus: int = 1
    request_memory: int = 2048
    request_disk: int = 1_048_576
    request_gpus: int = 0
    requirements: str = "true"
    rank: str = "0"
    job_prio: int = 0


@dataclass(frozen=True, slots=True)
class FailureSpec:
    cluster: str
    at: float
    duration: float
    """math.inf: the cluster never comes back."""


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    duration: float
    cycle_interval: float
    seed: int
    config: NegotiatorConfig
    clusters: tuple[ClusterSpec, ...]
    submitters: tuple[SubmitterSpec, ...]
    workload: tuple[WorkloadSpec, ...]
    failures: tuple[FailureSpec, ...] = ()
    sample_interval: float = 0.0
    """Seconds between time-series samples for the plot (0: every cycle)."""

    def submitter(self, name: str) -> SubmitterSpec:
        for spec in self.submitters:
            if spec.name == name:
                return spec
        raise KeyError(name)


# ---------------------------------------------------------------------------
# YAML with line numbers


def _line_index(text: str) -> dict[tuple[str, ...], int]:
    """Map each key path ("workload", "3", "runtime") to its 1-based YAML line."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return {}
    lines: dict[tuple[str, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[str, ...]) -> None:
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = (*path, str(key.value))
                lines[sub] = key.start_mark.line + 1
                walk(value, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, str(i)))

    if root is not None:
        walk(root, ())
    return lines


class _Reader:
    """Typed access to the parsed document; errors name the dotted key and its line."""

    def __init__(self, source: str, lines: Mapping[tuple[str, ...], int]) -> None:
        self.source = source
        self.lines = lines

    def fail(self, path: tuple[str | int, ...], message: str) -> ScenarioError:
        keys = tuple(str(p) for p in path)
        line = None
        for end in range(len(keys), -1, -1):
            line = self.lines.get(keys[:end])
            if line is not None:
                break
        where = _dotted(path) or "scenario"
        at = f"{self.source}:{line}: " if line is not None else f"{self.source}: "
        return ScenarioError(f"{at}{where}: {message}")

    def mapping(self, path: tuple[str | int, ...], value: Any) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(path, f"expected a mapping, got {_kind(value)}")
        return value

    def sequence(self, path: tuple[str | int, ...], value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(path, f"expected a list, got {_kind(value)}")
        return value

    def known(self, path: tuple[str | int, ...], value: Mapping[str, Any], keys: set[str]) -> None:
        for key in value:
            if key not in keys:
                raise self.fail((*path, key), f"unknown key (known: {', '.join(sorted(keys))})")

    def required(self, path: tuple[str | int, ...], value: Mapping[str, Any], key: str) -> Any:
        if key not in value or value[key] is None:
            raise self.fail(path, f"missing required key {key!r}")
        return value[key]

    def string(self, path: tuple[str | int, ...], value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(path, f"expected a non-empty string, got {_kind(value)}")
        return value

    def integer(self, path: tuple[str | int, ...], value: Any, minimum: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"expected a whole number, got {_kind(value)}")
        if value < minimum:
            raise self.fail(path, f"must be at least {minimum}, got {value}")
        return value

    def number(self, path: tuple[str | int, ...], value: Any, minimum: float = 0.0) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise self.fail(path, f"expected a number, got {_kind(value)}")
        if value < minimum:
            raise self.fail(path, f"must be at least {minimum:g}, got {value}")
        return float(value)

    def duration(self, path: tuple[str | int, ...], value: Any, *, positive: bool = False) -> float:
        seconds = parse_duration(value)
        if seconds is None:
            raise self.fail(
                path, f"expected a duration like 90, 30s, 5m, 2h, 7d or 1w, got {value!r}"
            )
        if positive and seconds <= 0:
            raise self.fail(path, "must be longer than zero")
        return seconds

    def megabytes(self, path: tuple[str | int, ...], value: Any) -> int:
        mib = parse_mebibytes(value)
        if mib is None:
            raise self.fail(
                path, f"expected MiB as a number or a size like 4G or 512M, got {value!r}"
            )
        return mib

    def expression(self, path: tuple[str | int, ...], value: Any) -> str:
        text = value if isinstance(value, str) else None
        if isinstance(value, bool):
            text = "true" if value else "false"
        if text is None:
            raise self.fail(path, f"expected a ClassAd expression as a string, got {_kind(value)}")
        from skyflock.classad import ClassAdSyntaxError, parse

        try:
            parse(text)
        except ClassAdSyntaxError as exc:
            raise self.fail(path, f"bad ClassAd expression: {exc}") from None
        return text


def _dotted(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([a-z]*)")
_UNITS = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_duration(value: Any) -> float | None:
    """Seconds from 90, "90", "30s", "5m", "2h", "7d", "1w" or "1d12h"; None if not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value >= 0 and math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    text = re.sub(r"\s+", "", value.lower())
    if not text or not re.fullmatch(r"(?:\d+(?:\.\d+)?[a-z]*)+", text):
        return None
    total = 0.0
    for number, unit in _DURATION_PART.findall(text):
        if unit not in _UNITS:
            return None
        total += float(number) * _UNITS[unit]
    return total


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)
_SIZE_MIB = {"b": 1 / 2**20, "k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}


def parse_mebibytes(value: Any) -> int | None:
    """MiB from 4096, "4096", "4G", "4GiB", "512M"; None if not a size."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return math.ceil(value) if value >= 0 and math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    match = _SIZE.match(value)
    if match is None:
        return None
    unit = (match.group(2) or "m")[0].lower()
    return math.ceil(float(match.group(1)) * _SIZE_MIB[unit])


# ---------------------------------------------------------------------------
# the keys

_TOP = {
    "name",
    "description",
    "duration",
    "cycle_interval",
    "seed",
    "sample_interval",
    "config",
    "clusters",
    "groups",
    "submitters",
    "workload",
    "failures",
}
_CLUSTER = {"name", "tier", "machines", "cpus", "memory", "disk", "gpus", "labels", "start"}
_SUBMITTER = {"name", "group", "prio_factor", "floor", "ceiling"}
_WORK = {
    "submitter",
    "count",
    "at",
    "spread",
    "runtime",
    "request_cpus",
    "request_memory",
    "request_disk",
    "request_gpus",
    "requirements",
    "rank",
    "job_prio",
}
_FAILURE = {"cluster", "at", "duration"}
_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def load_scenario(text: str, source: str = "scenario") -> Scenario:
    """Parse and check a YAML scenario; raises ScenarioError naming the key and line."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(f"{where}: not valid YAML: {problem}") from None
    return build_scenario(data, source, _line_index(text))


def build_scenario(
    data: Any, source: str = "scenario", lines: Mapping[tuple[str, ...], int] | None = None
) -> Scenario:
    """Check an already-parsed scenario document."""
    r = _Reader(source, lines or {})
    doc = r.mapping((), data if data is not None else None)
    r.known((), doc, _TOP)
    duration = r.duration(("duration",), r.required((), doc, "duration"), positive=True)
    cycle = r.duration(("cycle_interval",), doc.get("cycle_interval", 300), positive=True)
    seed = r.integer(("seed",), doc.get("seed", 0))
    sample = r.duration(("sample_interval",), doc.get("sample_interval", 0))
    name = doc.get("name", source)
    if not isinstance(name, str):
        raise r.fail(("name",), f"expected a string, got {_kind(name)}")

    clusters = _clusters(r, doc)
    submitters = _submitters(r, doc)
    config = _config(r, doc, submitters)
    known_groups = {g.name for g in config.groups}
    for i, spec in enumerate(submitters):
        if spec.group is not None and spec.group not in known_groups:
            raise r.fail(("submitters", i, "group"), f"no group {spec.group!r} is configured")
    workload = _workload(r, doc, {s.name for s in submitters})
    failures = _failures(r, doc, {c.name for c in clusters})
    return Scenario(
        name=name,
        duration=duration,
        cycle_interval=cycle,
        seed=seed,
        config=config,
        clusters=clusters,
        submitters=submitters,
        workload=workload,
        failures=failures,
        sample_interval=sample,
    )


def _clusters(r: _Reader, doc: Mapping[str, Any]) -> tuple[ClusterSpec, ...]:
    raw = r.sequence(("clusters",), r.required((), doc, "clusters"))
    if not raw:
        raise r.fail(("clusters",), "needs at least one cluster")
    out: list[ClusterSpec] = []
    for i, item in enumerate(raw):
        p: tuple[str | int, ...] = ("clusters", i)
        c = r.mapping(p, item)
        r.known(p, c, _CLUSTER)
        name = r.string((*p, "name"), r.required(p, c, "name"))
        if any(s.name == name for s in out):
            raise r.fail((*p, "name"), f"cluster {name!r} is defined twice")
        labels_raw = r.mapping((*p, "labels"), c.get("labels", {}) or {})
        labels: dict[str, str | int | float | bool] = {}
        for key, value in labels_raw.items():
            if not isinstance(key, str) or not _LABEL.match(key):
                raise r.fail(
                    (*p, "labels", str(key)), "a label name must be a ClassAd attribute name"
                )
            if not isinstance(value, str | int | float | bool):
                raise r.fail(
                    (*p, "labels", key), f"expected a string or number, got {_kind(value)}"
                )
            labels[key] = value
        out.append(
            ClusterSpec(
                name=name,
                tier=r.integer((*p, "tier"), c.get("tier", 1)),
                machines=r.integer((*p, "machines"), r.required(p, c, "machines"), minimum=1),
                cpus=r.integer((*p, "cpus"), r.required(p, c, "cpus"), minimum=1),
                memory=r.megabytes((*p, "memory"), r.required(p, c, "memory")),
                disk=r.megabytes((*p, "disk"), c.get("disk", "100G")) * 1024,
                gpus=r.integer((*p, "gpus"), c.get("gpus", 0)),
                labels=labels,
                start=r.expression((*p, "start"), c.get("start", "true")),
            )
        )
    return tuple(out)


def _submitters(r: _Reader, doc: Mapping[str, Any]) -> tuple[SubmitterSpec, ...]:
    raw = r.sequence(("submitters",), doc.get("submitters", []) or [])
    out: list[SubmitterSpec] = []
    for i, item in enumerate(raw):
        p: tuple[str | int, ...] = ("submitters", i)
        s = r.mapping(p, item)
        r.known(p, s, _SUBMITTER)
        name = r.string((*p, "name"), r.required(p, s, "name"))
        if any(o.name == name for o in out):
            raise r.fail((*p, "name"), f"submitter {name!r} is defined twice")
        group = s.get("group")
        if group is not None:
            group = r.string((*p, "group"), group)

        def opt(key: str, s: Mapping[str, Any] = s, p: tuple[str | int, ...] = p) -> float | None:
            return None if s.get(key) is None else r.number((*p, key), s[key])

        out.append(SubmitterSpec(name, group, opt("prio_factor"), opt("floor"), opt("ceiling")))
    return tuple(out)


def _config(
    r: _Reader, doc: Mapping[str, Any], submitters: tuple[SubmitterSpec, ...]
) -> NegotiatorConfig:
    """Merge `config`, the top-level `groups` and the submitters' settings into one config."""
    raw = dict(r.mapping(("config",), doc.get("config", {}) or {}))
    for key in raw:
        if key not in {"negotiator", "groups", "submitters"}:
            raise r.fail(("config", key), "unknown table (known: groups, negotiator, submitters)")
    groups = dict(r.mapping(("config", "groups"), raw.get("groups", {}) or {}))
    top_groups = r.mapping(("groups",), doc.get("groups", {}) or {})
    for name, value in top_groups.items():
        if name in groups:
            raise r.fail(("groups", name), "group is also defined under config.groups")
        if isinstance(value, Mapping) and "dynamic" in value:  # a short spelling
            value = {("dynamic_quota" if k == "dynamic" else k): v for k, v in value.items()}
        groups[name] = value
    subs = dict(r.mapping(("config", "submitters"), raw.get("submitters", {}) or {}))
    for spec in submitters:
        settings = {
            k: v
            for k, v in (
                ("priority_factor", spec.prio_factor),
                ("floor", spec.floor),
                ("ceiling", spec.ceiling),
            )
            if v is not None
        }
        if settings:
            subs[spec.accounting_name] = {**subs.get(spec.accounting_name, {}), **settings}
    merged = {"negotiator": raw.get("negotiator", {}) or {}, "groups": groups, "submitters": subs}
    try:
        config = negotiator_config(merged)
    except ConfigError as exc:
        message = str(exc)
        key, _, detail = message.partition(":")
        path = _config_path(key, groups, top_groups)
        raise r.fail(path, detail.strip() or message) from None
    for key in config.extra:
        raise r.fail(("config", "negotiator", key), "unknown negotiator setting")
    return config


def _config_path(
    key: str, groups: Mapping[str, Any], top_groups: Mapping[str, Any]
) -> tuple[str | int, ...]:
    """The scenario path of a config key like `groups.atlas.prod.quota` (group names have dots)."""
    if key.startswith("groups."):
        rest = key[len("groups.") :]
        for name in sorted(groups, key=len, reverse=True):
            if rest == name or rest.startswith(f"{name}."):
                tail = rest[len(name) + 1 :]
                head: tuple[str | int, ...] = (
                    ("groups", name) if name in top_groups else ("config", "groups", name)
                )
                return (*head, tail) if tail else head
    return ("config", *key.split("."))


def _workload(r: _Reader, doc: Mapping[str, Any], names: set[str]) -> tuple[WorkloadSpec, ...]:
    raw = r.sequence(("workload",), r.required((), doc, "workload"))
    out: list[WorkloadSpec] = []
    for i, item in enumerate(raw):
        p: tuple[str | int, ...] = ("workload", i)
        w = r.mapping(p, item)
        r.known(p, w, _WORK)
        who = r.string((*p, "submitter"), r.required(p, w, "submitter"))
        if who not in names:
            known = ", ".join(sorted(names)) or "none"
            raise r.fail((*p, "submitter"), f"no submitter {who!r} (known: {known})")
        out.append(
            WorkloadSpec(
                submitter=who,
                count=r.integer((*p, "count"), r.required(p, w, "count"), minimum=1),
                at=r.duration((*p, "at"), w.get("at", 0)),
                spread=r.duration((*p, "spread"), w.get("spread", 0)),
                runtime=_runtime(r, (*p, "runtime"), r.required(p, w, "runtime")),
                request_cpus=r.integer((*p, "request_cpus"), w.get("request_cpus", 1), minimum=1),
                request_memory=r.megabytes((*p, "request_memory"), w.get("request_memory", 2048)),
                request_disk=r.megabytes((*p, "request_disk"), w.get("request_disk", "1G")) * 1024,
                request_gpus=r.integer((*p, "request_gpus"), w.get("request_gpus", 0)),
                requirements=r.expression((*p, "requirements"), w.get("requirements", "true")),
                rank=r.expression((*p, "rank"), w.get("rank", "0")),
                job_prio=_job_prio(r, (*p, "job_prio"), w.get("job_prio", 0)),
            )
        )
    return tuple(out)


def _job_prio(r: _Reader, path: tuple[str | int, ...], value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise r.fail(path, f"expected a whole number, got {_kind(value)}")
    return value


def _runtime(r: _Reader, path: tuple[str | int, ...], value: Any) -> Runtime:
    if not isinstance(value, Mapping):
        return Runtime("fixed", r.duration(path, value, positive=True))
    r.known(path, value, {"distribution", "mean", "min", "max"})
    kind = value.get("distribution", "fixed")
    if kind not in {"fixed", "exponential", "uniform"}:
        raise r.fail(
            (*path, "distribution"), f"expected fixed, exponential or uniform, got {kind!r}"
        )
    if kind == "uniform":
        low = r.duration((*path, "min"), r.required(path, value, "min"), positive=True)
        high = r.duration((*path, "max"), r.required(path, value, "max"), positive=True)
        if high < low:
            raise r.fail((*path, "max"), "must not be below min")
        return Runtime("uniform", (low + high) / 2, low, high)
    mean = r.duration((*path, "mean"), r.required(path, value, "mean"), positive=True)
    return Runtime(kind, mean)


def _failures(r: _Reader, doc: Mapping[str, Any], clusters: set[str]) -> tuple[FailureSpec, ...]:
    raw = r.sequence(("failures",), doc.get("failures", []) or [])
    out: list[FailureSpec] = []
    for i, item in enumerate(raw):
        p: tuple[str | int, ...] = ("failures", i)
        f = r.mapping(p, item)
        r.known(p, f, _FAILURE)
        cluster = r.string((*p, "cluster"), r.required(p, f, "cluster"))
        if cluster not in clusters:
            raise r.fail(
                (*p, "cluster"), f"no cluster {cluster!r} (known: {', '.join(sorted(clusters))})"
            )
        at = r.duration((*p, "at"), r.required(p, f, "at"))
        length = (
            math.inf
            if f.get("duration") is None
            else r.duration((*p, "duration"), f["duration"], positive=True)
        )
        out.append(FailureSpec(cluster, at, length))
    return tuple(out)
