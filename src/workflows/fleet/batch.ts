import { ChildWorkflowFailure, ApplicationFailure, executeChild, workflowInfo } from '@temporalio/workflow';
import { failureMessage } from '../deploy-state';
import { deployFleetHost } from './host';
import type { FleetBatchJob, FleetHostResult } from './types';

/** What a failed host child carried in its failure's details (what is known about the host). */
function hostFailure(host: string, err: unknown): FleetHostResult {
  let e: unknown = err;
  while (e && typeof e === 'object') {
    if (e instanceof ApplicationFailure && e.type === 'FleetHostFailed' && e.details?.[0]) return e.details[0] as FleetHostResult;
    e = (e as { cause?: unknown }).cause;
  }
  return { host, status: 'failed', error: err instanceof ChildWorkflowFailure ? failureMessage(err) : String(err) };
}

/**
 * One batch of a fleet rollout: every host of the batch at once, each its own child workflow (the Web UI
 * shows each host's history). Resolves with every host's result, failed ones included: the parent decides
 * whether the rollout goes on.
 */
export async function deployFleetBatch(job: FleetBatchJob): Promise<FleetHostResult[]> {
  const parent = workflowInfo().workflowId;
  return Promise.all(
    job.hosts.map((host) =>
      executeChild(deployFleetHost, {
        workflowId: `${parent}/host-${host.name}`,
        args: [{ common: job.common, host }],
        staticSummary: `${host.name}: ${job.common.release.service} ${job.common.release.version} (batch ${job.batch}/${job.batches})`,
      }).catch((err: unknown) => hostFailure(host.name, err)),
    ),
  );
}
