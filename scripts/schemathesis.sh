#!/usr/bin/env bash
# Property-based API testing with schemathesis 4 and every check it offers, plus an
# object-level authorization check between two peer reporters.
#
# scripts/test sources this file with a virtualenv providing schemathesis 4 first on
# PATH and DATABASE_URL / GEREPORT_PG_ADMIN_URL exported (scripts/lib.sh). It can also
# be run on its own (`bash scripts/schemathesis.sh`) when `st` is on PATH.
#
# What it does, all against a throwaway database on the same server:
#   1. drops and creates the database gereport_schemathesis;
#   2. builds target/debug/gereport, loads the demo department, serves on a free port;
#   3. checks by hand that xdns cannot read tvhn's unit (404) nor use admin endpoints
#      (403), and that the refused writes changed nothing;
#   4. runs `st run --checks all` over /api/v1/openapi.json twice: as reporter xdns
#      (mostly refusals) and as the admin (the success paths). Schemathesis logs
#      itself in from a Web Fuzzing Commons auth file; xdns and tvhn are declared
#      peers, so its object-level authorization check replays xdns's reads of its own
#      objects as tvhn. Any finding fails the stage.
# The server is stopped on every exit path.
#
# Tuning: GEREPORT_ST_MAX_EXAMPLES (default 60 per operation), GEREPORT_ST_SEED (fixed
# by default, so a failure reproduces; no example database is kept, so a run here and
# one on a fresh clone draw the same examples), GEREPORT_ST_MODE (positive, negative or
# all: the default sends invalid requests too).

gr_schemathesis() (
    set -euo pipefail

    local repo db_name db_url admin_url work port server_pid="" base psql
    repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    cd "$repo"
    db_name="gereport_schemathesis"
    work="$repo/.local/schemathesis"
    mkdir -p "$work"

    log() { printf 'schemathesis: %s\n' "$*" >&2; }
    die() {
        log "error: $*"
        exit 1
    }

    [[ -n "${DATABASE_URL:-}" ]] || die "DATABASE_URL is not set (scripts/test sets it)"
    admin_url="${GEREPORT_PG_ADMIN_URL:-}"
    if [[ -z "$admin_url" ]]; then
        admin_url="$(_gr_url_with_db "$DATABASE_URL" postgres)"
    fi
    db_url="$(_gr_url_with_db "$DATABASE_URL" "$db_name")"
    command -v st >/dev/null 2>&1 || die "schemathesis (st) is not on PATH"
    command -v curl >/dev/null 2>&1 || die "curl is required"
    psql="$(_gr_pg_tool psql)" || die "psql not found"
    # The virtualenv's interpreter parses JSON, so jq is not needed.
    local py
    py="$(command -v python || command -v python3)" || die "python is required"

    # shellcheck disable=SC2317 # run by the EXIT trap
    cleanup() {
        local rc=$?
        if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
            kill "$server_pid" 2>/dev/null || true
            wait "$server_pid" 2>/dev/null || true
        fi
        if ((rc != 0)) && [[ -f "$work/server.log" ]]; then
            log "last lines of the server log ($work/server.log):"
            tail -n 30 "$work/server.log" >&2 || true
        fi
        exit "$rc"
    }
    trap cleanup EXIT
    trap 'exit 130' INT TERM

    log "recreating database $db_name"
    "$psql" "$admin_url" -X -q -v ON_ERROR_STOP=1 \
        -c "DROP DATABASE IF EXISTS $db_name WITH (FORCE)" \
        -c "CREATE DATABASE $db_name" >/dev/null

    log "building target/debug/gereport"
    local locked=()
    [[ -f Cargo.lock ]] && locked=(--locked)
    cargo build --quiet "${locked[@]}" --bin gereport
    local bin="${CARGO_TARGET_DIR:-$repo/target}/debug/gereport"

    port="$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    base="http://127.0.0.1:$port"
    # shellcheck disable=SC2030 # for this subshell only, on purpose
    export DATABASE_URL="$db_url"
    # The server runs as the role that owns nothing, as `scripts/run` does.
    use_serving_role
    export GEREPORT_BIND="127.0.0.1:$port"
    export GEREPORT_JWT_SECRET="${GEREPORT_JWT_SECRET:-gereport-TEST-ONLY-insecure-jwt-secret-012345678}"
    export GEREPORT_ENV=development
    export GEREPORT_LOG_FORMAT=json
    # Schemathesis's own logins say they come from documentation addresses
    # (X-Forwarded-For, trusted from loopback), so the failed logins it generates from
    # 127.0.0.1 never throttle the logins it needs.
    export GEREPORT_TRUSTED_PROXIES=127.0.0.1
    # Generated webhook endpoints name arbitrary hosts: nothing is delivered from a
    # test run (the webhook tests deliver to their own receiver on loopback).
    export GEREPORT_WEBHOOK_WORKER=off
    # No e-mail and no scheduled reminders from a test run either.
    export GEREPORT_NOTIFY_WORKER=off
    unset GEREPORT_SMTP_HOST
    export RUST_LOG="${GEREPORT_ST_RUST_LOG:-warn}"
    local password="${GEREPORT_DEMO_PASSWORD:-demo-password-2024}"
    export GEREPORT_DEMO_PASSWORD="$password"

    log "loading the demo department"
    "$bin" demo >"$work/demo.log" 2>&1 || {
        cat "$work/demo.log" >&2
        die "gereport demo failed"
    }

    log "starting the server on $base"
    "$bin" serve >"$work/server.log" 2>&1 &
    server_pid=$!
    local i
    for i in $(seq 1 120); do
        if curl -fsS -o /dev/null "$base/readyz" 2>/dev/null; then
            break
        fi
        kill -0 "$server_pid" 2>/dev/null || die "the server exited during start-up"
        ((i < 120)) || die "the server did not become ready within 60 s"
        sleep 0.5
    done

    # login USER -> prints the access token
    login() {
        local body
        body="$(curl -sS -X POST "$base/api/v1/auth/login" \
            -H 'content-type: application/json' \
            --data "{\"username\":\"$1\",\"password\":\"$password\"}")" || return 1
        printf '%s' "$body" | "$py" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])' ||
            {
                log "login of $1 failed: $body"
                return 1
            }
    }
    local xdns tvhn admin
    xdns="$(login xdns)" || die "cannot log in as xdns"
    tvhn="$(login tvhn)" || die "cannot log in as tvhn"
    admin="$(login admin)" || die "cannot log in as admin"

    log "checking object-level authorization between peer reporters"
    BASE="$base" XDNS="$xdns" TVHN="$tvhn" ADMIN="$admin" "$py" - <<'PY'
