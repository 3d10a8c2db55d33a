#!/bin/sh
# One-shot job (temporalio/admin-tools image): create Temporal's two databases and bring their schemas to
# the image's version. Safe to run again: what exists is kept, and update-schema is idempotent.
set -eu
sql() {
    # The password comes from SQL_PASSWORD in the environment, never from the command line.
    temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" "$@"
}
for db in temporal temporal_visibility; do
    sql --db "$db" create || true
done
sql --db temporal setup-schema -v 0.0 || true
sql --db temporal update-schema -d /etc/temporal/schema/postgresql/v12/temporal/versioned
sql --db temporal_visibility setup-schema -v 0.0 || true
sql --db temporal_visibility update-schema -d /etc/temporal/schema/postgresql/v12/visibility/versioned
echo "Temporal schemas are up to date"
