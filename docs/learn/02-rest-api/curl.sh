#!/usr/bin/env bash
# Lesson 2, the same requests with curl and openssl only: list the pools, create a job, delete it.
# Reads BATCH_ENDPOINT, BATCH_ACCOUNT_NAME, BATCH_ACCOUNT_KEY (default: Batchite's development account).
set -euo pipefail

ENDPOINT="${BATCH_ENDPOINT:-http://127.0.0.1:8091}"
ENDPOINT="${ENDPOINT%/}"
ACCOUNT="${BATCH_ACCOUNT_NAME:-devbatchaccount1}"
KEY="${BATCH_ACCOUNT_KEY:-YmF0Y2hpdGUtZGV2ZWxvcG1lbnQta2V5LW5vdC1hLXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVmZ2hpams=}"
API="2024-07-01.20.0"
JSON="application/json; odata=minimalmetadata"

# signed_request METHOD PATH [BODY]: sign with SharedKey, send with curl, print "STATUS" then the body.
signed_request() {
  local method="$1" path="$2" body="${3:-}" date length="" type="" text signature
  date="$(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S GMT')"
  if [[ "$method" != GET ]]; then length="${#body}"; type="$JSON"; fi   # ASCII bodies: characters = bytes
  # The verb, the eleven standard headers (here only Content-Length and Content-Type are set),
  # the ocp- headers, then /account/path and the query parameters, sorted by name.
  text="$(printf '%s\n\n\n%s\n\n%s\n\n\n\n\n\n\nocp-date:%s\n/%s%s\napi-version:%s' \
    "$method" "$length" "$type" "$date" "$ACCOUNT" "$path" "$API")"
  signature="$(printf '%s' "$text" \
    | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$(printf '%s' "$KEY" | base64 -d | od -An -v -tx1 | tr -d ' \n')" -binary \
    | base64)"
  local args=(-s -o /tmp/learn-curl-body.$$ -w '%{http_code}' -X "$method"
              -H "ocp-date: $date" -H "Authorization: SharedKey $ACCOUNT:$signature")
  if [[ "$method" != GET ]]; then args+=(-H "Content-Type: $JSON" --data-binary "$body"); fi
  curl "${args[@]}" "$ENDPOINT$path?api-version=$API"
  echo
  cat /tmp/learn-curl-body.$$
  rm -f /tmp/learn-curl-body.$$
  echo
}

fail() { echo "FAILED: $*" >&2; exit 1; }

JOB="learn-curl-$(openssl rand -hex 3)"

echo "== GET /pools"
reply="$(signed_request GET /pools)"
echo "$reply" | head -c 300; echo
[[ "$(head -n1 <<<"$reply")" == 200 ]] || fail "GET /pools should answer 200"
grep -q '"value"' <<<"$reply" || fail "the body should have a value list"

echo "== POST /jobs (a job on a pool that need not exist: Batch accepts it, its tasks would wait)"
reply="$(signed_request POST /jobs "{\"id\":\"$JOB\",\"poolInfo\":{\"poolId\":\"no-pool-yet\"}}")"
echo "$reply"
[[ "$(head -n1 <<<"$reply")" == 201 ]] || fail "POST /jobs should answer 201 Created"

echo "== POST /jobs again: 409 JobExists"
reply="$(signed_request POST /jobs "{\"id\":\"$JOB\",\"poolInfo\":{\"poolId\":\"no-pool-yet\"}}")"
echo "$reply" | head -c 200; echo
[[ "$(head -n1 <<<"$reply")" == 409 ]] && grep -q '"JobExists"' <<<"$reply" || fail "expected 409 JobExists"

echo "== DELETE /jobs/$JOB"
reply="$(signed_request DELETE "/jobs/$JOB")"
[[ "$(head -n1 <<<"$reply")" == 202 ]] || fail "DELETE should answer 202 Accepted"
echo "202"
echo "curl lesson passed"
