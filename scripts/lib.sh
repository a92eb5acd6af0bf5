#!/usr/bin/env bash
# Shared helpers for scripts/run and scripts/test (source this file, don't run it).
# ensure_database finds or starts a PostgreSQL server for gereport and exports
# DATABASE_URL, GEREPORT_PG_ADMIN_URL and GEREPORT_PG_BINDIR.
#
# Where the database comes from, first match wins:
#   1. DATABASE_URL already set in the environment: used as is.
#   2. A server answering on 127.0.0.1:5432: postgres://postgres@127.0.0.1:5432/gereport.
#   3. Otherwise (or with GEREPORT_FORCE_PRIVATE_PG=1): a private cluster kept in
#      .local/pg (data/, run/ for the socket, log/), listening on 127.0.0.1 only,
#      port GEREPORT_PRIVATE_PG_PORT (default 55432), trust auth, superuser postgres.
#      It is started when needed and reused by later calls; stop it with
#      stop_private_database.
# Then the database named in DATABASE_URL is created if it does not exist yet.
#
# .env is deliberately not read here: the binary loads it itself (dotenvy), and
# variables exported by these scripts take precedence over it.

# Guard against the file being executed instead of sourced.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    echo "scripts/lib.sh is meant to be sourced, not executed" >&2
    exit 2
fi

# The callers (scripts/run, scripts/test) run in this mode too; the functions
# below still check every step explicitly because errexit is ignored inside
# functions called from a `||` or `if` context.
set -euo pipefail

GEREPORT_REPO="${GEREPORT_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"

gr_log() {
    printf 'gereport: %s\n' "$*" >&2
}

gr_fail() {
    gr_log "error: $*"
    return 1
}

# --- PostgreSQL binaries -----------------------------------------------------

# True when $1 is a directory holding the server-side tools we need.
_gr_is_pg_bindir() {
    [[ -n "$1" && -x "$1/initdb" && -x "$1/pg_ctl" && -x "$1/postgres" ]]
}

# Print the first directory that holds initdb, pg_ctl and postgres.
_gr_find_pg_bindir() {
    local candidate found
    if [[ -n "${GEREPORT_PG_BINDIR:-}" ]] && _gr_is_pg_bindir "$GEREPORT_PG_BINDIR"; then
        printf '%s\n' "$GEREPORT_PG_BINDIR"
        return 0
    fi
    if command -v pg_config >/dev/null 2>&1; then
        candidate="$(pg_config --bindir 2>/dev/null || true)"
        if _gr_is_pg_bindir "$candidate"; then
            printf '%s\n' "$candidate"
            return 0
        fi
    fi
    # Debian/Ubuntu layout; newest major version first.
    while IFS= read -r candidate; do
        if _gr_is_pg_bindir "$candidate"; then
            printf '%s\n' "$candidate"
            return 0
        fi
    done < <(compgen -G '/usr/lib/postgresql/*/bin' | sort -rV)
    # initdb on PATH (possibly a symlink into the real bindir).
    if found="$(command -v initdb 2>/dev/null)"; then
        candidate="$(dirname "$(readlink -f "$found")")"
        if _gr_is_pg_bindir "$candidate"; then
            printf '%s\n' "$candidate"
            return 0
        fi
    fi
    for candidate in /usr/local/pgsql/bin /usr/pgsql-*/bin; do
        if _gr_is_pg_bindir "$candidate"; then
            printf '%s\n' "$candidate"
            return 0
        fi
    done
    return 1
}

# Locate the PostgreSQL server binaries, installing Debian's postgresql package
# when none are present, and export GEREPORT_PG_BINDIR.
ensure_pg_bindir() {
    local dir
    if dir="$(_gr_find_pg_bindir)"; then
        export GEREPORT_PG_BINDIR="$dir"
        return 0
    fi
    if ((EUID != 0)) || ! command -v apt-get >/dev/null 2>&1; then
        gr_fail "PostgreSQL server binaries (initdb, pg_ctl) not found; install PostgreSQL" \
            "(e.g. 'sudo apt-get install postgresql') or set GEREPORT_PG_BINDIR"
        return 1
    fi
    gr_log "PostgreSQL server binaries not found; installing the postgresql package with apt-get"
    apt-get update -qq >&2 || return 1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2 || return 1
    if ! dir="$(_gr_find_pg_bindir)"; then
        gr_fail "postgresql was installed but initdb/pg_ctl still cannot be found"
        return 1
    fi
    export GEREPORT_PG_BINDIR="$dir"
}

