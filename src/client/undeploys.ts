import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { deployWorkflowId } from '../names';
import { loadSpec } from '../spec/load';
import { parseUndeployInput, type UndeployInput } from '../spec/undeploy-input';
import { SA } from '../workflows/definitions';
import { UNDEPLOY_WORKFLOW_TYPE } from '../workflows/undeploy-types';
import { DeployAlreadyRunning, describeLockHolder } from './deploys';

/** "stop hello-service in staging" / "undeploy hello-service from staging". */
export function describeUndeploy(input: Pick<UndeployInput, 'action' | 'environment'>, service: string): string {
  return input.action === 'stop' ? `stop ${service} in ${input.environment}` : `undeploy ${service} from ${input.environment}`;
}

/**
 * Starts a stop or undeploy under the deploy lock's ID (deploy-<service>-<environment>) with conflict
 * policy FAIL: while a deploy (or another stop) holds the lock, nothing starts and DeployAlreadyRunning says
 * what holds it. The spec is read locally only to learn the service name; the worker plans from its own.
 */
export async function startUndeploy(client: Client, rawInput: unknown, o: { taskQueue: string; cwd?: string }): Promise<WorkflowHandle> {
  const input = parseUndeployInput(rawInput);
  const { spec } = await loadSpec(input.spec as string | Record<string, unknown>, o.cwd ?? process.cwd());
  const workflowId = deployWorkflowId(spec.service, input.environment);
  try {
    return await client.workflow.start(UNDEPLOY_WORKFLOW_TYPE, {
      taskQueue: o.taskQueue,
      workflowId,
      args: [input],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      staticSummary: `${describeUndeploy(input, spec.service)}, requested by ${input.requestedBy}`,
      staticDetails: `reason: ${input.reason}`,
      typedSearchAttributes: [
        { key: SA.service, value: spec.service },
        { key: SA.environment, value: input.environment },
        { key: SA.requestedBy, value: input.requestedBy },
        { key: SA.status, value: 'running' },
        { key: SA.stage, value: 'plan' },
      ],
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      const running = await describeLockHolder(client, workflowId);
      throw new DeployAlreadyRunning(workflowId, running?.runId, spec.service, input.environment, running?.type);
    }
    throw err;
  }
}
