import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Client as PgClient } from 'pg';
import type { WorkflowHandle } from '@temporalio/client';
import { CLUSTER_SERVICES, freeClusterPorts, startTemporalCluster, type TemporalCluster } from '../../scripts/lib/cluster';
import { findOrBuildClusterBinaries } from '../../scripts/lib/cluster-binaries';
import { findOrBuildTemporalCli } from '../../scripts/lib/temporal-cli';
import { postgresUrl, prepareTemporalDatabases, type PostgresEndpoint, type TemporalDatabaseNames } from '../../scripts/lib/temporal-databases';
import { REPO_ROOT } from './deploy-world';
import { ADMIN_DATABASE_URL } from './pg';
import type { TestTemporal } from './temporal';

/**
 * A PostgreSQL-backed Temporal cluster for one test file (npm run test:cluster): the pinned server's four
 * services as separate processes on free ports, with persistence and visibility databases of its own
 * (t_temporal_<hex>, t_temporal_<hex>_visibility), so it never meets a dev server or `npm run cluster`.
 * Pass it to startDeployWorld({ temporal }) to run the deploy world on it.
 */
export interface TestCluster extends TestTemporal {
  cluster: TemporalCluster;
  databases: TemporalDatabaseNames;
  /** Where each process's log is (kept after the run for investigation). */
  logDir: string;
  /** Runs one query on the persistence database (executions, history, shards…). */
  queryTemporalDb<T extends Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  queryVisibilityDb<T extends Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
}

export const CLUSTER_LOG_ROOT = path.join(REPO_ROOT, 'test-artifacts', 'cluster-logs');

function endpointFromAdminUrl(): PostgresEndpoint {
  const url = new URL(ADMIN_DATABASE_URL);
  return {
    host: url.hostname || '127.0.0.1',
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username || 'postgres'),
    password: decodeURIComponent(url.password),
  };
}

