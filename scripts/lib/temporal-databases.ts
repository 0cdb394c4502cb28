/**
 * Temporal's two PostgreSQL databases (persistence and visibility), created and brought to the schema
 * version of the pinned server with temporal-sql-tool, the way deploy/compose/temporal-schema.sh does it
 * in docker-compose.yml. Idempotent: an existing database is kept and only missing versions are applied.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { redactUrl } from './postgres';

const execFileAsync = promisify(execFile);

/** Database names Temporal accepts here: they go into CREATE DATABASE and the server's config. */
const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** The embedded schemas of temporal-sql-tool 1.29.1 (schema/postgresql/v12 in go.temporal.io/server). */
export const TEMPORAL_SCHEMAS = { temporal: 'postgresql/v12/temporal', visibility: 'postgresql/v12/visibility' } as const;

export interface PostgresEndpoint {
  host: string;
  port: number;
  user: string;
  /** Empty for trust authentication. */
  password: string;
}

export interface TemporalDatabaseNames {
  /** Persistence: executions, history, task queues, namespaces (default "temporal"). */
  temporal: string;
  /** Visibility: the workflow list and search attributes (default "temporal_visibility"). */
  visibility: string;
}

export const DEFAULT_TEMPORAL_DATABASES: TemporalDatabaseNames = { temporal: 'temporal', visibility: 'temporal_visibility' };

export function assertTemporalDatabaseNames(names: TemporalDatabaseNames): void {
  for (const [role, name] of Object.entries(names)) {
    if (!DATABASE_NAME.test(name)) {
      throw new Error(
        `The ${role} database name "${name}" is not allowed: use lowercase letters, digits and underscores, ` +
          `starting with a letter or underscore, at most 63 characters.`,
      );
    }
  }
  if (names.temporal === names.visibility) {
    throw new Error(`The persistence and visibility databases must differ (both are "${names.temporal}").`);
  }
}

export function postgresUrl(endpoint: PostgresEndpoint, database: string): string {
  const url = new URL('postgres://placeholder');
  url.hostname = endpoint.host;
  url.port = String(endpoint.port);
  url.username = endpoint.user;
  url.password = endpoint.password;
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * Creates each database when missing, sets up the schema-version tables, and applies every schema version
 * the embedded schema has beyond the database's. Returns the schema version of each afterwards.
 */
export async function prepareTemporalDatabases(o: {
  sqlTool: string;
  endpoint: PostgresEndpoint;
  databases: TemporalDatabaseNames;
  onProgress?: (line: string) => void;
}): Promise<TemporalDatabaseNames> {
  assertTemporalDatabaseNames(o.databases);
  const progress = o.onProgress ?? (() => {});
  const versions = { ...o.databases };
  for (const role of ['temporal', 'visibility'] as const) {
    const database = o.databases[role];
    const before = await schemaVersion(o.endpoint, database);
    const base = [
      '--plugin', 'postgres12',
      '--endpoint', o.endpoint.host,
      '--port', String(o.endpoint.port),
      '--user', o.endpoint.user,
      '--password', o.endpoint.password,
      '--database', database,
    ];
    await runSqlTool(o.sqlTool, [...base, 'create-database'], `create database ${database}`);
    await runSqlTool(o.sqlTool, [...base, 'setup-schema', '--version', '0.0'], `set up the schema-version tables of ${database}`);
    await runSqlTool(o.sqlTool, [...base, 'update-schema', '--schema-name', TEMPORAL_SCHEMAS[role]], `update the schema of ${database}`);
    const after = await schemaVersion(o.endpoint, database);
    versions[role] = after ?? 'unknown';
    progress(
      before === after
        ? `${database}: schema ${after} is current (${TEMPORAL_SCHEMAS[role]})`
        : `${database}: schema ${before ?? 'none'} → ${after} (${TEMPORAL_SCHEMAS[role]})`,
    );
  }
  return versions;
}

async function runSqlTool(sqlTool: string, args: string[], what: string): Promise<void> {
  try {
    await execFileAsync(sqlTool, args, { timeout: 5 * 60_000, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    // The tool logs JSON lines; the last few say what went wrong (connection refused, permission denied…).
    const output = `${e.stdout ?? ''}\n${e.stderr ?? ''}`.trim().split('\n').slice(-8).join('\n');
    throw new Error(`temporal-sql-tool could not ${what}:\n${output || e.message}`);
  }
}

/** The curr_version in schema_version, or undefined when the database or the table does not exist yet. */
export async function schemaVersion(endpoint: PostgresEndpoint, database: string): Promise<string | undefined> {
  const client = new Client({ connectionString: postgresUrl(endpoint, database), connectionTimeoutMillis: 10_000 });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    if ((err as { code?: string }).code === '3D000') return undefined; // database does not exist
    throw new Error(`Cannot connect to ${redactUrl(postgresUrl(endpoint, database))}: ${(err as Error).message}`);
  }
  try {
    const present = await client.query<{ p: boolean }>(`SELECT to_regclass('public.schema_version') IS NOT NULL AS p`);
    if (!present.rows[0]?.p) return undefined;
    const { rows } = await client.query<{ curr_version: string }>('SELECT curr_version FROM schema_version LIMIT 1');
    return rows[0]?.curr_version;
  } finally {
    await client.end().catch(() => {});
  }
}
