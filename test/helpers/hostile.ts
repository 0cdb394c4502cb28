import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import type { DeployWorld } from './deploy-world';
import { ADMIN_DATABASE_URL } from './pg';

/**
 * Shared checks of the hostile-input suites: a snapshot of everything a deploy could change, and a look
 * into history to prove a refused deploy stopped at the plan stage on its first attempt.
 */

export const ENVIRONMENTS = ['staging', 'production'] as const;

/** A file a shell-injection payload would create if any string reached a shell; never expected to exist. */
export function markerFile(tag: string): string {
  return path.join(os.tmpdir(), `hostile-pwned-${tag}-${randomBytes(4).toString('hex')}`);
}

export interface WorldSnapshot {
  artifacts: string[];
  ledger: Record<string, string[]>;
  releases: Record<string, string[]>;
  pidFiles: Record<string, boolean>;
  portsAnswering: Record<string, boolean>;
  registry: string[];
}

async function listTree(dir: string, prefix = ''): Promise<string[]> {
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: string[] = [];
  for (const e of entries) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listTree(path.join(dir, e.name), rel)));
    else out.push(rel);
  }
  return out.sort();
}

export function databaseUrl(name: string): string {
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Rows of a table, or [] when the table does not exist yet (nothing ever wrote to it). */
async function rowsOrNone(url: string, sql: string): Promise<string[]> {
  const c = new PgClient({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query(sql);
    return rows.map((r) => Object.values(r).join(':'));
  } catch (err) {
    if ((err as { code?: string }).code === '42P01') return []; // undefined_table
    throw err;
  } finally {
    await c.end();
  }
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(1000, () => done(false));
  });
}

export async function snapshotWorld(world: DeployWorld): Promise<WorldSnapshot> {
  const snap: WorldSnapshot = {
    artifacts: await listTree(path.join(world.dataDir, 'artifacts')),
    ledger: {},
    releases: {},
    pidFiles: {},
    portsAnswering: {},
    registry: await rowsOrNone(world.orchestratorDb.url, 'SELECT environment, version, status FROM deploy_releases ORDER BY id'),
  };
  for (const env of ENVIRONMENTS) {
    snap.ledger[env] = await rowsOrNone(databaseUrl(world.example.databases[env]), 'SELECT id, state FROM deploy_schema_migrations ORDER BY id');
    const releases = path.join(world.targetRoot(env), 'releases');
    snap.releases[env] = existsSync(releases) ? (await fs.readdir(releases)).sort() : [];
    snap.pidFiles[env] = existsSync(path.join(world.targetRoot(env), 'service.pid'));
    snap.portsAnswering[env] = await portAnswers(world.ports[env]);
  }
  return snap;
}

/** Nothing a deploy changes changed: artifacts, ledgers, release directories, processes, registry. */
export async function assertNothingChanged(
  world: DeployWorld,
  before: WorldSnapshot,
  label: string,
  markers: string[] = [],
  o: { registry?: 'all' | 'live' } = {},
): Promise<void> {
  const after = await snapshotWorld(world);
  if (o.registry === 'live') {
    // A refused deploy is recorded (e.g. as rejected); what is live must not move.
    const live = (rows: string[]) => rows.filter((r) => r.endsWith(':live'));
    after.registry = live(after.registry);
    before = { ...before, registry: live(before.registry) };
  }
  assert.deepEqual(after.artifacts, before.artifacts, `${label}: artifacts under ${world.dataDir}/artifacts changed`);
  assert.deepEqual(after.ledger, before.ledger, `${label}: a migration ledger (deploy_schema_migrations) changed`);
  assert.deepEqual(after.releases, before.releases, `${label}: a release directory appeared under a target root`);
  assert.deepEqual(after.pidFiles, before.pidFiles, `${label}: a service pidfile appeared or went away`);
  assert.deepEqual(after.portsAnswering, before.portsAnswering, `${label}: a service port started or stopped answering`);
  assert.deepEqual(after.registry, before.registry, `${label}: the release registry (deploy_releases) changed`);
  for (const m of markers) assert.equal(existsSync(m), false, `${label}: ${m} exists: a string reached a shell`);
}

export interface PlanRefusal {
  status: string;
  reason: string;
  stages: string[];
  /** Every activity scheduled in the run, by name. */
  activities: string[];
  /** The `attempt` of each ActivityTaskStarted event of the plan activity (1 = never retried). */
  planAttempts: number[];
  /** applicationFailureInfo.type of the plan activity's failure. */
  failureType: string | undefined;
  /** The workflow's own failure type. */
  workflowFailureType: string | undefined;
}

/** Waits for a deploy that should be refused at plan and reads, from history, how it was refused. */
export async function planRefusal(world: DeployWorld, handle: WorkflowHandle): Promise<PlanRefusal> {
  const { status, result } = await world.outcome(handle);
  const history = await handle.fetchHistory();
  const activities: string[] = [];
  const planAttempts: number[] = [];
  let failureType: string | undefined;
  let workflowFailureType: string | undefined;
  const scheduled = new Map<string, string>();
  for (const e of history.events ?? []) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) {
      activities.push(s.activityType?.name ?? '?');
      scheduled.set(String(e.eventId), s.activityType?.name ?? '?');
    }
    const st = e.activityTaskStartedEventAttributes;
    if (st && scheduled.get(String(st.scheduledEventId)) === 'plan') planAttempts.push(st.attempt ?? 0);
    const f = e.activityTaskFailedEventAttributes;
    if (f && scheduled.get(String(f.scheduledEventId)) === 'plan') failureType = f.failure?.applicationFailureInfo?.type ?? undefined;
    const wf = e.workflowExecutionFailedEventAttributes;
    if (wf) workflowFailureType = wf.failure?.applicationFailureInfo?.type ?? undefined;
  }
  return { status, reason: result?.reason ?? '', stages: (result?.stages ?? []).map((s) => `${s.stage}:${s.status}`), activities, planAttempts, failureType, workflowFailureType };
}

/** The refusal every workflow-level hostile case must show: failed at plan, first attempt, non-retryable type. */
export function assertRefusedAtPlan(r: PlanRefusal, o: { field: string | RegExp; type: string; label: string }): void {
  const ctx = `${o.label}: ${JSON.stringify({ ...r, reason: r.reason.slice(0, 600) })}`;
  assert.equal(r.status, 'failed', ctx);
  assert.deepEqual(r.stages, ['plan:failed'], ctx);
  assert.deepEqual(r.activities, ['plan'], ctx);
  assert.deepEqual(r.planAttempts, [1], ctx);
  assert.equal(r.failureType, o.type, ctx);
  assert.equal(r.workflowFailureType, 'DeployFailed', ctx);
  if (typeof o.field === 'string') assert.ok(r.reason.includes(`${o.field}:`), `${ctx}\nexpected the reason to name ${o.field}`);
  else assert.match(r.reason, o.field, ctx);
}

/** Short printable label for a hostile value (tables print it in test names). */
export function show(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
  const escaped = s.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return escaped.length > 40 ? `${escaped.slice(0, 30)}…(${s.length} chars)` : escaped;
}
