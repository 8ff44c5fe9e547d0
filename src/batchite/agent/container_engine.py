"""The Docker-compatible engine that runs container tasks: found on this machine, configured,
and asked to pull images and remove containers.

podman (Debian's `podman`, daemonless, run as root) is preferred; `docker` is used when its
daemon answers. podman is given a containers.conf of Batchite's own (`CONTAINERS_CONF`): no
default ulimits (a container may not raise a limit past the machine's own hard limit) and
runc as the OCI runtime where it is installed (crun fails on hybrid cgroup hierarchies).

Image names are as `docker pull` takes them: a name without a registry is Docker Hub's
(`busybox` is docker.io/library/busybox). Registries on loopback are pulled over plain HTTP,
as Docker does for 127.0.0.0/8, and so are those of `--container-insecure-registries`.
Credentials go to the engine in an auth file of the agent's (mode 0600, removed after the pull),
never on a command line.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from batchite.agent.container_specs import EngineSettings, RegistryLogin

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CONFIG = """# Written by Batchite for the container tasks it runs (see agent/container_engine.py).
[containers]
default_ulimits = []
{engine}"""
DOCKER_HUB = "docker.io"
_HUB_NAMES = {"", "docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
_LOOPBACK = ("localhost", "127.", "[::1]")
PULL_TIMEOUT = 600.0
PROBE_TIMEOUT = 20.0


class PullError(Exception):
    """A pull failed: `denied` when the registry refused the credentials (or asked for some)."""

    def __init__(self, message: str, *, denied: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.denied = denied


_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@-]*")


def valid_reference(image: str) -> bool:
    """Whether a name can be an image reference (and never reads as an option of the engine's)."""
    return len(image) <= 512 and _REFERENCE.fullmatch(image) is not None


def registry_of(image: str) -> str:
    """The registry an image name points to (docker.io for a name without one)."""
    first, sep, _rest = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return DOCKER_HUB


def qualified(image: str) -> str:
    """The full name of an image, as an engine without short-name aliases needs it."""
    if registry_of(image) != DOCKER_HUB or image.startswith(("docker.io/", "index.docker.io/")):
        return image
    return f"{DOCKER_HUB}/{image}" if "/" in image else f"{DOCKER_HUB}/library/{image}"


def same_registry(server: str, image_registry: str) -> bool:
    """Whether a registryServer (with or without https://, a path or a trailing /) is that registry."""
    host = server.split("://", 1)[-1].split("/", 1)[0].lower()
    if host in _HUB_NAMES:
        return image_registry in _HUB_NAMES
    return host == image_registry.lower()


@dataclass(frozen=True)
class ContainerEngine:
    kind: str  # podman, docker
    path: str
    version: str
    config_dir: Path
    settings: EngineSettings = field(default_factory=EngineSettings)

    def describe(self) -> str:
        return f"{self.kind} {self.version}"

    @property
    def env(self) -> dict[str, str]:
        """The engine's whole environment: nothing of the agent's or of a task's steers it."""
        env = {"PATH": SYSTEM_PATH, "HOME": str(self.config_dir)}
        if self.kind == "podman":
            env["CONTAINERS_CONF"] = str(self.config_dir / "containers.conf")
        return env

    def command(self, *args: str) -> list[str]:
        return [self.path, *args]

    def call(self, args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def image_exists(self, image: str) -> bool:
        args = ["image", "exists", image] if self.kind == "podman" else ["image", "inspect", image]
        try:
            return self.call(args, PROBE_TIMEOUT).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    def local_name(self, image: str) -> str | None:
        """The name this image has here (as given, or its full name), None when it is not here."""
        for name in dict.fromkeys((image, qualified(image))):
            if self.image_exists(name):
                return name
        return None

    def insecure(self, registry: str) -> bool:
        host = registry.lower()
        return host.startswith(_LOOPBACK) or host in {r.lower() for r in self.settings.insecure_registries}

    def pull(self, image: str, login: RegistryLogin | None) -> str:
        """Pull an image (with the login's credentials); its local name. Raises PullError."""
        if not valid_reference(image):
            raise PullError(f"{image!r} is not an image reference")
        if login is not None and login.identity:
            raise PullError("a managed identity cannot be used to pull here: give a username and password", denied=True)
        name = qualified(image)
        registry = registry_of(name)
        args = ["pull", "--quiet"]
        if self.kind == "podman" and self.insecure(registry):
            args.append("--tls-verify=false")
        auth_dir = None
        try:
            if login is not None and login.username:
                auth_dir = Path(tempfile.mkdtemp(prefix="auth-", dir=self.config_dir))
                auth = _auth_file(auth_dir, registry, login)
                args = (
                    (["--config", str(auth_dir), *args]) if self.kind == "docker" else [*args, "--authfile", str(auth)]
                )
            try:
                done = self.call([*args, name], PULL_TIMEOUT)
            except subprocess.TimeoutExpired:
                raise PullError(f"pulling {image} timed out") from None
            except OSError as exc:
                raise PullError(f"the container engine could not be run: {exc}") from None
        finally:
            if auth_dir is not None:
                shutil.rmtree(auth_dir, ignore_errors=True)
        if done.returncode != 0:
            message = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
            lowered = message.lower()
            denied = any(w in lowered for w in ("unauthorized", "authentication required", "denied", "401"))
            raise PullError(message.removeprefix("Error: "), denied=denied)
        return name

    def remove(self, names: list[str]) -> None:
        """Kill and remove these containers (those already gone are no error)."""
        if not names:
            return
        args = ["rm", "--force", "--time", "0", *names] if self.kind == "podman" else ["rm", "--force", *names]
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            self.call(args, PROBE_TIMEOUT)


def _auth_file(directory: Path, registry: str, login: RegistryLogin) -> Path:
    token = base64.b64encode(f"{login.username}:{login.password}".encode()).decode()
    keys = [registry] + (["https://index.docker.io/v1/"] if registry == DOCKER_HUB else [])
    path = directory / "config.json"  # docker reads it from --config DIR; podman from --authfile
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"auths": {key: {"auth": token} for key in keys}}, f)
    return path


