import type { Context as ActivityContext } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { fetchApprovalWaits } from './approval-waits';
import { DeployMetrics, STAGE_ACTIVITIES } from './deploy-metrics';

/** What recordRelease receives: the fields the outcome series need (see src/activities/record-release.ts). */
interface RecordReleaseInput {
  plan?: { service?: unknown; environment?: unknown; gates?: unknown; strategy?: { type?: unknown } };
  outcome?: unknown;
  workflowId?: unknown;
  runId?: unknown;
}

/**
 * Records the deploy_* series from the activity side, where I/O is allowed: every stage activity is timed
 * by its type, and a recordRelease that completed counts the deploy's outcome (and, from the deploy's
 * history, how long it waited at its gates). Workflow code stays free of metrics.
 */
export function activityMetricsInterceptor(metrics: DeployMetrics, o: { client?: Client; historyTimeoutMs?: number } = {}): ActivityInterceptorsFactory {
  return (ctx: ActivityContext) => ({
    inbound: {
      async execute(input, next) {
        const type = ctx.info.activityType;
        const started = process.hrtime.bigint();
        const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
        let result: unknown;
        try {
          result = await next(input);
        } catch (err) {
          if (STAGE_ACTIVITIES.has(type)) metrics.observeStage(type, 'failed', seconds());
          throw err;
        }
        if (STAGE_ACTIVITIES.has(type)) metrics.observeStage(type, 'succeeded', seconds());
        if (type === 'recordRelease') await recordOutcome(metrics, input.args[0] as RecordReleaseInput, o.client, o.historyTimeoutMs ?? 3_000, ctx);
        return result;
      },
    },
  });
}

async function recordOutcome(metrics: DeployMetrics, a: RecordReleaseInput, client: Client | undefined, timeoutMs: number, ctx: ActivityContext): Promise<void> {
  const service = a?.plan?.service;
  const environment = a?.plan?.environment;
  const outcome = a?.outcome;
  if (typeof service !== 'string' || typeof environment !== 'string' || typeof outcome !== 'string') return;
  metrics.recordOutcome(service, environment, outcome);
  if (!client || typeof a.workflowId !== 'string' || typeof a.runId !== 'string') return;
  // A deploy with no gate and no rollout that pauses for promote never waited for anyone: its history has
  // nothing to tell, and reading it would cost a history fetch per deploy (BENCHMARKS.md, "Worker memory").
  if (!mayHaveWaited(a.plan)) return;
  // Metrics never fail the activity: a history that does not arrive in time costs only these observations.
  let timer: NodeJS.Timeout | undefined;
  try {
    const waits = await Promise.race([
      fetchApprovalWaits(client, a.workflowId, a.runId, outcome),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no history within ${timeoutMs} ms`)), timeoutMs))),
    ]);
    for (const w of waits) metrics.observeApprovalWait(service, environment, w.decision, w.seconds);
  } catch (err) {
    ctx.log.warn('approval wait not recorded', { error: err instanceof Error ? err.message : String(err) });
  } finally {
    clearTimeout(timer);
  }
}

/** Whether a deploy of this plan could have waited at a gate or for promote (unknown shapes: assume it could). */
export function mayHaveWaited(plan: RecordReleaseInput['plan']): boolean {
  if (!Array.isArray(plan?.gates) || plan.gates.length > 0) return true;
  const strategy = plan.strategy?.type;
  return strategy !== undefined && strategy !== 'replace';
}
