import { Context, heartbeat } from '@temporalio/activity';
import type { WorkerConfig } from '../config';
import type { Registry } from '../registry/registry';

/** What every activity may use: the worker's configuration and the release registry. */
export interface ActivityDeps {
  config: WorkerConfig;
  registry: Registry;
  /** Where relative paths in specs resolve (the worker's working directory). */
  cwd: string;
}

/**
 * Runs `work` while heartbeating on a timer, so a dead worker is noticed within the heartbeat timeout even
 * when a single step (a long SQL statement, a build) reports no progress of its own. `progress` lets the
 * work say what it is doing; the last message rides on every heartbeat and shows in the UI.
 */
export async function withHeartbeat<T>(work: (progress: (message: string) => void, signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const timeout = ctx.info.heartbeatTimeoutMs ?? 10_000;
  let last = 'started';
  const progress = (message: string) => {
    last = message.slice(0, 500);
    heartbeat({ progress: last });
  };
  const timer = setInterval(() => heartbeat({ progress: last }), Math.max(200, Math.floor(timeout / 3)));
  try {
    heartbeat({ progress: last });
    return await work(progress, ctx.cancellationSignal);
  } finally {
    clearInterval(timer);
  }
}
