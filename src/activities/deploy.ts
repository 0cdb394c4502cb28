import { readConfigSource } from '../runtime-config';
import type { Approval, ArtifactRef, CurrentReleaseRef, DeployPlan, DeployStageResult } from '../workflows/types';
import { localArtifactPath } from './artifact';
import { withHeartbeat, workerDataDir, type ActivityDeps } from './context';
import { targetFor } from './target';

/** Deploy = stage the artifact on the target, switch to it, (re)start; then it is the registry's live release. */
export function deployActivity(deps: ActivityDeps) {
  return async function deploy(a: { plan: DeployPlan; artifact: ArtifactRef; workflowId: string; runId: string; approvals?: Approval[] }): Promise<DeployStageResult> {
    const { plan, artifact } = a;
    return withHeartbeat(async (progress) => {
      const artifactPath = await localArtifactPath(deps, artifact, `deploy of ${plan.service} ${plan.version}`, progress);
      const runtimeEnv = await readConfigSource(plan.config.envFile);
      const outcome = await targetFor(plan, progress, workerDataDir(deps)).deploy(
        { service: plan.service, environment: plan.environment, version: plan.version, sha256: artifact.sha256, artifactPath },
        runtimeEnv,
      );
      await markLive(deps, a);
      return { releaseId: outcome.releaseId, noop: outcome.noop, previous: outcome.previous, commands: outcome.commands, hosts: outcome.hosts };
    });
  };
}

/** The deploy stage's compensation: the previous release back on the target and live in the registry. */
export function rollbackDeployActivity(deps: ActivityDeps) {
  return async function rollbackDeploy(a: { plan: DeployPlan; artifact: ArtifactRef; previous: CurrentReleaseRef | null; workflowId: string; runId: string }) {
    const { plan } = a;
    return withHeartbeat(async (progress) => {
      const runtimeEnv = await readConfigSource(plan.config.envFile);
      const r = await targetFor(plan, progress, workerDataDir(deps)).rollback(a.previous, runtimeEnv);
      await restoreLive(deps, a);
      return { restored: r.restored, commands: r.commands };
    });
  };
}

/** The release is on the target: it is the registry's live release, with the gate's approvals. */
export async function markLive(deps: ActivityDeps, a: { plan: DeployPlan; artifact: ArtifactRef; workflowId: string; runId: string; approvals?: Approval[] }): Promise<void> {
  const { plan } = a;
  await deps.registry.markDeployed({
    service: plan.service,
    environment: plan.environment,
    version: plan.version,
    artifactSha256: a.artifact.sha256,
    requestedBy: plan.requestedBy,
    // The gate's approvals are on the live row from the moment it goes live (absent in older histories).
    approvals: a.approvals ?? [],
    workflowId: a.workflowId,
    runId: a.runId,
  });
}

/** The deploy was undone: `previous` is the registry's live release again (none: nothing is live). */
export async function restoreLive(deps: ActivityDeps, a: { plan: DeployPlan; previous: CurrentReleaseRef | null; workflowId: string; runId: string }): Promise<void> {
  await deps.registry.restorePrevious({
    service: a.plan.service,
    environment: a.plan.environment,
    workflowId: a.workflowId,
    runId: a.runId,
    previous: a.previous ? { version: a.previous.version, sha256: a.previous.sha256 } : null,
  });
}
