"""The OpenAPI 3.1 document of the data plane, served at `GET /openapi.json`: built from the route
declarations (`CONTRACTS`, each operation's body, query options, status and response model) and
the wire models' JSON Schema (msgspec), never written by hand. It names no account and no entity,
so it is served without a signature, like the health probe."""

from __future__ import annotations

import copy
import re
from typing import Any

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from batchite import __version__
from batchite.api.contract import Contract, Header, Query
from batchite.api.routing import CONTRACTS, OPERATIONS
from batchite.api.versions import PUBLISHED
from batchite.wire.models import BatchError
from batchite.wire.types import Duration, Int64String

Schema = dict[str, Any]  # a JSON Schema object, as msgspec writes them
REF = "#/components/schemas/{name}"
JSON = "application/json"
DURATION = r"^-?P(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$"
WRITE_ONLY = {"UserAccount": ("password",), "LinuxUserConfiguration": ("sshPrivateKey",)}  # never shown
TIMEOUT: Schema = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
_PARAMETER = re.compile(r"\{(\w+)\}")
_QUERY_SCHEMAS: dict[Query, Schema] = {
    Query.FILTER: {"type": "string"},
    Query.SELECTION: {"type": "string"},
    Query.EXPAND: {"type": "string"},
    Query.MAX_RESULTS: {"type": "integer", "minimum": 1, "maximum": 1000},
    Query.SKIP_TOKEN: {"type": "string", "pattern": "^[0-9]+$"},
    Query.RECURSIVE: {"type": "boolean"},
    Query.FORCE: {"type": "boolean"},
    Query.START_TIME: {"type": "string", "format": "date-time"},
    Query.END_TIME: {"type": "string", "format": "date-time"},
}


_HTTP_DATE = r"^[A-Za-z]{3}, [0-9]{2} [A-Za-z]{3} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$"
_HEADER_SCHEMAS: dict[Header, Schema] = {
    Header.IF_MATCH: {"type": "string"},
    Header.IF_NONE_MATCH: {"type": "string"},
    Header.IF_MODIFIED_SINCE: {"type": "string", "pattern": _HTTP_DATE},
    Header.IF_UNMODIFIED_SINCE: {"type": "string", "pattern": _HTTP_DATE},
    Header.OCP_RANGE: {"type": "string", "pattern": r"^bytes=[0-9]*-[0-9]*$"},
}


class Parameter(msgspec.Struct, omit_defaults=True):
    name: str
    location: str = msgspec.field(name="in")
    schema: Schema
    required: bool = False
    description: str = ""


class MediaType(msgspec.Struct):
    schema: Schema


class Body(msgspec.Struct):
    content: dict[str, MediaType]
    required: bool


class Answer(msgspec.Struct, omit_defaults=True):
    description: str
    content: dict[str, MediaType] | None = None


class Operation(msgspec.Struct, omit_defaults=True, rename="camel"):
    operation_id: str
    parameters: list[Parameter]
    responses: dict[str, Answer]
    request_body: Body | None = None


class SecurityScheme(msgspec.Struct):
    type: str
    location: str = msgspec.field(name="in")
    name: str
    description: str


class Components(msgspec.Struct, rename="camel"):
    schemas: dict[str, Schema]
    security_schemes: dict[str, SecurityScheme]


class Info(msgspec.Struct):
    title: str
    version: str
    description: str


class Server(msgspec.Struct):
    url: str


class Document(msgspec.Struct, omit_defaults=True):
    openapi: str
    info: Info
    paths: dict[str, dict[str, Operation]]
    components: Components
    security: list[dict[str, list[str]]]
    servers: list[Server] | None = None


def _schema_hook(cls: type) -> Schema:
    if cls is Duration:
        return {"type": "string", "pattern": DURATION}
    if cls is Int64String:
        return {"type": "string", "pattern": r"^-?[0-9]+$"}
    raise NotImplementedError(cls.__name__)


def _holds_time(t: msgspec.inspect.Type) -> bool:
    if isinstance(t, msgspec.inspect.UnionType):
        return any(_holds_time(x) for x in t.types)
    return isinstance(t, msgspec.inspect.DateTimeType)


def _mark_times(models: list[type[msgspec.Struct]], schemas: dict[str, Schema]) -> None:
    """msgspec writes a time of any zone as a bare string; the wire's are RFC 3339 date-times."""
    seen: set[type] = set()
    todo: list[type] = list(models)
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        info = msgspec.inspect.type_info(cls)
        if not isinstance(info, msgspec.inspect.StructType):
            continue
        properties = schemas.get(cls.__name__, {}).get("properties", {})
        for field in info.fields:
            if _holds_time(field.type) and field.encode_name in properties:
                _with_format(properties[field.encode_name])
            todo.extend(_structs(field.type))


def _with_format(schema: Schema) -> None:
    for choice in schema.get("anyOf", [schema]):
        if choice.get("type") == "string":
            choice["format"] = "date-time"


def _structs(t: msgspec.inspect.Type) -> list[type]:
    if isinstance(t, msgspec.inspect.StructType):
        return [t.cls]
    if isinstance(t, msgspec.inspect.UnionType):
        return [c for x in t.types for c in _structs(x)]
    if isinstance(t, msgspec.inspect.ListType | msgspec.inspect.SetType):
        return _structs(t.item_type)
    if isinstance(t, msgspec.inspect.DictType):
        return _structs(t.value_type)
    return []


def _ref(cls: type[msgspec.Struct]) -> Schema:
    return {"$ref": REF.format(name=cls.__name__)}