import json
import os
import sys
import urllib.error
import urllib.request

base = os.environ["BASE"]
tokens = {"xdns": os.environ["XDNS"], "tvhn": os.environ["TVHN"], "admin": os.environ["ADMIN"], "anonymous": None}
failures = []


def call(who, method, path, body=None):
    headers = {"accept": "application/json"}
    if tokens[who]:
        headers["authorization"] = "Bearer " + tokens[who]
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["content-type"] = "application/json"
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=20) as res:
            status, ctype, raw = res.status, res.headers.get("content-type", ""), res.read()
    except urllib.error.HTTPError as e:
        status, ctype, raw = e.code, e.headers.get("content-type", ""), e.read()
    try:
        payload = json.loads(raw) if raw else None
    except ValueError:
        payload = None
    return status, ctype, payload


def expect(who, method, path, status, code=None, body=None):
    got, ctype, payload = call(who, method, path, body)
    problem = got >= 400
    ok = got == status
    if ok and problem:
        ok = ctype.startswith("application/problem+json") and isinstance(payload, dict) and (
            code is None or payload.get("code") == code
        )
    line = f"{who:9} {method:5} {path} -> {got}"
    if not ok:
        failures.append(f"{line}; expected {status} {code or ''}; body {payload}")
    return payload


# The objects exist: the admin sees them.
tvhn_unit = expect("admin", "GET", "/api/v1/org-units/TVHN", 200)
expect("admin", "GET", "/api/v1/org-units/XDNS", 200)
users = expect("admin", "GET", "/api/v1/users?q=tvhn&role=reporter", 200) or {}
tvhn_user = next((u["id"] for u in users.get("items", []) if u["username"] == "tvhn"), None)
if tvhn_user is None:
    failures.append("admin cannot find the user tvhn")
    tvhn_user = "00000000-0000-0000-0000-000000000000"

