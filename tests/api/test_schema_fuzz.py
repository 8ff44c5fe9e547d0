"""schemathesis over /openapi.json: every operation of the published document, a bounded number of
generated requests each (positive and negative data, derandomized), signed with SharedKey, against
a server of its own so nothing another test made is touched. No request may be answered with a
server error, and every documented answer must match its schema (the Batch error body included)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

import batchite.api.app  # noqa: F401  (registers every route)
from batchite.api.auth import sign, string_to_sign
from batchite.api.routing import OPERATIONS
from batchite.cli.server import ChildServer, start_child_server
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME

EXAMPLES = 12  # per operation: 72 operations, about 860 requests, under a minute on 2 cores
SEEN: dict[str, int] = {}  # requests sent per operation (reported at the end of the module)


class SharedKey(requests.auth.AuthBase):
    """Signs the request as it will be sent: its final path, query and headers."""

    def __init__(self, account: str = DEV_ACCOUNT_NAME, key: str = DEV_ACCOUNT_KEY) -> None:
        self.account = account
        self.key = base64.b64decode(key)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        url = urlsplit(r.url or "")
        r.headers["ocp-date"] = format_datetime(datetime.now(tz=UTC), usegmt=True)
        headers = {name.lower(): value for name, value in r.headers.items()}
        text = string_to_sign(r.method or "GET", url.path, url.query, headers, self.account)
        r.headers["Authorization"] = f"SharedKey {self.account}:{sign(self.key, text)}"
        return r


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChildServer]:
    child = start_child_server(tmp_path_factory.mktemp("batchite-fuzz"))
    yield child
    child.stop()
    if SEEN:
        print(f"\nschemathesis: {sum(SEEN.values())} requests over {len(SEEN)} operations")


@pytest.fixture(scope="module")
def api_schema(fuzz_server: ChildServer) -> Any:
    return schemathesis.openapi.from_url(f"{fuzz_server.endpoint}/openapi.json")


def _cases(operation: Any) -> st.SearchStrategy[Any]:
    """Requests that fit the document, and requests that break it (a wrong type, a missing property)."""
    return st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))


# schemathesis' own pytest loader (from_fixture) needs a private attribute pytest 9 no longer has:
# the operations are parametrized here by id, and each is looked up in the document the server serves.
@pytest.mark.parametrize("operation_id", sorted(OPERATIONS))
def test_no_server_error_and_answers_match_the_document(api_schema: Any, operation_id: str) -> None:
    operation = api_schema.find_operation_by_id(operation_id)
    auth = SharedKey()

    @given(case=_cases(operation))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        SEEN[operation_id] = SEEN.get(operation_id, 0) + 1
        response = case.call(auth=auth, timeout=30)
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    run()
