/**
 * `npm run dev`: setup, then a Temporal dev server (persistent in .data/temporal.db, so a restart resumes
 * deploys) with its Web UI, and one worker, all in the foreground. Ctrl-C stops the worker, then the server.
 *
 * Env: TEMPORAL_PORT (7233), TEMPORAL_UI_PORT (8233), WORKER_HEALTH_PORT (8091), DEPLOY_TASK_QUEUE (deploys).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ensureTemporal, type EnsuredTemporal } from './lib/dev-server';
import { forwardWithPrefix, formatDuration, info, step } from './lib/log';
import { DATA_DIR, ROOT, runSetup } from './setup';

const WORKER_READY_TIMEOUT_MS = 180_000;
// Longer than the worker's own shutdown grace, so it can finish or hand back running activities.
const WORKER_STOP_TIMEOUT_MS = 45_000;

function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`${name}="${raw}" is not a TCP port; use a number from 1 to 65535 or unset it.`);
  }
  return port;
}

let temporal: EnsuredTemporal | undefined;
let worker: ChildProcess | undefined;
let shuttingDown = false;

/** Stops what this script started, worker first (it may be mid-activity), then the server. */
async function shutdown(exitCode: number, reason: string): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  info(`\n${reason}: stopping the worker, then the Temporal server…`);
  if (worker) await stopWorker(worker);
  if (temporal?.startedHere) await temporal.stop();
  info('Stopped.');
  process.exit(exitCode);
}

async function main(): Promise<void> {
  process.on('SIGINT', () => void shutdown(0, 'SIGINT'));
  process.on('SIGTERM', () => void shutdown(0, 'SIGTERM'));

  const temporalPort = portFromEnv('TEMPORAL_PORT', 7233);
  const uiPort = portFromEnv('TEMPORAL_UI_PORT', 8233);
  const healthPort = portFromEnv('WORKER_HEALTH_PORT', 8091);
  const taskQueue = process.env.DEPLOY_TASK_QUEUE || 'deploys';

  const { cli, databaseUrl } = await runSetup();
  await fs.mkdir(DATA_DIR, { recursive: true });

  temporal = (
    await step(`Temporal server on 127.0.0.1:${temporalPort}`, () =>
      ensureTemporal({
        address: `127.0.0.1:${temporalPort}`,
        cli,
        uiPort,
        dbFilename: path.join(DATA_DIR, 'temporal.db'),
        logFile: path.join(DATA_DIR, 'temporal.log'),
        // Its shutdown chatter (dial errors while services stop) stays in the log file only.
        onOutput: (line) => {
          if (!shuttingDown) process.stderr.write(`[temporal] ${line}\n`);
        },
        // Own process group: the terminal's Ctrl-C reaches only this script, which stops things in order.
        ownProcessGroup: true,
      }),
    )
  ).value;
  info(temporal.startedHere ? '  started (data in .data/temporal.db)' : '  already running: reusing it');

  const workerStarted = Date.now();
  await step('worker', async () => {
    // node --import tsx instead of `npx tsx`: one process, so signals reach the worker itself.
    worker = spawn(process.execPath, ['--import', 'tsx', 'src/worker/main.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: temporal!.address,
        DEPLOY_DATA_DIR: '.data',
        DEPLOY_DATABASE_URL: databaseUrl,
        DEPLOY_TASK_QUEUE: taskQueue,
        WORKER_HEALTH_PORT: String(healthPort),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    forwardWithPrefix(worker.stdout!, '[worker] ', process.stdout);
    forwardWithPrefix(worker.stderr!, '[worker] ', process.stderr);
    worker.on('exit', (code, signal) => {
      if (!shuttingDown) void shutdown(1, `The worker exited unexpectedly (${signal ?? `code ${code}`})`);
    });
    await waitForReady(`http://127.0.0.1:${healthPort}/readyz`, worker);
  });
  info(`  ready after ${formatDuration(Date.now() - workerStarted)}`);

  printBanner({ temporal, cli, healthPort, taskQueue });
}

async function waitForReady(url: string, worker: ChildProcess): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (worker.exitCode !== null || worker.signalCode !== null) {
      throw new Error(`The worker exited before ${url} answered; see the [worker] lines above.`);
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() - started > WORKER_READY_TIMEOUT_MS) {
      throw new Error(`The worker did not answer 200 at ${url} within ${formatDuration(WORKER_READY_TIMEOUT_MS)}.`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function stopWorker(worker: ChildProcess): Promise<void> {
  if (worker.exitCode !== null || worker.signalCode !== null || worker.pid === undefined) return;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-worker.pid!, signal);
    } catch {
      // Already gone.
    }
  };
  signalGroup('SIGTERM');
  const forced = setTimeout(() => {
    info(`The worker did not stop within ${formatDuration(WORKER_STOP_TIMEOUT_MS)}; killing it.`);
    signalGroup('SIGKILL');
  }, WORKER_STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(forced);
}

function printBanner(o: { temporal: EnsuredTemporal; cli: string; healthPort: number; taskQueue: string }): void {
  // The CLI's default address is 127.0.0.1:7233; any other needs --address on every command.
  const address = o.temporal.address === '127.0.0.1:7233' ? '' : ` --address ${o.temporal.address}`;
  const lines = [
    '',
    'The stack is up.',
    `  Temporal server  ${o.temporal.address}${o.temporal.startedHere ? '' : ' (already running, reused)'}`,
    `  Web UI           ${o.temporal.uiUrl ?? '(not known for a reused server)'}`,
    `  Worker           http://127.0.0.1:${o.healthPort}/readyz  (task queue ${o.taskQueue})`,
    '',
    `Try (temporal is ${o.cli}):`,
    `  temporal workflow start${address} --task-queue ${o.taskQueue} --type deployRelease \\`,
    `    --workflow-id deploy-hello-service-staging \\`,
    `    --input '{"spec":"examples/hello-service/deploy.yaml","environment":"staging","version":"1.1.0","requestedBy":"carol"}'`,
    `  temporal workflow signal${address} --workflow-id deploy-hello-service-production --name approve --input '{"by":"alice"}'`,
    `  temporal workflow query${address} --workflow-id deploy-hello-service-production --name status`,
    `  temporal workflow list${address} --query 'DeployService="hello-service" AND DeployStatus="rolled_back"'`,
    '',
    'Ctrl-C stops the worker, then the server.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: Error) => {
  info(`\nnpm run dev failed: ${err.message}`);
  // Leave nothing running behind a failed start.
  void shutdown(1, 'Start-up failed');
});
