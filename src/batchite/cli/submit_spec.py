"""The job file of `batchite submit`: a typed YAML model (msgspec), checked, and its tasks expanded.

Only `{i}` and `{file}` are substituted (plain replacement, so a shell's `${VAR}` or `{a,b}` stays
as written). Nothing here talks to a service: a container sweep's blob names are listed by the
caller and handed to `expand_tasks`.
"""

from __future__ import annotations

from typing import Literal

import msgspec
import msgspec.yaml

DEFAULT_VM_SIZE = "standard_d2s_v3"
DEFAULT_IMAGE = "canonical/0001-com-ubuntu-server-jammy/22_04-lts/latest"
DEFAULT_NODE_AGENT = "batch.node.ubuntu 22.04"
MAX_TASKS = 100_000  # one file's tasks, made in memory and sent 100 a request


class SpecError(Exception):
    """The job file is not valid: its message says what and where."""


class _Spec(msgspec.Struct, forbid_unknown_fields=True):
    pass


class ResourceFileSpec(_Spec):
    """A file put in the task's directory before it runs: exactly one of `url`, `container_url`
    (with an optional `prefix`) or `auto_storage_container`."""

    url: str | None = None
    container_url: str | None = None
    auto_storage_container: str | None = None
    prefix: str | None = None
    path: str | None = None
    mode: str | None = None


class OutputFileSpec(_Spec):
    """Files matching `pattern` uploaded to a container (a SAS URL with write permission)."""

    pattern: str
    container_url: str
    path: str | None = None
    upload: Literal["success", "failure", "completion"] = "success"


class PoolSpec(_Spec):
    """A pool by id: an existing one, or (with `nodes` or `low_priority_nodes`) created if absent."""

    id: str
    nodes: int | None = None
    low_priority_nodes: int | None = None
    vm_size: str = DEFAULT_VM_SIZE
    slots_per_node: int = 1
    image: str = DEFAULT_IMAGE
    node_agent_sku: str = DEFAULT_NODE_AGENT

    @property
    def creates(self) -> bool:
        return self.nodes is not None or self.low_priority_nodes is not None


class AutoPoolSpec(_Spec):
    """A pool made for the job and deleted with it (unless `keep_alive`)."""

    nodes: int = 1
    low_priority_nodes: int = 0
    vm_size: str = DEFAULT_VM_SIZE
    slots_per_node: int = 1
    image: str = DEFAULT_IMAGE
    node_agent_sku: str = DEFAULT_NODE_AGENT
    id_prefix: str | None = None
    keep_alive: bool = False


class JobSpec(_Spec):
    id: str
    priority: int = 0
    max_task_retries: int = 0
    environment: dict[str, str] = {}
    terminate_when_done: bool = True


class TaskSpec(_Spec):
    id: str
    command: str
    resource_files: list[ResourceFileSpec] = []
    output_files: list[OutputFileSpec] = []
    environment: dict[str, str] = {}
    max_retries: int | None = None


class RangeSpec(_Spec):
    stop: int
    start: int = 0
    step: int = 1


class ContainerSource(_Spec):
    """The blobs of a container (a SAS URL with list and read permissions) whose names match `glob`;
    each task gets its blob as a resource file named after the blob."""

    url: str
    glob: str = "*"


class SweepSpec(_Spec):
    """One task per value: of `range` (`{i}`), of `files` (`{file}`, `{i}` its index) or of the
    blobs of `container` (`{file}` the blob's name)."""

    command: str
    id: str = "task-{i}"
    range: int | RangeSpec | None = None
    files: list[str] | None = None
    container: ContainerSource | None = None
    resource_files: list[ResourceFileSpec] = []
    output_files: list[OutputFileSpec] = []
    environment: dict[str, str] = {}
    max_retries: int | None = None


class SubmitSpec(_Spec):
    job: JobSpec
    pool: PoolSpec | None = None
    auto_pool: AutoPoolSpec | None = None
    tasks: list[TaskSpec] | None = None
    sweep: SweepSpec | None = None


class PlannedTask(_Spec):
    """A task as it will be created: every template substituted."""

    id: str
    command: str
    resource_files: list[ResourceFileSpec]
    output_files: list[OutputFileSpec]
    environment: dict[str, str]
    max_retries: int | None = None


def parse_spec(text: str | bytes) -> SubmitSpec:
    """The job file checked, or a SpecError saying what is wrong and where."""
    try:
        spec = msgspec.yaml.decode(text, type=SubmitSpec)
    except msgspec.ValidationError as exc:
        raise SpecError(str(exc)) from exc
    except msgspec.DecodeError as exc:
        raise SpecError(f"not valid YAML: {exc}") from exc
    _check(spec)
    return spec


