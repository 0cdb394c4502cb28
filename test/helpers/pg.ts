import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** The server the tests run against; override with TEST_PG_ADMIN_URL (a database that always exists). */
export const ADMIN_DATABASE_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  name: string;
  url: string;
  /** Runs one query on a short-lived connection to the test database. */
  query<T extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Drops the database, ending any sessions still connected to it. */
  drop(): Promise<void>;
}

function databaseUrl(name: string): string {
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withAdmin<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: ADMIN_DATABASE_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates `t_<purpose>_<random>`; purpose is lower-case letters, digits and underscores. */
export async function createTestDatabase(purpose: string): Promise<TestDatabase> {
  if (!/^[a-z0-9_]{1,30}$/.test(purpose)) throw new Error(`test database purpose "${purpose}" must match [a-z0-9_]{1,30}`);
  const name = `t_${purpose}_${randomBytes(4).toString('hex')}`;
  await withAdmin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = databaseUrl(name);
  return {
    name,
    url,
    async query<T extends Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]> {
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query<T>(sql, params)).rows;
      } finally {
        await client.end();
      }
    },
    async drop(): Promise<void> {
      await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/** A connection the test keeps open (e.g. to hold a lock); the caller ends it. */
export async function connectTo(url: string): Promise<Client> {
  const client = new Client({ connectionString: url });
  client.on('error', () => undefined); // a terminated helper session must not crash the test process
  await client.connect();
  return client;
}
