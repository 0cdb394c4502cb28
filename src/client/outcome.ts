import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { DeployResult, DeployStatus } from '../workflows/types';

/** How a closed deploy ended, read from its result or failure (history only: no worker needed). */
export interface DeployEnding {
  outcome: DeployStatus;
  reason?: string;
  result?: DeployResult;
}

/**
 * Waits for a deploy to end and says how: its result when it succeeded, the result its failure carries
 * otherwise, and for runs that carry none (cancelled before planning, terminated by hand) an outcome with
 * the reason. The one reader of outcomes: deployctl, the demo and the tests all use it.
 */
export async function fetchOutcome(handle: WorkflowHandle): Promise<DeployEnding> {
  try {
    const result = (await handle.result()) as DeployResult;
    return { outcome: result.outcome, reason: result.reason, result };
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    const cause = err.cause as (Error & { details?: unknown[] }) | undefined;
    const result = cause?.details?.[0] as DeployResult | undefined;
    if (result && typeof result === 'object' && 'outcome' in result) return { outcome: result.outcome, reason: result.reason, result };
    const name = cause?.name ?? '';
    if (name === 'CancelledFailure') return { outcome: 'cancelled', reason: 'cancelled by an operator' };
    if (name === 'TerminatedFailure') return { outcome: 'failed', reason: `terminated: ${cause?.message || 'no reason given'} (nothing was rolled back by the orchestrator; check the environment)` };
    return { outcome: 'failed', reason: cause?.message ?? err.message };
  }
}