# xmllint (Debian's libxml2-utils), which the API tests use to validate the ADX
# export against tests/fixtures/adx.xsd: installed with apt-get when missing, so
# those tests check the schema rather than fail for want of the validator.
ensure_xmllint() {
    if command -v xmllint >/dev/null 2>&1; then
        return 0
    fi
    if ((EUID != 0)) || ! command -v apt-get >/dev/null 2>&1; then
        gr_fail "xmllint not found; install it (e.g. 'sudo apt-get install libxml2-utils')"
        return 1
    fi
    gr_log "xmllint not found; installing the libxml2-utils package with apt-get"
    apt-get update -qq >&2 || return 1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libxml2-utils >&2 || return 1
    command -v xmllint >/dev/null 2>&1 || {
        gr_fail "libxml2-utils was installed but xmllint still cannot be found"
        return 1
    }
}

# Print the path of a client tool (psql, pg_isready, ...), preferring the
# server's bindir so client and server versions match.
_gr_pg_tool() {
    if [[ -n "${GEREPORT_PG_BINDIR:-}" && -x "$GEREPORT_PG_BINDIR/$1" ]]; then
        printf '%s\n' "$GEREPORT_PG_BINDIR/$1"
    elif command -v "$1" >/dev/null 2>&1; then
        command -v "$1"
    else
        gr_fail "$1 not found (looked in ${GEREPORT_PG_BINDIR:-<no bindir>} and PATH)"
        return 1
    fi
}

# --- URL helpers --------------------------------------------------------------

