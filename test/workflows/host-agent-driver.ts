import { ActivityFailure, ApplicationFailure, proxyActivities, TimeoutFailure } from '@temporalio/workflow';
import { hostTaskQueue, type HostActivities } from '../../src/agent/contract';

/**
 * A test-only workflow that calls one host agent activity on `deploys-host-<host>`, as the orchestrator's
 * fleet workflow does, and returns its result or the failure it ended with (type, message, non-retryable).
 */

export interface HostCall {
  host: string;
  activity: keyof HostActivities;
  input: unknown;
  heartbeatTimeoutMs?: number;
}

export type HostCallOutcome =
  | { ok: true; result: unknown }
  | { ok: false; type: string; message: string; nonRetryable: boolean; details: unknown[] };

export async function callHostActivity(call: HostCall): Promise<HostCallOutcome> {
  const activities = proxyActivities<HostActivities>({
    taskQueue: hostTaskQueue(call.host),
    startToCloseTimeout: '2 minutes',
    heartbeatTimeout: call.heartbeatTimeoutMs ?? 5000,
    retry: { initialInterval: '200 ms', backoffCoefficient: 1, maximumAttempts: 20 },
  });
  const run = activities[call.activity] as (input: unknown) => Promise<unknown>;
  try {
    return { ok: true, result: await run(call.input) };
  } catch (err) {
    const cause = err instanceof ActivityFailure ? err.cause : err;
    if (cause instanceof ApplicationFailure) {
      return { ok: false, type: cause.type ?? 'Error', message: cause.message, nonRetryable: cause.nonRetryable ?? false, details: [...(cause.details ?? [])] };
    }
    if (cause instanceof TimeoutFailure) return { ok: false, type: `timeout:${cause.timeoutType}`, message: cause.message, nonRetryable: false, details: [] };
    throw err;
  }
}
