import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Activities } from '../../../src/activities';
import { planActivity } from '../../../src/activities/plan';
import type { WorkerConfig } from '../../../src/config';
import type { Registry } from '../../../src/registry/registry';
import { FailureType } from '../../../src/errors';
import type { ArtifactRef, DeployPlan, GatePlan, StageName } from '../../../src/workflows/types';

/**
 * Stand-in activities for the workflow's decision tests: each records its call and does what the scenario
 * of its workflow ID says (succeed, fail permanently, fail a number of times, or block until cancelled).
 * The workflow under test is the real one; only the world behind its activities is scripted.
 */

export type Behaviour = 'ok' | 'fail' | { failTimes: number } | 'block';

export interface Scenario {
  gates?: GatePlan[];
  /** Per activity name (stages, rollbackDeploy, recordRelease): what it does; default 'ok'. */
  behaviour?: Partial<Record<StageName | 'rollbackDeploy' | 'recordRelease' | TrafficActivity, Behaviour>>;
  /** The plan's strategy (blueGreen / canary run the traffic activities instead of deploy). */
  strategy?: DeployPlan['strategy'];
  /** analyzeRelease: fail the n-th call (1-based) permanently, as a failed analysis does. */
  failAnalysisCall?: number;
  /** rollbackDeploy: fail this many calls (each permanently), then succeed. */
  rollbackFailures?: number;
  /** Use the real plan activity (lock checks, spec loading, trust rules) with a stand-in registry. */
  realPlan?: boolean | { config?: Partial<WorkerConfig>; cwd?: string };
  /** The plan's target (default: a command target); a fleet target runs the fleet rollout. */
  target?: DeployPlan['target'];
  /** The keys the stand-in plan trusts, and who may intervene. */
  trust?: DeployPlan['trust'];
  intervention?: DeployPlan['intervention'];
}

type TrafficActivity = 'startRelease' | 'shiftTraffic' | 'analyzeRelease' | 'promoteRelease' | 'retireReleases' | FleetActivity;
type FleetActivity = 'fleetPrepare' | 'fleetHostTraffic' | 'fleetRecordHosts' | 'fleetMarkLive' | 'fleetRestoreLive';

export interface Call {
  name: string;
  attempt: number;
  args: unknown;
}

const scenarios = new Map<string, Scenario>();
const calls = new Map<string, Call[]>();
const failuresSoFar = new Map<string, number>();

export function setScenario(workflowId: string, scenario: Scenario): void {
  scenarios.set(workflowId, scenario);
  calls.set(workflowId, []);
  for (const key of [...failuresSoFar.keys()]) if (key.startsWith(`${workflowId}/`)) failuresSoFar.delete(key);
}

/** Activity names called for a workflow, in order (retries included once per attempt). */
export function callsOf(workflowId: string): Call[] {
  return calls.get(workflowId) ?? [];
}

export const SHA = 'a'.repeat(64);

export function planFor(workflowId: string, input: { environment: string; version: string; requestedBy: string }, scenario: Scenario): DeployPlan {
  const service = workflowId.replace(/^deploy-/, '').replace(new RegExp(`-${input.environment}$`), '');
  return {
    service,
    environment: input.environment,
    version: input.version,
    requestedBy: input.requestedBy,
    spec: { source: 'stand-in', sha256: SHA },
    kind: 'forward',
    live: { version: '0.9.0', sha256: 'b'.repeat(64), workflowId: 'earlier' },
    dataDir: '/nonexistent/data',
    artifactStore: '/nonexistent/data/artifacts',
    source: { repository: '/nonexistent/source' },
    build: null,
    runtime: { command: ['true'], requiredConfig: [] },
    config: { envFile: '/nonexistent/env' },
    migrations: { directory: 'migrations', lockTimeoutMs: 1000, statementTimeoutMs: 1000 },
    preChecks: { minFreeDiskMb: 0, dependencies: [] },
    health: { url: 'http://127.0.0.1:1/readyz', intervalMs: 100, windowMs: 1000, requestTimeoutMs: 100, consecutiveSuccesses: 1, minSuccessRatio: 0.5, maxP95LatencyMs: 1000, maxConsecutiveFailures: 1 },
    target: scenario.target ?? { type: 'command', deploy: ['true'], current: ['true'], rollback: ['true'], timeoutMs: 1000 },
    gates: scenario.gates ?? [],
    heartbeatTimeoutMs: 5000,
    ...(scenario.trust ? { trust: scenario.trust } : {}),
    ...(scenario.strategy ? { strategy: scenario.strategy } : {}),
    ...(scenario.intervention ? { intervention: scenario.intervention } : {}),
  };
}

const artifact: ArtifactRef = { sha256: SHA, path: '/nonexistent/artifact.tar.gz', sizeBytes: 1, commit: 'c'.repeat(40), reused: false, migrations: [], requiredConfig: [] };

