import v8 from 'node:v8';
import { DefaultLogger } from '@temporalio/worker';
import { ConfigError, loadWorkerConfig } from '../config';
import { installRuntimeWithSdkMetrics } from '../metrics/sdk-metrics';
import { createDeployWorker, type DeployWorker } from './create';
import { HealthPortError } from './health-port';
import { startHealthServer } from './health-server';

/**
 * How far V8 lets a heap grow past its live size before the next full collection: 10 % (a factor of 1.1,
 * V8's floor) instead of V8's own choice, which reaches 4x for small heaps that allocate fast. A busy worker
 * allocates fast (payloads, plans, pg rows) and held 3-4x its live heap as garbage: ≈ 430 MB at 200 deploys
 * in flight, ≈ 295 MB at 25 % and ≈ 290 MB at 10 %, at the same throughput and worker CPU (BENCHMARKS.md,
 * "Worker memory"). A V8 flag set here applies to the workflow thread too; `node --heap-growing-percent=N`
 * on the command line wins.
 */
export const HEAP_GROWING_PERCENT = 10;

/**
 * `npm run worker`: one worker, configured from the environment only. SIGINT/SIGTERM stop polling, give
 * in-flight activities WORKER_SHUTDOWN_GRACE_MS to finish, then exit.
 */
async function main(): Promise<void> {
  if (!process.execArgv.some((a) => a.startsWith('--heap-growing-percent') || a.startsWith('--heap_growing_percent'))) {
    v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  }
  let config;
  try {
    config = loadWorkerConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const sdkMetrics = await installRuntimeWithSdkMetrics(new DefaultLogger((process.env.LOG_LEVEL as 'INFO' | undefined) ?? 'INFO'));
  let w: DeployWorker | undefined;
  let health;
  try {
    health = await startHealthServer(() => w, {
      port: config.WORKER_HEALTH_PORT,
      // Only the default port gives way to the next free one; a port the operator chose is used or refused.
      explicit: (process.env.WORKER_HEALTH_PORT ?? '').trim() !== '',
      log: (line) => console.log(line),
      sdkMetrics,
    });
  } catch (err) {
    if (err instanceof HealthPortError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  try {
    w = await createDeployWorker({ config, workflowBundlePath: process.env.DEPLOY_WORKFLOW_BUNDLE });
  } catch (err) {
    health.server.close();
    throw err;
  }
  console.log(
    `worker ready: task queue "${config.DEPLOY_TASK_QUEUE}" on ${config.TEMPORAL_ADDRESS} (namespace ${config.TEMPORAL_NAMESPACE}); health on http://127.0.0.1:${health.port}/readyz, metrics on http://127.0.0.1:${health.port}/metrics`,
  );
  try {
    await w.run();
  } finally {
    health.server.close();
    console.log('worker stopped');
  }
}

main().catch((err) => {
  console.error(`worker failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
