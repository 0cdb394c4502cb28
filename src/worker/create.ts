import { Client } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import path from 'node:path';
import { createActivities } from '../activities';
import { openArtifactStore, reclaimStaleBuildDirs, type ArtifactStore } from '../artifacts';
import type { WorkerConfig } from '../config';
import { activityMetricsInterceptor } from '../metrics/activity-metrics-interceptor';
import { DeployMetrics } from '../metrics/deploy-metrics';
import { visibilityInFlightCounter } from '../metrics/in-flight';
import { Registry } from '../registry/registry';
import { frontDoorIndexDir, startFrontDoorKeeper } from '../traffic/keeper';
import { connectionOptions } from '../temporal-connection';

export interface DeployWorker {
  worker: Worker;
  connection: NativeConnection;
  registry: Registry;
  /** The artifact store the replicas share (DEPLOY_ARTIFACT_STORE). */
  artifacts: ArtifactStore;
  /** The deploy_* series this worker records (served at /metrics on the health port). */
  metrics: DeployMetrics;
  /** Runs until shutdown; closes the registry and the connection afterwards. */
  run(): Promise<void>;
}

/**
 * Builds a worker for the `deploys` task queue. The workflow code is bundled from source unless a
 * pre-built bundle is given (production images ship one: DEPLOY_WORKFLOW_BUNDLE).
 */
export async function createDeployWorker(o: { config: WorkerConfig; cwd?: string; workflowBundlePath?: string; extra?: Partial<WorkerOptions> }): Promise<DeployWorker> {
  const { config } = o;
  const cwd = o.cwd ?? process.cwd();
  // Checkouts of builds that died with an earlier worker on this host; live workers' builds are kept.
  await reclaimStaleBuildDirs(path.join(path.resolve(cwd, config.DEPLOY_DATA_DIR), 'work'));
  const registry = await Registry.open(config.DEPLOY_DATABASE_URL);
  let artifacts: ArtifactStore | undefined;
  let connection: NativeConnection | undefined;
  try {
    artifacts = await openArtifactStore(config, cwd);
    const store = artifacts;
    connection = await NativeConnection.connect(await connectionOptions(config));
    // Visibility counts (deploy_in_flight) and deploy histories (approval waits) over the worker's own connection.
    const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
    const metrics = new DeployMetrics(visibilityInFlightCounter({ client, taskQueue: config.DEPLOY_TASK_QUEUE }));
    const worker = await Worker.create({
      connection,
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: config.DEPLOY_TASK_QUEUE,
      ...(o.workflowBundlePath ? { workflowBundle: { codePath: o.workflowBundlePath } } : { workflowsPath: require.resolve('../workflows') }),
      activities: createActivities({ config, registry, artifacts: store, cwd }),
      shutdownGraceTime: config.WORKER_SHUTDOWN_GRACE_MS,
      maxConcurrentActivityTaskExecutions: config.WORKER_MAX_CONCURRENT_ACTIVITIES,
      ...(config.WORKER_MAX_CACHED_WORKFLOWS !== undefined ? { maxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS } : {}),
      ...(config.WORKER_IDENTITY ? { identity: config.WORKER_IDENTITY } : {}),
      ...o.extra,
      interceptors: {
        ...o.extra?.interceptors,
        activity: [activityMetricsInterceptor(metrics, { client }), ...(o.extra?.interceptors?.activity ?? [])],
      },
    });
    const conn = connection;
    return {
      worker,
      connection: conn,
      registry,
      artifacts: store,
      metrics,
      run: async () => {
        // Front doors this worker drives are started again if they die between deploys.
        const keeper = startFrontDoorKeeper({
          indexDir: frontDoorIndexDir(path.resolve(cwd, config.DEPLOY_DATA_DIR)),
          intervalMs: 5_000,
          log: (message) => process.stderr.write(`[front-door-keeper] ${message}\n`),
        });
        try {
          await worker.run();
        } finally {
          keeper.stop();
          await store.close().catch(() => undefined);
          await registry.close().catch(() => undefined);
          await conn.close().catch(() => undefined);
        }
      },
    };
  } catch (err) {
    await artifacts?.close().catch(() => undefined);
    await registry.close().catch(() => undefined);
    await connection?.close().catch(() => undefined);
    throw err;
  }
}
