import type { Approval, DeployPlan, DeployStatus } from '../workflows/types';
import type { ActivityDeps } from './context';

/** Writes the run's final word into the registry: outcome, approvals and the health summary. */
export function recordReleaseActivity(deps: ActivityDeps) {
  return async function recordRelease(a: {
    plan: DeployPlan; artifactSha256?: string; outcome: DeployStatus; approvals: Approval[]; workflowId: string; runId: string; health?: unknown;
  }): Promise<void> {
    const outcome = a.outcome === 'succeeded' || a.outcome === 'rolled_back' || a.outcome === 'rejected' || a.outcome === 'cancelled' ? a.outcome : 'failed';
    await deps.registry.finalize({
      service: a.plan.service,
      environment: a.plan.environment,
      version: a.plan.version,
      artifactSha256: a.artifactSha256,
      requestedBy: a.plan.requestedBy,
      outcome,
      approvals: a.approvals,
      health: a.health,
      workflowId: a.workflowId,
      runId: a.runId,
    });
  };
}
