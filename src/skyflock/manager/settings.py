"""The server's settings: data directory, database, address, and the TOML config file.

`load_settings` combines, in this order of precedence, explicit arguments (the
`skyflock server` options), the environment (`SKYFLOCK_DATABASE_URL`,
`SKYFLOCK_DATA_DIR`) and the `--config FILE` TOML document:

    [server]            host = "127.0.0.1", port = 8642, periodic_interval = 60,
                        claim_worklife = 300, max_batch = 2000
    [negotiator]        `core.config.NegotiatorConfig` keys (interval = 5, ...)
    [groups.NAME]       quotas, see core.config
    [submitters.NAME]   priority factors, floors, ceilings
    [clusters.local]    enabled = true, cpus, memory (MiB), disk (KiB),
                        reserved_memory (MiB), tier = 0, labels = {..}

Every mistake raises `core.config.ConfigError` naming the file and key.
Neighbours: `manager.service` reads these; the CLI's `server` command builds
them; `core.config` parses the negotiator's part.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from skyflock.core.config import ConfigError, NegotiatorConfig, negotiator_config, parse_config_text

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8642
"""The server's default TCP port (`SKYFLOCK_URL` defaults to http://127.0.0.1:8642)."""
DEFAULT_DATA_DIR: Final = ".skyflock"
ENV_DATA_DIR: Final = "SKYFLOCK_DATA_DIR"
ENV_DATABASE_URL: Final = "SKYFLOCK_DATABASE_URL"


@dataclass(frozen=True, slots=True)
class LocalClusterSettings:
    """The embedded `local` cluster: this machine, with optional overrides."""

    enabled: bool = True
    cpus: int | None = None
    memory_mib: int | None = None
    disk_kib: int | None = None
    reserved_memory_mib: int = 0
    tier: int = 0
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ServerSettings:
    data_dir: Path
    database_url: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    negotiator: NegotiatorConfig = field(default_factory=NegotiatorConfig)
    local: LocalClusterSettings = field(default_factory=LocalClusterSettings)
    periodic_interval: float = 60.0
    """Seconds between evaluations of periodic_hold/release/remove."""
    claim_worklife: float = 300.0
    """Seconds a claim may be reused for further jobs of its submitter (HTCondor's
    CLAIM_WORKLIFE); 0 turns claim reuse off."""
    max_batch: int = 2000
    """Most backend events folded into one store transaction."""
    flush_interval: float = 0.1
    """Seconds the store writer lets transitions gather before it commits them."""
    prefetch: int = 128
    """Jobs kept matched to a claim whose jobs run briefly (0: one job at a time)."""
    exit_records: bool = True
    """Start the local jobs through the data dir's starter process
    (`backends.local_starter`), which is their parent and keeps their exits, so a
    job that ends while the manager is down is not rerun; false: the manager
    spawns them itself (such a job then runs again)."""
    debounce: float = 0.005
    """Seconds to coalesce negotiation triggers (a submit, a job's end)."""
    config_path: Path | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)
    """The parsed TOML document (for `skyflock config`)."""

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"


def _where(source: str, key: str) -> str:
    return f"{source}: {key}"


