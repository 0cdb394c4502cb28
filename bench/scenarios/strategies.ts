import { parseArgs } from 'node:util';
import type { WorkflowHandle } from '@temporalio/client';
import { startLoad, type LoadReport } from '../../src/traffic/load';
import { startDeployWorld, type DeployWorld } from '../../test/helpers/deploy-world';
import { progress } from '../lib/progress';

/**
 * Requests lost during deploys, per strategy: for replace, blueGreen and canary, the example service goes
 * 1.0.0 → 1.1.0 → 2.0.0 (the known-bad release, rolled back) under a steady loopback load on staging's public
 * port — the service's own port for replace, the HAProxy front door for the others — until at least
 * `--requests` requests were sent. Each strategy gets its own world (Temporal dev server, PostgreSQL
 * databases, worker, releases).
 *
 *   npx tsx bench/scenarios/strategies.ts [--requests 10000] [--rate 250] [--only replace,blueGreen,canary] [--json]
 *
 * Figures per strategy: failedRequestsDuringDeploy (HTTP errors ≥ 400, connection failures and timeouts),
 * the known-bad release's share of answered requests, and the rollback's MTTR: from the failed analysis
 * (the stage or canary step that judged 2.0.0) to the end of the rollback that restored 1.1.0, from history.
 */

const STRATEGIES = {
  replace: undefined,
  blueGreen: { type: 'blueGreen', previewAnalysis: true, scaleDownDelaySeconds: 2 },
  canary: { type: 'canary', steps: [{ setWeight: 25 }, { analysis: {} }, { setWeight: 50 }, { analysis: {} }], scaleDownDelaySeconds: 2 },
} as const;
type Strategy = keyof typeof STRATEGIES;

export interface StrategyResult {
  strategy: Strategy;
  requests: number;
  failedRequestsDuringDeploy: number;
  failures: { byStatus: Record<string, number>; connectionFailures: Record<string, number>; timeouts: number };
  answeredBy: Record<string, number>;
  knownBadShareOfAnswered: number;
  rollbackMttrMs: number | null;
  outcomes: string[];
  deploySeconds: number;
  latencyMs: LoadReport['latencyMs'];
}

function eventMs(t: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  return Number(t?.seconds ?? 0) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6);
}

/** From the failing analysis (validate or analyzeRelease) to the completion of rollbackDeploy. */
async function rollbackMttr(handle: WorkflowHandle): Promise<number | null> {
  const history = await handle.fetchHistory();
  const names = new Map<string, string>();
  let failedAt: number | undefined;
  let restoredAt: number | undefined;
  for (const e of history.events ?? []) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) names.set(String(e.eventId), s.activityType?.name ?? '');
    const f = e.activityTaskFailedEventAttributes;
    if (f && ['validate', 'analyzeRelease'].includes(names.get(String(f.scheduledEventId)) ?? '') && failedAt === undefined) failedAt = eventMs(e.eventTime as never);
    const c = e.activityTaskCompletedEventAttributes;
    if (c && names.get(String(c.scheduledEventId)) === 'rollbackDeploy') restoredAt = eventMs(e.eventTime as never);
  }
  return failedAt !== undefined && restoredAt !== undefined ? restoredAt - failedAt : null;
}

function versionsOf(byBody: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [body, n] of Object.entries(byBody)) {
    const v = /"version":"([^"]+)"/.exec(body)?.[1] ?? 'other';
    out[v] = (out[v] ?? 0) + n;
  }
  return out;
}

