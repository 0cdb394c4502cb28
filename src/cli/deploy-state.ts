import {
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import { deployWorkflowId } from '../names';
import type { SearchAttributeType, TypedSearchAttributes } from '@temporalio/common';
import { SA, statusQuery } from '../workflows/definitions';
import type { DeployStatusView } from '../workflows/types';
import type { CliContext } from './context';
import { firstLine } from './context';
import { CliError } from './errors';
import { ExitCode } from './exit-codes';

export { fetchOutcome, type DeployEnding as DeployOutcome } from '../client/outcome';

/** The deploy lock's workflow for a service and environment, described; exit 5 when none ever ran. */
export async function describeDeploy(ctx: CliContext, service: string, environment: string): Promise<{ handle: WorkflowHandle; description: WorkflowExecutionDescription }> {
  const client: Client = await ctx.temporal();
  const workflowId = deployWorkflowId(service, environment);
  const handle = client.workflow.getHandle(workflowId);
  let description: WorkflowExecutionDescription;
  try {
    description = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      throw new CliError(
        `no deploy of ${service} to ${environment} was found (workflow ${workflowId} in namespace ${ctx.config.TEMPORAL_NAMESPACE}). ` +
          `Check the service and --env, or start one with: deployctl deploy <spec> --env ${environment} --version <v>`,
        ExitCode.notFound,
      );
    }
    throw new CliError(`cannot describe ${workflowId}: ${firstLine(err)}`, ExitCode.unreachable);
  }
  // deploy-<service>-<environment> reads the same for (hello, service-staging) and (hello-service, staging):
  // act only on the deploy whose search attributes name this very pair.
  const [actualService, actualEnvironment] = [attr(description, 'service'), attr(description, 'environment')];
  if ((actualService && actualService !== service) || (actualEnvironment && actualEnvironment !== environment)) {
    throw new CliError(
      `workflow ${workflowId} is the deploy of service ${actualService ?? '?'} to ${actualEnvironment ?? '?'}, not of ${service} to ${environment}; nothing was done. Their lock IDs collide: rename one service or environment`,
      ExitCode.notFound,
    );
  }
  return { handle, description };
}

/** The status query, bounded: a deploy whose worker is down must not hang the CLI. */
export async function queryStatus(ctx: CliContext, handle: WorkflowHandle, timeoutMs = 8_000): Promise<DeployStatusView | undefined> {
  try {
    return await ctx.withDeadline(timeoutMs, () => handle.query(statusQuery));
  } catch {
    return undefined;
  }
}

export const isRunning = (d: WorkflowExecutionDescription) => d.status.name === 'RUNNING';

/** The SA keys of the contract's Keyword search attributes (the Int ones count a fleet deploy's hosts). */
type KeywordAttribute = {
  [K in keyof typeof SA]: (typeof SA)[K] extends { type: typeof SearchAttributeType.KEYWORD } ? K : never;
}[keyof typeof SA];

/** One of the contract's Keyword search attributes of an execution. */
export function attr(d: { typedSearchAttributes: TypedSearchAttributes }, key: KeywordAttribute): string | undefined {
  return d.typedSearchAttributes.get(SA[key]);
}