def _write_config(config_dir: Path) -> None:
    runc = shutil.which("runc", path=SYSTEM_PATH)
    engine = f'[engine]\nruntime = "{runc}"\n' if runc else ""
    path = config_dir / "containers.conf"
    text = CONFIG.format(engine=engine)
    if not path.exists() or path.read_text() != text:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)


def _probe(kind: str, path: str, config_dir: Path, settings: EngineSettings) -> ContainerEngine | str:
    """The engine when it answers, else why not."""
    config_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(config_dir, 0o700)  # env and auth files of container tasks lie here
    if kind == "podman":
        _write_config(config_dir)
    candidate = ContainerEngine(kind, path, "", config_dir, settings)
    fmt = "{{.Client.Version}}" if kind == "podman" else "{{.Server.Version}}"
    try:
        done = candidate.call(["version", "--format", fmt], PROBE_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{kind} does not answer: {exc}"
    if done.returncode != 0 or not done.stdout.strip():
        reason = (done.stderr.strip().splitlines() or ["no version"])[-1]
        return f"{kind} does not answer: {reason}"
    if kind == "podman" and not any(shutil.which(r, path=SYSTEM_PATH) for r in ("runc", "crun")):
        return "podman has no OCI runtime (install Debian's runc)"
    return ContainerEngine(kind, path, done.stdout.strip(), config_dir, settings)


@functools.lru_cache(maxsize=16)
def find_engine(settings: EngineSettings, config_dir: Path) -> ContainerEngine | str:
    """The engine `settings.choice` names (auto: podman, then docker), or why there is none.
    Found once per settings and directory."""
    if settings.choice == "none":
        return "turned off by --container-engine none"
    kinds = ("podman", "docker") if settings.choice == "auto" else (settings.choice,)
    reasons = []
    for kind in kinds:
        if kind not in ("podman", "docker"):
            return f"unknown container engine {kind!r} (auto, podman, docker or none)"
        path = shutil.which(kind, path=SYSTEM_PATH)
        if path is None:
            reasons.append(f"no {kind} found")
            continue
        found = _probe(kind, path, config_dir, settings)
        if isinstance(found, ContainerEngine):
            return found
        reasons.append(found)
    return "; ".join(reasons) + " (install Debian's podman and runc)"
