import { promises as fs } from 'node:fs';
import net from 'node:net';
import { Client } from 'pg';
import { FailureType, refuse } from '../errors';
import { checkMigrations } from '../migrations/runner';
import { checkRollbackCompatibility, listAppliedContract } from '../migrations/compat';
import { missingConfig, readConfigSource } from '../runtime-config';
import type { ArtifactRef, CurrentReleaseRef, DeployPlan } from '../workflows/types';
import { withHeartbeat, workerDataDir, type ActivityDeps } from './context';
import { describeTarget } from '../targets';
import { targetFor } from './target';

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

/**
 * Every check runs, even after one fails, so the operator sees all that is wrong at once. Nothing here
 * mutates anything. Config VALUES are read on the worker and never returned: only names and verdicts.
 */
export function preChecksActivity(deps: ActivityDeps) {
  const dataDir = workerDataDir(deps);
  return async function preChecks({ plan, artifact }: { plan: DeployPlan; artifact: ArtifactRef }): Promise<{ checks: CheckResult[]; current: CurrentReleaseRef | null }> {
    return withHeartbeat(async (progress) => {
      const checks: CheckResult[] = [];
      const check = async (name: string, fn: () => Promise<string>) => {
        progress(`check ${name}`);
        try {
          checks.push({ name, ok: true, detail: await fn() });
        } catch (err) {
          checks.push({ name, ok: false, detail: (err as Error).message });
        }
      };

      let config: Record<string, string> = {};
      await check('config', async () => {
        config = await readConfigSource(plan.config.envFile);
        const required = [...new Set([...plan.runtime.requiredConfig, ...artifact.requiredConfig, ...(plan.config.databaseUrlFrom ? [plan.config.databaseUrlFrom] : [])])].sort();
        const missing = missingConfig(required, config);
        if (missing.length && !plan.config.envFile) throw new Error(`required config ${missing.join(', ')}, but ${plan.environment} has no config source: add config.envFile (KEY=VALUE lines) to its spec`);
        if (missing.length) throw new Error(`missing in ${plan.config.envFile}: ${missing.join(', ')} (set them there; values never leave the worker)`);
        return `${required.length} required names present`;
      });

      const dbUrl = plan.config.databaseUrlFrom ? config[plan.config.databaseUrlFrom] : undefined;
      if (plan.config.databaseUrlFrom) {
        await check('database', async () => {
          if (!dbUrl) throw new Error(`${plan.config.databaseUrlFrom} is not set, so the database cannot be reached`);
          const c = new Client({ connectionString: dbUrl, connectionTimeoutMillis: 5_000 });
          try {
            await c.connect();
            await c.query('SELECT 1');
          } catch (err) {
            // pg errors can quote the connection string's host and user, never the password; still keep it short.
            throw new Error(`database from ${plan.config.databaseUrlFrom} does not answer: ${(err as Error).message.split('\n')[0]}`);
          } finally {
            await c.end().catch(() => undefined);
          }
          return 'answers';
        });
        if (dbUrl) {
          await check('migration-state', async () => {
            const files = artifact.migrations.map((m) => ({ ...m, sql: '' }));
            const state = await checkMigrations(dbUrl, files);
            if (state.problems.length) throw new Error(state.problems.join('; '));
            return `${state.applied.length} applied, ${state.pending.length} pending`;
          });
          if (plan.kind === 'rollback' || plan.kind === 'redeploy') {
            await check('rollback-compatibility', async () => {
              const appliedContract = await listAppliedContract(dbUrl);
              const verdict = checkRollbackCompatibility({ appliedContract, targetMigrationIds: artifact.migrations.map((m) => m.id) });
              if (!verdict.compatible) throw new Error(`${plan.version} cannot run on this schema: ${verdict.reasons.join('; ')}`);
              return `schema compatible with ${plan.version}`;
            });
          }
        }
      }

      for (const dep of plan.preChecks.dependencies) {
        await check(`dependency:${dep.name}`, () => (dep.tcp ? probeTcp(dep.tcp) : probeHttp(dep.http!)));
      }

      await check('disk', async () => {
        const dir = describeTarget(plan.target, dataDir).diskPath;
        const probeDir = await nearestExisting(dir);
        const st = await fs.statfs(probeDir);
        const freeMb = Math.floor((Number(st.bavail) * Number(st.bsize)) / 1024 / 1024);
        if (freeMb < plan.preChecks.minFreeDiskMb) throw new Error(`${freeMb} MB free under ${probeDir}, need ${plan.preChecks.minFreeDiskMb} MB`);
        return `${freeMb} MB free`;
      });

      const target = targetFor(plan, progress, dataDir);
      if (target.preflight) await check('target', () => target.preflight!());

      let current: CurrentReleaseRef | null = null;
      await check('current-release', async () => {
        const target = targetFor(plan, progress, dataDir);
        const st = await target.status();
        current = st.current;
        if (!st.current) return 'first deploy: nothing is running yet';
        if (plan.kind === 'rollback') return `current ${st.current.version} not required healthy: this deploy rolls it back`;
        if (plan.kind === 'redeploy') return `current ${st.current.version} not required healthy: this deploy of the same version restarts it`;
        if (!st.running && plan.live?.stoppedAt && plan.live.version === st.current.version) {
          return `current ${st.current.version} was stopped on purpose at ${plan.live.stoppedAt}; not required running: this deploy replaces it`;
        }
        if (describeTarget(plan.target, dataDir).requiresRunningCurrent && !st.running) throw new Error(`current release ${st.current.version} is not running; investigate or roll back first`);
        const res = await fetch(plan.health.url, { signal: AbortSignal.timeout(plan.health.requestTimeoutMs) }).catch((e: Error) => e);
        if (res instanceof Error || !res.ok) {
          throw new Error(`current release ${st.current.version} is not ready at ${plan.health.url} (${res instanceof Error ? res.message : `HTTP ${res.status}`}); to replace a broken release deploy a known-good version (rollback)`);
        }
        return `current ${st.current.version} is ready`;
      });

      const failed = checks.filter((c) => !c.ok);
      if (failed.length) {
        throw refuse(
          FailureType.PreChecksFailed,
          `${failed.length} of ${checks.length} pre-checks failed, nothing was changed: ${failed.map((c) => `${c.name}: ${c.detail}`).join(' | ')}`,
          { checks },
        );
      }
      return { checks, current };
    });
  };
}

async function nearestExisting(dir: string): Promise<string> {
  let d = dir;
  for (;;) {
    try {
      await fs.access(d);
      return d;
    } catch {
      const parent = d.replace(/\/[^/]*$/, '') || '/';
      if (parent === d) return '/';
      d = parent;
    }
  }
}

function probeTcp(hostPort: string): Promise<string> {
  const i = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, i);
  const port = Number(hostPort.slice(i + 1));
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, timeout: 3_000 });
    s.once('connect', () => {
      s.destroy();
      resolve(`${hostPort} accepts connections`);
    });
    s.once('timeout', () => {
      s.destroy();
      reject(new Error(`${hostPort}: no answer within 3 s`));
    });
    s.once('error', (e) => reject(new Error(`${hostPort}: ${e.message}`)));
  });
}

async function probeHttp(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3_000) }).catch((e: Error) => e);
  if (res instanceof Error) throw new Error(`${url}: ${res.message}`);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return `${url}: HTTP ${res.status}`;
}
