import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { SA, WORKFLOW_TYPE } from '../workflows/definitions';
import { deployWorkflowId } from '../names';
import { parseDeployInput, loadSpec } from '../spec/load';
import type { DeployInput } from '../spec/schema';
import type { deployRelease } from '../workflows';

/** Thrown when the deploy lock (workflow ID deploy-<service>-<environment>) is held by a running workflow. */
export class DeployAlreadyRunning extends Error {
  constructor(
    readonly workflowId: string,
    readonly runId: string | undefined,
    service: string,
    environment: string,
    /** The holder's workflow type: a deploy (deployRelease) or a stop/undeploy (undeployService). */
    readonly workflowType?: string,
  ) {
    super(
      `${holderName(workflowType)} is already running as ${workflowId}${runId ? ` (run ${runId})` : ''}: one deploy, stop or undeploy per service and environment at a time. ` +
        `Follow it with: deployctl status ${service} --env ${environment}`,
    );
  }

  /** "a deploy" or "a stop/undeploy (undeployService)": what holds the lock, for messages. */
  get holder(): string {
    return holderName(this.workflowType);
  }
}

function holderName(workflowType: string | undefined): string {
  return workflowType && workflowType !== WORKFLOW_TYPE ? `a stop/undeploy (${workflowType})` : 'a deploy';
}

/** The run holding the deploy lock, described; undefined when it cannot be. */
export async function describeLockHolder(client: Client, workflowId: string): Promise<{ runId: string; type: string } | undefined> {
  const d = await client.workflow.getHandle(workflowId).describe().catch(() => undefined);
  return d ? { runId: d.runId, type: d.type } : undefined;
}

/**
 * Starts a deploy under its lock ID with conflict policy FAIL. The spec is read locally only to learn the
 * service name (the ID); the worker loads and validates it again and records the plan in history.
 */
export async function startDeploy(client: Client, rawInput: unknown, o: { taskQueue: string; cwd?: string }): Promise<WorkflowHandle<typeof deployRelease>> {
  const input: DeployInput = parseDeployInput(rawInput);
  const { spec } = await loadSpec(input.spec as string | Record<string, unknown>, o.cwd ?? process.cwd());
  const workflowId = deployWorkflowId(spec.service, input.environment);
  try {
    return await client.workflow.start(WORKFLOW_TYPE, {
      taskQueue: o.taskQueue,
      workflowId,
      args: [input],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      staticSummary: `${spec.service} ${input.version} → ${input.environment}, requested by ${input.requestedBy}`,
      staticDetails: input.reason ? `reason: ${input.reason}` : undefined,
      typedSearchAttributes: [
        { key: SA.service, value: spec.service },
        { key: SA.environment, value: input.environment },
        { key: SA.version, value: input.version },
        { key: SA.requestedBy, value: input.requestedBy },
        { key: SA.status, value: 'running' },
        { key: SA.stage, value: 'plan' },
      ],
    }) as WorkflowHandle<typeof deployRelease>;
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      const running = await describeLockHolder(client, workflowId);
      throw new DeployAlreadyRunning(workflowId, running?.runId, spec.service, input.environment, running?.type);
    }
    throw err;
  }
}
