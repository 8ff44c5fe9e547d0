"""The pure parts of the task pages: the add-task form to its wire model, the tail's UTF-8 and SSE
handling, the file browser's order, filter and pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from batchite.domain.errors import BatchError
from batchite.portal.live import event as sse
from batchite.portal.views.files import (
    Scope,
    clean_path,
    content_disposition,
    crumbs,
    looks_like_text,
    natural_key,
    page_of,
)
from batchite.portal.views.tail import as_html, complete_length, first_boundary, parse_offsets
from batchite.portal.views.task_form import TaskForm, parse_dependencies
from batchite.service.files import FileInfo
from batchite.wire.enums import ElevationLevel
from batchite.wire.types import encode


def _form(**fields: str | list[str]) -> TaskForm:
    def one(name: str) -> str:
        value = fields.get(name, "")
        return value if isinstance(value, str) else value[0]

    def many(name: str) -> list[str]:
        value = fields.get(name, [])
        return [value] if isinstance(value, str) else value

    return TaskForm.read(one, many)


def test_the_form_builds_the_create_options_with_rows_constraints_and_elevation() -> None:
    form = _form(
        task_id="t1",
        command_line="/bin/sh -c 'echo hi'",
        resource_http_url=["https://example.com/a.txt", "", ""],
        resource_container_url=["", "https://acct.blob/c?sas", ""],
        resource_file_path=["in/a.txt", "data", ""],
        env_name=["A", "", "B"],
        env_value=["1", "", ""],
        max_wall_clock_time="PT30M",
        max_task_retry_count="-1",
        run_as_admin="on",
        depends_on="prep, 1-3 other",
    )
    body = form.options()
    assert body.id == "t1" and body.command_line == "/bin/sh -c 'echo hi'"
    assert [(r.http_url, r.storage_container_url, r.file_path) for r in body.resource_files or []] == [
        ("https://example.com/a.txt", None, "in/a.txt"),
        (None, "https://acct.blob/c?sas", "data"),
    ]
    assert [(e.name, e.value) for e in body.environment_settings or []] == [("A", "1"), ("B", "")]
    assert body.constraints is not None
    assert body.constraints.max_wall_clock_time == timedelta(minutes=30)
    assert body.constraints.max_task_retry_count == -1
    assert body.user_identity and body.user_identity.auto_user
    assert body.user_identity.auto_user.elevation_level == ElevationLevel.ADMIN
    assert body.depends_on and body.depends_on.task_ids == ["prep", "other"]
    assert [(r.start, r.end) for r in body.depends_on.task_id_ranges or []] == [(1, 3)]
    wire = encode(body)
    assert b'"commandLine"' in wire and b'"maxWallClockTime":"PT30M"' in wire


def test_an_empty_form_is_a_minimal_body() -> None:
    body = _form(task_id="t", command_line="true").options()
    assert body.resource_files is None and body.environment_settings is None
    assert body.constraints is None and body.user_identity is None and body.depends_on is None


@pytest.mark.parametrize(
    ("fields", "code", "prop"),
    [
        ({"command_line": "x"}, "MissingRequiredProperty", "id"),
        ({"task_id": "t"}, "MissingRequiredProperty", "commandLine"),
        (
            {"task_id": "t", "command_line": "x", "max_wall_clock_time": "30 minutes"},
            "InvalidPropertyValue",
            "constraints.maxWallClockTime",
        ),
        (
            {"task_id": "t", "command_line": "x", "max_task_retry_count": "two"},
            "InvalidPropertyValue",
            "constraints.maxTaskRetryCount",
        ),
        (
            {"task_id": "t", "command_line": "x", "resource_file_path": "a"},
            "MissingRequiredProperty",
            "resourceFiles[0].httpUrl",
        ),
        (
            {"task_id": "t", "command_line": "x", "env_value": "v"},
            "MissingRequiredProperty",
            "environmentSettings[0].name",
        ),
    ],
)
def test_bad_values_are_the_errors_the_rest_api_gives(fields: dict[str, str], code: str, prop: str) -> None:
    with pytest.raises(BatchError) as raised:
        _form(**fields).options()
    assert raised.value.code == code and raised.value.status == 400
    assert ("PropertyName", prop) in raised.value.values


def test_adding_rows_keeps_what_was_typed() -> None:
    form = _form(task_id="t", resource_http_url="https://x/y", resource_container_url="", resource_file_path="")
    form.add_row("resource")
    form.add_row("environment")
    assert [r.http_url for r in form.resources] == ["https://x/y", ""]
    assert len(form.environment) == 2


def test_dependencies_text() -> None:
    assert parse_dependencies("") is None
    deps = parse_dependencies("a,b  c-1 10-20")
    assert deps is not None and deps.task_ids == ["a", "b", "c-1"]
    assert [(r.start, r.end) for r in deps.task_id_ranges or []] == [(10, 20)]


def test_utf8_boundaries() -> None:
    euro = "€".encode()  # 3 bytes
    assert complete_length(b"abc") == 3
    assert complete_length(b"ab" + euro) == 5
    assert complete_length(b"ab" + euro[:2]) == 2
    assert complete_length(b"ab" + euro[:1]) == 2
    assert complete_length("é".encode()[:1]) == 0
    assert complete_length(b"\xff") == 1  # invalid: shown as U+FFFD, not held
    assert first_boundary(euro[1:] + b"x") == 2
    assert first_boundary(b"x") == 0


def test_log_text_is_escaped_html_and_events_keep_every_line() -> None:
    assert as_html(b"<b>&\r\nnext\rover\xff") == "&lt;b&gt;&amp;\nnext&#13;over\ufffd"
    assert sse("stdout", "line-1\n", "6,0") == "event: stdout\ndata: line-1\ndata: \nid: 6,0\n\n"
    assert parse_offsets("12,3", 2) == [12, 3]
    assert parse_offsets("12", 2) is None and parse_offsets("a,b", 2) is None and parse_offsets(None, 2) is None


def _info(name: str, directory: bool = False) -> FileInfo:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return FileInfo(
        name=name, is_directory=directory, size=0 if directory else 5, creation_time=now, last_modified=now, mode="644"
    )


def test_listing_orders_naturally_filters_and_pages() -> None:
    infos = [_info(str(i)) for i in range(1, 10001)] + [_info("sub", directory=True)]
    first = page_of(infos, "wd/d", "", 1, per_page=200)
    assert first.total == 10001 and first.pages == 51
    assert [e.name for e in first.entries[:4]] == ["sub", "1", "2", "3"]
    assert first.entries[1].path == "wd/d/1" and first.entries[0].is_directory
    last = page_of(infos, "wd/d", "", 999, per_page=200)
    assert last.page == 51 and [e.name for e in last.entries][-1] == "10000"
    found = page_of(infos, "", "9999", 1)
    assert [e.name for e in found.entries] == ["9999"] and found.matched == 1 and found.entries[0].path == "9999"
    assert natural_key("file2") < natural_key("file10")


def test_paths_crumbs_and_names() -> None:
    scope = Scope("task", "Files", "Task directory", "/u", [], lambda path: None)  # type: ignore[arg-type,return-value]
    assert clean_path("/wd//d/./x/") == "wd/d/x"
    assert crumbs(scope, "wd/d") == [
        ("Task directory", "/u/files"),
        ("wd", "/u/files?path=wd"),
        ("d", "/u/files?path=wd%2Fd"),
    ]
    assert content_disposition('a "b".txt') == "attachment; filename=\"a _b_.txt\"; filename*=UTF-8''a%20%22b%22.txt"
    assert content_disposition("é.txt").endswith("filename*=UTF-8''%C3%A9.txt")
    assert looks_like_text(b"hello\n") and not looks_like_text(b"\x00\x01")
