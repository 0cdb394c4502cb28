/**
 * `npm run cluster`: the deploy orchestrator on a real Temporal cluster instead of the dev server.
 *   1. setup (build, Temporal CLI, PostgreSQL, orchestrator database, example service);
 *   2. temporal-server, temporal-sql-tool (v1.29.1) and the Web UI server (v2.42.1), built once with Go
 *      into ~/.cache/deploy-orchestrator/;
 *   3. PostgreSQL databases `temporal` and `temporal_visibility`, created or updated by temporal-sql-tool;
 *   4. history, matching, frontend and worker services as separate processes (deploy/temporal/server.yaml,
 *      the file docker-compose.yml mounts), the namespace `default` and the deploy search attributes;
 *   5. the Web UI server and the deploy worker.
 * Ctrl-C stops the deploy worker, the UI, then the services in reverse order. Logs: .data/cluster/.
 *
 * Env: TEMPORAL_PORT (7233), TEMPORAL_UI_PORT (8080), WORKER_HEALTH_PORT (8091), DEPLOY_TASK_QUEUE
 * (deploys), DBNAME (temporal), VISIBILITY_DBNAME (temporal_visibility), and the internal service ports by
 * the names server.yaml reads (FRONTEND_HTTP_PORT 7243, HISTORY_GRPC_PORT 7234, MATCHING_GRPC_PORT 7235,
 * WORKER_GRPC_PORT 7239, *_MEMBERSHIP_PORT 6933-6939).
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { CLUSTER_SERVICES, startTemporalCluster, type ClusterPorts, type TemporalCluster } from './lib/cluster';
import { findOrBuildClusterBinaries, TEMPORAL_SERVER_VERSION, TEMPORAL_UI_SERVER_VERSION } from './lib/cluster-binaries';
import { parseClusterSettings, portVariable } from './lib/cluster-config';
import { formatDuration, info, step } from './lib/log';
import { isPortFree, spawnDeployWorker, stopProcess, waitForDeployWorker, WORKER_STOP_TIMEOUT_MS } from './lib/stack';
import { prepareTemporalDatabases } from './lib/temporal-databases';
import { DATA_DIR, ROOT, runSetup } from './setup';

const LOG_DIR = path.join(DATA_DIR, 'cluster');
/** The local PostgreSQL of `npm run setup` (trust authentication for local connections). */
const POSTGRES = { host: '127.0.0.1', port: 5432, user: 'postgres', password: '' };

let cluster: TemporalCluster | undefined;
let worker: ChildProcess | undefined;
let shuttingDown = false;

/** Stops what this script started: the deploy worker first (it may be mid-activity), then the cluster. */
async function shutdown(exitCode: number, reason: string): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  info(`\n${reason}: stopping the deploy worker, the Web UI, then the worker, frontend, matching and history services…`);
  if (worker) {
    await stopProcess(worker, 'SIGTERM', WORKER_STOP_TIMEOUT_MS);
    info('  [cluster] deploy worker: stopped');
  }
  await cluster?.stop();
  info('Stopped.');
  process.exit(exitCode);
}

