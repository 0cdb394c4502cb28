import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { startDevServer, type DevServer } from '../../scripts/lib/dev-server';
import { dropDatabase, ensureDatabase, LOCAL_POSTGRES_ADMIN_URL } from '../../scripts/lib/postgres';
import { findOrBuildTemporalCli, temporalCliVersion } from '../../scripts/lib/temporal-cli';
import type { Cleanup } from './cleanup';
import { startAlwaysReadyEndpoint, type HealthEndpoint } from './health-endpoint';
import { REPO_ROOT, startWorkerProcess, type WorkerProcess } from './processes';
import { progress } from './progress';

export const ADMIN_URL = process.env.BENCH_PG_ADMIN_URL ?? LOCAL_POSTGRES_ADMIN_URL;

export interface BenchWorld {
  cli: string;
  cliVersion: string;
  server: DevServer;
  client: Client;
  dataDir: string;
  logDir: string;
  /** Suffix shared by this run's databases: bench_<id>_… */
  runId: string;
  orchestratorDbUrl: string;
  health: HealthEndpoint;
  /** A real deploy worker: node src/worker/main.js compiled for this run, configured from the environment only. */
  startDeployWorker(name: string, taskQueue: string, extraEnv?: Record<string, string>): Promise<WorkerProcess>;
  startBaselineWorker(name: string, taskQueue: string): Promise<WorkerProcess>;
  /** Creates a database for this run and drops it at cleanup. */
  createDatabase(purpose: string): Promise<{ name: string; url: string }>;
  /** Drops a database someone else created for this run at cleanup. */
  trackDatabase(name: string): void;
  /** The compiled .js of a repository-relative .ts entry given in `compile` (e.g. 'src/agent/main.ts'). */
  compiledEntry(entry: string): string;
}