def _check(spec: SubmitSpec) -> None:
    if (spec.pool is None) == (spec.auto_pool is None):
        raise SpecError("exactly one of `pool` and `auto_pool` is required")
    if (spec.tasks is None) == (spec.sweep is None):
        raise SpecError("exactly one of `tasks` and `sweep` is required")
    for where, pool in (("pool", spec.pool), ("auto_pool", spec.auto_pool)):
        if pool is not None:
            _check_image(pool.image, where)
            for field in ("nodes", "low_priority_nodes", "slots_per_node"):
                value = getattr(pool, field)
                if value is not None and value < (1 if field == "slots_per_node" else 0):
                    raise SpecError(f"`{where}.{field}` must not be {value}")
    if spec.tasks is not None:
        if not spec.tasks:
            raise SpecError("`tasks` is empty")
        for n, task in enumerate(spec.tasks):
            _check_files(task.resource_files, f"tasks[{n}]")
        ids = [task.id for task in spec.tasks]
        duplicates = sorted({ident for ident in ids if ids.count(ident) > 1})
        if duplicates:
            raise SpecError(f"task ids repeated in `tasks`: {', '.join(duplicates)}")
    if spec.sweep is not None:
        _check_sweep(spec.sweep)


def _check_image(image: str, where: str) -> None:
    parts = image.split("/")
    if len(parts) not in (3, 4) or not all(parts):
        raise SpecError(f"`{where}.image` must be publisher/offer/sku[/version], not {image!r}")


def _check_files(files: list[ResourceFileSpec], where: str) -> None:
    for n, f in enumerate(files):
        sources = [s for s in (f.url, f.container_url, f.auto_storage_container) if s is not None]
        if len(sources) != 1:
            raise SpecError(
                f"`{where}.resource_files[{n}]` needs exactly one of url, container_url, auto_storage_container"
            )
        if f.url is not None and not f.path:
            raise SpecError(f"`{where}.resource_files[{n}]` with a url needs a `path`")


def _check_sweep(sweep: SweepSpec) -> None:
    sources = [s for s in (sweep.range, sweep.files, sweep.container) if s is not None]
    if len(sources) != 1:
        raise SpecError("`sweep` needs exactly one of range, files, container")
    _check_files(sweep.resource_files, "sweep")
    if sweep.files is not None and not sweep.files:
        raise SpecError("`sweep.files` is empty")
    if sweep.range is not None:
        values = sweep_range(sweep.range)
        if not values:
            raise SpecError("`sweep.range` is empty")
        if len(values) > MAX_TASKS:
            raise SpecError(f"`sweep.range` makes {len(values)} tasks; a job file makes at most {MAX_TASKS}")
    if "{i}" not in sweep.id and "{file}" not in sweep.id:
        raise SpecError("`sweep.id` must contain {i} or {file}, or every task would have the same id")


def sweep_range(value: int | RangeSpec) -> range:
    if isinstance(value, int):
        return range(value)
    if value.step == 0:
        raise SpecError("`sweep.range.step` must not be 0")
    return range(value.start, value.stop, value.step)


def _sub(template: str, i: int, file: str) -> str:
    return template.replace("{i}", str(i)).replace("{file}", file)


def _sub_resource(f: ResourceFileSpec, i: int, file: str) -> ResourceFileSpec:
    def opt(value: str | None) -> str | None:
        return None if value is None else _sub(value, i, file)

    return ResourceFileSpec(
        url=opt(f.url),
        container_url=opt(f.container_url),
        auto_storage_container=opt(f.auto_storage_container),
        prefix=opt(f.prefix),
        path=opt(f.path),
        mode=f.mode,
    )


def _sub_output(f: OutputFileSpec, i: int, file: str) -> OutputFileSpec:
    path = None if f.path is None else _sub(f.path, i, file)
    return OutputFileSpec(_sub(f.pattern, i, file), _sub(f.container_url, i, file), path, f.upload)


def expand_tasks(spec: SubmitSpec, blobs: list[tuple[str, str]] | None = None) -> list[PlannedTask]:
    """The tasks to create. `blobs` are a container sweep's (name, download URL) pairs."""
    if spec.tasks is not None:
        return [
            PlannedTask(t.id, t.command, t.resource_files, t.output_files, t.environment, t.max_retries)
            for t in spec.tasks
        ]
    sweep = spec.sweep
    assert sweep is not None  # _check: tasks or sweep
    values: list[tuple[int, str, ResourceFileSpec | None]]
    if sweep.range is not None:
        values = [(i, "", None) for i in sweep_range(sweep.range)]
    elif sweep.files is not None:
        values = [(i, name, None) for i, name in enumerate(sweep.files)]
    else:
        if not blobs:
            raise SpecError("no blob of `sweep.container` matches its glob")
        values = [(i, name, ResourceFileSpec(url=url, path=name)) for i, (name, url) in enumerate(blobs)]
    if len(values) > MAX_TASKS:
        raise SpecError(f"the sweep makes {len(values)} tasks; a job file makes at most {MAX_TASKS}")
    planned = []
    for i, file, own in values:
        resources = [_sub_resource(f, i, file) for f in sweep.resource_files]
        planned.append(
            PlannedTask(
                id=_sub(sweep.id, i, file),
                command=_sub(sweep.command, i, file),
                resource_files=([own] if own else []) + resources,
                output_files=[_sub_output(f, i, file) for f in sweep.output_files],
                environment={k: _sub(v, i, file) for k, v in sweep.environment.items()},
                max_retries=sweep.max_retries,
            )
        )
    ids = [t.id for t in planned]
    if len(set(ids)) != len(ids):
        raise SpecError("`sweep.id` gives several tasks the same id")
    return planned
