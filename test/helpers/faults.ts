import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type { WorkflowHandle } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { LEDGER_TABLE } from '../../src/migrations/ledger';
import type { DeployResult } from '../../src/workflows/types';
import { REPO_ROOT, type DeployWorld } from './deploy-world';
import { ADMIN_DATABASE_URL } from './pg';

/**
 * Fault injection on the real stack: worker processes that can be killed with SIGKILL, probes that tell
 * when a stage is really running (not merely scheduled), side-effect counters, and the results table the
 * fault scenarios publish (test-artifacts/fault-results.json).
 */

const execFileAsync = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const SERVICE = 'hello-service';
export const SLOW_SERVICE_FIXTURE = path.join(REPO_ROOT, 'test/fixtures/slow-service');
export const FAULT_RESULTS_FILE = path.join(REPO_ROOT, 'test-artifacts', 'fault-results.json');

export type Env = 'staging' | 'production';

// ---------------------------------------------------------------------------------------------------
// Polling

export async function waitUntil<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
}

// ---------------------------------------------------------------------------------------------------
// Worker processes

/** The workflow code bundled once per test file, so each spawned worker starts in a second or two. */
export async function prebundleWorkflows(): Promise<{ env: Record<string, string>; remove(): Promise<void> }> {
  const { bundleWorkflowCode, DefaultLogger } = await import('@temporalio/worker');
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows'), logger: new DefaultLogger('WARN') });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fault-bundle-'));
  const file = path.join(dir, 'workflow-bundle.js');
  await fs.writeFile(file, code);
  return { env: { DEPLOY_WORKFLOW_BUNDLE: file }, remove: () => fs.rm(dir, { recursive: true, force: true }) };
}

export interface WorkerProcess {
  identity: string;
  child: ChildProcess;
  /** SIGKILL, no grace: returns the wall-clock time of the kill once the process is gone. */
  kill(): Promise<number>;
}

