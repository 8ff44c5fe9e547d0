"""One task in a container, as Azure Batch runs it on a Linux node: the engine's command line.

The task's command line runs in the container without a shell (the image's entrypoint, if any,
gets it as arguments; an empty command line runs the image's default command), as the task's
user (`--user uid:gid`; root for an admin task), with the task's environment (from an env file
the agent alone can read), the node's directories bind-mounted at the paths the environment
names (`containerHostBatchBindMounts` chooses which; none given: the whole node root), and the
task's working directory (or the image's, `containerImageDefault`). stdout and stderr are the
engine's, which the agent points at stdout.txt and stderr.txt.

`containerRunOptions` are passed to the engine when they keep the container apart from the
host: an allow-list of options (resources, environment, entrypoint, networking other than the
host's...). Anything else (`--privileged`, host mounts, the host's namespaces, another user,
devices, capabilities) is refused as ContainerInvalidSettings unless the service was started
with `--container-unsafe-options`.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from batchite.agent.container_specs import BindMount, ContainerRun

LABEL = "batchite.agent"  # every container the agent starts carries its agent's id
# Options that take a value, and those that do not, which a task may pass.
_VALUED = {
    "--env",
    "--entrypoint",
    "--workdir",
    "--memory",
    "--memory-reservation",
    "--memory-swap",
    "--cpus",
    "--cpu-shares",
    "--cpuset-cpus",
    "--pids-limit",
    "--shm-size",
    "--ulimit",
    "--hostname",
    "--add-host",
    "--dns",
    "--dns-search",
    "--dns-option",
    "--label",
    "--tmpfs",
    "--stop-signal",
    "--stop-timeout",
    "--network",
    "--net",
    "--ipc",
}
_FLAGS = {"--read-only", "--init", "--rm", "--interactive", "--tty"}
_SHORT = {"-e": "--env", "-w": "--workdir", "-m": "--memory", "-h": "--hostname", "-l": "--label", "-c": "--cpu-shares"}
_SHORT_FLAGS = {"-i": "--interactive", "-t": "--tty", "-it": "--tty", "-ti": "--tty"}
_PRIVATE_NAMESPACES = {"--network": {"none", "bridge", "default", "private"}, "--ipc": {"none", "private", "shareable"}}
_DROPPED = {"--rm", "--interactive", "--tty"}  # the agent decides these itself
MOUNT_SOURCES = ("Shared", "Startup", "VfsMounts", "Task", "JobPrep", "Applications")


class ContainerSettingsError(Exception):
    """containerSettings that cannot be applied; `name`/`value` say which (the failure's details)."""

    def __init__(self, message: str, name: str, value: str) -> None:
        super().__init__(message)
        self.message = message
        self.name = name
        self.value = value


def run_options(options: str, unsafe: bool) -> list[str]:
    """containerRunOptions as engine arguments; raises ContainerSettingsError for one that is not allowed."""
    try:
        tokens = shlex.split(options)
    except ValueError as exc:
        raise ContainerSettingsError(
            f"containerRunOptions cannot be parsed: {exc}", "ContainerRunOptions", options
        ) from None
    if unsafe:
        return tokens
    out: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token in _SHORT_FLAGS:
            continue
        if not token.startswith("--") and token[:2] in _SHORT and len(token) > 2:  # -eA=1, -m64m
            name, has_value, value = _SHORT[token[:2]], "=", token[2:]
        else:
            name, has_value, value = token.partition("=")
            name = _SHORT.get(name, name)
        if name in _FLAGS:
            if name not in _DROPPED:
                out.append(name)
            continue
        if name not in _VALUED:
            raise _refused(token)
        if not has_value:
            if i >= len(tokens):
                raise ContainerSettingsError(f"The option {name} needs a value", "ContainerRunOptions", token)
            value = tokens[i]
            i += 1
        key = "--network" if name == "--net" else name
        allowed = _PRIVATE_NAMESPACES.get(key)
        if allowed is not None and value.lower() not in allowed:
            raise _refused(f"{name}={value}")
        out.append(f"{key}={value}")
    return out


def _refused(option: str) -> ContainerSettingsError:
    return ContainerSettingsError(
        f"The container run option {option} is not allowed: it would weaken the container's isolation "
        "(an administrator can allow it with --container-unsafe-options)",
        "ContainerRunOptions",
        option,
    )


@dataclass(frozen=True)
class TaskPaths:
    """A task's directories on the host and as its environment names them (the same, or under
    /mnt/batch/tasks where the node's tree is shown there)."""

    host_root: Path
    inside_root: str
    task_dir: str  # relative to the root
    job_prep_dir: str | None = None  # relative to the root

    def mounts(self, chosen: tuple[BindMount, ...] | None) -> list[tuple[Path, str, bool]]:
        """(host path, path inside, read-only) of every bind mount."""
        if chosen is None:
            return [(self.host_root, self.inside_root, False)]
        relative = {
            "shared": "shared",
            "startup": "startup",
            "vfsmounts": "fsmounts",
            "task": self.task_dir,
            "jobprep": self.job_prep_dir,
            "applications": "applications",
        }
        out = []
        for mount in chosen:
            rel = relative.get(mount.source.lower())
            if rel is None:
                if mount.source.lower() != "jobprep":
                    raise ContainerSettingsError(
                        f"Unknown bind mount source {mount.source} (one of {', '.join(MOUNT_SOURCES)})",
                        "ContainerHostBatchBindMounts",
                        mount.source,
                    )
                continue  # a job without a preparation task
            out.append((self.host_root / rel, f"{self.inside_root}/{rel}", mount.read_only))
        return out


def write_env_file(path: Path, env: dict[str, str]) -> None:
    """The task's environment for the engine, readable by the agent alone."""
    lines = []
    for name, value in env.items():
        if "\n" in value or "\r" in value or "\n" in name or "=" in name:
            raise ContainerSettingsError(
                f"The environment variable {name} cannot be passed into a container (a line break in it)",
                "EnvironmentVariable",
                name,
            )
        lines.append(f"{name}={value}\n")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        f.writelines(lines)


def run_arguments(
    run: ContainerRun,
    image: str,
    name: str,
    agent_id: str,
    user: tuple[int, int] | None,
    env_file: Path,
    paths: TaskPaths,
    working_dir: str,
    argv: list[str],
    unsafe: bool,
) -> list[str]:
    """The engine's arguments after its path: `run ... IMAGE ARGV`."""
    options = run_options(run.run_options, unsafe)
    args = ["run", "--rm", "--name", name, "--label", f"{LABEL}={agent_id}", "--log-driver", "none"]
    args += ["--pull", "never", "--env-file", str(env_file)]
    if user is not None:
        args += ["--user", f"{user[0]}:{user[1]}"]
    for host, inside, read_only in paths.mounts(run.mounts):
        args += ["--volume", f"{host}:{inside}:{'ro' if read_only else 'rw'}"]
    if not run.image_working_directory:
        args += ["--workdir", working_dir]
    return [*args, *options, image, *argv]