async function act(name: string, args: unknown, fallback: Behaviour = 'ok'): Promise<void> {
  const ctx = Context.current();
  const workflowId = ctx.info.workflowExecution!.workflowId;
  const scenario = scenarios.get(workflowId) ?? {};
  calls.get(workflowId)?.push({ name, attempt: ctx.info.attempt, args });
  let behaviour = scenario.behaviour?.[name as StageName] ?? fallback;
  if (name === 'analyzeRelease' && scenario.failAnalysisCall !== undefined) {
    const n = callsOf(workflowId).filter((c) => c.name === 'analyzeRelease').length;
    if (n === scenario.failAnalysisCall) behaviour = 'fail';
  }
  if (name === 'rollbackDeploy' && scenario.rollbackFailures) {
    const key = `${workflowId}/rollbackDeploy`;
    const n = failuresSoFar.get(key) ?? 0;
    if (n < scenario.rollbackFailures) {
      failuresSoFar.set(key, n + 1);
      behaviour = 'fail';
    }
  }
  if (behaviour === 'ok') return;
  if (behaviour === 'fail') throw ApplicationFailure.nonRetryable(`${name} failed (stand-in)`, FailureType.TargetCommandFailed);
  if (behaviour === 'block') {
    const beat = setInterval(() => ctx.heartbeat(), 200);
    try {
      await ctx.cancelled;
    } finally {
      clearInterval(beat);
    }
    return;
  }
  const key = `${workflowId}/${name}`;
  const n = failuresSoFar.get(key) ?? 0;
  if (n < behaviour.failTimes) {
    failuresSoFar.set(key, n + 1);
    throw ApplicationFailure.retryable(`${name} failed transiently (stand-in, ${n + 1}/${behaviour.failTimes})`, 'Transient');
  }
}

/** A registry that knows nothing live, for the real plan activity. */
const emptyRegistry = { live: async () => null, lastLiveOf: async () => null, otherPairsOfWorkflowId: async () => [] } as unknown as Registry;

export function standInActivities(): Activities {
  const realPlan = (scenario: Scenario) => {
    const custom = typeof scenario.realPlan === 'object' ? scenario.realPlan : {};
    return planActivity({ config: { DEPLOY_DATA_DIR: '/nonexistent/data', DEPLOY_ALLOW_INLINE_SPECS: 'false', ...custom.config } as WorkerConfig, registry: emptyRegistry, cwd: custom.cwd ?? process.cwd() });
  };
  return {
    plan: async (a) => {
      const workflowId = Context.current().info.workflowExecution!.workflowId;
      const scenario = scenarios.get(workflowId) ?? {};
      if (scenario.realPlan) {
        calls.get(workflowId)?.push({ name: 'plan', attempt: Context.current().info.attempt, args: a });
        return realPlan(scenario)(a);
      }
      await act('plan', a);
      return planFor(workflowId, a.input as { environment: string; version: string; requestedBy: string }, scenario);
    },
    build: async (a) => (await act('build', a), artifact),
    preChecks: async (a) => (await act('preChecks', a), { checks: [], current: { releaseId: `0.9.0-${'b'.repeat(12)}`, version: '0.9.0', sha256: 'b'.repeat(64) } }),
    migrate: async (a) => (await act('migrate', a), { applied: [], alreadyApplied: [], skipped: [], lintAllowed: [], contractApplied: [] }),
    deploy: async (a) => (await act('deploy', a), { releaseId: `${a.plan.version}-${SHA.slice(0, 12)}`, noop: false, previous: null }),
    validate: async (a) => (await act('validate', a), { passed: true, reason: 'stand-in: healthy' }) as never,
    rollbackDeploy: async (a) => (await act('rollbackDeploy', a), { restored: a.previous as never, commands: undefined }),
    recordRelease: async (a) => act('recordRelease', a),
    startRelease: async (a) => (await act('startRelease', a), { releaseId: `${a.plan.version}-${SHA.slice(0, 12)}`, previous: { releaseId: `0.9.0-${'b'.repeat(12)}`, version: '0.9.0', sha256: 'b'.repeat(64) }, port: 40000, started: true }),
    shiftTraffic: async (a) => (await act('shiftTraffic', a), { publicPort: 1, frontDoorRunning: true, releases: [] }),
    analyzeRelease: async (a) => (await act('analyzeRelease', a), { passed: true, reason: 'stand-in: healthy' }) as never,
    promoteRelease: async (a) => (await act('promoteRelease', a), { releaseId: a.releaseId, noop: false, previous: { releaseId: `0.9.0-${'b'.repeat(12)}`, version: '0.9.0', sha256: 'b'.repeat(64) } }),
    retireReleases: async (a) => (await act('retireReleases', a), [`0.9.0-${'b'.repeat(12)}`]),
    // undeployService runs on the real stack only (test/deployctl-stop-undeploy.test.ts).
    planUndeploy: async () => {
      throw ApplicationFailure.nonRetryable('planUndeploy has no stand-in', FailureType.InvalidInput);
    },
    stopService: async () => {
      throw ApplicationFailure.nonRetryable('stopService has no stand-in', FailureType.InvalidInput);
    },
    // A fleet's orchestrator side (the hosts' own work is on their agents' task queues).
    fleetPrepare: async (a) => void (await act('fleetPrepare', a)),
    fleetHostTraffic: async (a) => (await act('fleetHostTraffic', a), `${a.host} ${a.state}`),
    fleetRecordHosts: async (a) => void (await act('fleetRecordHosts', a)),
    fleetMarkLive: async (a) => void (await act('fleetMarkLive', a)),
    fleetRestoreLive: async (a) => void (await act('fleetRestoreLive', a)),
  } as Activities;
}
