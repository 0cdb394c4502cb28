import { promises as fs } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import YAML from 'yaml';
import { freePort } from '../../scripts/lib/dev-server';
import { prepareExample } from '../../scripts/lib/example';
import { startDeploy } from '../../src/client/deploys';
import { createLocalTarget } from '../../src/targets';
import { deployOutcome, describeOutcome } from '../lib/deploys';
import { profileHistory } from '../lib/history';
import type { Cleanup } from '../lib/cleanup';
import { REPO_ROOT } from '../lib/processes';
import { progress } from '../lib/progress';
import { median, round } from '../lib/stats';
import { ADMIN_URL, type BenchWorld } from '../lib/world';

export interface RollbackTrial {
  /** Breaching probe (HealthReport.breachAtEpochMs) → the previous release's /readyz answers 200 again. */
  mttrMs: number;
  /** Where the time went, each from the breach: validate failed in history, rollbackDeploy scheduled, completed. */
  validateFailedMs: number;
  rollbackScheduledMs: number;
  rollbackCompletedMs: number;
  breach: string;
}

export interface RollbackResult {
  trials: RollbackTrial[];
  medianMs: number;
  maxMs: number;
  pollIntervalMs: number;
  healthThresholds: Record<string, unknown>;
  stopTimeoutMs: number;
}

const POLL_MS = 20;

/**
 * The example service on a local target: 1.1.0 deployed and ready, then the known-bad 2.0.0 (readiness
 * 503), which the validate stage fails and the saga rolls back. The bench polls /readyz every 20 ms and
 * measures from the breaching probe to the first 200 from the restored 1.1.0.
 */
export async function runRollback(world: BenchWorld, cleanup: Cleanup, o: { taskQueue: string; trials: number }): Promise<RollbackResult> {
  const exampleDir = path.join(world.dataDir, 'example');
  const dbPrefix = `bench_${world.runId}_hello`;
  world.trackDatabase(`${dbPrefix}_staging`);
  progress('rollback: preparing the hello-service example (source repository, database, config)');
  const example = await prepareExample({ dataDir: exampleDir, adminUrl: ADMIN_URL, dbPrefix, environments: ['staging'] });
  const port = await freePort();
  const targetRoot = path.join(world.dataDir, 'targets', 'hello-service-staging');

  const spec = YAML.parse(await fs.readFile(path.join(REPO_ROOT, 'examples/hello-service/deploy.yaml'), 'utf8'));
  spec.source.repository = example.sourceRepo;
  delete spec.environments.production;
  const staging = spec.environments.staging;
  staging.config.envFile = example.envFiles.staging;
  staging.target.root = targetRoot;
  staging.target.port = port;
  const specPath = path.join(world.dataDir, 'hello-service.yaml');
  await fs.writeFile(specPath, YAML.stringify(spec));
  cleanup.add('stop the hello-service process', () =>
    createLocalTarget({ root: targetRoot, command: ['node'], port, keepReleases: 5, stopTimeoutMs: 2000 }).rollback(null, {}),
  );

  const deploy = (version: string) => startDeploy(world.client, { spec: specPath, environment: 'staging', version, requestedBy: 'bench' }, { taskQueue: o.taskQueue });

  progress('rollback: deploying the good release 1.1.0');
  const good = await deployOutcome(await deploy('1.1.0'));
  if (good.outcome !== 'succeeded') throw new Error(`rollback benchmark: deploying 1.1.0 did not succeed (${describeOutcome(good)}); see ${world.logDir}`);

  const trials: RollbackTrial[] = [];
  for (let t = 0; t < o.trials; t++) {
    progress(`rollback: trial ${t + 1}/${o.trials}: deploying the known-bad 2.0.0`);
    const poller = pollReadiness(`http://127.0.0.1:${port}/readyz`);
    const handle = await deploy('2.0.0');
    const bad = await deployOutcome(handle);
    // Keep polling until 1.1.0 answers; the rollback may finish a moment before the workflow does.
    const readyAfter = await poller.waitForReadyAfter(() => breachOf(bad.result?.health), 30_000);
    poller.stop();
    if (bad.outcome !== 'rolled_back') throw new Error(`rollback benchmark: 2.0.0 ended ${describeOutcome(bad)}, expected rolled_back`);
    const health = bad.result?.health as { breachAtEpochMs?: number; reason?: string } | undefined;
    const breachAt = health?.breachAtEpochMs;
    if (breachAt === undefined) throw new Error('rollback benchmark: the failed health report has no breachAtEpochMs');
    if (readyAfter === undefined) throw new Error(`rollback benchmark: 1.1.0 did not answer ready within 30 s of the breach at ${new Date(breachAt).toISOString()}`);
    const version = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.json() as Promise<{ version?: string }>).catch(() => ({ version: undefined }));
    if (version.version !== '1.1.0') throw new Error(`rollback benchmark: after the rollback / answers version ${version.version}, expected 1.1.0`);

    const profile = await profileHistory(handle);
    const validate = profile.activities.find((a) => a.name === 'validate');
    const rollback = profile.activities.find((a) => a.name === 'rollbackDeploy');
    trials.push({
      mttrMs: readyAfter - breachAt,
      validateFailedMs: (validate?.closedAtMs ?? NaN) - breachAt,
      rollbackScheduledMs: (rollback?.scheduledAtMs ?? NaN) - breachAt,
      rollbackCompletedMs: (rollback?.closedAtMs ?? NaN) - breachAt,
      breach: health?.reason ?? '',
    });
    progress(`rollback: trial ${t + 1}: ${readyAfter - breachAt} ms from the breaching probe to 1.1.0 ready`);
  }
  const mttrs = trials.map((x) => x.mttrMs);
  const { windowMs, intervalMs, consecutiveSuccesses, maxConsecutiveFailures } = spec.health;
  return {
    trials,
    medianMs: round(median(mttrs)),
    maxMs: Math.max(...mttrs),
    pollIntervalMs: POLL_MS,
    healthThresholds: { intervalMs, windowMs, consecutiveSuccesses, maxConsecutiveFailures },
    stopTimeoutMs: staging.target.stopTimeoutMs,
  };
}

function breachOf(health: unknown): number | undefined {
  return (health as { breachAtEpochMs?: number } | undefined)?.breachAtEpochMs;
}

/**
 * One GET on a fresh connection, as a load balancer's health check makes it. A keep-alive connection that
 * is busy every 20 ms would keep the failing release's graceful close waiting until its stop timeout.
 */
function probe(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/** Probes a readiness URL every 20 ms and remembers when each answer arrived. */
function pollReadiness(url: string) {
  const samples: Array<{ at: number; status: number }> = [];
  let stopped = false;
  void (async () => {
    while (!stopped) {
      const started = Date.now();
      const status = await probe(url);
      samples.push({ at: Date.now(), status });
      await new Promise((r) => setTimeout(r, Math.max(0, started + POLL_MS - Date.now())));
    }
  })();
  return {
    stop: () => void (stopped = true),
    /** The arrival time of the first 200 at or after the breach (known only once the deploy has ended). */
    async waitForReadyAfter(breach: () => number | undefined, timeoutMs: number): Promise<number | undefined> {
      const b = breach();
      if (b === undefined) return undefined;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = samples.find((s) => s.at >= b && s.status === 200);
        if (hit) return hit.at;
        if (Date.now() > deadline) return undefined;
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    },
  };
}