def _int(source: str, key: str, value: Any, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{_where(source, key)}: expected an integer, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{_where(source, key)}: must be at least {minimum}, got {value}")
    return value


def _float(source: str, key: str, value: Any, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{_where(source, key)}: expected a number, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{_where(source, key)}: must be at least {minimum}, got {value}")
    return float(value)


def _bool(source: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{_where(source, key)}: expected true or false, got {value!r}")
    return value


def _table(source: str, key: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{_where(source, key)}: expected a table")
    return value


def _check_keys(source: str, key: str, table: Mapping[str, Any], known: set[str]) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(
            f"{_where(source, f'{key}.{unknown[0]}')}: unknown key (known: {', '.join(sorted(known))})"
        )


_SERVER_KEYS = {
    "host",
    "port",
    "data_dir",
    "periodic_interval",
    "claim_worklife",
    "max_batch",
    "exit_records",
    "prefetch",
    "flush_interval",
}
_LOCAL_KEYS = {"enabled", "cpus", "memory", "disk", "reserved_memory", "tier", "labels"}
_TOP_KEYS = {"server", "negotiator", "groups", "submitters", "clusters"}


def _local(source: str, raw: Mapping[str, Any]) -> LocalClusterSettings:
    key = "clusters.local"
    _check_keys(source, key, raw, _LOCAL_KEYS)
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{source}: {key}.enabled: expected true or false, got {enabled!r}")
    labels = raw.get("labels", {})
    labels = _table(source, f"{key}.labels", labels)
    return LocalClusterSettings(
        enabled=enabled,
        cpus=None if "cpus" not in raw else _int(source, f"{key}.cpus", raw["cpus"], 1),
        memory_mib=None if "memory" not in raw else _int(source, f"{key}.memory", raw["memory"], 1),
        disk_kib=None if "disk" not in raw else _int(source, f"{key}.disk", raw["disk"], 1),
        reserved_memory_mib=_int(
            source, f"{key}.reserved_memory", raw.get("reserved_memory", 0), 0
        ),
        tier=_int(source, f"{key}.tier", raw.get("tier", 0), 0),
        labels={str(k): str(v) for k, v in labels.items()},
    )


def settings_from_mapping(
    doc: Mapping[str, Any],
    *,
    source: str = "config",
    data_dir: Path | str | None = None,
    database_url: str | None = None,
    host: str | None = None,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    config_path: Path | None = None,
) -> ServerSettings:
    """Settings from an already parsed config document plus explicit overrides."""
    environ = os.environ if env is None else env
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise ConfigError(
            f"{source}: {unknown[0]}: unknown table (known: {', '.join(sorted(_TOP_KEYS))})"
        )
    server = _table(source, "server", doc.get("server", {}))
    _check_keys(source, "server", server, _SERVER_KEYS)
    try:
        negotiator = negotiator_config(doc)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    if negotiator.extra:
        name = sorted(negotiator.extra)[0]
        raise ConfigError(f"{source}: negotiator.{name}: unknown key")
    clusters = _table(source, "clusters", doc.get("clusters", {}))
    for name in clusters:
        if name != "local":
            raise ConfigError(
                f"{source}: clusters.{name}: only the embedded `local` cluster can be "
                "configured in this version"
            )
    local = _local(source, _table(source, "clusters.local", clusters.get("local", {})))

    if data_dir is None:
        data_dir = environ.get(ENV_DATA_DIR) or server.get("data_dir") or DEFAULT_DATA_DIR
        if not isinstance(data_dir, str | Path):
            raise ConfigError(f"{source}: server.data_dir: expected a path as a string")
    data_path = Path(data_dir).expanduser().resolve()
    if database_url is None:
        database_url = environ.get(ENV_DATABASE_URL, "").strip() or (
            f"sqlite:///{data_path / 'skyflock.db'}"
        )
    if host is None:
        host = server.get("host", DEFAULT_HOST)
        if not isinstance(host, str) or not host:
            raise ConfigError(f"{source}: server.host: expected a host name or address")
    if port is None:
        port = _int(source, "server.port", server.get("port", DEFAULT_PORT), 0)
    if not 0 <= port <= 65535:
        raise ConfigError(f"{source}: server.port: must be 0..65535, got {port}")
    return ServerSettings(
        data_dir=data_path,
        database_url=database_url,
        host=host,
        port=port,
        negotiator=negotiator,
        local=local,
        periodic_interval=_float(
            source, "server.periodic_interval", server.get("periodic_interval", 60.0), 0.01
        ),
        claim_worklife=_float(
            source, "server.claim_worklife", server.get("claim_worklife", 300.0), 0.0
        ),
        max_batch=_int(source, "server.max_batch", server.get("max_batch", 2000), 1),
        flush_interval=_float(
            source, "server.flush_interval", server.get("flush_interval", 0.1), 0.0
        ),
        prefetch=_int(source, "server.prefetch", server.get("prefetch", 128), 0),
        exit_records=_bool(source, "server.exit_records", server.get("exit_records", True)),
        config_path=config_path,
        raw=dict(doc),
    )


def load_settings(
    *,
    data_dir: Path | str | None = None,
    config: Path | str | None = None,
    database_url: str | None = None,
    host: str | None = None,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
) -> ServerSettings:
    """Settings for `skyflock server [--data-dir D] [--config FILE] [--port P]`."""
    doc: Mapping[str, Any] = {}
    source = "config"
    path: Path | None = None
    if config is not None:
        path = Path(config)
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read the config file: {exc.strerror}") from None
        doc = parse_config_text(text, source)
    return settings_from_mapping(
        doc,
        source=source,
        data_dir=data_dir,
        database_url=database_url,
        host=host,
        port=port,
        env=env,
        config_path=path,
    )
