import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { bareActivities } from './activities';

/**
 * The baseline worker process. Configured like the deploy worker (src/worker/main.ts): same concurrency
 * limit, a pre-built workflow bundle, WARN logging; only the workflow and activities differ.
 */
async function main(): Promise<void> {
  const address = process.env.TEMPORAL_ADDRESS;
  const taskQueue = process.env.BENCH_TASK_QUEUE;
  const bundle = process.env.BENCH_WORKFLOW_BUNDLE;
  if (!address || !taskQueue || !bundle) {
    console.error('baseline worker: set TEMPORAL_ADDRESS, BENCH_TASK_QUEUE and BENCH_WORKFLOW_BUNDLE');
    process.exit(2);
  }
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection,
    taskQueue,
    workflowBundle: { codePath: bundle },
    activities: bareActivities,
    maxConcurrentActivityTaskExecutions: Number(process.env.WORKER_MAX_CONCURRENT_ACTIVITIES ?? 100),
    shutdownGraceTime: 2000,
  });
  console.log(`worker ready: baseline on task queue "${taskQueue}"`);
  try {
    await worker.run();
  } finally {
    await connection.close();
  }
}

main().catch((err) => {
  console.error(`baseline worker failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
