import { DefaultLogger } from '@temporalio/worker';
import { ConfigError, loadWorkerConfig } from '../config';
import { installRuntimeWithSdkMetrics } from '../metrics/sdk-metrics';
import { createDeployWorker, type DeployWorker } from './create';
import { HealthPortError } from './health-port';
import { startHealthServer } from './health-server';

/**
 * `npm run worker`: one worker, configured from the environment only. SIGINT/SIGTERM stop polling, give
 * in-flight activities WORKER_SHUTDOWN_GRACE_MS to finish, then exit.
 */
async function main(): Promise<void> {
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