export async function startWorkerProcess(world: DeployWorld, bundleEnv: Record<string, string>, identity: string): Promise<WorkerProcess> {
  const child = await world.spawnWorker({ ...bundleEnv, WORKER_IDENTITY: identity, LOG_LEVEL: 'WARN' });
  return {
    identity,
    child,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`worker ${identity} already exited`);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      const at = Date.now();
      child.kill('SIGKILL');
      await exited;
      return at;
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Where the deploy is: pending activities and history

export interface PendingActivity {
  activityType: string;
  attempt: number;
  lastWorkerIdentity: string;
  lastFailure?: string;
}

/** PendingActivityState.STARTED in the service API: a worker has picked the attempt up and runs it. */
const PENDING_ACTIVITY_STATE_STARTED = 2;

export async function pendingActivity(handle: WorkflowHandle, activityType: string): Promise<(PendingActivity & { started: boolean }) | undefined> {
  const desc = await handle.describe();
  const p = desc.raw.pendingActivities?.find((a) => a.activityType?.name === activityType);
  if (!p) return undefined;
  return {
    activityType,
    attempt: p.attempt ?? 1,
    lastWorkerIdentity: p.lastWorkerIdentity ?? '',
    lastFailure: p.lastFailure?.message ?? undefined,
    started: p.state === PENDING_ACTIVITY_STATE_STARTED,
  };
}

/** Waits until a worker has started an attempt of the activity (the stage is running, not only scheduled). */
export function waitForActivityStarted(handle: WorkflowHandle, activityType: string, timeoutMs = 90_000): Promise<PendingActivity> {
  return waitUntil(`activity ${activityType} to be running on a worker`, async () => {
    const p = await pendingActivity(handle, activityType);
    return p?.started ? p : undefined;
  }, timeoutMs);
}

export interface ActivityRun {
  /** The attempt that completed (or last started): 1 means no retry was needed. */
  attempt: number;
  identity: string;
  /** When the completing attempt started (the history records the last attempt's start only). */
  startedAtMs?: number;
  completedAtMs?: number;
}

function eventTimeMs(t: { seconds?: unknown; nanos?: number | null } | null | undefined): number | undefined {
  if (!t) return undefined;
  // seconds is a protobuf Long object (or a number, depending on the decoder).
  const s = t.seconds as { toNumber?: () => number } | number | null | undefined;
  const seconds = typeof s === 'object' && s?.toNumber ? s.toNumber() : Number(s ?? 0);
  return seconds * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
}

/** Each execution of an activity type in the history: the started attempt, which worker ran it, and when it completed. */
export async function activityRuns(handle: WorkflowHandle, activityType: string): Promise<ActivityRun[]> {
  const history = await handle.fetchHistory();
  const scheduled = new Map<string, ActivityRun>();
  for (const e of history.events ?? []) {
    const id = String(e.eventId);
    if (e.activityTaskScheduledEventAttributes?.activityType?.name === activityType) scheduled.set(id, { attempt: 0, identity: '' });
    const started = e.activityTaskStartedEventAttributes;
    if (started && scheduled.has(String(started.scheduledEventId))) {
      const run = scheduled.get(String(started.scheduledEventId))!;
      run.attempt = started.attempt ?? 1;
      run.identity = started.identity ?? '';
      run.startedAtMs = eventTimeMs(e.eventTime as never);
    }
    const completed = e.activityTaskCompletedEventAttributes;
    if (completed && scheduled.has(String(completed.scheduledEventId))) {
      scheduled.get(String(completed.scheduledEventId))!.completedAtMs = eventTimeMs(e.eventTime as never);
    }
  }
  return [...scheduled.values()];
}

// ---------------------------------------------------------------------------------------------------
// Databases

export function envDatabaseUrl(world: DeployWorld, env: Env): string {
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${world.example.databases[env]}`;
  return url.toString();
}

async function withPg<T>(url: string, fn: (c: PgClient) => Promise<T>): Promise<T> {
  const c = new PgClient({ connectionString: url });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** The backend running the migration session (application_name "deploy-migrate <workflow id>") while it sleeps in pg_sleep. */
export async function findSleepingMigrationBackend(world: DeployWorld, env: Env): Promise<number | undefined> {
  return withPg(ADMIN_DATABASE_URL, async (c) => {
    const { rows } = await c.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity
        WHERE datname = $1 AND application_name LIKE 'deploy-migrate deploy-%' AND state = 'active' AND query ILIKE '%pg_sleep%'`,
      [world.example.databases[env]],
    );
    return rows[0]?.pid;
  });
}

export async function terminateBackend(pid: number): Promise<boolean> {
  return withPg(ADMIN_DATABASE_URL, async (c) => {
    const { rows } = await c.query<{ done: boolean }>('SELECT pg_terminate_backend($1) AS done', [pid]);
    return rows[0]?.done === true;
  });
}

// ---------------------------------------------------------------------------------------------------
// Source versions with a slow migration

/**
 * Adds a tagged version to the example's source repository: the tree of `from` plus `files`, with
 * package.json's version set (the service reports that version). Plumbing only: no work tree is touched.
 */
