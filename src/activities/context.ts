import path from 'node:path';
import { Context, heartbeat } from '@temporalio/activity';
import { localArtifactCache, type ArtifactStore } from '../artifacts/shared';
import type { WorkerConfig } from '../config';
import type { Registry } from '../registry/registry';

/** What every activity may use: the worker's configuration, the release registry and the shared artifact store. */
export interface ActivityDeps {
  config: WorkerConfig;
  registry: Registry;
  /** The artifact store every worker replica shares; this worker caches it in <DEPLOY_DATA_DIR>/artifacts. */
  artifacts: ArtifactStore;
  /** Where relative paths in specs resolve (the worker's working directory). */
  cwd: string;
}

/**
 * This worker's data directory. A plan carries the data directory of the worker that planned it, which
 * another replica (another machine) may not have: stages use their own worker's.
 */
export function workerDataDir(deps: Pick<ActivityDeps, 'config' | 'cwd'>): string {
  return path.resolve(deps.cwd, deps.config.DEPLOY_DATA_DIR);
}

/** This worker's local cache of the shared artifact store. */
export function artifactCacheDir(deps: Pick<ActivityDeps, 'config' | 'cwd'>): string {
  return localArtifactCache(deps.config, deps.cwd);
}

/**
 * Runs `work` while heartbeating on a timer, so a dead worker is noticed within the heartbeat timeout even
 * when a single step (a long SQL statement, a build) reports no progress of its own. `progress` lets the
 * work say what it is doing; the last message rides on every heartbeat and shows in the UI.
 *
 * The first heartbeat goes out after one interval (a third of the timeout), not at the start: a stage that
 * ends sooner has nothing to report, and a heartbeat is a write on the server. With instant stages that was
 * four writes per deploy, a bare workflow's cost paid again (BENCHMARKS.md, "Worker memory").
 */
export async function withHeartbeat<T>(work: (progress: (message: string) => void, signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const timeout = ctx.info.heartbeatTimeoutMs ?? 10_000;
  let last = 'started';
  let beating = false;
  const progress = (message: string) => {
    last = message.slice(0, 500);
    if (beating) heartbeat({ progress: last });
  };
  const timer = setInterval(
    () => {
      beating = true;
      heartbeat({ progress: last });
    },
    Math.max(200, Math.floor(timeout / 3)),
  );
  try {
    return await work(progress, ctx.cancellationSignal);
  } finally {
    clearInterval(timer);
  }
}
