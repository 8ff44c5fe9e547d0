"""Lesson 2: the Azure Batch REST API by hand, with no SDK.

Every request is signed with SharedKey by `sign()` and sent by `call()` below, about 40 lines
with the standard library only (hmac, hashlib, base64, urllib). Each step prints what came back
and asserts what the learner should see; the script exits non-zero at the first surprise.

Endpoint and credentials come from BATCH_ENDPOINT, BATCH_ACCOUNT_NAME and BATCH_ACCOUNT_KEY, by
default Batchite's development account on http://127.0.0.1:8091. Against Azure, set the three to
your account's URL, name and key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

DEV_KEY = "YmF0Y2hpdGUtZGV2ZWxvcG1lbnQta2V5LW5vdC1hLXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVmZ2hpams="
ENDPOINT = os.environ.get("BATCH_ENDPOINT", "http://127.0.0.1:8091").rstrip("/")
ACCOUNT = os.environ.get("BATCH_ACCOUNT_NAME", "devbatchaccount1")
KEY = os.environ.get("BATCH_ACCOUNT_KEY", DEV_KEY)
API_VERSION = "2024-07-01.20.0"  # the version azure-batch 15.x sends
JSON = "application/json; odata=minimalmetadata"
# How long step 9 waits for a node and two tasks: seconds on Batchite, minutes on Azure (set 900 there).
WAIT = float(os.environ.get("LESSON_TIMEOUT", "120"))

# --- The SharedKey signer --------------------------------------------------------------------
# The string to sign: the verb, eleven standard headers (empty when absent), every `ocp-` header
# as `name:value`, then `/account/path` and each query parameter `name:value` (decoded), sorted.
# fmt: off
SIGNED = ("content-encoding", "content-language", "content-length", "content-md5", "content-type", "date",
          "if-modified-since", "if-match", "if-none-match", "if-unmodified-since", "range")
# fmt: on


def sign(method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str], key: str) -> str:
    text = "\n".join([method, *(headers.get(h, "") for h in SIGNED)]) + "\n"
    text += "".join(f"{h}:{headers[h]}\n" for h in sorted(headers) if h.startswith("ocp-"))
    text += f"/{ACCOUNT}{path}" + "".join(f"\n{k.lower()}:{v}" for k, v in sorted(query))
    mac = hmac.new(base64.b64decode(key), text.encode(), hashlib.sha256).digest()
    return f"SharedKey {ACCOUNT}:{base64.b64encode(mac).decode()}"


class Reply:
    """What came back: the status, the headers (names in lower case) and the JSON body, if any."""

    def __init__(self, status: int, headers: dict[str, str], raw: bytes) -> None:
        self.status, self.headers = status, headers
        self.body: Any = json.loads(raw) if raw.strip() else None

    @property
    def code(self) -> str:  # the Batch error code, e.g. "JobNotFound"
        return str((self.body or {}).get("code", ""))


def call(
    method: str,
    path: str,
    body: Any = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    key: str = KEY,
    api_version: str | None = API_VERSION,
) -> Reply:
    """Send one signed request; `path` may also be a whole URL (an `odata.nextLink`)."""
    url = urlsplit(path if "://" in path else ENDPOINT + path)
    params = parse_qsl(url.query) + list((query or {}).items())
    if api_version and not any(k == "api-version" for k, _ in params):
        params.append(("api-version", api_version))
    data = json.dumps(body).encode() if body is not None else None
    h = {"ocp-date": formatdate(usegmt=True), **{k.lower(): v for k, v in (headers or {}).items()}}
    if method not in ("GET", "HEAD"):  # a POST/PATCH/DELETE sends (and signs) its type and length, even 0
        data = data or b""
        h |= {"content-type": JSON, "content-length": str(len(data))}
    h["authorization"] = sign(method, url.path, params, h, key)
    target = f"{url.scheme}://{url.netloc}{url.path}?{urlencode(params, quote_via=quote)}"
    request = urllib.request.Request(target, data=data, headers=h, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return Reply(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
    except urllib.error.HTTPError as e:  # 3xx/4xx/5xx: still an answer, with a Batch error body
        return Reply(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())


# --- Small helpers for the steps --------------------------------------------------------------
def step(title: str) -> None:
    print(f"\n== {title}")


def expect(reply: Reply, status: int, code: str | None = None) -> Reply:
    """Assert the status (and the error code from the body); print both."""
    shown = f"{reply.status} {reply.code}".strip()
    print(f"   -> {shown}")
    if reply.status != status or (code is not None and reply.code != code):
        sys.exit(f"FAILED: expected {status} {code or ''}, got {shown}: {reply.body}")
    return reply


def check(condition: bool, what: str) -> None:
    print(f"   ok: {what}" if condition else f"   FAILED: {what}")
    if not condition:
        sys.exit(1)


def wait_for(what: str, probe: Any, timeout: float = 60.0) -> Any:
    """Poll `probe()` until it returns something truthy (a state we wait for), or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := probe():
            return found
        time.sleep(0.5)  # the interval between polls, not a guess at how long it takes
    sys.exit(f"FAILED: timed out waiting for {what}")