# Each reporter reads its own unit and nothing of its peer's.
for me, mine, theirs in (("xdns", "XDNS", "TVHN"), ("tvhn", "TVHN", "XDNS")):
    expect(me, "GET", f"/api/v1/org-units/{mine}", 200)
    expect(me, "GET", f"/api/v1/org-units/{theirs}", 404, "not_found")
    expect(me, "GET", f"/api/v1/org-units/{theirs.lower()}", 404, "not_found")
    expect(me, "GET", f"/api/v1/org-units/{theirs}/subtree", 404, "not_found")
    expect(me, "GET", f"/api/v1/org-units?parent={theirs}", 404, "not_found")
    listing = expect(me, "GET", "/api/v1/org-units?limit=500", 200) or {}
    codes = [u.get("code") for u in listing.get("items", [])]
    if codes != [mine] or listing.get("total") != 1:
        failures.append(f"{me} lists units {codes} (total {listing.get('total')}); expected only {mine}")
    found = expect(me, "GET", f"/api/v1/org-units?q={theirs}", 200) or {}
    if found.get("total") != 0:
        failures.append(f"{me} finds {theirs} by search: {found}")
    me_doc = expect(me, "GET", "/api/v1/me", 200) or {}
    if me_doc.get("role") != "reporter" or me_doc.get("name") != me:
        failures.append(f"/me of {me} says {me_doc}")

if tvhn_unit:
    expect("xdns", "GET", f"/api/v1/org-units/{tvhn_unit['id']}", 404, "not_found")

# Admin endpoints are refused to a reporter by role (403), whatever the object.
for method, path, body in (
    ("GET", "/api/v1/users", None),
    ("GET", f"/api/v1/users/{tvhn_user}", None),
    ("PATCH", f"/api/v1/users/{tvhn_user}", {"role": "admin"}),
    ("POST", f"/api/v1/users/{tvhn_user}/password", {"new_password": "taken-over-password"}),
    ("POST", "/api/v1/users", {"username": "mallory", "display_name": "Mallory", "role": "admin",
                               "unit": "SVHTT", "password": "mallory-password-1"}),
    ("GET", "/api/v1/service-clients", None),
    ("POST", "/api/v1/service-clients", {"name": "backdoor", "role": "admin", "unit": "SVHTT"}),
    ("GET", "/api/v1/audit", None),
    ("POST", "/api/v1/org-units", {"code": "EVIL", "name": "Evil", "kind": "office", "parent": "SVHTT"}),
    ("PATCH", "/api/v1/org-units/XDNS", {"name": "Renamed"}),
    ("PATCH", "/api/v1/org-units/TVHN", {"parent": "XDNS"}),
    ("POST", "/api/v1/org-units/TVHN/deactivate", None),
    ("POST", "/api/v1/org-units/XDNS/deactivate", None),
):
    expect("xdns", method, path, 403, "forbidden", body)

# Nothing answers without a token.
expect("anonymous", "GET", "/api/v1/org-units/XDNS", 401, "missing_token")
expect("anonymous", "GET", "/api/v1/me", 401, "missing_token")

# The refused writes changed nothing.
after = expect("admin", "GET", "/api/v1/org-units/TVHN", 200) or {}
if tvhn_unit and (after.get("parent_id") != tvhn_unit.get("parent_id") or not after.get("active")):
    failures.append(f"TVHN changed: {tvhn_unit} -> {after}")
tvhn_after = expect("admin", "GET", f"/api/v1/users/{tvhn_user}", 200) or {}
if tvhn_after.get("role") != "reporter":
    failures.append(f"tvhn is now {tvhn_after}")
mallory = expect("admin", "GET", "/api/v1/users?q=mallory", 200) or {}
if mallory.get("total") != 0:
    failures.append(f"mallory exists: {mallory}")

if failures:
    print("object-level authorization check FAILED:", file=sys.stderr)
    for f in failures:
        print("  " + f, file=sys.stderr)
    sys.exit(1)
print("schemathesis: object-level authorization check passed", file=sys.stderr)
PY

    # Last: as the admin, the run changes the demo data the check above relies on.
    local max_examples="${GEREPORT_ST_MAX_EXAMPLES:-60}"
    local seed="${GEREPORT_ST_SEED:-20241120}"
    # The identities schemathesis logs in as.
    "$py" - "$work/auth.json" "$password" <<'PY'
import json
import sys

path, password = sys.argv[1], sys.argv[2]


def identity(name, address):
    return {
        "name": name,
        "loginEndpointAuth": {
            "endpoint": "/api/v1/auth/login",
            "verb": "POST",
            "contentType": "application/json",
            "headers": [{"name": "X-Forwarded-For", "value": address}],
            "payloadUserPwd": {
                "username": name,
                "password": password,
                "usernameField": "username",
                "passwordField": "password",
            },
            "token": {
                "extractFrom": "body",
                "extractSelector": "/access_token",
                "sendIn": "header",
                "sendName": "Authorization",
                "sendTemplate": "Bearer {token}",
            },
        },
    }


