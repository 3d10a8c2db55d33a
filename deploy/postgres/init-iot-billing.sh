#!/bin/sh
# Runs once, when the PostgreSQL volume is first initialised (docker-entrypoint-initdb.d): the engine's
# role and its two databases. Temporal's databases are created by the temporal-schema job.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v password="$IOT_BILLING_DB_PASSWORD" <<'SQL'
CREATE ROLE iot_billing LOGIN PASSWORD :'password';
CREATE DATABASE iot_billing OWNER iot_billing;
CREATE DATABASE iot_billing_sandbox OWNER iot_billing;
SQL