/** `label` names the log directory (test-artifacts/cluster-logs/<label>/, emptied first). */
export async function startTestCluster(label: string, o: { ui?: boolean } = {}): Promise<TestCluster> {
  const [binaries, cli] = [await findOrBuildClusterBinaries(), await findOrBuildTemporalCli()];
  const endpoint = endpointFromAdminUrl();
  const name = `t_temporal_${randomBytes(4).toString('hex')}`;
  const databases = { temporal: name, visibility: `${name}_visibility` };
  const logDir = path.join(CLUSTER_LOG_ROOT, label);
  await fs.rm(logDir, { recursive: true, force: true });
  await fs.mkdir(logDir, { recursive: true });
  const events = path.join(logDir, 'events.log');
  const onEvent = (line: string) => void fs.appendFile(events, `${new Date().toISOString()} ${line}\n`).catch(() => undefined);

  const dropDatabases = async () => {
    const admin = new PgClient({ connectionString: ADMIN_DATABASE_URL });
    await admin.connect();
    try {
      for (const db of [databases.temporal, databases.visibility]) await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  };

  let cluster: TemporalCluster;
  try {
    await prepareTemporalDatabases({ sqlTool: binaries.sqlTool, endpoint, databases, onProgress: onEvent });
    cluster = await startTemporalCluster({
      binaries,
      cli,
      endpoint,
      databases,
      ports: await freeClusterPorts(),
      logDir,
      ui: o.ui ?? process.env.TEST_TEMPORAL_UI === '1',
      // Four processes share the machine's PostgreSQL with the tests' own databases: small pools.
      sqlMaxConns: 6,
      onEvent,
    });
  } catch (err) {
    await dropDatabases().catch(() => undefined);
    throw err;
  }

  const query = async <T extends Record<string, unknown>>(database: string, sql: string, params?: unknown[]): Promise<T[]> => {
    const client = new PgClient({ connectionString: postgresUrl(endpoint, database) });
    await client.connect();
    try {
      return (await client.query<T>(sql, params)).rows;
    } finally {
      await client.end();
    }
  };

  let stopped = false;
  return {
    cluster,
    databases,
    logDir,
    address: cluster.address,
    port: cluster.ports.frontend,
    uiPort: cluster.uiUrl ? cluster.ports.ui : undefined,
    cli,
    queryTemporalDb: (sql, params) => query(databases.temporal, sql, params),
    queryVisibilityDb: (sql, params) => query(databases.visibility, sql, params),
    async stop() {
      if (stopped) return;
      stopped = true;
      await cluster.stop();
      await dropDatabases();
    },
    /** Every service stopped (reverse order) and started again on the same ports and databases. */
    async restart() {
      for (const service of [...CLUSTER_SERVICES].reverse()) await cluster.stopService(service);
      for (const service of CLUSTER_SERVICES) await cluster.startService(service);
      await cluster.waitUntilServing();
    },
  };
}

/** temporal.api.enums.v1.WorkflowExecutionStatus, as stored in current_executions.status and executions_visibility.status. */
export const WORKFLOW_STATUS = { running: 1, completed: 2, failed: 3, canceled: 4, terminated: 5 } as const;

export interface PersistedExecution {
  /** current_executions.status of the workflow ID (the run that holds the ID). */
  currentStatus?: number;
  /** current_executions.run_id is this run. */
  currentIsThisRun: boolean;
  /** Rows of `executions` (mutable state) for this run: 1 while it exists. */
  executionRows: number;
  /** Rows of `history_node` of the run's history tree: its events, in batches. */
  historyNodes: number;
  /** executions_visibility.status and the values of its search attributes (by stored column, not alias). */
  visibilityStatus?: number;
  searchAttributeValues: string[];
}

/** What the cluster's PostgreSQL databases hold about one run, read from their tables directly. */
export async function persistedExecution(cluster: TestCluster, workflowId: string, runId: string): Promise<PersistedExecution> {
  const runHex = runId.replace(/-/g, '');
  const current = await cluster.queryTemporalDb<{ status: number; run: string }>(
    `SELECT status, encode(run_id, 'hex') AS run FROM current_executions WHERE workflow_id = $1`,
    [workflowId],
  );
  const executions = await cluster.queryTemporalDb<{ n: string }>(
    `SELECT count(*) AS n FROM executions WHERE workflow_id = $1 AND encode(run_id, 'hex') = $2`,
    [workflowId, runHex],
  );
  // A run's history tree is keyed by the run ID of the run that started it: this one, for a fresh start.
  const nodes = await cluster.queryTemporalDb<{ n: string }>(
    `SELECT count(*) AS n FROM history_node WHERE encode(tree_id, 'hex') = $1`,
    [runHex],
  );
  const visibility = await cluster.queryVisibilityDb<{ status: number; search_attributes: Record<string, unknown> | null }>(
    `SELECT status, search_attributes FROM executions_visibility WHERE workflow_id = $1 AND run_id = $2`,
    [workflowId, runId],
  );
  const attributes = visibility[0]?.search_attributes ?? {};
  return {
    currentStatus: current[0]?.status,
    currentIsThisRun: current[0]?.run === runHex,
    executionRows: Number(executions[0]?.n ?? 0),
    historyNodes: Number(nodes[0]?.n ?? 0),
    visibilityStatus: visibility[0]?.status,
    searchAttributeValues: Object.values(attributes).flatMap((v) => (Array.isArray(v) ? v.map(String) : [String(v)])),
  };
}

/**
 * Asserts that the run is stored in the cluster's PostgreSQL databases with the expected final status:
 * the current execution row of its workflow ID is this run, its mutable state and its history events are
 * in `executions` and `history_node`, and the visibility row (written asynchronously, so polled) has the
 * status and carries every one of `attributeValues` among its search attributes.
 */
export async function assertStoredInPostgres(
  cluster: TestCluster,
  handle: WorkflowHandle,
  expected: { status: keyof typeof WORKFLOW_STATUS; attributeValues: string[] },
): Promise<PersistedExecution> {
  const { runId } = await handle.describe();
  const want = WORKFLOW_STATUS[expected.status];
  let stored: PersistedExecution | undefined;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    stored = await persistedExecution(cluster, handle.workflowId, runId);
    if (stored.visibilityStatus === want && expected.attributeValues.every((v) => stored!.searchAttributeValues.includes(v))) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const where = `${handle.workflowId} run ${runId} in ${cluster.databases.temporal} / ${cluster.databases.visibility}`;
  assert.ok(stored, where);
  assert.equal(stored.currentStatus, want, `current_executions.status of ${where}`);
  assert.ok(stored.currentIsThisRun, `current_executions names this run: ${where}`);
  assert.equal(stored.executionRows, 1, `one executions row for ${where}`);
  assert.ok(stored.historyNodes > 0, `history_node holds the events of ${where}`);
  assert.equal(stored.visibilityStatus, want, `executions_visibility.status of ${where}`);
  for (const value of expected.attributeValues) {
    assert.ok(stored.searchAttributeValues.includes(value), `the visibility row of ${where} carries "${value}" (has ${stored.searchAttributeValues.join(', ')})`);
  }
  return stored;
}
