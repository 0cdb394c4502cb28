import type { Client } from '@temporalio/client';

/** The DeployStatus values of a deploy that has not ended (DESIGN.md's contract). */
export const IN_FLIGHT_STATUSES = ['running', 'awaiting_approval', 'needs_intervention'] as const;

export interface InFlightCounter {
  /** Deploys running now by DeployStatus, or undefined when visibility did not answer in time. */
  counts(): Promise<Record<string, number> | undefined>;
}

/**
 * Counts in-flight deploys with visibility queries, so the number is right whatever this worker saw (it may
 * have restarted mid-deploy, or another worker runs them). Answers are cached for `cacheMs` so that
 * frequent scrapes cost one round of queries, and bounded by `timeoutMs` so a slow server cannot hang a
 * scrape.
 */
export function visibilityInFlightCounter(o: { client: Client; taskQueue: string; cacheMs?: number; timeoutMs?: number }): InFlightCounter {
  const cacheMs = o.cacheMs ?? 5_000;
  const timeoutMs = o.timeoutMs ?? 2_000;
  let cached: { atMs: number; counts: Record<string, number> } | undefined;
  let pending: Promise<Record<string, number> | undefined> | undefined;

  const countAll = async (): Promise<Record<string, number>> => {
    const counts: Record<string, number> = {};
    await Promise.all(
      IN_FLIGHT_STATUSES.map(async (status) => {
        const query = `WorkflowType = 'deployRelease' AND ExecutionStatus = 'Running' AND TaskQueue = '${o.taskQueue}' AND DeployStatus = '${status}'`;
        counts[status] = (await o.client.workflow.count(query)).count;
      }),
    );
    return counts;
  };

  return {
    async counts() {
      if (cached && Date.now() - cached.atMs < cacheMs) return cached.counts;
      // One round of queries at a time, however many scrapes arrive together.
      pending ??= (async () => {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)));
        try {
          const counts = await Promise.race([countAll(), timeout]);
          if (counts) cached = { atMs: Date.now(), counts };
          return counts;
        } catch {
          return undefined;
        } finally {
          clearTimeout(timer);
          pending = undefined;
        }
      })();
      return pending;
    },
  };
}
