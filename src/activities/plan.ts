import { deployWorkflowId } from '../names';
import { FailureType, refuse } from '../errors';
import { loadSpec, parseDeployInput, resolvePlan } from '../spec/load';
import type { DeployPlan } from '../workflows/types';
import type { ActivityDeps } from './context';

/** Loads and validates the spec and input, enforces the deploy lock's ID, and resolves the plan. */
export function planActivity(deps: ActivityDeps) {
  return async function plan(args: { input: unknown; workflowId: string; runId: string }): Promise<DeployPlan> {
    const input = parseDeployInput(args.input);
    const { spec, source, sha256 } = await loadSpec(input.spec as string | Record<string, unknown>, deps.cwd);
    const expectedId = deployWorkflowId(spec.service, input.environment);
    if (args.workflowId !== expectedId) {
      throw refuse(
        FailureType.WrongWorkflowId,
        `workflow ID "${args.workflowId}" is not this deploy's lock; start it with --workflow-id ${expectedId} (one deploy per service and environment at a time)`,
      );
    }
    const liveRow = await deps.registry.live(spec.service, input.environment);
    const live = liveRow && liveRow.artifactSha256 !== null ? { version: liveRow.version, sha256: liveRow.artifactSha256, workflowId: liveRow.workflowId } : null;
    const previouslyLive = (await deps.registry.lastLiveOf(spec.service, input.environment, input.version)) !== null;
    return resolvePlan({ spec, specSource: source, specSha256: sha256, input, cwd: deps.cwd, dataDir: deps.config.DEPLOY_DATA_DIR, live, previouslyLive });
  };
}