auth = [identity("xdns", "192.0.2.10"), identity("tvhn", "192.0.2.11"), identity("admin", "192.0.2.12")]
with open(path, "w") as f:
    json.dump({"schemaVersion": "1.0", "auth": auth}, f)
PY
    # Operations whose bodies carry rules JSON Schema cannot state refuse some
    # schema-valid bodies with 422 naming the member, by design: one field against
    # another (a data window that ends before it starts), a reference to another object
    # (a unit code, one that must be in the plan's tree, a form field in a formula or a
    # data element mapping, a period of the task's plan), a form's own consistency, a
    # webhook target that must not be a private address, or a plan copied to a year that
    # must differ from its own. For them alone a 422 is an expected answer to positive
    # data.
    cat >"$work/schemathesis.toml" <<TOML
[auth.wfc]
path = "$work/auth.json"
peers = ["xdns", "tvhn"]
# Access tokens last 10 minutes.
refresh_interval = 300

# PostgreSQL text cannot hold U+0000; the service answers 400 invalid_character.
[generation]
allow-x00 = false

[[operations]]
include-operation-id = [
    "createPlan", "updatePlan", "savePlanForm", "createIndicator", "updateIndicator",
    "createPeriod", "updatePeriod", "extendDueDate", "createUser", "updateUser",
    "createServiceClient", "createOrgUnit", "updateOrgUnit",
    "createWebhook", "updateWebhook", "setDataElementCodes", "addExpectedUnit",
    "removeExpectedUnit", "createPlanTask", "replacePlanTask", "copyPlan",
]
checks.positive_data_acceptance.expected-statuses = ["2xx", 401, 403, 404, 409, 422, 429]

# Writes to a report are conditional: whether an If-Match matches (412), or is needed
# at all (a draft's first PUT needs none, every later write does: 428), depends on the
# report's current ETag, which no schema can say.
[[operations]]
include-operation-id = [
    "saveReportDraft", "submitReport", "returnReport", "acceptReport", "reopenReport",
    "approveReport", "declineReport", "upgradeReportForm",
]
checks.positive_data_acceptance.expected-statuses = ["2xx", 401, 403, 404, 409, 412, 422, 428, 429]

# Files are judged by their bytes, which a schema of "format: binary" cannot describe:
# an upload that is no PDF, image, DOCX or XLSX is a 415, a workbook body that is not
# one made by the service a 422 invalid_workbook, a file name that is empty once its
# path and control characters go a 422; the workbook import is a conditional report
# write as above.
[[operations]]
include-operation-id = ["uploadAttachment", "importReportWorkbook"]
checks.positive_data_acceptance.expected-statuses = ["2xx", 401, 403, 404, 409, 412, 413, 415, 422, 428, 429]
TOML

    # run_st WHO: one pass over every operation as WHO. Logout and the change of one's
    # own password end the very session the pass uses (their examples are real: the
    # demo password), so every later request would be a 401; tests/api covers both.
    # Header values HTTP forbids are not generated and idempotency keys are fresh per
    # request (see scripts/schemathesis_hooks.py).
    run_st() {
        log "running schemathesis as $1 ($max_examples examples per operation, seed $seed)"
        SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH="$repo/scripts${PYTHONPATH:+:$PYTHONPATH}" \
            st --config-file "$work/schemathesis.toml" run "$base/api/v1/openapi.json" \
            --url="$base" \
            --auth-wfc-user="$1" \
            --checks=all \
            --max-examples="$max_examples" \
            --seed="$seed" \
            --generation-database=none \
            --mode="${GEREPORT_ST_MODE:-all}" \
            --request-timeout=20 \
            --workers=1 \
            --exclude-operation-id=logout \
            --exclude-operation-id=changeOwnPassword \
            --no-color ||
            die "schemathesis found failures as $1 (see above)"
    }
    # As reporter xdns: mostly refusals, and the object-level authorization check
    # replays every read of xdns's own objects as its peer tvhn.
    run_st xdns
    # As the admin: the success paths.
    run_st admin
)

# Used on its own, outside scripts/test: bring the helpers and a database.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    # shellcheck source=scripts/lib.sh
    source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
    ensure_database
fi

gr_schemathesis
