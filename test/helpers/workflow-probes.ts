import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Client as PgClient } from 'pg';
import type { WorkflowHandle } from '@temporalio/client';
import { SA } from '../../src/workflows/definitions';
import type { DeployWorld } from './deploy-world';

/** How long a scenario waits for a deploy to reach a state: builds on a busy shared machine can take a minute. */
export const STAGE_WAIT_MS = 180_000;

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `temporal` binary against the world's dev server; never throws on a non-zero exit. */
export function temporalCli(world: DeployWorld, args: string[], timeoutMs = 60_000): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      world.temporal.cli,
      [...args, '--address', world.temporal.address],
      { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, cwd: world.dataDir },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** The example database's migration ledger in one environment: applied migration IDs in order. */
export async function ledger(world: DeployWorld, env: 'staging' | 'production'): Promise<string[]> {
  const url = new URL(world.orchestratorDb.url);
  url.pathname = `/${world.example.databases[env]}`;
  const c = new PgClient({ connectionString: url.toString() });
  await c.connect();
  try {
    const exists = await c.query(`SELECT to_regclass('deploy_schema_migrations') AS t`);
    if (!exists.rows[0]?.t) return [];
    const { rows } = await c.query(`SELECT id FROM deploy_schema_migrations WHERE state='applied' ORDER BY id`);
    return rows.map((r) => r.id as string);
  } finally {
    await c.end();
  }
}

/** The release directory `current` points at (e.g. `1.1.0-0123456789ab`), or null when there is none. */
export async function currentRelease(world: DeployWorld, env: string): Promise<string | null> {
  try {
    return path.basename(await fs.readlink(path.join(world.targetRoot(env), 'current')));
  } catch {
    return null;
  }
}

/** The release directory of a version in an environment (the one `current` pointed at when it was live). */
export async function releaseDirOf(world: DeployWorld, env: string, version: string): Promise<string> {
  const dir = path.join(world.targetRoot(env), 'releases');
  const found = (await fs.readdir(dir)).filter((d) => d.startsWith(`${version}-`));
  if (found.length !== 1) throw new Error(`expected one release directory of ${version} in ${dir}, found ${found.join(', ') || 'none'}`);
  return path.join(dir, found[0]!);
}

/** The DeployStatus search attribute as the server holds it now. */
export async function deployStatusAttribute(handle: WorkflowHandle): Promise<string | undefined> {
  const desc = await handle.describe();
  return desc.typedSearchAttributes.get(SA.status);
}

/** The exported history of one run, as `temporal workflow show --output json` prints it. */
export async function exportedHistory(world: DeployWorld, handle: WorkflowHandle): Promise<{ events: Array<Record<string, any>> }> {
  const runId = (await handle.describe()).runId;
  const r = await temporalCli(world, ['workflow', 'show', '--workflow-id', handle.workflowId, '--run-id', runId, '--output', 'json']);
  if (r.code !== 0) throw new Error(`temporal workflow show failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Terminates a deploy a failed assertion left running, so the next scenario can take the lock. */
export async function closeIfOpen(handle: WorkflowHandle): Promise<void> {
  const desc = await handle.describe().catch(() => undefined);
  if (desc?.status.name === 'RUNNING') await handle.terminate('test cleanup: the scenario failed before the deploy ended').catch(() => undefined);
}

/** Waits until `check` passes, polling; the last error explains a timeout. */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      return await check();
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw last;
}

/**
 * Health thresholds that tolerate a slow service start on a busy machine (a fresh node process may need a
 * second or two to listen) while the known-bad 2.0.0, whose /readyz answers 503, still fails within seconds.
 */
export function patientHealth(spec: Record<string, any>): void {
  spec.health = { ...spec.health, intervalMs: 250, windowMs: 20_000, consecutiveSuccesses: 4, minSuccessRatio: 0.5, maxConsecutiveFailures: 12 };
}

/**
 * The version the environment's service answers with, once it answers: a release that was just (re)started
 * by a deploy or rollback may need a moment before it listens.
 */
export async function answeringVersion(world: DeployWorld, env: 'staging' | 'production', timeoutMs = 20_000): Promise<string> {
  return eventually(async () => (await world.get(env, '/')).body.version as string, timeoutMs);
}
