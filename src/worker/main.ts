import { Runtime, DefaultLogger } from '@temporalio/worker';
import { ConfigError, loadWorkerConfig } from '../config';
import { createDeployWorker } from './create';
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
  Runtime.install({ logger: new DefaultLogger((process.env.LOG_LEVEL as 'INFO' | undefined) ?? 'INFO') });
  const w = await createDeployWorker({ config, workflowBundlePath: process.env.DEPLOY_WORKFLOW_BUNDLE });
  const health = await startHealthServer(w, config.WORKER_HEALTH_PORT);
  const addr = health.address();
  console.log(
    `worker ready: task queue "${config.DEPLOY_TASK_QUEUE}" on ${config.TEMPORAL_ADDRESS} (namespace ${config.TEMPORAL_NAMESPACE}); health on http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : config.WORKER_HEALTH_PORT}/readyz`,
  );
  try {
    await w.run();
  } finally {
    health.close();
    console.log('worker stopped');
  }
}

main().catch((err) => {
  console.error(`worker failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
