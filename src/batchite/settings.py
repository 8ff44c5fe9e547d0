"""Everything `batchite serve` takes, in one typed object.

Each setting is a command-line flag (`--time-scale`) and a `BATCHITE_*` environment variable
(`BATCHITE_TIME_SCALE`); the flag wins. The serve command is built from this list, so a setting
cannot exist in one place and not the other.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import typing
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from batchite.agent.container_specs import EngineSettings
from batchite.agent.identity import Isolation, default_isolation
from batchite.compute.ray_backend import RayPlacement
from batchite.domain.quotas import Quotas
from batchite.scheduler.agent_groups import DEFAULT_NODES_PER_AGENT
from batchite.scheduler.preemption import PreemptionPolicy
from batchite.scheduler.scheduler import NODE_RELEASE_TIME, SchedulerSettings

ENV_PREFIX = "BATCHITE_"
DEFAULT_PORT = 8091
DEFAULT_MGMT_PORT = 8443
DEFAULT_HTTPS_PORT = 8444
CONTAINER_ENGINES = ("auto", "podman", "docker", "none")
BACKENDS = ("local", "ray")


PORT_RANGE = (0, 65535)


class SettingsError(ValueError):
    """A setting's value is wrong; `key` is the setting (its field name), the message says why."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def _setting(
    default: Any,
    help: str,
    *,
    env: str | None = None,
    choices: tuple[str, ...] = (),
    low: float | None = None,
    high: float | None = None,
    above: float | None = None,
) -> Any:
    """A field of Settings: its help, and what values it takes (checked by Settings.validate):
    one of `choices`, at least `low`, at most `high`, more than `above`."""
    limits = {"choices": choices, "low": low, "high": high, "above": above}
    return field(default=default, metadata={"help": help, "env": env, **limits})


