#!/bin/sh
# One-shot (temporalio/admin-tools): creates Temporal's two databases and brings their schemas up to the
# version this admin-tools image ships. Safe to run on every `docker compose up`: existing databases
# are kept and only missing schema versions are applied.
set -eu

: "${POSTGRES_SEEDS:?POSTGRES_SEEDS (the PostgreSQL host) must be set}"
: "${POSTGRES_USER:?POSTGRES_USER must be set}"
: "${SQL_PASSWORD:?SQL_PASSWORD (the PostgreSQL password, read by temporal-sql-tool) must be set}"
PORT="${DB_PORT:-5432}"
SCHEMA_DIR=/etc/temporal/schema/postgresql/v12

sql_tool() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$PORT" -u "$POSTGRES_USER" "$@"
}

for database in temporal temporal_visibility; do
  case "$database" in
    temporal) versions="$SCHEMA_DIR/temporal/versioned" ;;
    *) versions="$SCHEMA_DIR/visibility/versioned" ;;
  esac
  echo "Schema of database $database"
  sql_tool --db "$database" create
  sql_tool --db "$database" setup-schema -v 0.0
  sql_tool --db "$database" update-schema -d "$versions"
done
echo "Temporal schemas are up to date."
