"""The add-task form: its fields (rows of resource files and environment variables), read from a
posted form and turned into the wire model the REST API decodes (`BatchTaskCreateOptions`).

A value the form cannot turn into the model is the Batch error the REST API gives for it
(MissingRequiredProperty, InvalidPropertyValue, naming the wire property); the rest (ids, the job's
state, dependencies allowed) the service checks.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from batchite.domain.errors import invalid_property, missing_property
from batchite.wire.enums import AutoUserScope, ElevationLevel
from batchite.wire.models import (
    AutoUserSpecification,
    BatchTaskConstraints,
    BatchTaskCreateOptions,
    BatchTaskDependencies,
    BatchTaskIdRange,
    EnvironmentSetting,
    ResourceFile,
    UserIdentity,
)
from batchite.wire.types import Duration

MAX_ROWS = 100  # rows of one kind a form may hold (adding more is refused by not adding)
_RANGE = re.compile(r"^(\d+)-(\d+)$")


@dataclass
class ResourceRow:
    http_url: str = ""
    storage_container_url: str = ""
    file_path: str = ""

    @property
    def empty(self) -> bool:
        return not (self.http_url or self.storage_container_url or self.file_path)


@dataclass
class EnvironmentRow:
    name: str = ""
    value: str = ""

    @property
    def empty(self) -> bool:
        return not (self.name or self.value)


@dataclass
class TaskForm:
    """What the add-task form holds; also what it shows again after an error or an added row."""

    task_id: str = ""
    display_name: str = ""
    command_line: str = ""
    resources: list[ResourceRow] = field(default_factory=lambda: [ResourceRow()])
    environment: list[EnvironmentRow] = field(default_factory=lambda: [EnvironmentRow()])
    max_wall_clock_time: str = ""
    max_task_retry_count: str = ""
    run_as_admin: bool = False
    depends_on: str = ""
    added: str = ""  # the kind of row just added (its first field takes the focus)

    @classmethod
    def read(cls, one: Callable[[str], str], many: Callable[[str], list[str]]) -> TaskForm:
        """The form from posted fields: `one(name)` a single value, `many(name)` every value of a row field."""
        urls, containers, paths = many("resource_http_url"), many("resource_container_url"), many("resource_file_path")
        count = max(len(urls), len(containers), len(paths))
        resources = [ResourceRow(_at(urls, i), _at(containers, i), _at(paths, i)) for i in range(min(count, MAX_ROWS))]
        names, values = many("env_name"), many("env_value")
        environment = [
            EnvironmentRow(_at(names, i), _at(values, i)) for i in range(min(max(len(names), len(values)), MAX_ROWS))
        ]
        return cls(
            task_id=one("task_id"),
            display_name=one("display_name"),
            command_line=one("command_line"),
            resources=resources or [ResourceRow()],
            environment=environment or [EnvironmentRow()],
            max_wall_clock_time=one("max_wall_clock_time"),
            max_task_retry_count=one("max_task_retry_count"),
            run_as_admin=one("run_as_admin") in ("on", "true", "1"),
            depends_on=one("depends_on"),
        )

    def add_row(self, kind: str) -> None:
        """One more empty row of resource files ("resource") or environment variables ("environment")."""
        if kind == "resource" and len(self.resources) < MAX_ROWS:
            self.resources.append(ResourceRow())
            self.added = kind
        elif kind == "environment" and len(self.environment) < MAX_ROWS:
            self.environment.append(EnvironmentRow())
            self.added = kind

    def options(self) -> BatchTaskCreateOptions:
        """The request body; a BatchError for a value the REST API would refuse when decoding it."""
        if not self.task_id:
            raise missing_property("id")
        if not self.command_line:
            raise missing_property("commandLine")
        return BatchTaskCreateOptions(
            id=self.task_id,
            display_name=self.display_name or None,
            command_line=self.command_line,
            resource_files=self._resource_files() or None,
            environment_settings=self._environment() or None,
            constraints=self._constraints(),
            user_identity=UserIdentity(
                auto_user=AutoUserSpecification(scope=AutoUserScope.TASK, elevation_level=ElevationLevel.ADMIN)
            )
            if self.run_as_admin
            else None,
            depends_on=parse_dependencies(self.depends_on),
        )

    def _resource_files(self) -> list[ResourceFile]:
        files: list[ResourceFile] = []
        for row in self.resources:
            if row.empty:
                continue
            i = len(files)
            if not (row.http_url or row.storage_container_url):
                raise missing_property(f"resourceFiles[{i}].httpUrl")
            files.append(
                ResourceFile(
                    http_url=row.http_url or None,
                    storage_container_url=row.storage_container_url or None,
                    file_path=row.file_path or None,
                )
            )
        return files

    def _environment(self) -> list[EnvironmentSetting]:
        settings: list[EnvironmentSetting] = []
        for row in self.environment:
            if row.empty:
                continue
            if not row.name:
                raise missing_property(f"environmentSettings[{len(settings)}].name")
            settings.append(EnvironmentSetting(name=row.name, value=row.value))
        return settings

    def _constraints(self) -> BatchTaskConstraints | None:
        wall, retries = self.max_wall_clock_time, self.max_task_retry_count
        if not wall and not retries:
            return None
        constraints = BatchTaskConstraints()
        if wall:
            try:
                constraints.max_wall_clock_time = Duration.parse(wall)
            except ValueError as err:
                raise invalid_property("constraints.maxWallClockTime", wall, str(err)) from None
        if retries:
            try:
                constraints.max_task_retry_count = int(retries)
            except ValueError:
                raise invalid_property(
                    "constraints.maxTaskRetryCount", retries, "The value must be a whole number (-1: no limit)."
                ) from None
        return constraints


def _at(values: list[str], i: int) -> str:
    return values[i] if i < len(values) else ""


def parse_dependencies(text: str) -> BatchTaskDependencies | None:
    """ "a, b, 3-7": task ids, and ranges of integer task ids written start-end, separated by commas
    or spaces (an id such as "1-5" is read as a range, as the form's hint says)."""
    ids: list[str] = []
    ranges: list[BatchTaskIdRange] = []
    for part in re.split(r"[,\s]+", text.strip()):
        if not part:
            continue
        match = _RANGE.match(part)
        if match:
            start, end = int(match.group(1)), int(match.group(2))
            ranges.append(BatchTaskIdRange(start=start, end=end))
        else:
            ids.append(part)
    if not ids and not ranges:
        return None
    return BatchTaskDependencies(task_ids=ids or None, task_id_ranges=ranges or None)