def main() -> None:
    run = secrets.token_hex(3)  # a suffix so the lesson can run again (Azure keeps deleted ids a while)
    print(f"endpoint {ENDPOINT}, account {ACCOUNT}, api-version {API_VERSION}")
    try:
        lesson(run)
    finally:  # whatever happened, leave no pool (it costs money on Azure) and no job behind
        for job in [f"learn-job-{run}", *(f"learn-page-{run}-{i}" for i in range(5))]:
            call("DELETE", f"/jobs/{job}")
        call("DELETE", f"/pools/learn-pool-{run}")
    print("\nlesson 02 passed")


def lesson(run: str) -> None:
    job_id, pool_id = f"learn-job-{run}", f"learn-pool-{run}"

    step("1. List pools: GET /pools")
    r = expect(call("GET", "/pools"), 200)
    check(isinstance(r.body.get("value"), list), f"a JSON body with a 'value' list ({len(r.body['value'])} pools)")

    step("2. Create a pool of one node (the tasks of step 9 run on it), and a job on it: POST /jobs")
    expect(
        call(
            "POST",
            "/pools",
            {
                "id": pool_id,
                "vmSize": "standard_d2s_v3",
                "targetDedicatedNodes": 1,
                "virtualMachineConfiguration": {
                    "imageReference": {
                        "publisher": "canonical",
                        "offer": "0001-com-ubuntu-server-jammy",
                        "sku": "22_04-lts",
                    },
                    "nodeAgentSKUId": "batch.node.ubuntu 22.04",
                },
            },
        ),
        201,
    )
    client_id = "6f0c2f1e-0000-4000-8000-000000000002"
    r = expect(
        call(
            "POST",
            "/jobs",
            {"id": job_id, "poolInfo": {"poolId": pool_id}},
            headers={"client-request-id": client_id, "return-client-request-id": "true"},
        ),
        201,
    )

    step("3. The headers every answer carries")
    for name in ("request-id", "etag", "last-modified", "dataserviceid", "client-request-id"):
        print(f"   {name}: {r.headers.get(name)}")
    check(bool(r.headers.get("request-id")), "request-id: the server's id of this request (quote it to support)")
    check(bool(r.headers.get("etag")) and bool(r.headers.get("last-modified")), "ETag and Last-Modified of the new job")
    check(r.headers.get("client-request-id") == client_id, "client-request-id echoed (return-client-request-id: true)")
    check(r.headers.get("dataserviceid", "").endswith(f"/jobs/{job_id}"), "DataServiceId: the new job's URL")

    step("4. Common errors, and their code in the body")
    print("   GET a job that does not exist")
    expect(call("GET", "/jobs/no-such-job"), 404, "JobNotFound")
    print("   POST the same job again")
    expect(call("POST", "/jobs", {"id": job_id, "poolInfo": {"poolId": pool_id}}), 409, "JobExists")
    print("   POST a job without its required poolInfo")
    r = expect(call("POST", "/jobs", {"id": f"bad-{run}"}), 400, "MissingRequiredProperty")
    print(f"   message: {r.body['message']['value'].splitlines()[0]}")
    print("   POST a job with priority 5000 (the range is -1000..1000)")
    expect(
        call("POST", "/jobs", {"id": f"bad-{run}", "priority": 5000, "poolInfo": {"poolId": pool_id}}),
        400,
        "InvalidPropertyValue",
    )
    print("   sign with a wrong key")
    wrong = base64.b64encode(b"not-the-key" * 4).decode()
    r = expect(call("GET", "/pools", key=wrong), 403, "AuthenticationFailed")
    details = {d["key"]: d["value"] for d in r.body.get("values", [])}
    print(f"   AuthenticationErrorDetail: {details.get('AuthenticationErrorDetail', '')[:100]}...")

    step("5. Conditional requests with the ETag")
    etag = expect(call("GET", f"/jobs/{job_id}"), 200).headers["etag"]
    print(f"   GET with If-None-Match: {etag} (nothing changed)")
    expect(call("GET", f"/jobs/{job_id}", headers={"If-None-Match": etag}), 304)
    print("   PATCH the priority with If-Match: the current ETag")
    r = expect(call("PATCH", f"/jobs/{job_id}", {"priority": 10}, headers={"If-Match": etag}), 200)
    check(r.headers["etag"] != etag, f"the job has a new ETag {r.headers['etag']}")
    print(f"   PATCH again with the old, now stale, ETag {etag}")
    expect(call("PATCH", f"/jobs/{job_id}", {"priority": 20}, headers={"If-Match": etag}), 412, "ConditionNotMet")

    step("6. Paging: 5 more jobs, listed 2 at a time by following odata.nextLink")
    mine = {f"learn-page-{run}-{i}" for i in range(5)}
    for jid in sorted(mine):
        expect(call("POST", "/jobs", {"id": jid, "poolInfo": {"poolId": pool_id}}), 201)
    seen: list[str] = []
    pages = 0
    page: str | None = "/jobs"
    query: dict[str, str] | None = {"maxresults": "2"}
    while page:
        r = expect(call("GET", page, query=query), 200)
        pages, query = pages + 1, None  # the nextLink carries every parameter itself
        ids = [j["id"] for j in r.body["value"]]
        print(f"   page {pages}: {ids}  nextLink: {'yes' if r.body.get('odata.nextLink') else 'no'}")
        check(len(ids) <= 2, "at most maxresults=2 items on a page")
        seen += ids
        page = r.body.get("odata.nextLink")
    check(mine <= set(seen) and len(seen) == len(set(seen)), f"all 5 new jobs seen once, over {pages} pages")

    step("7. $select: only some properties; $expand=stats on a job")
    r = expect(call("GET", "/jobs", query={"$select": "id,state"}), 200)
    keys = {k for item in r.body["value"] for k in item}
    print(f"   properties returned: {sorted(keys)}")
    check(keys <= {"id", "state"}, "each job has only id and state")
    r = expect(call("GET", f"/jobs/{job_id}", query={"$expand": "stats"}), 200)
    check("stats" in r.body, "the job carries its stats when $expand=stats")

    step("8. $filter on jobs: state eq 'active' and startswith(id, ...)")
    r = expect(call("GET", "/jobs", query={"$filter": f"startswith(id,'learn-page-{run}') and state eq 'active'"}), 200)
    check({j["id"] for j in r.body["value"]} == mine, "exactly the 5 paging jobs")

    step("9. Tasks: two quick, one long; $filter=state eq 'completed' while the long one runs")
    for tid, command in (("quick-1", "echo one"), ("quick-2", "echo two"), ("long", "sleep 120")):
        expect(call("POST", f"/jobs/{job_id}/tasks", {"id": tid, "commandLine": f"/bin/sh -c '{command}'"}), 201)
    completed = {"$filter": "state eq 'completed'", "$select": "id,state,executionInfo"}

    def both_done() -> list[dict[str, Any]] | None:
        found = call("GET", f"/jobs/{job_id}/tasks", query=completed).body["value"]
        return found if len(found) >= 2 else None

    print("   polling the tasks (the node starts first; on Azure this takes minutes)")
    done = wait_for("two completed tasks", both_done, timeout=WAIT)
    for t in done:
        print(f"   {t['id']}: {t['state']}, exit code {t['executionInfo'].get('exitCode')}")
    check({t["id"] for t in done} == {"quick-1", "quick-2"}, "the filter returns the two quick tasks, not 'long'")
    check(all(t["executionInfo"].get("exitCode") == 0 for t in done), "both exited with code 0")

    step("10. api-version: required; a published one is accepted; an unknown one...")
    expect(call("GET", "/pools", api_version=None), 400, "MissingRequiredQueryParameter")
    expect(call("GET", "/pools", api_version="2021-06-01.14.0"), 200)
    r = call("GET", "/pools", api_version="2099-01-01.99.0")
    print(f"   api-version=2099-01-01.99.0 -> {r.status} {r.code}")
    if r.status == 200:
        print("   accepted: by default Batchite serves an unknown version as any other (and logs a warning);")
        print("   `batchite serve --strict-api-version` answers 400 UnsupportedRequestVersion, as Azure does")
    check(
        r.status == 200 or (r.status == 400 and r.code == "UnsupportedRequestVersion"),
        "accepted (Batchite's default) or 400 UnsupportedRequestVersion (Azure, --strict-api-version)",
    )

    step("11. Clean up: terminate the job (its long task ends), delete the jobs and the pool")
    expect(call("POST", f"/jobs/{job_id}/terminate"), 202)
    for jid in [job_id, *sorted(mine)]:
        expect(call("DELETE", f"/jobs/{jid}"), 202)
    expect(call("DELETE", f"/pools/{pool_id}"), 202)


if __name__ == "__main__":
    main()
