#!/usr/bin/env bash
# Check the API contract, openapi/openapi.json, the way a client sees it:
#   1. openapi-spec-validator (PyPI): the document is valid OpenAPI;
#   2. Spectral with the committed .spectral.yaml: our API rules hold;
#   3. openapi-typescript: types are generated from it (clients/typescript);
#   4. tsc --noEmit (strict): clients/typescript/src/client.ts, a small client
#      a frontend would write, still compiles against those types.
# Every check runs even when an earlier one failed (so one run lists every
# problem); the script exits non-zero when any failed. Step 4 needs step 3.
#
# Usage: scripts/contract.sh [DOCUMENT]   (default: openapi/openapi.json)
# Runs from any directory. Installs what it needs on first use and reuses it:
# openapi-spec-validator into .local/venv (shared with scripts/test), and the
# npm packages pinned in clients/typescript/package-lock.json via `npm ci`.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TS="$REPO/clients/typescript"
DOC="$(realpath "${1:-$REPO/openapi/openapi.json}")"
VENV="$REPO/.local/venv"
LOGS="$REPO/.local/contract"
SPEC_VALIDATOR='openapi-spec-validator==0.9.0'

say() { printf '\n==> %s\n' "$*" >&2; }
note() { printf 'contract: %s\n' "$*" >&2; }

[[ -f "$DOC" ]] || { note "no such document: $DOC"; exit 2; }
mkdir -p "$LOGS"

# --- tools (installed once, reinstalled when the pin or the lock changes) -------

# openapi-spec-validator into the repo's virtualenv, as scripts/test does for
# schemathesis; its own stamp file so the two never reinstall each other.
install_spec_validator() {
    local stamp="$VENV/.gereport-contract-requirement"
    if [[ ! -x "$VENV/bin/python" ]]; then
        note "creating virtualenv $VENV"
        mkdir -p "$REPO/.local"
        python3 -m venv "$VENV"
    fi
    if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$SPEC_VALIDATOR" ]] ||
        ! "$VENV/bin/python" -c 'import openapi_spec_validator' >/dev/null 2>&1; then
        note "installing $SPEC_VALIDATOR into $VENV"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$SPEC_VALIDATOR"
        printf '%s\n' "$SPEC_VALIDATOR" >"$stamp"
    fi
}

# `npm ci` when node_modules is missing or package.json / package-lock.json
# changed since the last install. The stamp lives inside node_modules, so
# deleting node_modules also forgets it. Install scripts are not needed by any
# of these packages and are not run.
install_node_packages() {
    local stamp="$TS/node_modules/.gereport-lock-sha256" want
    want="$(cat "$TS/package.json" "$TS/package-lock.json" | sha256sum | cut -d' ' -f1) node $(node --version)"
    if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]]; then
        note "npm ci in clients/typescript ($(node --version), npm $(npm --version))"
        (cd "$TS" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
        printf '%s\n' "$want" >"$stamp"
    fi
}

say "tools: openapi-spec-validator and clients/typescript packages"
install_spec_validator
install_node_packages

# --- checks ---------------------------------------------------------------------

RESULTS=()
FAILED=0
check() { # check NAME COMMAND... : run one check, record ok/FAILED, go on.
    local name="$1" start=$SECONDS
    shift
    say "$name"
    if "$@"; then
        RESULTS+=("$name ok ($((SECONDS - start))s)")
    else
        RESULTS+=("$name FAILED ($((SECONDS - start))s)")
        FAILED=1
        return 1
    fi
}

# Full report in .local/contract/; on the terminal one line per error.
spec_validator() {
    local log="$LOGS/openapi-spec-validator.txt"
    if "$VENV/bin/openapi-spec-validator" --validation-errors all "$DOC" >"$log" 2>&1; then
        cat "$log" >&2
        return 0
    fi
    if ! grep -q 'Validation Error: ' "$log"; then # e.g. unreadable JSON: show it all
        cat "$log" >&2
        return 1
    fi
    awk '/Validation Error: /{if (msg != "") print "  " msg; sub(/^.*Validation Error: /, ""); msg=$0}
         /^On instance/{sub(/^On instance/, ""); sub(/:$/, ""); print "  " msg "  at " $0; msg=""}
         END{if (msg != "") print "  " msg}' "$log" >&2
    note "openapi-spec-validator: $(grep -c 'Validation Error: ' "$log") error(s); full report: $log"
    return 1
}

spectral_lint() {
    "$TS/node_modules/.bin/spectral" lint --ruleset "$REPO/.spectral.yaml" \
        --fail-severity error "$DOC"
}

# Same as `npm run generate`, but for whichever document this run checks.
generate_types() {
    "$TS/node_modules/.bin/openapi-typescript" "$DOC" -o "$TS/src/schema.d.ts"
}

typecheck() {
    (cd "$TS" && node_modules/.bin/tsc --noEmit -p tsconfig.json)
}

note "document: $DOC"
check openapi-spec-validator spec_validator || true
check spectral spectral_lint || true
if check generate generate_types; then
    check tsc typecheck || true
else
    RESULTS+=("tsc skipped (no types)")
fi

joined=""
for item in "${RESULTS[@]}"; do joined+="${joined:+, }$item"; done
if ((FAILED)); then
    printf '\nscripts/contract.sh: FAILED after %ss: %s\n' "$SECONDS" "$joined" >&2
    exit 1
fi
printf '\nscripts/contract.sh: contract checks passed in %ss: %s\n' "$SECONDS" "$joined" >&2
