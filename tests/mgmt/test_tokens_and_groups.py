"""The management plane's foundation through azure-identity and azure-mgmt-resource over HTTPS:
tokens, subscriptions, resource groups, the Microsoft.Batch provider, and what a bad token gets."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from cryptography.hazmat.primitives.asymmetric import rsa

from batchite.cli.server import ChildServer, free_port, start_child_server
from batchite.mgmt.subscriptions import DEV_SUBSCRIPTION_ID
from batchite.mgmt.tls import TlsConfigError, ensure_tls
from batchite.mgmt.tokens import (
    DEV_CLIENT_ID,
    DEV_CLIENT_SECRET,
    DEV_TENANT_ID,
    MANAGEMENT_SCOPE,
    TokenIssuer,
    load_or_create_signing_key,
)
from tests.mgmt.conftest import RESOURCE_API, credential_for, resource_client, trusting

SUBSCRIPTION_PATH = f"/subscriptions/{DEV_SUBSCRIPTION_ID}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def issuer_of(server: ChildServer) -> TokenIssuer:
    return TokenIssuer(load_or_create_signing_key(server.data_dir), server.mgmt_endpoint or "")


def test_client_secret_credential_gets_a_management_token(mgmt_server: ChildServer, credential: Any) -> None:
    token = credential.get_token(MANAGEMENT_SCOPE)
    claims = jwt.decode(token.token, options={"verify_signature": False})
    assert claims["aud"] == "https://management.azure.com/"
    assert claims["iss"] == f"{mgmt_server.mgmt_endpoint}/{DEV_TENANT_ID}/v2.0"
    assert claims["tid"] == DEV_TENANT_ID and claims["appid"] == DEV_CLIENT_ID and claims["oid"]
    assert claims["nbf"] <= time.time() < claims["exp"]
    # MSAL computes expires_on from its own clock and the response's expires_in: a second apart at most
    assert abs(claims["exp"] - token.expires_on) <= 2
    assert jwt.get_unverified_header(token.token)["alg"] == "RS256"


def test_a_wrong_client_secret_is_refused(mgmt_server: ChildServer) -> None:
    with pytest.raises(ClientAuthenticationError) as info:
        credential_for(mgmt_server, secret="not-the-secret").get_token(MANAGEMENT_SCOPE)
    assert "AADSTS7000215" in str(info.value)


def test_subscriptions_list_and_get(subscriptions: Any) -> None:
    listed = list(subscriptions.subscriptions.list())
    assert [s.subscription_id for s in listed] == [DEV_SUBSCRIPTION_ID]
    one = subscriptions.subscriptions.get(DEV_SUBSCRIPTION_ID)
    assert one.state == "Enabled" and one.tenant_id == DEV_TENANT_ID and one.display_name
    assert "westeurope" in {loc.name for loc in subscriptions.subscriptions.list_locations(DEV_SUBSCRIPTION_ID)}
    with pytest.raises(ResourceNotFoundError) as info:
        subscriptions.subscriptions.get("00000000-0000-0000-0000-000000000000")
    assert info.value.error.code == "SubscriptionNotFound"


def test_resource_group_create_get_exists_list_delete(resources: Any, uid: Callable[[str], str]) -> None:
    name = uid("rg")
    created = resources.resource_groups.create_or_update(name, {"location": "West Europe", "tags": {"team": "a"}})
    assert created.name == name and created.location == "westeurope"
    assert created.properties.provisioning_state == "Succeeded"
    assert created.id == f"{SUBSCRIPTION_PATH}/resourceGroups/{name}"
    updated = resources.resource_groups.create_or_update(name, {"location": "westeurope", "tags": {"team": "b"}})
    assert updated.tags == {"team": "b"}
    patched = resources.resource_groups.update(name, {"tags": {"team": "c"}})
    assert patched.tags == {"team": "c"} and patched.location == "westeurope"
    assert resources.resource_groups.get(name.upper()).name == name  # names are case-insensitive
    assert resources.resource_groups.check_existence(name) is True
    assert name in {g.name for g in resources.resource_groups.list()}

    resources.resource_groups.begin_delete(name).result()
    assert resources.resource_groups.check_existence(name) is False
    assert name not in {g.name for g in resources.resource_groups.list()}
    with pytest.raises(ResourceNotFoundError) as info:
        resources.resource_groups.get(name)
    assert info.value.error.code == "ResourceGroupNotFound"


def test_resource_group_delete_is_long_running(
    mgmt_server: ChildServer, resources: Any, credential: Any, https: httpx.Client, uid: Callable[[str], str]
) -> None:
    name = uid("rg-lro")
    resources.resource_groups.create_or_update(name, {"location": "eastus"})
    token = credential.get_token(MANAGEMENT_SCOPE).token
    path = f"{SUBSCRIPTION_PATH}/resourcegroups/{name}"
    answer = https.delete(path, params={"api-version": RESOURCE_API}, headers=bearer(token))
    assert answer.status_code == 202 and answer.headers["Retry-After"] == "1"
    location = answer.headers["Location"]
    assert location.startswith(f"{mgmt_server.mgmt_endpoint}{SUBSCRIPTION_PATH}/operationresults/")
    deadline = time.monotonic() + 30
    while (status := https.get(location, headers=bearer(token)).status_code) == 202 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert status == 200
    assert https.head(path, params={"api-version": RESOURCE_API}, headers=bearer(token)).status_code == 404


def test_resource_group_errors(resources: Any, uid: Callable[[str], str]) -> None:
    name = uid("rg-bad")
    with pytest.raises(HttpResponseError) as info:
        resources.resource_groups.create_or_update(name, {"tags": {}})
    assert info.value.status_code == 400 and info.value.error.code == "LocationRequired"
    with pytest.raises(HttpResponseError) as info:
        resources.resource_groups.create_or_update("bad/name?", {"location": "eastus"})
    assert info.value.status_code in (400, 404)
    with pytest.raises(HttpResponseError) as info:
        resources.resource_groups.create_or_update(name + ".", {"location": "eastus"})
    assert info.value.status_code == 400 and info.value.error.code == "InvalidResourceGroup"
    resources.resource_groups.create_or_update(name, {"location": "eastus"})
    try:
        with pytest.raises(HttpResponseError) as info:
            resources.resource_groups.create_or_update(name, {"location": "westus"})
        assert info.value.status_code == 409 and info.value.error.code == "InvalidResourceGroupLocation"
    finally:
        resources.resource_groups.begin_delete(name).result()
    with pytest.raises(ResourceNotFoundError):
        resources.resource_groups.begin_delete(name).result()


def test_batch_provider_register_and_get(resources: Any) -> None:
    registered = resources.providers.register("Microsoft.Batch")
    assert registered.namespace == "Microsoft.Batch" and registered.registration_state == "Registered"
    provider = resources.providers.get("microsoft.batch")
    accounts = next(t for t in provider.resource_types if t.resource_type == "batchAccounts")
    assert "West Europe" in accounts.locations and "2025-06-01" in accounts.api_versions
    assert "Microsoft.Batch" in {p.namespace for p in resources.providers.list()}
    with pytest.raises(ResourceNotFoundError):
        resources.providers.get("Microsoft.NoSuchThing")


def _rejected(answer: httpx.Response, code: str) -> None:
    assert answer.status_code == 401, answer.text
    error = answer.json()["error"]
    assert error["code"] == code and error["message"]
    challenge = answer.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer authorization_uri=") and 'error="invalid_token"' in challenge
    assert DEV_TENANT_ID in challenge


def test_bad_tokens_are_401_with_the_arm_error_and_a_challenge(
    mgmt_server: ChildServer, credential: Any, https: httpx.Client
) -> None:
    params = {"api-version": RESOURCE_API}
    issuer = issuer_of(mgmt_server)
    _rejected(https.get("/subscriptions", params=params), "AuthenticationFailed")
    _rejected(https.get("/subscriptions", params=params, headers=bearer("not-a-jwt")), "InvalidAuthenticationToken")
    other = TokenIssuer(rsa.generate_private_key(public_exponent=65537, key_size=2048), issuer.authority)
    forged = other.issue(DEV_CLIENT_ID, "https://management.azure.com/")
    _rejected(https.get("/subscriptions", params=params, headers=bearer(forged)), "InvalidAuthenticationToken")
    expired = issuer.issue(DEV_CLIENT_ID, "https://management.azure.com/", now=time.time() - 7200)
    answer = https.get("/subscriptions", params=params, headers=bearer(expired))
    _rejected(answer, "ExpiredAuthenticationToken")
    assert "is earlier than current UTC time" in answer.json()["error"]["message"]
    storage_token = credential.get_token("https://storage.azure.com/.default").token
    assert jwt.decode(storage_token, options={"verify_signature": False})["aud"] == "https://storage.azure.com/"
    _rejected(
        https.get("/subscriptions", params=params, headers=bearer(storage_token)), "InvalidAuthenticationTokenAudience"
    )
    good = credential.get_token(MANAGEMENT_SCOPE).token
    assert https.get("/subscriptions", params=params, headers=bearer(good)).status_code == 200


def test_the_sdk_sees_a_rejected_token_as_an_authentication_error(mgmt_server: ChildServer) -> None:
    from azure.core.credentials import AccessToken
    from azure.mgmt.resource.resources import ResourceManagementClient

    expired = issuer_of(mgmt_server).issue(DEV_CLIENT_ID, "https://management.azure.com/", now=time.time() - 7200)

    class Stale:
        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            return AccessToken(expired, int(time.time()) + 3600)

    client = ResourceManagementClient(
        Stale(),
        DEV_SUBSCRIPTION_ID,
        base_url=mgmt_server.mgmt_endpoint,
        credential_scopes=[MANAGEMENT_SCOPE],
        connection_verify=str(mgmt_server.ca_path),
        retry_total=0,
    )
    with pytest.raises(ClientAuthenticationError) as info:
        list(client.resource_groups.list())
    assert info.value.status_code == 401 and info.value.error.code == "ExpiredAuthenticationToken"


def test_arm_protocol_basics(credential: Any, https: httpx.Client) -> None:
    token = credential.get_token(MANAGEMENT_SCOPE).token
    answer = https.get("/subscriptions", headers={**bearer(token), "x-ms-correlation-request-id": "corr-1"})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "MissingApiVersionParameter"
    assert answer.headers["x-ms-request-id"] and answer.headers["x-ms-correlation-request-id"] == "corr-1"
    unknown = https.get(
        f"{SUBSCRIPTION_PATH}/nothing/here/at/all", params={"api-version": RESOURCE_API}, headers=bearer(token)
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] and unknown.headers["x-ms-request-id"]
    # Paths are case-insensitive, as ARM's are.
    upper = https.get(
        f"/SUBSCRIPTIONS/{DEV_SUBSCRIPTION_ID}", params={"api-version": RESOURCE_API}, headers=bearer(token)
    )
    assert upper.status_code == 200 and upper.json()["subscriptionId"] == DEV_SUBSCRIPTION_ID


def test_token_endpoint_errors(mgmt_server: ChildServer, https: httpx.Client) -> None:
    form = {"grant_type": "client_credentials", "client_id": DEV_CLIENT_ID, "scope": MANAGEMENT_SCOPE}
    unknown_tenant = https.post("/no-such-tenant/oauth2/v2.0/token", data={**form, "client_secret": "x"})
    assert unknown_tenant.status_code == 400 and unknown_tenant.json()["error_codes"] == [90002]
    unknown_client = https.post(
        f"/{DEV_TENANT_ID}/oauth2/v2.0/token", data={**form, "client_id": "someone-else", "client_secret": "x"}
    )
    assert unknown_client.status_code == 400 and unknown_client.json()["error"] == "unauthorized_client"
    no_default = https.post(
        f"/{DEV_TENANT_ID}/oauth2/v2.0/token",
        data={**form, "client_secret": DEV_CLIENT_SECRET, "scope": "https://management.azure.com/user_impersonation"},
    )
    assert no_default.status_code == 400 and no_default.json()["error"] == "invalid_scope"
    password = https.post(f"/{DEV_TENANT_ID}/oauth2/v2.0/token", data={**form, "grant_type": "password"})
    assert password.status_code == 400 and password.json()["error"] == "unsupported_grant_type"
    basic = https.post(
        f"/{DEV_TENANT_ID}/oauth2/v2.0/token",
        data={k: v for k, v in form.items() if k != "client_id"},
        auth=(DEV_CLIENT_ID, DEV_CLIENT_SECRET),
    )
    assert basic.status_code == 200 and basic.json()["token_type"] == "Bearer"
    assert https.post("/subscriptions", params={"api-version": RESOURCE_API}).status_code == 405


def test_the_certificate_names_localhost_too(mgmt_server: ChildServer) -> None:
    port = (mgmt_server.mgmt_endpoint or "").rsplit(":", 1)[1]
    url = f"https://localhost:{port}/{DEV_TENANT_ID}/v2.0/.well-known/openid-configuration"
    answer = httpx.get(url, verify=trusting(mgmt_server))
    assert answer.status_code == 200 and answer.json()["token_endpoint"].endswith("/oauth2/v2.0/token")


def test_restart_reuses_the_ca_keys_and_groups(tmp_path: Any, uid: Callable[[str], str]) -> None:
    mgmt_port = free_port()
    kept = uid("kept")
    first = start_child_server(tmp_path, mgmt_port=mgmt_port)
    try:
        tls = tmp_path / "tls"
        for secret in ("ca-key.pem", "server-key.pem", "token-signing-key.pem"):
            assert stat.S_IMODE(os.stat(tls / secret).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(tls / "ca.pem").st_mode) == 0o644
        files = {f: (tls / f).read_bytes() for f in ("ca.pem", "server.pem", "token-signing-key.pem")}
        resource_client(first).resource_groups.create_or_update(kept, {"location": "eastus"})
        token = credential_for(first).get_token(MANAGEMENT_SCOPE).token
    finally:
        first.stop()
    second = start_child_server(tmp_path, mgmt_port=mgmt_port)
    try:
        assert {f: (tls / f).read_bytes() for f in files} == files
        assert resource_client(second).resource_groups.get(kept).location == "eastus"
        with httpx.Client(verify=trusting(second)) as https:
            answer = https.get(
                f"{second.mgmt_endpoint}/subscriptions?api-version={RESOURCE_API}", headers=bearer(token)
            )
        assert answer.status_code == 200  # a token from before the restart is still good
        printed = subprocess.run(
            [
                sys.executable,
                "-m",
                "batchite.cli.main",
                "token",
                "--data-dir",
                str(tmp_path),
                "--mgmt-port",
                str(mgmt_port),
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()
        with httpx.Client(verify=trusting(second)) as https:
            answer = https.get(
                f"{second.mgmt_endpoint}/subscriptions?api-version={RESOURCE_API}", headers=bearer(printed)
            )
        assert answer.status_code == 200 and answer.json()["value"][0]["subscriptionId"] == DEV_SUBSCRIPTION_ID
    finally:
        second.stop()


def test_own_certificate_and_key(tmp_path: Any, mgmt_server: ChildServer) -> None:
    """--cert/--key serve a certificate made elsewhere (here: the other server's) and make none."""
    tls = mgmt_server.data_dir / "tls"
    own = start_child_server(
        tmp_path, mgmt_port=0, extra_args=["--cert", str(tls / "server.pem"), "--key", str(tls / "server-key.pem")]
    )
    try:
        url = f"{own.mgmt_endpoint}/{DEV_TENANT_ID}/v2.0/.well-known/openid-configuration"
        assert httpx.get(url, verify=trusting(mgmt_server)).status_code == 200
        assert not (tmp_path / "tls" / "ca.pem").exists()
    finally:
        own.stop()


def test_cert_without_key_is_refused(tmp_path: Any) -> None:
    with pytest.raises(TlsConfigError):
        ensure_tls(tmp_path, cert=str(tmp_path / "server.pem"))
    with pytest.raises(TlsConfigError):
        ensure_tls(tmp_path, cert=str(tmp_path / "missing.pem"), key=str(tmp_path / "missing-key.pem"))
    answer = subprocess.run(
        [
            sys.executable,
            "-m",
            "batchite.cli.main",
            "serve",
            "--data-dir",
            str(tmp_path),
            "--port",
            str(free_port()),
            "--mgmt-port",
            str(free_port()),
            "--key",
            str(tmp_path / "k.pem"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert answer.returncode == 2 and "--cert and --key go together" in answer.stderr
