import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { formatDuration } from './log';

const execFileAsync = promisify(execFile);

export const LOCAL_POSTGRES_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const POSTGRES_CONFIG_ROOT = '/etc/postgresql';

/** A database name we are willing to put into CREATE/DROP DATABASE. */
const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export interface EnsurePostgresOptions {
  /** Server to check; default postgres://postgres@127.0.0.1:5432/postgres. */
  adminUrl?: string;
  timeoutMs?: number;
  onProgress?: (line: string) => void;
}

/**
 * Makes sure the local PostgreSQL answers. When it does not, starts the packaged cluster the way a
 * machine without systemd needs it: `pg_ctlcluster --skip-systemctl-redirect <version> main start`.
 */
export async function ensurePostgres(options: EnsurePostgresOptions = {}): Promise<'already-running' | 'started'> {
  const adminUrl = options.adminUrl ?? LOCAL_POSTGRES_ADMIN_URL;
  const progress = options.onProgress ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (await answers(adminUrl)) return 'already-running';
  if (!isLocalUrl(adminUrl)) {
    throw new Error(`PostgreSQL does not answer at ${redactUrl(adminUrl)}; it is not local, so start it there or fix the URL.`);
  }

  const version = await installedClusterVersion();
  progress(`PostgreSQL does not answer at ${redactUrl(adminUrl)}; starting cluster ${version}/main`);
  const args = ['--skip-systemctl-redirect', version, 'main', 'start'];
  try {
    await execFileAsync('pg_ctlcluster', args, { timeout: 60_000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    // pg_ctlcluster exits non-zero when the cluster is already starting; the wait below decides.
    if (e.code === 'ENOENT') {
      throw new Error(
        `PostgreSQL does not answer at ${redactUrl(adminUrl)} and pg_ctlcluster is not on PATH. ` +
          `Install PostgreSQL (apt-get install postgresql) or start a server there yourself.`,
      );
    }
    progress(`pg_ctlcluster ${args.join(' ')}: ${(e.stderr ?? e.message).trim()}`);
  }

  const timeoutMs = options.timeoutMs ?? 30_000;
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await answers(adminUrl)) return 'started';
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(
    `PostgreSQL still does not answer at ${redactUrl(adminUrl)} ${formatDuration(timeoutMs)} after ` +
      `pg_ctlcluster ${args.join(' ')}. Check /var/log/postgresql/postgresql-${version}-main.log.`,
  );
}

/** Creates database `name` on the server of `adminUrl` unless it exists; returns whether it created it. */
export async function ensureDatabase(adminUrl: string, name: string): Promise<boolean> {
  assertDatabaseName(name);
  return withClient(adminUrl, async (client) => {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return false;
    try {
      await client.query(`CREATE DATABASE ${quoteIdentifier(name)}`);
    } catch (err) {
      // duplicate_database: a concurrent caller created it first.
      if ((err as { code?: string }).code === '42P04') return false;
      throw err;
    }
    return true;
  });
}

/** Drops database `name` if it exists, disconnecting its sessions first (tests leave pools behind). */
export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  assertDatabaseName(name);
  await withClient(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`));
}

/** Splits a database URL into the admin URL of the same server (database "postgres") and the database name. */
export function splitDatabaseUrl(databaseUrl: string): { adminUrl: string; database: string } {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    throw new Error(`The database URL is not a URL; expected postgres://user@host:port/database.`);
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!database) throw new Error(`The database URL ${redactUrl(databaseUrl)} names no database after the port.`);
  url.pathname = '/postgres';
  return { adminUrl: url.toString(), database };
}

/** A URL safe to print: the password, if any, is replaced by "***". */
export function redactUrl(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '(unparseable database URL)';
  }
}

function isLocalUrl(databaseUrl: string): boolean {
  try {
    return ['127.0.0.1', 'localhost', '[::1]', ''].includes(new URL(databaseUrl).hostname);
  } catch {
    return false;
  }
}

function assertDatabaseName(name: string): void {
  if (!DATABASE_NAME.test(name)) {
    throw new Error(
      `Database name "${name}" is not allowed: use lowercase letters, digits and underscores, ` +
        `starting with a letter or underscore, at most 63 characters.`,
    );
  }
}

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

async function answers(adminUrl: string): Promise<boolean> {
  const client = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function withClient<T>(adminUrl: string, run: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(
      `Cannot connect to PostgreSQL at ${redactUrl(adminUrl)}: ${(err as Error).message}. ` +
        `Start it (npm run setup does) or fix the URL.`,
    );
  }
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** The version directory under /etc/postgresql (e.g. "15"); the newest when several are installed. */
async function installedClusterVersion(): Promise<string> {
  let entries: string[];
  try {
    entries = await fs.readdir(POSTGRES_CONFIG_ROOT);
  } catch {
    throw new Error(
      `PostgreSQL does not answer on 127.0.0.1:5432 and no packaged cluster exists (${POSTGRES_CONFIG_ROOT} ` +
        `is missing). Install PostgreSQL (apt-get install postgresql) or start a server on 127.0.0.1:5432.`,
    );
  }
  const versions = entries.filter((entry) => /^\d+(\.\d+)?$/.test(entry)).sort((a, b) => Number(a) - Number(b));
  if (versions.length === 0) {
    throw new Error(`${POSTGRES_CONFIG_ROOT} holds no cluster version directory; install PostgreSQL or start it yourself.`);
  }
  return versions[versions.length - 1];
}