export async function addServiceVersion(world: DeployWorld, o: { from: string; version: string; files?: Record<string, string> }): Promise<string> {
  const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'fault-version-'));
  const gitDir = path.join(world.example.sourceRepo, '.git');
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: scratch,
    GIT_CONFIG_NOSYSTEM: '1',
    LC_ALL: 'C',
    GIT_INDEX_FILE: path.join(scratch, 'index'),
    GIT_AUTHOR_NAME: 'Fault Tests',
    GIT_AUTHOR_EMAIL: 'faults@hello-service.example',
    GIT_AUTHOR_DATE: '2024-04-01T10:00:00+0000',
    GIT_COMMITTER_NAME: 'Fault Tests',
    GIT_COMMITTER_EMAIL: 'faults@hello-service.example',
    GIT_COMMITTER_DATE: '2024-04-01T10:00:00+0000',
  };
  const git = async (...args: string[]) => (await execFileAsync('git', ['--git-dir', gitDir, ...args], { env, cwd: scratch })).stdout.trim();
  try {
    const parent = await git('rev-parse', '--verify', `refs/tags/${o.from}^{commit}`);
    await git('read-tree', `${parent}^{tree}`);
    const pkg = JSON.parse(await git('show', `${parent}:package.json`)) as { version: string };
    pkg.version = o.version;
    const files = { ...(o.files ?? {}), 'package.json': `${JSON.stringify(pkg, null, 2)}\n` };
    for (const [rel, content] of Object.entries(files)) {
      const tmp = path.join(scratch, 'blob');
      await fs.writeFile(tmp, content);
      const blob = await git('hash-object', '-w', '--no-filters', tmp);
      await git('update-index', '--add', '--cacheinfo', `100644,${blob},${rel}`);
    }
    const tree = await git('write-tree');
    const commit = await git('commit-tree', tree, '-p', parent, '-m', `${SERVICE} ${o.version} (fault tests)`);
    await git('update-ref', `refs/tags/${o.version}`, commit, '');
    return commit;
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

/** 1.2.0 = 1.1.0 plus the slow migration of test/fixtures/slow-service; 1.3.0 = 1.2.0 with a new version number only. */
export async function addSlowMigrationVersions(world: DeployWorld): Promise<void> {
  const dir = path.join(SLOW_SERVICE_FIXTURE, 'migrations');
  const files: Record<string, string> = {};
  for (const name of await fs.readdir(dir)) files[`migrations/${name}`] = await fs.readFile(path.join(dir, name), 'utf8');
  await addServiceVersion(world, { from: '1.1.0', version: '1.2.0', files });
  await addServiceVersion(world, { from: '1.2.0', version: '1.3.0' });
}

/** The example's migrations plus the slow one, in order. */
export const MIGRATIONS_UP_TO_1_2_0 = ['001_create_greetings.sql', '002_add_greeting_locale.sql', '003_fault_slow_backfill.sql'];

// ---------------------------------------------------------------------------------------------------
// Health thresholds that tolerate a slow service start on a busy machine (up to 3 s of refused probes before
// the first answer) yet still fail within 3 s when the service dies. The world's defaults fail after 300 ms.

export const TOLERANT_HEALTH = { intervalMs: 200, windowMs: 15_000, consecutiveSuccesses: 5, maxConsecutiveFailures: 15, minSuccessRatio: 0.5 };
/** A validate stage that lasts at least 5 s (25 successes in a row at 200 ms), long enough to kill the worker in it. */
export const SLOW_VALIDATE_HEALTH = { ...TOLERANT_HEALTH, consecutiveSuccesses: 25, windowMs: 20_000 };

// ---------------------------------------------------------------------------------------------------
// Runtime command whose stop takes stopTimeoutMs: SIGTERM reaches the whole group, node exits at once, the
// shell leading the group sleeps in its trap, so the target waits for it and finally sends SIGKILL.

export const SLOW_STOP_RUNTIME_COMMAND = ['sh', '-c', "trap 'sleep 10' TERM; node dist/server.js & wait"];

// ---------------------------------------------------------------------------------------------------
// A dependency that answers slowly, to make pre-checks last long enough to kill the worker inside them.

export interface SlowDependency {
  url: string;
  requests: number;
  close(): Promise<void>;
}

export async function startSlowDependency(delayMs: number): Promise<SlowDependency> {
  const state = { requests: 0 };
  const server = http.createServer((req, res) => {
    state.requests++;
    const timer = setTimeout(() => res.end('ok'), delayMs);
    res.on('close', () => clearTimeout(timer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/ready`,
    get requests() {
      return state.requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------------------------------
// Side effects

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

export interface ArtifactSnapshot {
  sha256: string;
  contentSha256: string;
  ino: number;
  mtimeMs: number;
  size: number;
}

export function artifactDir(world: DeployWorld): string {
  return path.join(world.dataDir, 'artifacts', 'sha256');
}

export async function snapshotArtifact(world: DeployWorld, sha256: string): Promise<ArtifactSnapshot> {
  const file = path.join(artifactDir(world), `${sha256}.tar.gz`);
  const st = await fs.stat(file);
  return { sha256, contentSha256: await sha256File(file), ino: st.ino, mtimeMs: st.mtimeMs, size: st.size };
}

/** The sha256 the stored record of a version names, once its build has finished. */
export async function storedArtifactSha(world: DeployWorld, version: string): Promise<string | undefined> {
  try {
    const record = JSON.parse(await fs.readFile(path.join(world.dataDir, 'artifacts', SERVICE, `${version}.json`), 'utf8')) as { sha256?: string };
    return record.sha256;
  } catch {
    return undefined;
  }
}

export interface SideEffects {
  /** Applied ledger rows per migration id in the environment's database. */
  ledger: Record<string, number>;
  /** Ledger rows left in state 'started' (an interrupted non-transactional migration). */
  ledgerUnfinished: number;
  /** Rows of fault_migration_runs: how many times the slow migration really committed (null: not applied there). */
  slowMigrationRuns: number | null;
  /** Release directories per version under <target root>/releases, and staging leftovers (.staging-*). */
  releaseDirs: Record<string, number>;
  stagingLeftovers: number;
  /** Complete blobs under <dataDir>/artifacts/sha256 and temporary files left there. */
  artifactBlobs: string[];
  artifactTempFiles: number;
  /** deploy_releases rows of the environment, oldest first, and how many are live. */
  registry: Array<{ version: string; status: string; runId: string }>;
  liveRows: number;
  /** The version GET / answers with on the environment's port, or an error description. */
  answers: string;
  /** Distinct releases of the service processes whose working directory is under the target's releases. */
  serviceProcessReleases: string[];
}

export async function countSideEffects(world: DeployWorld, env: Env): Promise<SideEffects> {
  const { ledger, ledgerUnfinished, slowMigrationRuns } = await withPg(envDatabaseUrl(world, env), async (c) => {
    const present = (await c.query<{ p: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS p`, [LEDGER_TABLE])).rows[0]?.p;
    const counts: Record<string, number> = {};
    let unfinished = 0;
    if (present) {
      const { rows } = await c.query<{ id: string; state: string; n: string }>(`SELECT id, state, count(*) AS n FROM ${LEDGER_TABLE} GROUP BY id, state ORDER BY id`);
      for (const r of rows) {
        if (r.state === 'applied') counts[r.id] = Number(r.n);
        else unfinished += Number(r.n);
      }
    }
    const runsPresent = (await c.query<{ p: boolean }>(`SELECT to_regclass('public.fault_migration_runs') IS NOT NULL AS p`)).rows[0]?.p;
    const runs = runsPresent ? Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM fault_migration_runs')).rows[0]?.n) : null;
    return { ledger: counts, ledgerUnfinished: unfinished, slowMigrationRuns: runs };
  });

  const releasesDir = path.join(world.targetRoot(env), 'releases');
  const entries = await fs.readdir(releasesDir).catch(() => [] as string[]);
  const releaseDirs: Record<string, number> = {};
  for (const name of entries.filter((n) => !n.startsWith('.'))) {
    const version = name.replace(/-[0-9a-f]{12}$/, '');
    releaseDirs[version] = (releaseDirs[version] ?? 0) + 1;
  }

  const blobNames = await fs.readdir(artifactDir(world)).catch(() => [] as string[]);
  const artifactBlobs = blobNames.filter((n) => /^[0-9a-f]{64}\.tar\.gz$/.test(n)).map((n) => n.slice(0, 64)).sort();

  const registryRows = await world.orchestratorDb.query<{ version: string; status: string; run_id: string }>(
    `SELECT version, status, run_id FROM deploy_releases WHERE service = $1 AND environment = $2 ORDER BY id`,
    [SERVICE, env],
  );

  let answers: string;
  try {
    const res = await world.get(env, '/');
    answers = res.status === 200 ? String(res.body.version) : `HTTP ${res.status}`;
  } catch (err) {
    answers = `no answer (${(err as Error).message})`;
  }

  return {
    ledger,
    ledgerUnfinished,
    slowMigrationRuns,
    releaseDirs,
    stagingLeftovers: entries.filter((n) => n.startsWith('.staging-')).length,
    artifactBlobs,
    artifactTempFiles: blobNames.filter((n) => n.startsWith('.tmp-')).length,
    registry: registryRows.map((r) => ({ version: r.version, status: r.status, runId: r.run_id })),
    liveRows: registryRows.filter((r) => r.status === 'live').length,
    answers,
    serviceProcessReleases: await serviceProcessReleases(releasesDir),
  };
}

/** Releases whose directory is the working directory of a live process (this user's processes, from /proc). */
async function serviceProcessReleases(releasesDir: string): Promise<string[]> {
  const root = await fs.realpath(releasesDir).catch(() => undefined);
  if (!root) return [];
  const found = new Set<string>();
  for (const pid of await fs.readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid)) continue;
    const cwd = await fs.readlink(`/proc/${pid}/cwd`).catch(() => undefined);
    if (!cwd?.startsWith(`${root}/`)) continue;
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z') continue;
    found.add(path.relative(root, cwd).split('/')[0]!);
  }
  return [...found].sort();
}

