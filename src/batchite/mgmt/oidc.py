"""The token issuer's endpoints, as MSAL (azure-identity) asks them: OpenID configuration, keys,
instance discovery and the client-credentials token endpoint. None of them needs a token."""

from __future__ import annotations

import base64
import hmac
import time
import urllib.parse
import uuid
from typing import Any

from starlette.responses import Response

from batchite.mgmt.routing import ArmRequest, ArmRouter, json_response
from batchite.mgmt.tokens import TOKEN_LIFETIME, TokenIssuer, audience_of


def _tenant_known(issuer: TokenIssuer, tenant: str) -> bool:
    return tenant.lower() in (issuer.tenant_id.lower(), "organizations", "common")


def _oauth_error(status: int, error: str, code: int, description: str) -> Response:
    body = {
        "error": error,
        "error_description": f"AADSTS{code}: {description}",
        "error_codes": [code],
        "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
        "trace_id": str(uuid.uuid4()),
        "correlation_id": str(uuid.uuid4()),
    }
    return json_response(body, status)


async def _form(req: ArmRequest) -> dict[str, str]:
    """The form fields (application/x-www-form-urlencoded), with client_secret_basic's credentials."""
    raw = await req.request.body()
    fields = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode("utf-8", "replace")).items()}
    scheme, _, value = req.request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return fields
        fields.setdefault("client_id", urllib.parse.unquote_plus(user))
        fields.setdefault("client_secret", urllib.parse.unquote_plus(password))
    return fields


def openid_configuration(issuer: TokenIssuer, tenant: str) -> dict[str, Any]:
    base = f"{issuer.authority}/{tenant}"
    return {
        "issuer": issuer.issuer,
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "jwks_uri": f"{issuer.authority}/{tenant}/discovery/v2.0/keys",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "grant_types_supported": ["client_credentials"],
        "tenant_region_scope": "NA",
        "cloud_instance_name": "batchite.local",
    }


def add_token_routes(router: ArmRouter) -> None:
    issuer = router.issuer

    async def configuration(req: ArmRequest) -> Response:
        tenant = req.params["tenant"]
        if not _tenant_known(issuer, tenant):
            return _oauth_error(400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
        return json_response(openid_configuration(issuer, issuer.tenant_id))

    async def keys(req: ArmRequest) -> Response:
        return json_response(issuer.jwks())

    async def instance_discovery(req: ArmRequest) -> Response:
        tenant = issuer.tenant_id
        return json_response(
            {
                "tenant_discovery_endpoint": f"{issuer.authority}/{tenant}/v2.0/.well-known/openid-configuration",
                "api-version": "1.1",
                "metadata": [
                    {
                        "preferred_network": req.request.url.netloc,
                        "preferred_cache": req.request.url.netloc,
                        "aliases": [req.request.url.netloc],
                    }
                ],
            }
        )

    async def token(req: ArmRequest) -> Response:
        tenant = req.params["tenant"]
        if not _tenant_known(issuer, tenant):
            return _oauth_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        fields = await _form(req)
        grant = fields.get("grant_type", "")
        if grant != "client_credentials":
            return _oauth_error(
                400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant}'."
            )
        client_id, secret = fields.get("client_id", ""), fields.get("client_secret", "")
        client = issuer.client(client_id)
        if client is None:
            return _oauth_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory '{issuer.tenant_id}'.",
            )
        if not hmac.compare_digest(secret.encode(), client.secret.encode()):
            return _oauth_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
                f"value, not the client secret ID, for a secret added to app '{client_id}'.",
            )
        scopes = [s for s in fields.get("scope", "").split() if s not in ("openid", "profile", "offline_access")]
        if not scopes or not scopes[0].endswith("/.default"):
            return _oauth_error(
                400,
                "invalid_scope",
                1002012,
                "The provided value for scope is not valid. Client credential flows must have a scope value with "
                "/.default suffixed to the resource identifier (application ID URI).",
            )
        access = issuer.issue(client.client_id, audience_of(scopes[0]))
        return json_response(
            {
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME,
                "ext_expires_in": TOKEN_LIFETIME,
                "access_token": access,
            }
        )

    for prefix in ("/{tenant}/v2.0", "/{tenant}"):
        router.add(
            "GET", f"{prefix}/.well-known/openid-configuration", configuration, authenticated=False, api_version=False
        )
    router.add("GET", "/{tenant}/discovery/v2.0/keys", keys, authenticated=False, api_version=False)
    router.add("GET", "/common/discovery/instance", instance_discovery, authenticated=False, api_version=False)
    router.add("POST", "/{tenant}/oauth2/v2.0/token", token, authenticated=False, api_version=False)
