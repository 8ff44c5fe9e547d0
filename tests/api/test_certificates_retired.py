"""The certificate feature, retired by Azure on 2024-02-29: its operations (in api-versions up to
2024-07-01.20.0) and certificate references in pools, jobs and job schedules are 400
CertificateRetired, as the real service answers since then. No SDK of today sends them: raw HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.helpers import Raw, error_of

OLD_API = "2023-05-01.17.0"
ONE = "/certificates(thumbprintAlgorithm=sha1,thumbprint=c1e494a415149c5f211c4778b52f2e834a07247c)"
REFS = [{"thumbprint": "c1e494a415149c5f211c4778b52f2e834a07247c", "thumbprintAlgorithm": "sha1"}]
IMAGE = {
    "imageReference": {
        "publisher": "canonical",
        "offer": "0001-com-ubuntu-server-jammy",
        "sku": "22_04-lts",
        "version": "latest",
    },
    "nodeAgentSKUId": "batch.node.ubuntu 22.04",
}


@pytest.fixture
def raw(endpoint: str) -> Iterator[Raw]:
    client = Raw(endpoint)
    yield client
    client.close()


def pool_body(pool_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": pool_id, "vmSize": "standard_d2s_v3", "virtualMachineConfiguration": IMAGE, **extra}


def assert_retired(response: Any) -> None:
    assert response.status_code == 400, response.text
    code, values = error_of(response)
    assert code == "CertificateRetired"
    assert "retired on 02/29/2024" in response.json()["message"]["value"]
    assert "certificate references" in values["Reason"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/certificates", {"thumbprint": "c1e4", "thumbprintAlgorithm": "sha1", "data": "AAAA"}),
        ("GET", "/certificates", None),
        ("GET", ONE, None),
        ("DELETE", ONE, None),
        ("POST", ONE + "/canceldelete", None),
    ],
)
@pytest.mark.parametrize("api_version", [OLD_API, "2024-07-01.20.0"])
def test_certificate_operations_are_retired(raw: Raw, method: str, path: str, body: Any, api_version: str) -> None:
    assert_retired(raw.request(method, path, body=body, api_version=api_version))


def test_a_pool_with_certificate_references_is_refused_and_not_created(raw: Raw, uid: Any, client: Any) -> None:
    pool_id = uid("certpool")
    assert_retired(raw.request("POST", "/pools", body=pool_body(pool_id, certificateReferences=REFS)))
    assert raw.request("GET", f"/pools/{pool_id}").status_code == 404


def test_an_empty_certificate_reference_list_is_accepted(raw: Raw, uid: Any, cleanup: Any) -> None:
    pool_id = uid("certempty")
    r = raw.request("POST", "/pools", body=pool_body(pool_id, certificateReferences=[]), api_version=OLD_API)
    assert r.status_code == 201, r.text
    cleanup("pool", pool_id)
    # The old updateproperties body required the list: an empty one passes, a filled one does not.
    replace: dict[str, Any] = {"certificateReferences": [], "applicationPackageReferences": [], "metadata": []}
    r = raw.request("POST", f"/pools/{pool_id}/updateproperties", body=replace, api_version=OLD_API)
    assert r.status_code == 204, r.text
    replace["certificateReferences"] = REFS
    assert_retired(raw.request("POST", f"/pools/{pool_id}/updateproperties", body=replace, api_version=OLD_API))
    assert_retired(raw.request("PATCH", f"/pools/{pool_id}", body={"certificateReferences": REFS}))


def test_an_auto_pool_with_certificate_references_is_refused(raw: Raw, uid: Any) -> None:
    pool = pool_body("x", certificateReferences=REFS)
    pool.pop("id")
    auto = {"autoPoolSpecification": {"poolLifetimeOption": "job", "pool": pool}}
    job_id = uid("certjob")
    assert_retired(raw.request("POST", "/jobs", body={"id": job_id, "poolInfo": auto}))
    assert raw.request("GET", f"/jobs/{job_id}").status_code == 404
    schedule = {"id": uid("certsched"), "schedule": {}, "jobSpecification": {"poolInfo": auto}}
    assert_retired(raw.request("POST", "/jobschedules", body=schedule))