export async function runStrategy(strategy: Strategy, o: { requests: number; ratePerSecond: number }): Promise<StrategyResult> {
  let world: DeployWorld | undefined;
  try {
    world = await startDeployWorld({
      specOverrides: (spec) => {
        const s = STRATEGIES[strategy];
        if (s) spec.environments.staging.strategy = s;
        // The known-bad release is judged within seconds: it never answers its readiness.
        spec.health = { ...spec.health, intervalMs: 200, windowMs: 10_000, consecutiveSuccesses: 5, maxConsecutiveFailures: 3 };
      },
    });
    await world.startWorker();
    progress(`${strategy}: first deploy of 1.0.0`);
    const first = await world.outcome(await world.deploy({ environment: 'staging', version: '1.0.0' }));
    if (first.status !== 'succeeded') throw new Error(`${strategy}: 1.0.0 ended ${first.status}`);

    const load = startLoad({ url: `http://127.0.0.1:${world.ports.staging}/`, concurrency: 8, ratePerSecond: o.ratePerSecond, requestTimeoutMs: 10_000, durationMs: 3_600_000 });
    const started = Date.now();
    const outcomes: string[] = [];
    progress(`${strategy}: 1.0.0 → 1.1.0 under ${o.ratePerSecond} requests/s`);
    const forward = await world.outcome(await world.deploy({ environment: 'staging', version: '1.1.0' }));
    outcomes.push(`1.1.0 ${forward.status}`);
    progress(`${strategy}: 1.1.0 ${forward.status}; 1.1.0 → 2.0.0 (known bad)`);
    const badHandle = await world.deploy({ environment: 'staging', version: '2.0.0' });
    const bad = await world.outcome(badHandle);
    outcomes.push(`2.0.0 ${bad.status}`);
    const deploySeconds = (Date.now() - started) / 1000;
    // Enough requests for the figure to mean something: the load goes on until --requests were sent.
    while (load.snapshot().sent < o.requests) await new Promise((r) => setTimeout(r, 200));
    const report = await load.stop();
    const answeredBy = versionsOf(report.byBody);
    const result: StrategyResult = {
      strategy,
      requests: report.sent,
      failedRequestsDuringDeploy: report.failed,
      failures: { byStatus: Object.fromEntries(Object.entries(report.byStatus).filter(([s]) => Number(s) >= 400)), connectionFailures: report.connectionFailures, timeouts: report.timeouts },
      answeredBy,
      knownBadShareOfAnswered: report.answered ? (answeredBy['2.0.0'] ?? 0) / report.answered : 0,
      rollbackMttrMs: await rollbackMttr(badHandle),
      outcomes,
      deploySeconds: Math.round(deploySeconds * 10) / 10,
      latencyMs: report.latencyMs,
    };
    progress(`${strategy}: ${result.requests} requests, ${result.failedRequestsDuringDeploy} failed, 2.0.0 answered ${answeredBy['2.0.0'] ?? 0}, MTTR ${result.rollbackMttrMs} ms`);
    return result;
  } finally {
    await world?.cleanup();
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string', default: '10000' },
      rate: { type: 'string', default: '250' },
      only: { type: 'string', default: 'replace,blueGreen,canary' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write('npx tsx bench/scenarios/strategies.ts [--requests 10000] [--rate 250] [--only replace,blueGreen,canary] [--json]\n');
    return 0;
  }
  const requests = Number(values.requests);
  const rate = Number(values.rate);
  const only = values.only.split(',') as Strategy[];
  if (!Number.isInteger(requests) || requests < 100) throw new Error('--requests must be an integer ≥ 100');
  if (!(rate >= 1 && rate <= 5000)) throw new Error('--rate must be 1-5000 requests per second');
  for (const s of only) if (!(s in STRATEGIES)) throw new Error(`--only: unknown strategy ${s} (replace, blueGreen, canary)`);
  const results: StrategyResult[] = [];
  for (const s of only) results.push(await runStrategy(s, { requests, ratePerSecond: rate }));
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ measuredAt: new Date().toISOString(), requests, rate, results }, null, 2)}\n`);
  } else {
    process.stdout.write('\n| strategy | requests | failed during deploys | 2.0.0 share of answers | rollback MTTR | outcomes | deploys took |\n|---|---|---|---|---|---|---|\n');
    for (const r of results) {
      process.stdout.write(
        `| ${r.strategy} | ${r.requests} | **${r.failedRequestsDuringDeploy}** ${r.failedRequestsDuringDeploy ? JSON.stringify(r.failures) : ''} | ${(r.knownBadShareOfAnswered * 100).toFixed(2)} % | ${r.rollbackMttrMs ?? '?'} ms | ${r.outcomes.join(', ')} | ${r.deploySeconds} s |\n`,
      );
    }
  }
  return results.some((r) => r.strategy !== 'replace' && r.failedRequestsDuringDeploy > 0) ? 1 : 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: Error) => {
      process.stderr.write(`${err.stack ?? err.message}\n`);
      process.exit(2);
    },
  );
}