# Print the database name of a postgres:// URL (percent-decoded; empty if none).
_gr_url_dbname() {
    local url="${1%%\?*}" rest db
    rest="${url#*://}"
    [[ "$rest" == */* ]] || return 0
    db="${rest#*/}"
    printf '%b\n' "${db//%/\\x}"
}

# Print the URL with its database name replaced by $2 (query string kept).
_gr_url_with_db() {
    local url="$1" newdb="$2" base query scheme rest authority
    base="${url%%\?*}"
    query="${url:${#base}}"
    scheme="${base%%://*}"
    rest="${base#*://}"
    authority="${rest%%/*}"
    printf '%s://%s/%s%s\n' "$scheme" "$authority" "$newdb" "$query"
}

# --- private cluster ------------------------------------------------------------

# Commands that touch the private cluster run through this: as root they run as
# the postgres user (initdb refuses to run as root), otherwise as the caller.
# The working directory is the cluster base so that the postgres user can
# always resolve it.
_gr_as_pg() {
    (
        cd "$_GR_PG_BASE" || exit 1
        # Never hand the lock to a server process: it would hold it forever.
        if [[ -n "${_GR_LOCK_FD:-}" ]]; then
            exec {_GR_LOCK_FD}>&-
        fi
        if ((EUID == 0)); then
            exec runuser -u postgres -- "$@"
        else
            exec "$@"
        fi
    )
}

# As root, make sure a postgres system user exists to own the cluster.
_gr_ensure_postgres_user() {
    ((EUID == 0)) || return 0
    id -u postgres >/dev/null 2>&1 && return 0
    gr_log "creating system user postgres to own the private cluster"
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
}

# Per-checkout fallback location for the cluster, used when the postgres user
# cannot reach the checkout (root working under /root, say).
_gr_pg_fallback_base() {
    printf '%s/gereport-pg-%s\n' "${TMPDIR:-/tmp}" "$(printf '%s' "$GEREPORT_REPO" | cksum | cut -d' ' -f1)"
}

# Create the cluster directories under $1 and check the cluster owner can use
# them. Fails (without side effects beyond mkdir) when it cannot.
_gr_prepare_pg_base() {
    local base="$1"
    mkdir -p "$base/data" "$base/run" "$base/log" 2>/dev/null || return 1
    chmod 700 "$base/data" || return 1
    if ((EUID == 0)); then
        # Let the postgres user walk into .local (a umask of 077 would block it).
        chmod o+x "$(dirname "$base")" 2>/dev/null || true
        chown postgres:postgres "$base" "$base/data" "$base/run" "$base/log" || return 1
        runuser -u postgres -- test -w "$base/data" -a -w "$base/run" -a -w "$base/log" || return 1
    fi
    return 0
}

_gr_conf_quote() {
    printf "'%s'" "${1//\'/\'\'}"
}

# Write the settings owned by these scripts to data/gereport.conf (included
# from postgresql.conf), so a changed port takes effect on the next start.
_gr_write_pg_conf() {
    local data="$1" run="$2" port="$3" sockdirs
    sockdirs="$run"
    # A Unix socket path must fit in 107 bytes; use TCP only if ours would not.
    if ((${#run} + 20 > 107)); then
        sockdirs=""
    fi
    cat >"$data/gereport.conf.new" <<EOF || return 1
# Written by scripts/lib.sh on every start; edits are overwritten.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = $(_gr_conf_quote "$sockdirs")
max_connections = 200
# Throwaway development/test data: trade crash safety for speed.
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    mv -f "$data/gereport.conf.new" "$data/gereport.conf" || return 1
    chmod 644 "$data/gereport.conf" || return 1
    if ((EUID == 0)); then
        chown postgres:postgres "$data/gereport.conf" || return 1
    fi
    if ! grep -q "^include_if_exists = 'gereport.conf'" "$data/postgresql.conf"; then
        printf "\ninclude_if_exists = 'gereport.conf'\n" >>"$data/postgresql.conf" || return 1
    fi
}

_gr_pg_log_tail() {
    local logfile="$1"
    if [[ -r "$logfile" ]]; then
        gr_log "last lines of $logfile:"
        tail -n 20 "$logfile" >&2 || true
    fi
}

# Start (initialising if needed) the private cluster and set DATABASE_URL and
# GEREPORT_PG_ADMIN_URL to point at it.
_gr_private_database() {
    local port="${GEREPORT_PRIVATE_PG_PORT:-55432}"
    local base="${GEREPORT_PRIVATE_PG_DIR:-$GEREPORT_REPO/.local/pg}"
    local bindir="$GEREPORT_PG_BINDIR" data run logdir logfile locale isready

    _gr_ensure_postgres_user || return 1
    if ! _gr_prepare_pg_base "$base"; then
        # Typically: running as root in a checkout the postgres user cannot
        # enter (e.g. under /root). Fall back to a fixed per-checkout path.
        local fallback
        fallback="$(_gr_pg_fallback_base)"
        gr_log "cannot use $base for the cluster (owner postgres lacks access); using $fallback"
        base="$fallback"
        _gr_prepare_pg_base "$base" || {
            gr_fail "cannot prepare a private PostgreSQL directory in $base"
            return 1
        }
    fi
    _GR_PG_BASE="$base"
    data="$base/data"
    run="$base/run"
    logdir="$base/log"
    logfile="$logdir/postgresql.log"
    isready="$(_gr_pg_tool pg_isready)" || return 1

    # Serialise concurrent callers (e.g. scripts/run and scripts/test together).
    _GR_LOCK_FD=""
    if command -v flock >/dev/null 2>&1; then
        exec {_GR_LOCK_FD}>"$base/.lock"
        if ! flock -w 120 "$_GR_LOCK_FD"; then
            exec {_GR_LOCK_FD}>&-
            _GR_LOCK_FD=""
            gr_fail "timed out waiting for the lock on $base/.lock"
            return 1
        fi
    fi

    local rc=0
    _gr_private_cluster_up || rc=$?
    if [[ -n "$_GR_LOCK_FD" ]]; then
        exec {_GR_LOCK_FD}>&-
        _GR_LOCK_FD=""
    fi
    ((rc == 0)) || return "$rc"

    export DATABASE_URL="postgres://postgres@127.0.0.1:$port/gereport"
    export GEREPORT_PG_ADMIN_URL="postgres://postgres@127.0.0.1:$port/postgres"
}

# Body of _gr_private_database that runs under the lock; uses its locals.
_gr_private_cluster_up() {
    if [[ ! -f "$data/PG_VERSION" ]]; then
        # A half-made data directory from an interrupted initdb is useless.
        if [[ -n "$(ls -A "$data")" ]]; then
            gr_log "removing incomplete data directory $data"
            find "$data" -mindepth 1 -delete || return 1
        fi
        if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then
            locale="C.UTF-8"
        else
            locale="C"
        fi
        gr_log "initialising private PostgreSQL cluster in $data"
        if ! _gr_as_pg "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 \
            --locale="$locale" >"$logdir/initdb.log" 2>&1; then
            _gr_pg_log_tail "$logdir/initdb.log"
            gr_fail "initdb failed (full output in $logdir/initdb.log)"
            return 1
        fi
    fi
    _gr_write_pg_conf "$data" "$run" "$port" || return 1

    if _gr_as_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        if "$isready" -q -h 127.0.0.1 -p "$port" -t 5; then
            return 0
        fi
        gr_log "private cluster is running but not on port $port; restarting it"
        if ! _gr_as_pg "$bindir/pg_ctl" -D "$data" -l "$logfile" -w -t 60 -m fast restart >/dev/null; then
            _gr_pg_log_tail "$logfile"
            gr_fail "could not restart the private cluster"
            return 1
        fi
    else
        if "$isready" -q -h 127.0.0.1 -p "$port" -t 1; then
            gr_fail "port $port is already taken by another PostgreSQL server;" \
                "set GEREPORT_PRIVATE_PG_PORT to a free port"
            return 1
        fi
        gr_log "starting private PostgreSQL on 127.0.0.1:$port (log: $logfile)"
        if ! _gr_as_pg "$bindir/pg_ctl" -D "$data" -l "$logfile" -w -t 60 start >/dev/null; then
            _gr_pg_log_tail "$logfile"
            gr_fail "could not start the private cluster"
            return 1
        fi
    fi
    "$isready" -q -h 127.0.0.1 -p "$port" -t 10 || {
        gr_fail "private cluster started but does not answer on 127.0.0.1:$port"
        return 1
    }
}

# Stop the private cluster if it is running (the data is kept).
stop_private_database() {
    local base="${GEREPORT_PRIVATE_PG_DIR:-$GEREPORT_REPO/.local/pg}" candidate
    ensure_pg_bindir || return 1
    for candidate in "$base" "$(_gr_pg_fallback_base)"; do
        [[ -f "$candidate/data/PG_VERSION" ]] || continue
        _GR_PG_BASE="$candidate"
        if _gr_as_pg "$GEREPORT_PG_BINDIR/pg_ctl" -D "$candidate/data" status >/dev/null 2>&1; then
            gr_log "stopping private PostgreSQL in $candidate/data"
            _gr_as_pg "$GEREPORT_PG_BINDIR/pg_ctl" -D "$candidate/data" -w -m fast stop >/dev/null || return 1
        fi
    done
}

# --- database creation ----------------------------------------------------------

# Create database $2 through the admin connection $1 unless it exists.
_gr_create_database() {
    local admin="$1" db="$2" psql exists
    psql="$(_gr_pg_tool psql)" || return 1
    exists="$("$psql" "$admin" -X -q -t -A -v ON_ERROR_STOP=1 -v db="$db" <<'SQL'
SELECT 1 FROM pg_database WHERE datname = :'db';
SQL
)" || {
        gr_fail "cannot query the server through GEREPORT_PG_ADMIN_URL ($admin)"
        return 1
    }
    [[ "$exists" == 1 ]] && return 0
    gr_log "creating database $db"
    if ! "$psql" "$admin" -X -q -v ON_ERROR_STOP=1 -v db="$db" >/dev/null <<'SQL'
CREATE DATABASE :"db";
SQL
    then
        # Another process may have created it in the meantime.
        exists="$("$psql" "$admin" -X -q -t -A -v db="$db" <<'SQL'
SELECT 1 FROM pg_database WHERE datname = :'db';
SQL
)" || true
        [[ "$exists" == 1 ]] || {
            gr_fail "could not create database $db"
            return 1
        }
    fi
}

# --- entry point ---------------------------------------------------------------

ensure_database() {
    local isready psql db
    ensure_pg_bindir || return 1
    isready="$(_gr_pg_tool pg_isready)" || return 1
    psql="$(_gr_pg_tool psql)" || return 1

    if [[ -n "${DATABASE_URL:-}" ]]; then
        if [[ -z "${GEREPORT_PG_ADMIN_URL:-}" ]]; then
            GEREPORT_PG_ADMIN_URL="$(_gr_url_with_db "$DATABASE_URL" postgres)"
        fi
        export DATABASE_URL GEREPORT_PG_ADMIN_URL
        if ! "$isready" -q -d "$GEREPORT_PG_ADMIN_URL" -t 10; then
            gr_fail "DATABASE_URL is set but its server does not answer (unset it to use a local server)"
            return 1
        fi
        gr_log "using DATABASE_URL from the environment"
    else
        local system_url="postgres://postgres@127.0.0.1:5432/gereport"
        local system_admin="postgres://postgres@127.0.0.1:5432/postgres"
        local use_private=1
        if [[ "${GEREPORT_FORCE_PRIVATE_PG:-0}" == 1 ]]; then
            gr_log "GEREPORT_FORCE_PRIVATE_PG=1: using the private cluster"
        elif "$isready" -q -h 127.0.0.1 -p 5432 -t 2; then
            if "$psql" "$system_admin" -X -q -t -A -c 'SELECT 1' >/dev/null 2>&1; then
                use_private=0
            else
                gr_log "server on 127.0.0.1:5432 refuses postgres@ without a password; using the private cluster"
            fi
        fi
        if ((use_private)); then
            _gr_private_database || return 1
        else
            export DATABASE_URL="$system_url" GEREPORT_PG_ADMIN_URL="$system_admin"
            gr_log "using the PostgreSQL server on 127.0.0.1:5432"
        fi
    fi

    db="$(_gr_url_dbname "$DATABASE_URL")"
    if [[ -z "$db" ]]; then
        gr_log "DATABASE_URL names no database; not creating one"
        return 0
    fi
    _gr_create_database "$GEREPORT_PG_ADMIN_URL" "$db" || return 1
    gr_log "database ready: $db ($(_gr_redact_url "$DATABASE_URL"))"
}

# Print a URL with any password replaced by ***.
_gr_redact_url() {
    local url="$1"
    if [[ "$url" =~ ^([a-z]+://[^:/@]+):[^@]*@(.*)$ ]]; then
        printf '%s:***@%s\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
    else
        printf '%s\n' "$url"
    fi
}

# --- least privilege -------------------------------------------------------------

# use_serving_role: the service connects as a role that owns nothing
# (GEREPORT_APP_ROLE, default gereport_app, created here when missing), while
# migrations keep running as the database's owner (GEREPORT_MIGRATE_DATABASE_URL,
# the URL ensure_database settled on). `gereport migrate`/`serve` grant the role
# what it needs after each migration. A DATABASE_URL with a password was given by
# the user and is left as it is.
use_serving_role() {
    local role="${GEREPORT_APP_ROLE:-gereport_app}" psql base rest authority userinfo host
    base="${DATABASE_URL%%\?*}"
    rest="${base#*://}"
    authority="${rest%%/*}"
    userinfo="${authority%@*}"
    if [[ "$authority" != *@* || "$userinfo" == *:* ]]; then
        gr_log "DATABASE_URL carries its own credentials; serving with it as it is"
        return 0
    fi
    psql="$(_gr_pg_tool psql)" || return 1
    if ! "$psql" "$GEREPORT_PG_ADMIN_URL" -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
DO \$\$ BEGIN CREATE ROLE $role LOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END \$\$;
SQL
    then
        gr_fail "could not create the serving role $role"
        return 1
    fi
    host="${authority#*@}"
    export GEREPORT_MIGRATE_DATABASE_URL="$DATABASE_URL"
    export GEREPORT_APP_ROLE="$role"
    export DATABASE_URL="${DATABASE_URL/"$authority"/"$role@$host"}"
    gr_log "serving as role $role (migrations as $userinfo)"
}