/** Build scratch checkouts left under <dataDir>/work (a build killed with its worker is not cleaned up by anyone). */
export async function buildScratchDirs(world: DeployWorld): Promise<string[]> {
  const names = await fs.readdir(path.join(world.dataDir, 'work')).catch(() => [] as string[]);
  return names.filter((n) => n.startsWith('build-')).sort();
}

/** "001_create_greetings.sql:1 002_…:1": the ledger in one line for the results table. */
export function ledgerSummary(ledger: Record<string, number>): string {
  return Object.entries(ledger)
    .map(([id, n]) => `${id.split('_')[0]}:${n}`)
    .join(' ') || 'none';
}

// ---------------------------------------------------------------------------------------------------
// Results table

export interface FaultResult {
  id: string;
  scenario: string;
  file: string;
  expected: string;
  outcome: string;
  passed: boolean;
  error?: string;
  ledger?: string;
  slowMigrationRuns?: number | null;
  releaseDirs?: number;
  artifactFiles?: number;
  artifactUnchanged?: boolean;
  liveRows?: number;
  registry?: string;
  answers?: string;
  /** Worker killed (or fault injected) → the stage completed, from the history's completion time. Reported, not asserted. */
  recoveryMs?: number;
  /** Fault → the completing attempt started (heartbeat timeout, retry backoff, a worker to pick it up). */
  restartMs?: number;
  /** The attempt of the stage's activity that completed. */
  stageAttempt?: number;
  notes: string[];
  at: string;
}