async function main(): Promise<void> {
  process.on('SIGINT', () => void shutdown(0, 'SIGINT'));
  process.on('SIGTERM', () => void shutdown(0, 'SIGTERM'));

  const settings = parseClusterSettings(process.env);
  const taskQueue = process.env.DEPLOY_TASK_QUEUE || 'deploys';
  await assertPortsFree(settings.ports, settings.workerHealthPort);

  const { cli, databaseUrl } = await runSetup();
  const binaries = (
    await step(`Temporal server + SQL tool v${TEMPORAL_SERVER_VERSION}, UI server v${TEMPORAL_UI_SERVER_VERSION}`, () =>
      findOrBuildClusterBinaries(),
    )
  ).value;
  info(`  ${path.dirname(binaries.server)}, ${path.dirname(binaries.uiServer)}`);

  await step(`PostgreSQL databases ${settings.databases.temporal}, ${settings.databases.visibility} (temporal-sql-tool)`, () =>
    prepareTemporalDatabases({
      sqlTool: binaries.sqlTool,
      endpoint: POSTGRES,
      databases: settings.databases,
      onProgress: (line) => info(`  ${line}`),
    }),
  );

  await fs.mkdir(LOG_DIR, { recursive: true });
  cluster = (
    await step('Temporal cluster: history, matching, frontend, worker services + Web UI', () =>
      startTemporalCluster({
        binaries,
        cli,
        endpoint: POSTGRES,
        databases: settings.databases,
        ports: settings.ports,
        logDir: LOG_DIR,
        onEvent: (line) => info(`  [cluster] ${line}`),
        onUnexpectedExit: (name, how) => {
          if (!shuttingDown) void shutdown(1, `The ${name} process exited unexpectedly (${how})`);
        },
      }),
    )
  ).value;

  const workerLog = path.join(LOG_DIR, 'worker.log');
  const healthUrl = `http://127.0.0.1:${settings.workerHealthPort}/readyz`;
  const workerStarted = Date.now();
  await step('deploy worker', async () => {
    worker = spawnDeployWorker({
      cwd: ROOT,
      logFile: workerLog,
      env: {
        TEMPORAL_ADDRESS: cluster!.address,
        DEPLOY_DATA_DIR: '.data',
        DEPLOY_DATABASE_URL: databaseUrl,
        DEPLOY_TASK_QUEUE: taskQueue,
        WORKER_HEALTH_PORT: String(settings.workerHealthPort),
      },
    });
    worker.on('exit', (code, signal) => {
      if (!shuttingDown) void shutdown(1, `The deploy worker exited unexpectedly (${signal ?? `code ${code}`}); see ${workerLog}`);
    });
    await waitForDeployWorker(worker, healthUrl, workerLog);
  });
  info(`  ready after ${formatDuration(Date.now() - workerStarted)} (pid ${worker!.pid})`);

  printBanner({ cluster, cli, healthUrl, taskQueue, workerLog });
}

async function assertPortsFree(ports: ClusterPorts, workerHealthPort: number): Promise<void> {
  const busy: string[] = [];
  for (const key of Object.keys(ports) as Array<keyof ClusterPorts>) {
    if (!(await isPortFree(ports[key]))) busy.push(`${portVariable(key)} ${ports[key]}`);
  }
  if (!(await isPortFree(workerHealthPort))) busy.push(`WORKER_HEALTH_PORT ${workerHealthPort}`);
  if (busy.length > 0) {
    throw new Error(
      `These ports are in use on 127.0.0.1: ${busy.join(', ')}. Stop what listens there (a dev server from ` +
        `npm run dev uses 7233) or set the variables to free ports, e.g. TEMPORAL_PORT=7333 npm run cluster.`,
    );
  }
}

function printBanner(o: { cluster: TemporalCluster; cli: string; healthUrl: string; taskQueue: string; workerLog: string }): void {
  const address = o.cluster.address === '127.0.0.1:7233' ? '' : ` --address ${o.cluster.address}`;
  const rel = (file: string) => path.relative(ROOT, file);
  const lines = [
    '',
    'The cluster is up.',
    `  Temporal frontend  ${o.cluster.address}  (namespace ${o.cluster.namespace})`,
    `  services           ${CLUSTER_SERVICES.map((name) => `${name} pid ${o.cluster.pid(name)}`).join(', ')}`,
    `  PostgreSQL         databases ${o.cluster.databases.temporal} (persistence), ${o.cluster.databases.visibility} (visibility) on 127.0.0.1:5432`,
    `  Web UI             ${o.cluster.uiUrl}`,
    `  deploy worker      ${o.healthUrl}  (task queue ${o.taskQueue})`,
    `  logs               ${rel(LOG_DIR)}/temporal-{history,matching,frontend,worker,ui}.log, ${rel(o.workerLog)}`,
    '',
    `Try (temporal is ${o.cli}):`,
    `  temporal workflow start${address} --task-queue ${o.taskQueue} --type deployRelease \\`,
    `    --workflow-id deploy-hello-service-staging \\`,
    `    --input '{"spec":"examples/hello-service/deploy.yaml","environment":"staging","version":"1.1.0","requestedBy":"carol"}'`,
    `  temporal workflow list${address} --query 'DeployService="hello-service"'`,
    '',
    'Ctrl-C stops the deploy worker, the Web UI, then the services in reverse order.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: Error) => {
  info(`\nnpm run cluster failed: ${err.message}`);
  void shutdown(1, 'Start-up failed');
});