@dataclass(frozen=True)
class Settings:
    host: str = _setting("127.0.0.1", "Address to listen on.")
    port: int = _setting(DEFAULT_PORT, "Port to listen on.", low=PORT_RANGE[0], high=PORT_RANGE[1])
    data_dir: Path = _setting(Path(".batchite"), "Where state and node directories live.")
    public_url: str = _setting("", "URL clients use to reach this service (default http://HOST:PORT).")
    strict_api_version: bool = _setting(False, "Reject api-versions Batchite does not know.")
    time_scale: float = _setting(1.0, "Run service time this many times faster than wall time.", above=0)
    preemption_rate: float = _setting(
        0.0, "Chance per hour that a low-priority node is preempted (spot eviction); 0 = only on demand.", low=0
    )
    preemption_recovery: float = _setting(60.0, "Seconds (service time) before a preempted node returns.", low=0)
    preemption_seed: int | None = _setting(None, "Seed of the preemption policy, for repeatable runs.")
    node_release_time: float = _setting(
        NODE_RELEASE_TIME.total_seconds(),
        "Seconds (service time) a deleted pool's node takes to leave once its tasks have stopped; its "
        "files stay readable until then.",
        low=0,
    )
    dedicated_core_quota: int = _setting(900, "Dedicated cores an account may have in its pools.", low=0)
    low_priority_core_quota: int = _setting(100, "Low-priority (spot) cores an account may have.", low=0)
    pool_quota: int = _setting(100, "Pools an account may have.", low=0)
    active_job_quota: int = _setting(300, "Active jobs and job schedules an account may have.", low=0)
    location_account_quota: int = _setting(
        3, "Batch accounts a subscription may create through management in one location (Azure: 1-3).", low=0
    )
    isolation: str = _setting(
        "",
        "How tasks are kept apart: users (own unprivileged uids per pool; the default as root), sandbox "
        "(also a bubblewrap sandbox per task) or none (as the agent's user; the default otherwise).",
        choices=("", *(level.value for level in Isolation)),
    )
    nodes_per_agent: int = _setting(
        DEFAULT_NODES_PER_AGENT,
        "Nodes of one pool a node agent process hosts (1 = a process per node); nodes of different pools "
        "or accounts never share one.",
        low=1,
    )
    stop_agents: bool = _setting(
        False, "When the service stops, end the node agents and their tasks too (they are requeued at start)."
    )
    max_concurrent_requests: int = _setting(
        256,
        "Requests handled at once; as many more wait up to 0.5 s, and beyond that a request is answered "
        "503 ServerBusy with Retry-After (the health probe is exempt).",
        low=1,
    )
    access_log: bool = _setting(False, "Log every request (request id, account, operation, status, duration).")
    log_format: str = _setting(
        "console", "How log lines are written: console (text) or json (one object a line).", choices=("console", "json")
    )
    metrics: bool = _setting(True, "Serve Prometheus metrics at /metrics (no account names or keys in them).")
    storage_connection_string: str = _setting(
        "",
        "The storage account linked to every Batch account (auto-storage, application packages); "
        "e.g. Azurite's development account.",
    )

    container_engine: str = _setting(
        "auto",
        "What runs container tasks (pools with containerConfiguration): auto (podman, else docker with a "
        "running daemon), podman, docker, or none (such pools are refused).",
        choices=CONTAINER_ENGINES,
    )
    container_insecure_registries: str = _setting(
        "", "Registries (host:port, comma-separated) pulled from over plain HTTP; those on loopback always are."
    )
    container_unsafe_options: bool = _setting(
        False,
        "Pass any containerRunOptions to the engine, even those that weaken a container's isolation "
        "(--privileged, host mounts, the host's namespaces); refused by default.",
    )

    backend: str = _setting(
        "local",
        "Where pools' nodes live by default: local (node agents on this machine) or ray (Ray actors on "
        "the cluster at --ray-address); a pool's metadata item batchite.backend chooses for that pool.",
        choices=BACKENDS,
    )
    ray_address: str = _setting(
        "",
        "The Ray cluster for pools on Ray (ray://HOST:10001, HOST:6379, or auto); setting it serves the "
        "ray backend beside the default one.",
    )
    ray_node_dir: str = _setting(
        "/tmp/batchite-ray", "On every Ray node: where the node trees and agents of pools on Ray live."
    )
    mgmt_port: int = _setting(
        DEFAULT_MGMT_PORT,
        "HTTPS port of the management plane (ARM and its token issuer); 0 = do not serve it.",
        low=PORT_RANGE[0],
        high=PORT_RANGE[1],
    )
    mgmt_clients: str = _setting(
        "",
        "More service principals the token issuer knows, as client-id:secret;client-id2:secret2 (the "
        "development client is always there).",
    )
    https_port: int = _setting(
        DEFAULT_HTTPS_PORT,
        "HTTPS port of the data plane too (the same API as --port, with the management plane's certificate); "
        "accounts' accountEndpoint names it; 0 = plain HTTP only.",
        low=PORT_RANGE[0],
        high=PORT_RANGE[1],
    )
    cert: str = _setting(
        "", "The TLS certificate of the management plane and HTTPS (PEM; default: made in DATA_DIR/tls)."
    )
    key: str = _setting("", "The private key of --cert (PEM).")

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Every value of the right type and within its limits, else SettingsError naming the setting;
        flags, variables and the configuration file all end up here."""
        for f in dataclasses.fields(self):
            check_value(f.name, getattr(self, f.name))

    @property
    def mgmt_url(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        return f"https://{host}:{self.mgmt_port}"

    @property
    def url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"

    @property
    def account_endpoint(self) -> str:
        """host:port of the data plane as accounts show it (clients put https:// before it): the
        HTTPS port when served, else --public-url's or the HTTP port's."""
        if self.https_port and not self.public_url:
            host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
            return f"{host}:{self.https_port}"
        return self.url.split("://", 1)[-1].rstrip("/")

    @property
    def ray(self) -> RayPlacement | None:
        """Pools on Ray, when --backend ray or --ray-address asks for them."""
        if self.backend != "ray" and not self.ray_address:
            return None
        return RayPlacement(self.ray_address, self.ray_node_dir, default=self.backend == "ray")

    @property
    def isolation_level(self) -> Isolation:
        """The isolation asked for, or the default for this user; a level this user cannot have fails."""
        level = Isolation(self.isolation) if self.isolation else default_isolation()
        if level == Isolation.USERS and os.geteuid() != 0:
            raise ValueError("isolation 'users' needs the service to run as root (try 'sandbox' or 'none')")
        return level

    @property
    def scheduler(self) -> SchedulerSettings:
        return SchedulerSettings(
            quotas=Quotas(
                self.dedicated_core_quota,
                self.low_priority_core_quota,
                self.pool_quota,
                self.active_job_quota,
                self.location_account_quota,
            ),
            preemption=PreemptionPolicy(
                self.preemption_rate, timedelta(seconds=self.preemption_recovery), self.preemption_seed
            ),
            node_release_time=timedelta(seconds=max(0.0, self.node_release_time)),
            nodes_per_agent=max(1, self.nodes_per_agent),
            container_engine=self.container_settings,
        )

    @property
    def container_settings(self) -> EngineSettings:
        insecure = tuple(r.strip() for r in self.container_insecure_registries.split(",") if r.strip())
        return EngineSettings(self.container_engine, insecure, self.container_unsafe_options)


_TYPE_NAMES: dict[type, str] = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    Path: "a path",
}


_VALUE_KINDS: dict[type, str] = {
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    list: "an array",
    dict: "a table",
}


def _show(value: Any) -> str:
    return f"{value!r} ({_VALUE_KINDS.get(type(value), type(value).__name__)})"


@functools.cache
def _types() -> dict[str, tuple[type, bool]]:
    """Each setting's type, and whether it may be None (`int | None`)."""
    out = {}
    for name, hint in typing.get_type_hints(Settings).items():
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        out[name] = (args[0], True) if args else (hint, False)
    return out


def _of_type(value: Any, kind: type) -> bool:
    if isinstance(value, bool):
        return kind is bool
    if kind is float:
        return isinstance(value, int | float)
    return isinstance(value, kind)


def check_value(name: str, value: Any) -> None:
    """SettingsError unless `value` suits setting `name`: its type, choices and range."""
    kind, optional = _types()[name]
    if value is None and optional:
        return
    if not _of_type(value, kind):
        raise SettingsError(name, f"must be {_TYPE_NAMES[kind]}, not {_show(value)}")
    meta = _metadata()[name]
    choices: tuple[str, ...] = meta["choices"]
    if choices and value not in choices:
        named = ", ".join(c for c in choices if c)
        empty = " (or empty: the default)" if "" in choices else ""
        raise SettingsError(name, f"must be one of {named}{empty}, not {value!r}")
    low, high, above = meta["low"], meta["high"], meta["above"]
    if low is not None and high is not None and not low <= value <= high:
        raise SettingsError(name, f"must be between {low} and {high}, not {value!r}")
    if low is not None and value < low:
        raise SettingsError(name, f"must be at least {low}, not {value!r}")
    if above is not None and value <= above:
        raise SettingsError(name, f"must be more than {above}, not {value!r}")


def coerce(name: str, value: Any) -> Any:
    """A value from outside (a TOML file) as setting `name` holds it: an integer for a number, a
    string for a path; anything else is left for check_value to refuse."""
    kind, _ = _types()[name]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is Path and isinstance(value, str):
        return Path(value)
    return value


@functools.cache
def _metadata() -> dict[str, Any]:
    return {f.name: f.metadata for f in dataclasses.fields(Settings)}


@dataclass(frozen=True)
class SettingInfo:
    name: str  # the attribute: time_scale
    flag: str  # --time-scale
    env: str  # BATCHITE_TIME_SCALE
    type: Any
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    above: float | None = None

    @property
    def type_name(self) -> str:
        """What the documentation shows: `int`, `float`, `bool`, `str`, `path`, `int or none`."""
        kind, optional = _types()[self.name]
        name = "path" if kind is Path else kind.__name__
        return f"{name} or none" if optional else name


def settings_table() -> list[SettingInfo]:
    """Every setting with its flag, environment variable, type, default and help."""
    out = []
    hints = {f.name: f.type for f in dataclasses.fields(Settings)}
    for f in dataclasses.fields(Settings):
        env = f.metadata.get("env") or f"{ENV_PREFIX}{f.name.upper()}"
        flag = "--" + f.name.replace("_", "-")
        limits = {k: f.metadata[k] for k in ("choices", "low", "high", "above")}
        out.append(SettingInfo(f.name, flag, env, hints[f.name], f.default, f.metadata["help"], **limits))
    return out