def _selected(cls: type[msgspec.Struct], schemas: dict[str, Schema]) -> Schema:
    """The model as a response with `$select` shows it: any of its top-level properties may be absent."""
    name = f"{cls.__name__}Selected"
    if name not in schemas:
        shown = copy.deepcopy(schemas[cls.__name__])
        shown.pop("required", None)
        shown["title"] = name
        schemas[name] = shown
    return {"$ref": REF.format(name=name)}


def _response_schema(contract: Contract, schemas: dict[str, Schema]) -> Schema | None:
    if contract.returns is None:
        return None
    item = _selected(contract.returns, schemas) if Query.SELECTION in contract.query else _ref(contract.returns)
    if not contract.page:
        return item
    return {
        "type": "object",
        "properties": {
            "odata.metadata": {"type": "string"},
            "value": {"type": "array", "items": item},
            "odata.nextLink": {"type": "string"},
        },
        "required": ["value"],
    }


def _parameters(path: str, contract: Contract) -> list[Parameter]:
    found = [
        Parameter(name, "path", {"type": "string", "minLength": 1}, required=True) for name in _PARAMETER.findall(path)
    ]
    found.append(Parameter("api-version", "query", {"type": "string", "enum": list(PUBLISHED)}, required=True))
    found.append(Parameter("timeout", "query", TIMEOUT, description="Seconds the server may take (above 30: 30)."))
    found.extend(Parameter(option.value, "query", _QUERY_SCHEMAS[option]) for option in contract.query)
    found.append(Parameter("client-request-id", "header", {"type": "string", "format": "uuid"}))
    found.append(Parameter("return-client-request-id", "header", {"type": "boolean"}))
    found.extend(Parameter(header.value, "header", _HEADER_SCHEMAS[header]) for header in contract.headers)
    return found


def _operation(operation_id: str, method: str, path: str, contract: Contract, schemas: dict[str, Schema]) -> Operation:
    body = None
    if contract.body is not None:
        body = Body({JSON: MediaType(_ref(contract.body))}, contract.body_required)
    answer = Answer("Done.")
    schema = _response_schema(contract, schemas)
    if contract.content is not None:
        answer = Answer("The file's content.", {contract.content: MediaType({"type": "string", "format": "binary"})})
    elif schema is not None and method != "HEAD":
        answer = Answer("Done.", {JSON: MediaType(schema)})
    error = Answer("The Batch error.", None if method == "HEAD" else {JSON: MediaType(_ref(BatchError))})
    answers = {str(contract.status): answer, "default": error}
    if Header.IF_NONE_MATCH in contract.headers or Header.IF_MODIFIED_SINCE in contract.headers:
        answers["304"] = Answer("Not modified since the condition's ETag or time: no body.")
    return Operation(operation_id, _parameters(path, contract), answers, body)


def _models(contracts: dict[str, Contract]) -> list[type[msgspec.Struct]]:
    found: dict[str, type[msgspec.Struct]] = {"BatchError": BatchError}
    for contract in contracts.values():
        for cls in (contract.body, contract.returns):
            if cls is not None:
                found[cls.__name__] = cls
    return list(found.values())


def _components(models: list[type[msgspec.Struct]]) -> dict[str, Schema]:
    _, schemas = msgspec.json.schema_components(models, schema_hook=_schema_hook, ref_template=REF)
    _mark_times(models, schemas)
    for name, properties in WRITE_ONLY.items():
        schema = schemas.get(name)
        if schema is None:
            continue
        schema["required"] = [p for p in schema.get("required", []) if p not in properties]
        for prop in properties:
            schema["properties"][prop]["writeOnly"] = True
    schemas["BatchError"]["required"] = ["code", "message"]  # every error Batchite answers has both
    return schemas


def build(
    operations: dict[str, tuple[str, str]] | None = None, contracts: dict[str, Contract] | None = None
) -> Document:
    """The document of the given declarations (by default every route the API registered)."""
    operations = OPERATIONS if operations is None else operations
    contracts = CONTRACTS if contracts is None else contracts
    schemas = _components(_models(contracts))
    paths: dict[str, dict[str, Operation]] = {}
    for operation_id, (method, path) in sorted(operations.items(), key=lambda item: item[1][1]):
        contract = contracts.get(operation_id, Contract())
        paths.setdefault(path, {})[method.lower()] = _operation(operation_id, method, path, contract, schemas)
    scheme = SecurityScheme(
        "apiKey",
        "header",
        "Authorization",
        "SharedKey: `SharedKey {account}:{signature}`, the signature an HMAC-SHA256 of the request's "
        "canonical form with the account key, as Azure Batch defines it; `ocp-date` is required.",
    )
    return Document(
        openapi="3.1.0",
        info=Info("Batchite (Azure Batch data plane)", __version__, "The Azure Batch REST API as Batchite serves it."),
        paths=paths,
        components=Components(schemas, {"SharedKey": scheme}),
        security=[{"SharedKey": []}],
    )


_BUILT: list[Document] = []


async def openapi_json(request: Request) -> Response:
    """GET /openapi.json: the document, with this server as its server (built once, off the loop:
    it takes about 150 ms)."""
    if not _BUILT:
        document = await run_in_threadpool(build)
        if not _BUILT:
            _BUILT.append(document)
    host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
    document = msgspec.structs.replace(_BUILT[0], servers=[Server(f"{request.url.scheme}://{host}")])
    return Response(msgspec.json.encode(document), media_type=JSON)