function databaseUrl(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * One isolated world for the whole run: its own headless in-memory dev server, orchestrator database, temp
 * directory and always-ready health endpoint, plus both workflow bundles built once (as production ships
 * them), so the worker processes spend nothing on bundling and their memory is their steady state.
 */
export async function startBenchWorld(cleanup: Cleanup, o: { compile?: string[]; dynamicConfig?: Record<string, string | number | boolean> } = {}): Promise<BenchWorld> {
  const runId = randomBytes(3).toString('hex');
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'deploy-bench-'));
  cleanup.add(`remove ${dataDir}`, () => fs.rm(dataDir, { recursive: true, force: true }));
  const logDir = path.join(dataDir, 'logs');
  await fs.mkdir(logDir, { recursive: true });

  const cli = await findOrBuildTemporalCli({ onProgress: progress });
  const cliVersion = (await temporalCliVersion(cli)).raw;
  progress(`starting a headless in-memory Temporal dev server (${cliVersion})`);
  const server = await startDevServer({ cli, headless: true, logFile: path.join(logDir, 'temporal.log'), dynamicConfig: o.dynamicConfig });
  cleanup.add('stop the dev server', () => server.stop());
  const connection = await Connection.connect({ address: server.address });
  cleanup.add('close the client connection', () => connection.close());
  const client = new Client({ connection });

  const databases: string[] = [];
  cleanup.add('drop the bench databases', async () => {
    for (const name of databases) await dropDatabase(ADMIN_URL, name);
  });
  const createDatabase = async (purpose: string) => {
    const name = `bench_${runId}_${purpose}`;
    databases.push(name);
    await ensureDatabase(ADMIN_URL, name);
    return { name, url: databaseUrl(name) };
  };
  const orchestrator = await createDatabase('orch');

  const health = await startAlwaysReadyEndpoint();
  cleanup.add('close the health endpoint', () => health.close());

  // Compiled worker entry points, run on plain node as production runs them (Dockerfile: node
  // dist/worker/main.js): under tsx the worker holds ≈ 60 MB more, the transpiler and its source cache.
  // Compiled under node_modules/.cache so that the output resolves this checkout's node_modules, and not
  // into dist/, which other work on this checkout may be using.
  const compiledDir = path.join(REPO_ROOT, 'node_modules', '.cache', `deploy-bench-${runId}`);
  cleanup.add(`remove ${compiledDir}`, () => fs.rm(compiledDir, { recursive: true, force: true }));
  progress('compiling the deploy and baseline workers');
  const entries = { deploy: path.join(compiledDir, 'src/worker/main.js'), bare: path.join(compiledDir, 'bench/baseline/worker.js') };
  const extra = o.compile ?? [];
  await compileWorkers(compiledDir, extra);
  const compiledEntry = (entry: string) => {
    if (!extra.includes(entry)) throw new Error(`${entry} was not compiled for this run; list it in startBenchWorld's compile option`);
    return path.join(compiledDir, entry.replace(/\.ts$/, '.js'));
  };

  progress('bundling the deploy and baseline workflow code');
  const bundleDir = path.join(dataDir, 'bundles');
  await fs.mkdir(bundleDir);
  const quietLogger = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: (m: string) => progress(`bundler: ${m}`), error: (m: string) => progress(`bundler: ${m}`) };
  const bundles = { deploy: path.join(bundleDir, 'deploy.js'), bare: path.join(bundleDir, 'bare.js') };
  await fs.writeFile(bundles.deploy, (await bundleWorkflowCode({ workflowsPath: path.join(REPO_ROOT, 'src/workflows/index.ts'), logger: quietLogger })).code);
  await fs.writeFile(bundles.bare, (await bundleWorkflowCode({ workflowsPath: path.join(REPO_ROOT, 'bench/baseline/workflows.ts'), logger: quietLogger })).code);

  // MALLOC_ARENA_MAX=2 as the worker image sets it for every process (Dockerfile); the bare worker gets it
  // too, so that the memory comparison is of the same environment (it lowers both, the bare one by ≈ 5 %).
  const common = { TEMPORAL_ADDRESS: server.address, LOG_LEVEL: 'WARN', WORKER_MAX_CONCURRENT_ACTIVITIES: '100', MALLOC_ARENA_MAX: '2' };
  return {
    cli,
    cliVersion,
    server,
    client,
    dataDir,
    logDir,
    runId,
    orchestratorDbUrl: orchestrator.url,
    health,
    createDatabase,
    trackDatabase: (name) => void databases.push(name),
    compiledEntry,
    startDeployWorker: (name, taskQueue, extraEnv = {}) =>
      startWorkerProcess({
        name,
        entry: entries.deploy,
        cwd: dataDir,
        logDir,
        cleanup,
        env: {
          ...common,
          DEPLOY_TASK_QUEUE: taskQueue,
          DEPLOY_DATABASE_URL: orchestrator.url,
          DEPLOY_DATA_DIR: path.join(dataDir, 'orchestrator'),
          DEPLOY_WORKFLOW_BUNDLE: bundles.deploy,
          WORKER_HEALTH_PORT: '0',
          WORKER_SHUTDOWN_GRACE_MS: '2000',
          ...extraEnv,
        },
      }),
    startBaselineWorker: (name, taskQueue) =>
      startWorkerProcess({
        name,
        entry: entries.bare,
        cwd: dataDir,
        logDir,
        cleanup,
        env: { ...common, BENCH_TASK_QUEUE: taskQueue, BENCH_WORKFLOW_BUNDLE: bundles.bare },
      }),
  };
}

/** tsc on the two worker entry points and any `extra` ones (and what they import), with the compiler options of tsconfig.json. */
async function compileWorkers(outDir: string, extra: string[]): Promise<void> {
  await fs.mkdir(outDir, { recursive: true });
  const project = path.join(outDir, 'tsconfig.json');
  await fs.writeFile(
    project,
    JSON.stringify({
      extends: path.join(REPO_ROOT, 'tsconfig.json'),
      compilerOptions: { noEmit: false, noEmitOnError: true, outDir, rootDir: REPO_ROOT },
      files: [path.join(REPO_ROOT, 'src/worker/main.ts'), path.join(REPO_ROOT, 'bench/baseline/worker.ts'), ...extra.map((e) => path.join(REPO_ROOT, e))],
      include: [],
    }),
  );
  try {
    await promisify(execFile)(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', project], { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`compiling the workers failed (fix the type errors, then run the bench again):\n${(e.stdout || e.stderr || e.message).trim()}`);
  }
}
