"""File browsers: a task's files and a node's files, one implementation.

A directory is listed by the service (the node agent answers, resolving the path itself: a path
that climbs out with `..` or passes through a symlink is its FileNotFound), then sorted, filtered
by name and cut into pages here, so a page of a 10,000-file directory renders 200 rows. A file is
shown (its first MiB, text only) or downloaded as a stream of what the node sends.
"""

from __future__ import annotations

import asyncio
import mimetypes
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from batchite.domain.errors import BatchError
from batchite.portal.context import Signed, account_page
from batchite.service.files import FileInfo, FileLocation

PER_PAGE = 200
THREAD_ABOVE = 2000  # entries: a listing this big is sorted on a worker thread (10,000: ~25 ms)
VIEW_BYTES = 1024 * 1024  # what a file's page shows
_DIGITS = re.compile(r"(\d+)")


@dataclass
class Scope:
    """Whose files: a task's or a node's."""

    kind: str  # "task" | "node"
    title: str  # "Files of task t1"
    root: str  # the breadcrumbs' first label
    url: str  # the browser's routes hang below: {url}/files, {url}/file, {url}/download
    owner: list[tuple[str, str]]  # links to what the files belong to (label, href)
    locate: Callable[[str], FileLocation]


def _task_scope(signed: Signed) -> Scope:
    p = signed.request.path_params
    job_id, task_id = p["job"], p["task"]
    url = f"{signed.base}/jobs/{job_id}/tasks/{task_id}"
    return Scope(
        "task",
        f"Files of task {task_id}",
        "Task directory",
        url,
        [("Jobs", f"{signed.base}/jobs"), (job_id, f"{signed.base}/jobs/{job_id}"), (task_id, url)],
        lambda path: signed.batch.files.task_location(signed.account, job_id, task_id, path),
    )


def _node_scope(signed: Signed) -> Scope:
    p = signed.request.path_params
    pool_id, node_id = p["pool"], p["node"]
    url = f"{signed.base}/pools/{pool_id}/nodes/{node_id}"
    return Scope(
        "node",
        f"Files of node {node_id}",
        "Node root",
        url,
        [("Pools", f"{signed.base}/pools"), (pool_id, f"{signed.base}/pools/{pool_id}"), (node_id, url)],
        lambda path: signed.batch.files.node_location(signed.account, pool_id, node_id, path),
    )


# -- listing --------------------------------------------------------------------------------
@dataclass
class Entry:
    name: str  # within its directory
    path: str  # from the scope's root
    is_directory: bool
    size: int
    last_modified: datetime


@dataclass
class Listing:
    entries: list[Entry]  # this page's
    total: int  # entries in the directory
    matched: int  # of those, the ones the filter keeps
    page: int  # 1-based
    pages: int
    name_filter: str


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """file2 before file10: digit runs compare as numbers ("01" and "1" tie and keep their order)."""
    return tuple((0, int(part)) if part.isdigit() else (1, part.lower()) for part in _DIGITS.split(name) if part)


def clean_path(path: str) -> str:
    """The path as the breadcrumbs and links write it (the service gets what the user gave)."""
    return "/".join(part for part in path.split("/") if part not in ("", "."))