export type FaultRecord = Omit<FaultResult, 'id' | 'scenario' | 'file' | 'expected' | 'passed' | 'error' | 'at' | 'outcome' | 'notes'> & {
  outcome?: string;
  note(text: string): void;
  /** Fills attempt, restart and recovery times from the stage activity's run, measured from the fault. */
  timing(run: ActivityRun | undefined, faultAtMs: number): void;
  /** Fills the side-effect columns for one version from a count. */
  effects(e: SideEffects, version: string, artifactSha?: string): void;
};

/**
 * Runs one scenario and records what it observed, passed or not, in test-artifacts/fault-results.json
 * (keyed by scenario id, so the file holds the latest result of every scenario across test files).
 */
export async function runScenario(file: string, id: string, scenario: string, expected: string, body: (r: FaultRecord) => Promise<void>): Promise<void> {
  const notes: string[] = [];
  const record: FaultRecord = {
    note: (text) => notes.push(text),
    timing(run, faultAtMs) {
      record.stageAttempt = run?.attempt;
      if (run?.startedAtMs) record.restartMs = run.startedAtMs - faultAtMs;
      if (run?.completedAtMs) record.recoveryMs = run.completedAtMs - faultAtMs;
    },
    effects(e, version, artifactSha) {
      record.ledger = ledgerSummary(e.ledger);
      record.slowMigrationRuns = e.slowMigrationRuns;
      record.releaseDirs = e.releaseDirs[version] ?? 0;
      if (artifactSha) record.artifactFiles = e.artifactBlobs.filter((b) => b === artifactSha).length;
      record.liveRows = e.liveRows;
      record.registry = e.registry.map((r) => `${r.version}:${r.status}`).join(' ');
      record.answers = e.answers;
    },
  };
  let error: unknown;
  try {
    await body(record);
  } catch (err) {
    error = err;
  }
  const { note: _note, effects: _effects, timing: _timing, outcome, ...columns } = record;
  await saveFaultResult({
    id,
    scenario,
    file: path.relative(REPO_ROOT, file),
    expected,
    outcome: outcome ?? 'not reached',
    passed: error === undefined,
    ...(error === undefined ? {} : { error: (error as Error).message?.split('\n')[0]?.slice(0, 300) }),
    ...columns,
    notes,
    at: new Date().toISOString(),
  });
  if (error !== undefined) throw error;
}

