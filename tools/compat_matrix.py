#!/usr/bin/env python3
"""Write ``docs/compatibility.md``: every data-plane operation, whether Batchite implements it, which tests cover it.

Sources (nothing is typed in by hand except the fallbacks named below):

* **Operations**: the 72 rows of the operation table in ``batch-api.md`` §2 (``../shared/reference/batch-api.md``
  from the repository root, or ``--api-md``); when that file is absent, the same 72 ``(operationId, method, path)``
  triples embedded below.
* **SDK 15.1.0**: the installed ``azure/batch/_operations/_operations.py`` is parsed with :mod:`ast` (nothing is
  imported from it): each ``build_batch_<name>_request`` function gives a method and URL template, matched to an
  operation by method + path. The public client methods that send it are ``<name>`` itself, or, for the
  generated ``_<name>_internal`` methods and the hand-written helpers, the public methods of
  ``_operations/_patch.py`` that call them (``begin_delete_pool`` -> ``_delete_pool_internal``,
  ``create_tasks`` -> ``create_task_collection``, ``get_task_file_properties`` -> ...).
* **SDK 14.2.0** (msrest): cannot be installed beside 15.1.0, so its operation groups are embedded below
  (``client.pool.add`` -> ``POST /pools``, read from the 14.2.0 wheel's ``metadata['url']``), and matched to
  operations by method + path like 15.1.0.
* **Implemented**: ``batchite.api.app`` is imported, then ``batchite.api.routing.OPERATIONS`` (filled by every
  ``@operation(...)`` route) is read; an operation counts when its id is registered with the table's method and
  path.
* **Tests**: every ``test*`` function in ``tests/`` and ``tests_legacy/`` (files that talk to an SDK client; not
  ``tests/unit/``, which never reaches a server) is parsed; an operation is covered by a test when the test, a
  helper it calls (same module, ``conftest.py``, ``tests/sdk.py``, ...) or a fixture it requests calls
  ``<x>.<15.x method>(...)`` or ``<x>.<group>.<14.x method>(...)``.
* **Known issues of the Azure CLI**: a static section, typed in by hand in ``tools/az_cli_issues.py`` (each row names
  the test of ``tests/cli/test_az_cli_bugs.py`` that shows it).

Usage::

    python tools/compat_matrix.py                       # (re)write docs/compatibility.md
    python tools/compat_matrix.py --check               # exit 1 if an operation is unimplemented or untested,
                                                        #   or docs/compatibility.md is stale
    python tools/compat_matrix.py --check --allow-gaps  # only fail on a stale docs/compatibility.md
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import az_cli_issues  # tools/, beside this script

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_API_MD = REPO_ROOT.parent / "shared" / "reference" / "batch-api.md"
DEFAULT_OUTPUT = REPO_ROOT / "docs" / "compatibility.md"
TEST_ROOTS = ("tests", "tests_legacy")
# Unit tests never reach a server: an SDK call there (e.g. into a capturing transport) covers no operation.
EXCLUDED_TEST_DIRS = ("tests/unit",)
SDK_VERSION = "15.1.0"
LEGACY_SDK_VERSION = "14.2.0"

# batch-api.md §2, in its order: the fallback when the file is not there.
EMBEDDED_OPERATIONS: tuple[tuple[str, str, str], ...] = (
    ("Applications_ListApplications", "GET", "/applications"),
    ("Applications_GetApplication", "GET", "/applications/{applicationId}"),
    ("Pools_ListPoolUsageMetrics", "GET", "/poolusagemetrics"),
    ("Pools_CreatePool", "POST", "/pools"),
    ("Pools_ListPools", "GET", "/pools"),
    ("Pools_DeletePool", "DELETE", "/pools/{poolId}"),
    ("Pools_PoolExists", "HEAD", "/pools/{poolId}"),
    ("Pools_GetPool", "GET", "/pools/{poolId}"),
    ("Pools_UpdatePool", "PATCH", "/pools/{poolId}"),
    ("Pools_DisablePoolAutoScale", "POST", "/pools/{poolId}/disableautoscale"),
    ("Pools_EnablePoolAutoScale", "POST", "/pools/{poolId}/enableautoscale"),
    ("Pools_EvaluatePoolAutoScale", "POST", "/pools/{poolId}/evaluateautoscale"),
    ("Pools_ResizePool", "POST", "/pools/{poolId}/resize"),
    ("Pools_StopPoolResize", "POST", "/pools/{poolId}/stopresize"),
    ("Pools_ReplacePoolProperties", "POST", "/pools/{poolId}/updateproperties"),
    ("Pools_RemoveNodes", "POST", "/pools/{poolId}/removenodes"),
    ("Pools_ListSupportedImages", "GET", "/supportedimages"),
    ("Pools_ListPoolNodeCounts", "GET", "/nodecounts"),
    ("Jobs_DeleteJob", "DELETE", "/jobs/{jobId}"),
    ("Jobs_GetJob", "GET", "/jobs/{jobId}"),
    ("Jobs_UpdateJob", "PATCH", "/jobs/{jobId}"),
    ("Jobs_ReplaceJob", "PUT", "/jobs/{jobId}"),
    ("Jobs_DisableJob", "POST", "/jobs/{jobId}/disable"),
    ("Jobs_EnableJob", "POST", "/jobs/{jobId}/enable"),
    ("Jobs_TerminateJob", "POST", "/jobs/{jobId}/terminate"),
    ("Jobs_CreateJob", "POST", "/jobs"),
    ("Jobs_ListJobs", "GET", "/jobs"),
    ("Jobs_ListJobsFromSchedule", "GET", "/jobschedules/{jobScheduleId}/jobs"),
    ("Jobs_ListJobPreparationAndReleaseTaskStatus", "GET", "/jobs/{jobId}/jobpreparationandreleasetaskstatus"),
    ("Jobs_GetJobTaskCounts", "GET", "/jobs/{jobId}/taskcounts"),
    ("JobSchedules_JobScheduleExists", "HEAD", "/jobschedules/{jobScheduleId}"),
    ("JobSchedules_DeleteJobSchedule", "DELETE", "/jobschedules/{jobScheduleId}"),
    ("JobSchedules_GetJobSchedule", "GET", "/jobschedules/{jobScheduleId}"),
    ("JobSchedules_UpdateJobSchedule", "PATCH", "/jobschedules/{jobScheduleId}"),
    ("JobSchedules_ReplaceJobSchedule", "PUT", "/jobschedules/{jobScheduleId}"),
    ("JobSchedules_DisableJobSchedule", "POST", "/jobschedules/{jobScheduleId}/disable"),
    ("JobSchedules_EnableJobSchedule", "POST", "/jobschedules/{jobScheduleId}/enable"),
    ("JobSchedules_TerminateJobSchedule", "POST", "/jobschedules/{jobScheduleId}/terminate"),
    ("JobSchedules_CreateJobSchedule", "POST", "/jobschedules"),
    ("JobSchedules_ListJobSchedules", "GET", "/jobschedules"),
    ("Tasks_CreateTask", "POST", "/jobs/{jobId}/tasks"),
    ("Tasks_ListTasks", "GET", "/jobs/{jobId}/tasks"),
    ("Tasks_CreateTaskCollection", "POST", "/jobs/{jobId}/addtaskcollection"),
    ("Tasks_DeleteTask", "DELETE", "/jobs/{jobId}/tasks/{taskId}"),
    ("Tasks_GetTask", "GET", "/jobs/{jobId}/tasks/{taskId}"),
    ("Tasks_ReplaceTask", "PUT", "/jobs/{jobId}/tasks/{taskId}"),
    ("Tasks_ListSubTasks", "GET", "/jobs/{jobId}/tasks/{taskId}/subtasksinfo"),
    ("Tasks_TerminateTask", "POST", "/jobs/{jobId}/tasks/{taskId}/terminate"),
    ("Tasks_ReactivateTask", "POST", "/jobs/{jobId}/tasks/{taskId}/reactivate"),
    ("Tasks_DeleteTaskFile", "DELETE", "/jobs/{jobId}/tasks/{taskId}/files/{filePath}"),
    ("Tasks_GetTaskFile", "GET", "/jobs/{jobId}/tasks/{taskId}/files/{filePath}"),
    ("Tasks_GetTaskFileProperties", "HEAD", "/jobs/{jobId}/tasks/{taskId}/files/{filePath}"),
    ("Tasks_ListTaskFiles", "GET", "/jobs/{jobId}/tasks/{taskId}/files"),
    ("Nodes_CreateNodeUser", "POST", "/pools/{poolId}/nodes/{nodeId}/users"),
    ("Nodes_DeleteNodeUser", "DELETE", "/pools/{poolId}/nodes/{nodeId}/users/{userName}"),
    ("Nodes_ReplaceNodeUser", "PUT", "/pools/{poolId}/nodes/{nodeId}/users/{userName}"),
    ("Nodes_GetNode", "GET", "/pools/{poolId}/nodes/{nodeId}"),
    ("Nodes_RebootNode", "POST", "/pools/{poolId}/nodes/{nodeId}/reboot"),
    ("Nodes_StartNode", "POST", "/pools/{poolId}/nodes/{nodeId}/start"),
    ("Nodes_DeallocateNode", "POST", "/pools/{poolId}/nodes/{nodeId}/deallocate"),
    ("Nodes_ReimageNode", "POST", "/pools/{poolId}/nodes/{nodeId}/reimage"),
    ("Nodes_DisableNodeScheduling", "POST", "/pools/{poolId}/nodes/{nodeId}/disablescheduling"),
    ("Nodes_EnableNodeScheduling", "POST", "/pools/{poolId}/nodes/{nodeId}/enablescheduling"),
    ("Nodes_GetNodeRemoteLoginSettings", "GET", "/pools/{poolId}/nodes/{nodeId}/remoteloginsettings"),
    ("Nodes_UploadNodeLogs", "POST", "/pools/{poolId}/nodes/{nodeId}/uploadbatchservicelogs"),
    ("Nodes_ListNodes", "GET", "/pools/{poolId}/nodes"),
    ("Nodes_GetNodeExtension", "GET", "/pools/{poolId}/nodes/{nodeId}/extensions/{extensionName}"),
    ("Nodes_ListNodeExtensions", "GET", "/pools/{poolId}/nodes/{nodeId}/extensions"),
    ("Nodes_DeleteNodeFile", "DELETE", "/pools/{poolId}/nodes/{nodeId}/files/{filePath}"),
    ("Nodes_GetNodeFile", "GET", "/pools/{poolId}/nodes/{nodeId}/files/{filePath}"),
    ("Nodes_GetNodeFileProperties", "HEAD", "/pools/{poolId}/nodes/{nodeId}/files/{filePath}"),
    ("Nodes_ListNodeFiles", "GET", "/pools/{poolId}/nodes/{nodeId}/files"),
)

# azure-batch 14.2.0: (operation group attribute of BatchServiceClient, method) -> (HTTP method, URL template),
# read from the wheel's `<method>.metadata = {'url': ...}` and `self._client.<verb>(...)`. Certificates and
# `compute_node.get_remote_desktop` are left out: they are not among the 72 operations.
LEGACY_OPERATIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("account", "list_supported_images"): ("GET", "/supportedimages"),
    ("account", "list_pool_node_counts"): ("GET", "/nodecounts"),
    ("application", "list"): ("GET", "/applications"),
    ("application", "get"): ("GET", "/applications/{applicationId}"),
    ("compute_node_extension", "get"): ("GET", "/pools/{poolId}/nodes/{nodeId}/extensions/{extensionName}"),
    ("compute_node_extension", "list"): ("GET", "/pools/{poolId}/nodes/{nodeId}/extensions"),
    ("compute_node", "add_user"): ("POST", "/pools/{poolId}/nodes/{nodeId}/users"),
    ("compute_node", "delete_user"): ("DELETE", "/pools/{poolId}/nodes/{nodeId}/users/{userName}"),
    ("compute_node", "update_user"): ("PUT", "/pools/{poolId}/nodes/{nodeId}/users/{userName}"),
    ("compute_node", "get"): ("GET", "/pools/{poolId}/nodes/{nodeId}"),
    ("compute_node", "reboot"): ("POST", "/pools/{poolId}/nodes/{nodeId}/reboot"),
    ("compute_node", "reimage"): ("POST", "/pools/{poolId}/nodes/{nodeId}/reimage"),
    ("compute_node", "disable_scheduling"): ("POST", "/pools/{poolId}/nodes/{nodeId}/disablescheduling"),
    ("compute_node", "enable_scheduling"): ("POST", "/pools/{poolId}/nodes/{nodeId}/enablescheduling"),
    ("compute_node", "get_remote_login_settings"): ("GET", "/pools/{poolId}/nodes/{nodeId}/remoteloginsettings"),
    ("compute_node", "upload_batch_service_logs"): ("POST", "/pools/{poolId}/nodes/{nodeId}/uploadbatchservicelogs"),
    ("compute_node", "list"): ("GET", "/pools/{poolId}/nodes"),
    ("file", "delete_from_task"): ("DELETE", "/jobs/{jobId}/tasks/{taskId}/files/{filePath}"),
    ("file", "get_from_task"): ("GET", "/jobs/{jobId}/tasks/{taskId}/files/{filePath}"),
    ("file", "get_properties_from_task"): ("HEAD", "/jobs/{jobId}/tasks/{taskId}/files/{filePath}"),
    ("file", "delete_from_compute_node"): ("DELETE", "/pools/{poolId}/nodes/{nodeId}/files/{filePath}"),
    ("file", "get_from_compute_node"): ("GET", "/pools/{poolId}/nodes/{nodeId}/files/{filePath}"),
    ("file", "get_properties_from_compute_node"): ("HEAD", "/pools/{poolId}/nodes/{nodeId}/files/{filePath}"),
    ("file", "list_from_task"): ("GET", "/jobs/{jobId}/tasks/{taskId}/files"),
    ("file", "list_from_compute_node"): ("GET", "/pools/{poolId}/nodes/{nodeId}/files"),
    ("job", "delete"): ("DELETE", "/jobs/{jobId}"),
    ("job", "get"): ("GET", "/jobs/{jobId}"),
    ("job", "patch"): ("PATCH", "/jobs/{jobId}"),
    ("job", "update"): ("PUT", "/jobs/{jobId}"),
    ("job", "disable"): ("POST", "/jobs/{jobId}/disable"),
    ("job", "enable"): ("POST", "/jobs/{jobId}/enable"),
    ("job", "terminate"): ("POST", "/jobs/{jobId}/terminate"),
    ("job", "add"): ("POST", "/jobs"),
    ("job", "list"): ("GET", "/jobs"),
    ("job", "list_from_job_schedule"): ("GET", "/jobschedules/{jobScheduleId}/jobs"),
    ("job", "list_preparation_and_release_task_status"): ("GET", "/jobs/{jobId}/jobpreparationandreleasetaskstatus"),
    ("job", "get_task_counts"): ("GET", "/jobs/{jobId}/taskcounts"),
    ("job_schedule", "exists"): ("HEAD", "/jobschedules/{jobScheduleId}"),
    ("job_schedule", "delete"): ("DELETE", "/jobschedules/{jobScheduleId}"),
    ("job_schedule", "get"): ("GET", "/jobschedules/{jobScheduleId}"),
    ("job_schedule", "patch"): ("PATCH", "/jobschedules/{jobScheduleId}"),
    ("job_schedule", "update"): ("PUT", "/jobschedules/{jobScheduleId}"),
    ("job_schedule", "disable"): ("POST", "/jobschedules/{jobScheduleId}/disable"),
    ("job_schedule", "enable"): ("POST", "/jobschedules/{jobScheduleId}/enable"),
    ("job_schedule", "terminate"): ("POST", "/jobschedules/{jobScheduleId}/terminate"),
    ("job_schedule", "add"): ("POST", "/jobschedules"),
    ("job_schedule", "list"): ("GET", "/jobschedules"),
    ("pool", "list_usage_metrics"): ("GET", "/poolusagemetrics"),
    ("pool", "add"): ("POST", "/pools"),
    ("pool", "list"): ("GET", "/pools"),
    ("pool", "delete"): ("DELETE", "/pools/{poolId}"),
    ("pool", "exists"): ("HEAD", "/pools/{poolId}"),
    ("pool", "get"): ("GET", "/pools/{poolId}"),
    ("pool", "patch"): ("PATCH", "/pools/{poolId}"),
    ("pool", "disable_auto_scale"): ("POST", "/pools/{poolId}/disableautoscale"),
    ("pool", "enable_auto_scale"): ("POST", "/pools/{poolId}/enableautoscale"),
    ("pool", "evaluate_auto_scale"): ("POST", "/pools/{poolId}/evaluateautoscale"),
    ("pool", "resize"): ("POST", "/pools/{poolId}/resize"),
    ("pool", "stop_resize"): ("POST", "/pools/{poolId}/stopresize"),
    ("pool", "update_properties"): ("POST", "/pools/{poolId}/updateproperties"),
    ("pool", "remove_nodes"): ("POST", "/pools/{poolId}/removenodes"),
    ("task", "add"): ("POST", "/jobs/{jobId}/tasks"),
    ("task", "list"): ("GET", "/jobs/{jobId}/tasks"),
    ("task", "add_collection"): ("POST", "/jobs/{jobId}/addtaskcollection"),
    ("task", "delete"): ("DELETE", "/jobs/{jobId}/tasks/{taskId}"),
    ("task", "get"): ("GET", "/jobs/{jobId}/tasks/{taskId}"),
    ("task", "update"): ("PUT", "/jobs/{jobId}/tasks/{taskId}"),
    ("task", "list_subtasks"): ("GET", "/jobs/{jobId}/tasks/{taskId}/subtasksinfo"),
    ("task", "terminate"): ("POST", "/jobs/{jobId}/tasks/{taskId}/terminate"),
    ("task", "reactivate"): ("POST", "/jobs/{jobId}/tasks/{taskId}/reactivate"),
}

_ROW = re.compile(r"^\|\s*(\d+)\s*\|\s*`(\w+)`\s*\|\s*([A-Z]+)\s*\|\s*`([^`]+)`\s*\|")
_PARAM = re.compile(r"\{[^}]*\}")
_BUILDER = re.compile(r"^build_batch_(\w+)_request$")


class MatrixError(Exception):
    """The inputs cannot be read or do not agree; the matrix would be wrong."""


def route_key(method: str, path: str) -> tuple[str, str]:
    """Method + path with parameter names erased: `/pools/{poolId}` and `/pools/{pool_id}` are one route."""
    return method.upper(), _PARAM.sub("{}", path.rstrip("/") or "/")


@dataclass
class Operation:
    number: int
    operation_id: str
    method: str
    path: str
    sdk_methods: list[str] = field(default_factory=list)  # public BatchClient methods (15.1.0)
    builders: list[str] = field(default_factory=list)  # build_batch_*_request functions (15.1.0)
    legacy_methods: list[str] = field(default_factory=list)  # "group.method" (14.2.0)
    implemented: str = "no"
    tests: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return route_key(self.method, self.path)

    @property
    def tested(self) -> bool:
        """Covered by at least one test that is not an expected failure."""
        return any(not t.endswith(" (xfail)") for t in self.tests)


# --------------------------------------------------------------------------------------------- operations


def load_operations(api_md: Path, warnings: list[str]) -> list[Operation]:
    """The 72 operations of batch-api.md §2 (or the embedded copy when the file is not there)."""
    rows: list[tuple[int, str, str, str]] = []
    if api_md.is_file():
        for line in api_md.read_text(encoding="utf-8").splitlines():
            m = _ROW.match(line)
            if m:
                rows.append((int(m.group(1)), m.group(2), m.group(3), m.group(4)))
        if not rows:
            raise MatrixError(f"{api_md}: no operation rows found (expected `| n | `Group_Op` | METHOD | `/path` |`)")
        embedded = {op_id: (method, path) for op_id, method, path in EMBEDDED_OPERATIONS}
        parsed = {op_id: (method, path) for _, op_id, method, path in rows}
        if parsed != embedded:
            warnings.append(
                f"{api_md} differs from the operations embedded in tools/compat_matrix.py "
                f"(only in the file: {sorted(set(parsed) - set(embedded))}, "
                f"only embedded: {sorted(set(embedded) - set(parsed))}); using the file"
            )
    else:
        warnings.append(f"{api_md} not found; using the {len(EMBEDDED_OPERATIONS)} embedded operations")
        rows = [(i, op_id, method, path) for i, (op_id, method, path) in enumerate(EMBEDDED_OPERATIONS, 1)]
    ids = [r[1] for r in rows]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise MatrixError(f"operationIds listed twice: {duplicates}")
    keys = [route_key(r[2], r[3]) for r in rows]
    clashing = sorted({f"{m} {p}" for m, p in keys if keys.count((m, p)) > 1})
    if clashing:
        raise MatrixError(f"routes listed twice: {clashing}")
    return [Operation(number, op_id, method, path) for number, op_id, method, path in sorted(rows)]


# --------------------------------------------------------------------------------------------- SDK 15.1.0


def sdk_directory() -> Path:
    spec = importlib.util.find_spec("azure.batch")
    if spec is None or not spec.submodule_search_locations:
        raise MatrixError("azure-batch is not installed in this interpreter (run with .venv/bin/python)")
    return Path(next(iter(spec.submodule_search_locations)))


def sdk_version(sdk_dir: Path) -> str:
    tree = ast.parse((sdk_dir / "_version.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "VERSION" for t in node.targets)
            and isinstance(node.value, ast.Constant)
        ):
            return str(node.value.value)
    raise MatrixError(f"{sdk_dir / '_version.py'}: no VERSION")


@dataclass
class Builder:
    name: str  # the <name> of build_batch_<name>_request
    method: str
    url: str


def parse_builders(source: str) -> list[Builder]:
    """Every `build_batch_<name>_request`: its HttpRequest method and the `_url` template it formats."""
    builders = []
    for node in ast.parse(source).body:
        if not isinstance(node, ast.FunctionDef):
            continue
        m = _BUILDER.match(node.name)
        if not m:
            continue
        url = method = None
        for sub in ast.walk(node):
            if (
                isinstance(sub, ast.Assign | ast.AnnAssign)
                and url is None
                and isinstance(sub.value, ast.Constant)
                and isinstance(sub.value.value, str)
            ):
                targets = sub.targets if isinstance(sub, ast.Assign) else [sub.target]
                if any(isinstance(t, ast.Name) and t.id == "_url" for t in targets):
                    url = sub.value.value
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id == "HttpRequest":
                for kw in sub.keywords:
                    if kw.arg == "method" and isinstance(kw.value, ast.Constant):
                        method = str(kw.value.value)
        if url is None or method is None:
            raise MatrixError(f"{node.name}: no `_url = ...` or `HttpRequest(method=...)` found")
        builders.append(Builder(m.group(1), method.upper(), url))
    return builders


def _class_methods(tree: ast.Module, class_name: str) -> dict[str, ast.FunctionDef]:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            return {f.name: f for f in node.body if isinstance(f, ast.FunctionDef)}
    raise MatrixError(f"class {class_name} not found")


def _called_attributes(nodes: Iterable[ast.AST]) -> set[str]:
    names = set()
    for node in nodes:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute):
                names.add(sub.func.attr)
    return names


def patch_callers(patch_source: str) -> dict[str, set[str]]:
    """Public methods of the hand-written mixin -> generated methods they call (directly, or through a helper
    class of the same module they instantiate, as `create_tasks` does with `_TaskWorkflowManager`)."""
    tree = ast.parse(patch_source)
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    result: dict[str, set[str]] = {}
    for name, func in _class_methods(tree, "_BatchClientOperationsMixin").items():
        if name.startswith("_"):
            continue
        scope: list[ast.AST] = [func]
        for sub in ast.walk(func):
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id in classes:
                scope.append(classes[sub.func.id])
        result[name] = _called_attributes(scope)
    return result


def attach_sdk(operations: list[Operation], sdk_dir: Path) -> dict[str, str]:
    """Fill `builders` and `sdk_methods`; return public SDK method name -> operationId."""
    ops_dir = sdk_dir / "_operations"
    generated = (ops_dir / "_operations.py").read_text(encoding="utf-8")
    builders = parse_builders(generated)
    mixin = _class_methods(ast.parse(generated), "_BatchClientOperationsMixin")
    callers = patch_callers((ops_dir / "_patch.py").read_text(encoding="utf-8"))
    by_key = {op.key: op for op in operations}
    by_name = {op.operation_id.split("_", 1)[1].lower(): op for op in operations}
    public: dict[str, str] = {}
    unmatched = []
    for b in builders:
        base = b.name.removesuffix("_internal")
        op = by_key.get(route_key(b.method, b.url)) or by_name.get(base.replace("_", ""))
        if op is None:
            unmatched.append(f"build_batch_{b.name}_request ({b.method} {b.url})")
            continue
        op.builders.append(f"build_batch_{b.name}_request")
        generated_name = b.name if b.name == base else f"_{b.name}"
        names = {generated_name} if not generated_name.startswith("_") and generated_name in mixin else set()
        names |= {p for p, called in callers.items() if generated_name in called or p == generated_name}
        for n in sorted(names):
            if n in public and public[n] != op.operation_id:
                raise MatrixError(f"SDK method {n} sends both {public[n]} and {op.operation_id}")
            public[n] = op.operation_id
            if n not in op.sdk_methods:
                op.sdk_methods.append(n)
    if unmatched:
        raise MatrixError("SDK request builders that match no operation of batch-api.md: " + ", ".join(unmatched))
    missing = [op.operation_id for op in operations if not op.builders]
    if missing:
        raise MatrixError(f"operations no SDK {SDK_VERSION} request builder sends: {missing}")
    without_method = [op.operation_id for op in operations if not op.sdk_methods]
    if without_method:
        raise MatrixError(f"operations with no public SDK {SDK_VERSION} method: {without_method}")
    return public


def attach_legacy(operations: list[Operation]) -> dict[tuple[str, str], str]:
    by_key = {op.key: op for op in operations}
    legacy: dict[tuple[str, str], str] = {}
    for (group, method), (verb, path) in sorted(LEGACY_OPERATIONS.items()):
        op = by_key.get(route_key(verb, path))
        if op is None:
            raise MatrixError(f"azure-batch {LEGACY_SDK_VERSION} {group}.{method} ({verb} {path}) matches no operation")
        op.legacy_methods.append(f"{group}.{method}")
        legacy[(group, method)] = op.operation_id
    return legacy


# --------------------------------------------------------------------------------------------- Batchite


def registered_operations() -> dict[str, tuple[str, str]]:
    """`batchite.api.routing.OPERATIONS` once every route module is imported (through `batchite.api.app`)."""
    if importlib.util.find_spec("batchite") is None:
        sys.path.insert(0, str(REPO_ROOT / "src"))
    try:
        importlib.import_module("batchite.api.app")
        registry = importlib.import_module("batchite.api.routing").OPERATIONS
    except Exception as exc:  # a route module that does not import is a broken build, not an empty registry
        raise MatrixError(f"cannot import batchite.api.app: {type(exc).__name__}: {exc}") from exc
    return {str(k): (str(v[0]), str(v[1])) for k, v in registry.items()}


def attach_implementation(operations: list[Operation], registry: dict[str, tuple[str, str]]) -> list[str]:
    """Set `implemented`; return registered ids that are not among the operations (or are on another route)."""
    known = {op.operation_id for op in operations}
    for op in operations:
        if op.operation_id not in registry:
            continue
        method, path = registry[op.operation_id]
        if route_key(method, path) == op.key:
            op.implemented = "yes"
        else:
            op.implemented = f"no (registered as {method} `{path}`)"
    return sorted(f"{k} ({m} `{p}`)" for k, (m, p) in registry.items() if k not in known)


# --------------------------------------------------------------------------------------------- tests


@dataclass
class Function:
    module: Path  # relative to the repository root
    qualname: str  # Class.test_name or test_name
    node: ast.FunctionDef | ast.AsyncFunctionDef
    is_fixture: bool
    calls: set[str] = field(default_factory=set)  # operationIds called directly (incl. nested defs/lambdas)
    names: set[str] = field(default_factory=set)  # plain names it calls or refers to (helpers)
    params: list[str] = field(default_factory=list)  # fixture requests


def _is_xfail(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """`@pytest.mark.xfail(...)`: the test documents a known bug, so it covers the operation only on paper."""
    for dec in node.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        if isinstance(target, ast.Attribute) and target.attr == "xfail":
            return True
    return False


def _is_fixture(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for dec in node.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        if (isinstance(target, ast.Attribute) and target.attr == "fixture") or (
            isinstance(target, ast.Name) and target.id == "fixture"
        ):
            return True
    return False


def _speaks_sdk(source: str, tree: ast.Module) -> bool:
    """Only files that talk to an SDK client count; `store.get_pool(...)` in a unit test is no SDK call."""
    if "azure.batch" in source or "make_client" in source or "make_legacy_client" in source:
        return True
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and any(a.arg == "client" or a.arg.endswith("_client") for a in node.args.args)
        for node in ast.walk(tree)
    )


def _functions(tree: ast.Module) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node.name, node
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef):
                    yield f"{node.name}.{sub.name}", sub


def scan_module(path: Path, sdk_methods: dict[str, str], legacy: dict[tuple[str, str], str]) -> list[Function] | None:
    source = path.read_text(encoding="utf-8")
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        raise MatrixError(f"cannot parse {path}: {exc}") from exc
    if not _speaks_sdk(source, tree):
        return None
    groups = {group for group, _ in legacy}
    result = []
    for qualname, node in _functions(tree):
        fn = Function(
            module=path.relative_to(REPO_ROOT),
            qualname=qualname,
            node=node,
            is_fixture=_is_fixture(node),
            params=[a.arg for a in node.args.args + node.args.kwonlyargs],
        )
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute):
                method, receiver = sub.func.attr, sub.func.value
                if isinstance(receiver, ast.Attribute) and receiver.attr in groups:
                    # 14.x: <client>.<group>.<method>(...)
                    op_id = legacy.get((receiver.attr, method))
                    if op_id:
                        fn.calls.add(op_id)
                elif method in sdk_methods:  # 15.x: <client>.<method>(...)
                    fn.calls.add(sdk_methods[method])
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                fn.names.add(sub.id)
        result.append(fn)
    return result


def _is_test_file(path: Path) -> bool:
    return path.name.startswith("test_") or path.name.endswith("_test.py")


def _is_test(fn: Function) -> bool:
    parts = fn.qualname.split(".")
    return parts[-1].startswith("test") and (len(parts) == 1 or parts[0].startswith("Test"))


def scan_tests(
    roots: Iterable[Path], sdk_methods: dict[str, str], legacy: dict[tuple[str, str], str]
) -> dict[str, set[str]]:
    """operationId -> {"path::test"} of the tests that reach it (directly, via helpers or via fixtures)."""
    modules: dict[Path, list[Function]] = {}
    for root in roots:
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*.py")):
            relative = path.relative_to(REPO_ROOT).as_posix()
            if "__pycache__" in path.parts or any(relative.startswith(f"{d}/") for d in EXCLUDED_TEST_DIRS):
                continue
            functions = scan_module(path, sdk_methods, legacy)
            if functions is not None:
                modules[path.relative_to(REPO_ROOT)] = functions

    def top_level(module: Path) -> dict[str, Function]:
        return {f.qualname: f for f in modules.get(module, []) if "." not in f.qualname}

    helpers: dict[str, list[Function]] = {}  # helpers any module may import (conftest.py, sdk.py, ...)
    for module, functions in modules.items():
        if not _is_test_file(module):
            for f in functions:
                if "." not in f.qualname:
                    helpers.setdefault(f.qualname, []).append(f)

    def conftest_fixtures(module: Path) -> dict[str, Function]:
        found: dict[str, Function] = {}
        for parent in reversed(module.parents):  # outermost first, so nearer conftests win
            for name, f in top_level(parent / "conftest.py").items():
                if f.is_fixture:
                    found[name] = f
        return found

    memo: dict[int, set[str]] = {}

    def reach(fn: Function, stack: frozenset[int]) -> set[str]:
        if id(fn) in memo:
            return memo[id(fn)]
        if id(fn) in stack:
            return set()
        stack = stack | {id(fn)}
        local = top_level(fn.module)
        fixtures = {**conftest_fixtures(fn.module), **{n: f for n, f in local.items() if f.is_fixture}}
        ops = set(fn.calls)
        for name in fn.names:
            if name in local and not local[name].is_fixture:
                ops |= reach(local[name], stack)
            elif name not in local:
                for helper in helpers.get(name, []):
                    if not helper.is_fixture:
                        ops |= reach(helper, stack)
        for param in fn.params:
            if param in fixtures:
                ops |= reach(fixtures[param], stack)
        memo[id(fn)] = ops
        return ops

    coverage: dict[str, set[str]] = {}
    for module, functions in modules.items():
        if not _is_test_file(module):
            continue
        for fn in functions:
            if fn.is_fixture or not _is_test(fn):
                continue
            label = f"{module.as_posix()}::{fn.qualname.replace('.', '::')}"
            if _is_xfail(fn.node):
                label += " (xfail)"
            for op_id in reach(fn, frozenset()):
                coverage.setdefault(op_id, set()).add(label)
    return coverage


# --------------------------------------------------------------------------------------------- report


def _cell(items: Iterable[str]) -> str:
    cells = []
    for item in items:
        name, xfail, _ = item.partition(" (xfail)")
        cells.append(f"`{name}`" + (" (xfail)" if xfail else ""))
    return "<br>".join(cells) or "-"


def render(operations: list[Operation], extra_registered: list[str]) -> str:
    total = len(operations)
    implemented = sum(op.implemented == "yes" for op in operations)
    tested = sum(op.tested for op in operations)
    both = sum(op.implemented == "yes" and op.tested for op in operations)
    legacy_tested = sum(
        any(t.startswith("tests_legacy/") and not t.endswith(" (xfail)") for t in op.tests) for op in operations
    )
    lines = [
        "# Compatibility matrix",
        "",
        "<!-- Generated by tools/compat_matrix.py; do not edit. "
        "Regenerate: .venv/bin/python tools/compat_matrix.py -->",
        "",
        f"Every data-plane operation of the Azure Batch REST API (the {total} of `batch-api.md` §2), the "
        f"azure-batch {SDK_VERSION} client methods that send it (from the SDK's `_operations.py` request builders), "
        f"the azure-batch {LEGACY_SDK_VERSION} (msrest) methods, whether Batchite registers it "
        "(`batchite.api.routing.OPERATIONS`), and the tests in `tests/` (except `tests/unit/`) and `tests_legacy/` "
        "that call it through an SDK client against a server, directly, through a helper or through a fixture "
        "(`(xfail)`: a test expected to fail on a known bug; it does not count as coverage).",
        "",
        f"- implemented: **{implemented} / {total}**",
        f"- covered by a test that is expected to pass: **{tested} / {total}** ({legacy_tested} of them by azure-batch "
        f"{LEGACY_SDK_VERSION} in `tests_legacy/`)",
        f"- implemented and tested: **{both} / {total}**",
        "",
        f"| # | operationId | Method | Path | SDK {SDK_VERSION} | SDK {LEGACY_SDK_VERSION} | Implemented | Tests |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for op in operations:
        lines.append(
            f"| {op.number} | `{op.operation_id}` | {op.method} | `{op.path}` | {_cell(op.sdk_methods)} "
            f"| {_cell(op.legacy_methods)} | {op.implemented} | {_cell(op.tests)} |"
        )
    if extra_registered:
        lines += ["", "Registered by Batchite but not among these operations:", ""]
        lines += [f"- {item}" for item in extra_registered]
    lines += az_cli_issues.render()
    return "\n".join(lines) + "\n"


def build(api_md: Path, warnings: list[str]) -> tuple[list[Operation], list[str]]:
    operations = load_operations(api_md, warnings)
    sdk_dir = sdk_directory()
    version = sdk_version(sdk_dir)
    if version != SDK_VERSION:
        raise MatrixError(f"azure-batch {version} is installed at {sdk_dir}; the matrix is built from {SDK_VERSION}")
    sdk_methods = attach_sdk(operations, sdk_dir)
    legacy = attach_legacy(operations)
    extra = attach_implementation(operations, registered_operations())
    coverage = scan_tests((REPO_ROOT / r for r in TEST_ROOTS), sdk_methods, legacy)
    for op in operations:
        op.tests = sorted(coverage.get(op.operation_id, ()))
    return operations, extra


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--api-md", type=Path, default=DEFAULT_API_MD, help="batch-api.md with the operation table")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the markdown file to write or check")
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if an operation is unimplemented or untested, or the output file is stale",
    )
    parser.add_argument(
        "--allow-gaps", action="store_true", help="with --check: report unimplemented/untested operations, pass"
    )
    args = parser.parse_args(argv)

    warnings: list[str] = []
    try:
        operations, extra = build(args.api_md, warnings)
    except MatrixError as exc:
        print(f"compat_matrix: {exc}", file=sys.stderr)
        return 2
    for warning in warnings:
        print(f"compat_matrix: warning: {warning}", file=sys.stderr)
    text = render(operations, extra)
    unimplemented = [op for op in operations if op.implemented != "yes"]
    untested = [op for op in operations if not op.tested]
    summary = (
        f"{len(operations) - len(unimplemented)}/{len(operations)} implemented, "
        f"{len(operations) - len(untested)}/{len(operations)} tested"
    )

    if not args.check:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output} ({summary})")
        return 0

    problems = []
    current = args.output.read_text(encoding="utf-8") if args.output.is_file() else None
    if current != text:
        problems.append(
            f"{args.output} is {'missing' if current is None else 'stale'}; "
            "regenerate it with: .venv/bin/python tools/compat_matrix.py"
        )
    gaps = []
    if unimplemented:
        gaps.append(f"not implemented ({len(unimplemented)}): " + ", ".join(op.operation_id for op in unimplemented))
    if untested:
        gaps.append(f"no test ({len(untested)}): " + ", ".join(op.operation_id for op in untested))
    if args.allow_gaps:
        for gap in gaps:
            print(f"compat_matrix: note: {gap}", file=sys.stderr)
    else:
        problems += gaps
    for problem in problems:
        print(f"compat_matrix: {problem}", file=sys.stderr)
    print(f"compat_matrix: {summary}; {'FAILED' if problems else 'ok'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