def join(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name


def page_of(infos: list[FileInfo], directory: str, name_filter: str, page: int, per_page: int = PER_PAGE) -> Listing:
    """Directories first, then files, each in natural order; those whose name holds `name_filter`
    (any case); page `page` of them (clamped to the pages there are)."""
    needle = name_filter.lower()
    kept = [info for info in infos if needle in info.name.lower()] if needle else infos
    kept = sorted(kept, key=lambda info: (not info.is_directory, natural_key(info.name)))
    pages = max(1, -(-len(kept) // per_page))
    page = min(max(1, page), pages)
    window = kept[(page - 1) * per_page : page * per_page]
    entries = [Entry(i.name, join(directory, i.name), i.is_directory, i.size, i.last_modified) for i in window]
    return Listing(entries, len(infos), len(kept), page, pages, name_filter)


def crumbs(scope: Scope, path: str) -> list[tuple[str, str]]:
    """(label, listing href) from the root down to `path`."""
    out = [(scope.root, f"{scope.url}/files")]
    parts = [p for p in path.split("/") if p]
    for i, part in enumerate(parts):
        out.append((part, f"{scope.url}/files?{urlencode({'path': '/'.join(parts[: i + 1])})}"))
    return out


def _page_number(text: str) -> int:
    return int(text) if text.isdigit() and len(text) < 9 else 1


async def _listing(signed: Signed, scope: Scope) -> Response:
    raw = signed.query("path")
    path = clean_path(raw)
    values: dict[str, Any] = {
        "scope": scope,
        "path": path,
        "crumbs": crumbs(scope, path),
        "name_filter": signed.query("filter"),
    }
    try:
        infos = await signed.batch.files.list(scope.locate(raw), recursive=False)
    except BatchError as err:
        if err.code == "FileNotFound" and path and ".." not in raw.split("/"):
            try:  # a file's path: its page
                info = await signed.batch.files.stat(scope.locate(raw))
                if not info.is_directory:
                    return signed.redirect(f"{scope.url}/file?{urlencode({'path': path})}")
            except BatchError:
                pass
        return signed.error(err, "files/browser.html", listing=None, **values)
    args = (infos, path, signed.query("filter"), _page_number(signed.query("page")))
    # sorting a big directory (up to the agent's 100,000 entries) is done off the event loop
    listing = await asyncio.to_thread(page_of, *args) if len(infos) > THREAD_ABOVE else page_of(*args)
    return signed.render("files/browser.html", listing=listing, **values)


# -- one file -------------------------------------------------------------------------------
def looks_like_text(data: bytes) -> bool:
    """No NUL byte in its first 8 KiB, and mostly valid UTF-8 there."""
    head = data[:8192]
    if b"\0" in head:
        return False
    text = head.decode("utf-8", errors="replace")
    return text.count("\ufffd") <= max(2, len(text) // 100)


async def read_head(signed: Signed, loc: FileLocation, size: int, limit: int) -> bytes:
    if size == 0:
        return b""
    chunks = await signed.batch.files.read(loc, 0, min(size, limit) - 1)
    parts = [part async for part in chunks]
    return b"".join(parts)


async def _file(signed: Signed, scope: Scope) -> Response:
    raw = signed.query("path")
    path = clean_path(raw)
    directory = path.rpartition("/")[0]
    values: dict[str, Any] = {
        "scope": scope,
        "path": path,
        "crumbs": crumbs(scope, directory),
        "name": path.rpartition("/")[2],
    }
    try:
        loc = scope.locate(raw)
        info = await signed.batch.files.stat(loc)
        if info.is_directory:
            return signed.redirect(f"{scope.url}/files?{urlencode({'path': path})}")
        head = await read_head(signed, loc, info.size, VIEW_BYTES)
    except BatchError as err:
        return signed.error(err, "files/file.html", info=None, **values)
    text = head.decode("utf-8", errors="replace") if looks_like_text(head) else None
    download = f"{scope.url}/download?{urlencode({'path': path})}"
    return signed.render("files/file.html", info=info, text=text, shown=len(head), download=download, **values)


def content_disposition(name: str) -> str:
    """attachment, with an ASCII fallback name and the real one in RFC 5987 form."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in name) or "file"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


async def _download(signed: Signed, scope: Scope) -> Response:
    raw = signed.query("path")
    name = clean_path(raw).rpartition("/")[2]
    loc = scope.locate(raw)
    info = await signed.batch.files.stat(loc)  # a BatchError: shown as the Batch error, with its status
    if info.is_directory:
        raise BatchError(400, "InvalidUri", "The specified path is a directory, not a file.")
    size = info.size
    chunks = await signed.batch.files.read(loc, 0, size - 1) if size else None

    async def body() -> AsyncIterator[bytes]:
        if chunks is None:
            return
        async for part in chunks:
            yield part

    headers = {
        "Content-Length": str(size),
        "Content-Disposition": content_disposition(name),
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    media = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return StreamingResponse(body(), media_type=media, headers=headers)


# -- routes ---------------------------------------------------------------------------------
@account_page
async def task_files(signed: Signed) -> Response:
    return await _listing(signed, _task_scope(signed))


@account_page
async def task_file(signed: Signed) -> Response:
    return await _file(signed, _task_scope(signed))


@account_page
async def task_download(signed: Signed) -> Response:
    return await _download(signed, _task_scope(signed))


@account_page
async def node_files(signed: Signed) -> Response:
    return await _listing(signed, _node_scope(signed))


@account_page
async def node_file(signed: Signed) -> Response:
    return await _file(signed, _node_scope(signed))


@account_page
async def node_download(signed: Signed) -> Response:
    return await _download(signed, _node_scope(signed))


routes: list[BaseRoute] = [
    Route("/jobs/{job}/tasks/{task}/files", task_files, methods=["GET"]),
    Route("/jobs/{job}/tasks/{task}/file", task_file, methods=["GET"]),
    Route("/jobs/{job}/tasks/{task}/download", task_download, methods=["GET"]),
    Route("/pools/{pool}/nodes/{node}/files", node_files, methods=["GET"]),
    Route("/pools/{pool}/nodes/{node}/file", node_file, methods=["GET"]),
    Route("/pools/{pool}/nodes/{node}/download", node_download, methods=["GET"]),
]