async function readFaultResults(): Promise<FaultResult[]> {
  try {
    const parsed = JSON.parse(await fs.readFile(FAULT_RESULTS_FILE, 'utf8')) as { results?: FaultResult[] };
    return Array.isArray(parsed.results) ? parsed.results : [];
  } catch {
    return [];
  }
}

async function saveFaultResult(result: FaultResult): Promise<void> {
  const results = (await readFaultResults()).filter((r) => r.id !== result.id);
  results.push(result);
  results.sort((a, b) => a.id.localeCompare(b.id));
  await fs.mkdir(path.dirname(FAULT_RESULTS_FILE), { recursive: true });
  const tmp = `${FAULT_RESULTS_FILE}.${process.pid}.tmp`;
  await fs.writeFile(tmp, `${JSON.stringify({ updatedAt: new Date().toISOString(), results }, null, 2)}\n`);
  await fs.rename(tmp, FAULT_RESULTS_FILE);
}

/** Prints every recorded scenario (this run's and earlier files') as a table; test files call it from after(). */
export async function printFaultResults(): Promise<void> {
  const results = await readFaultResults();
  if (results.length === 0) return;
  const header = ['scenario', 'expected', 'outcome', 'ok', 'ledger (id:rows)', 'slow mig. runs', 'release dirs', 'artifact files', 'artifact same', 'live rows', 'answers', 'attempt', 'restart ms', 'recovery ms', 'recorded'];
  const rows = results.map((r) => [
    r.scenario,
    r.expected,
    r.outcome,
    r.passed ? 'yes' : 'NO',
    r.ledger ?? '-',
    r.slowMigrationRuns === undefined || r.slowMigrationRuns === null ? '-' : String(r.slowMigrationRuns),
    r.releaseDirs === undefined ? '-' : String(r.releaseDirs),
    r.artifactFiles === undefined ? '-' : String(r.artifactFiles),
    r.artifactUnchanged === undefined ? '-' : r.artifactUnchanged ? 'yes' : 'NO',
    r.liveRows === undefined ? '-' : String(r.liveRows),
    r.answers ?? '-',
    r.stageAttempt === undefined ? '-' : String(r.stageAttempt),
    r.restartMs === undefined ? '-' : String(r.restartMs),
    r.recoveryMs === undefined ? '-' : String(r.recoveryMs),
    r.at.slice(0, 19).replace('T', ' '),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const out = [
    '',
    `Fault scenarios (latest result of each; ${path.relative(REPO_ROOT, FAULT_RESULTS_FILE)}). restart ms: fault -> the completing`,
    'attempt of the stage started; recovery ms: fault -> the stage completed (measured, never asserted).',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    ...results.filter((r) => r.error || r.notes.length).flatMap((r) => [
      ...(r.error ? [`  ${r.scenario}: FAILED: ${r.error}`] : []),
      ...r.notes.map((n) => `  ${r.scenario}: ${n}`),
    ]),
    '',
  ];
  console.log(out.join('\n'));
}

/** The deploy's outcome plus the result object, for assertion messages. */
export function describeResult(result: DeployResult | undefined): string {
  if (!result) return 'no result';
  return JSON.stringify({ outcome: result.outcome, reason: result.reason, stages: result.stages?.map((s) => `${s.stage}:${s.status}`), compensations: result.compensations });
}
