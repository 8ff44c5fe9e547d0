"""The portal's node page: a node's details, start task, errors and recent tasks (live), a link to its
files, and what can be done to it (reboot, remove from its pool)."""

from __future__ import annotations

from markupsafe import Markup
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from batchite.domain.errors import BatchError
from batchite.domain.node_actions import NodeAction
from batchite.portal import live
from batchite.portal.context import Signed, account_page
from batchite.portal.views.heatmap import glyph
from batchite.wire.models import BatchNode, BatchStartTask, BatchTaskExecutionInfo


def _ids(signed: Signed) -> tuple[str, str]:
    params = signed.request.path_params
    return str(params["pool"]), str(params["node"])


def details_html(signed: Signed, pool_id: str, node_id: str) -> str:
    """The live part of the node page: its state, counts, start task, errors and recent tasks."""
    try:
        node = signed.batch.nodes.get(signed.account, pool_id, node_id)
    except BatchError as err:
        return f'<p class="notice" role="status">{Markup.escape(err.message)}</p>'
    template = signed.portal.templates.env.get_template("nodes/_details.html")
    executions = _executions(signed, node.wire)
    return template.render(
        node=node.wire,
        start_task=_start_task(signed, pool_id, node.wire),
        executions=executions,
        base=signed.base,
        glyph=glyph,
    )


def _start_task(signed: Signed, pool_id: str, node: BatchNode) -> BatchStartTask | None:
    """The node's start task: the one it was given, else its pool's."""
    if node.start_task is not None:
        return node.start_task
    try:
        return signed.batch.pools.get(signed.account, pool_id).wire.start_task
    except BatchError:
        return None


def _executions(signed: Signed, node: BatchNode) -> list[BatchTaskExecutionInfo | None]:
    """The execution info (exit code, result) of each recent task, read from the task itself (a
    node's recentTasks carry only the task's state); None for a task that is gone."""
    out: list[BatchTaskExecutionInfo | None] = []
    for info in node.recent_tasks or []:
        if info.execution_info is not None or not info.job_id or not info.task_id:
            out.append(info.execution_info)
            continue
        try:
            out.append(signed.batch.tasks.get(signed.account, info.job_id, info.task_id).wire.execution_info)
        except BatchError:
            out.append(None)
    return out


def render_node(signed: Signed, status: int = 200, error: BatchError | None = None) -> Response:
    pool_id, node_id = _ids(signed)
    node = signed.batch.nodes.get(signed.account, pool_id, node_id)
    details = Markup(details_html(signed, pool_id, node.id))  # a rendered, autoescaped template
    return signed.render("nodes/node.html", status, pool_id=pool_id, node=node.wire, details=details, error=error)


@account_page
async def node_page(signed: Signed) -> Response:
    return render_node(signed)


@account_page
async def node_live(signed: Signed) -> Response:
    pool_id, node_id = _ids(signed)
    signed.batch.nodes.get(signed.account, pool_id, node_id)
    return live.stream(signed.request, {"details": lambda: details_html(signed, pool_id, node_id)})


@account_page
async def reboot(signed: Signed) -> Response:
    pool_id, node_id = _ids(signed)
    try:
        signed.batch.nodes.act(signed.account, pool_id, node_id, NodeAction.REBOOT, None)
    except BatchError as err:
        return render_node(signed, err.status, err)
    await signed.batch.committed()
    return signed.redirect(f"/pools/{pool_id}/nodes/{node_id}")


@account_page
async def remove(signed: Signed) -> Response:
    pool_id, node_id = _ids(signed)
    try:
        signed.batch.nodes.remove(signed.account, pool_id, [node_id], None)
    except BatchError as err:
        return render_node(signed, err.status, err)
    await signed.batch.committed()
    return signed.redirect(f"/pools/{pool_id}")


routes: list[BaseRoute] = [
    Route("/pools/{pool}/nodes/{node}", node_page, methods=["GET"]),
    Route("/pools/{pool}/nodes/{node}/live", node_live, methods=["GET"]),
    Route("/pools/{pool}/nodes/{node}/reboot", reboot, methods=["POST"]),
    Route("/pools/{pool}/nodes/{node}/remove", remove, methods=["POST"]),
]
