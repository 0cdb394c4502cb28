#!/bin/sh
# One-shot (temporalio/admin-tools): creates Temporal's two databases and brings their schemas up to the
# version this image's temporal-sql-tool embeds (schema/postgresql/v12 of the server module), exactly as
# `npm run cluster` does with its own build of the tool (scripts/lib/temporal-databases.ts). Safe to run
# on every `docker compose up`: existing databases are kept and only missing schema versions are applied.
set -eu

: "${POSTGRES_SEEDS:?POSTGRES_SEEDS (the PostgreSQL host) must be set}"
: "${POSTGRES_USER:?POSTGRES_USER must be set}"
: "${SQL_PASSWORD:?SQL_PASSWORD (the PostgreSQL password, read by temporal-sql-tool) must be set}"
PORT="${DB_PORT:-5432}"
TEMPORAL_DB="${DBNAME:-temporal}"
VISIBILITY_DB="${VISIBILITY_DBNAME:-temporal_visibility}"

sql_tool() {
  temporal-sql-tool --plugin postgres12 --endpoint "$POSTGRES_SEEDS" --port "$PORT" --user "$POSTGRES_USER" "$@"
}

for database in "$TEMPORAL_DB" "$VISIBILITY_DB"; do
  if [ "$database" = "$TEMPORAL_DB" ]; then schema=postgresql/v12/temporal; else schema=postgresql/v12/visibility; fi
  echo "Schema of database $database ($schema)"
  sql_tool --database "$database" create-database
  sql_tool --database "$database" setup-schema --version 0.0
  sql_tool --database "$database" update-schema --schema-name "$schema"
done
echo "Temporal schemas are up to date."
