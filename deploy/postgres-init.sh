#!/bin/sh
# Run once by the postgres image when its volume is new (docker-entrypoint-initdb.d):
# the owner role that migrations run as, the role the service connects as (it owns
# nothing; `gereport migrate` grants it what it needs), and the database.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v owner_password="$GEREPORT_OWNER_PASSWORD" -v app_password="$GEREPORT_APP_PASSWORD" <<'SQL'
CREATE ROLE gereport_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE gereport_app LOGIN PASSWORD :'app_password';
CREATE DATABASE gereport OWNER gereport_owner;
SQL
