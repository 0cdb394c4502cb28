/**
 * The local stack in one call: a Temporal dev server (persistent SQLite, Web UI, the contract's search
 * attributes) and one worker process, both ready when startStack() returns.
 *
 * Both children write to log files, not pipes, and run in their own process groups: a terminal's Ctrl-C
 * reaches only the parent, which stops them in order (worker first, it may be mid-activity), and a
 * caller that keeps the stack (`npm run demo -- --keep`) can leave them running after it exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort, isServing, registerSearchAttributes, searchAttributeArgs } from './dev-server';
import { formatDuration } from './log';

const SERVER_READY_TIMEOUT_MS = 90_000;
const WORKER_READY_TIMEOUT_MS = 180_000;
const SERVER_STOP_TIMEOUT_MS = 15_000;
// Longer than the worker's own shutdown grace, so it can finish or hand back running activities.
const WORKER_STOP_TIMEOUT_MS = 45_000;

export interface StackOptions {
  /** The Temporal CLI (findOrBuildTemporalCli). */
  cli: string;
  /** The orchestrator's database for the worker. */
  databaseUrl: string;
  /** The worker's working directory: relative spec paths and DEPLOY_DATA_DIR resolve against it. */
  cwd: string;
  /** DEPLOY_DATA_DIR for the worker (e.g. ".data"). */
  dataDir: string;
  /** Where temporal.log and worker.log are appended. */
  logDir: string;
  /** The dev server's SQLite file; a restart on the same file resumes deploys. */
  dbFilename: string;
  /** Preferred ports; defaults 7233 (gRPC), 8233 (UI), 8091 (worker health). */
  temporalPort?: number;
  uiPort?: number;
  healthPort?: number;
  /** When a preferred port is taken, pick a free one and say so (default true); false fails instead. */
  fallbackToFreePorts?: boolean;
  /** Reuse a Temporal server that already answers at the preferred gRPC port (default true). */
  reuseRunningServer?: boolean;
  taskQueue?: string;
  /** Extra environment for the worker. */
  workerEnv?: Record<string, string>;
  /** One line per decision worth telling (a port moved, a server reused). */
  onNotice?: (line: string) => void;
}

export interface StackProcess {
  pid: number;
  /** True when this stack started it (and stop() stops it). */
  startedHere: boolean;
}

export interface Stack {
  address: string;
  /** http://127.0.0.1:<uiPort>, when known. */
  uiUrl?: string;
  healthUrl: string;
  taskQueue: string;
  server: StackProcess | undefined;
  worker: StackProcess;
  logs: { temporal: string; worker: string };
  /** Stops what this stack started: the worker, then the server. Safe to call twice. */
  stop(): Promise<void>;
  /** Lets the parent exit while the children run on (the caller prints how to stop them). */
  detach(): void;
  /** Resolves when the worker exits, with how it exited. */
  workerExit: Promise<string>;
}

/** True when nothing listens on host:port (a bind succeeds). */
export async function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

async function choosePort(preferred: number, what: string, fallback: boolean, notice: (l: string) => void): Promise<number> {
  if (await isPortFree(preferred)) return preferred;
  if (!fallback) {
    throw new Error(`${what} port ${preferred} is already in use; stop what listens there or choose another port.`);
  }
  const port = await freePort();
  notice(`${what} port ${preferred} is busy: using ${port} instead`);
  return port;
}

export async function startStack(o: StackOptions): Promise<Stack> {
  const notice = o.onNotice ?? ((line: string) => process.stderr.write(`${line}\n`));
  const fallback = o.fallbackToFreePorts ?? true;
  const taskQueue = o.taskQueue ?? 'deploys';
  await fs.mkdir(o.logDir, { recursive: true });
  const logs = { temporal: path.join(o.logDir, 'temporal.log'), worker: path.join(o.logDir, 'worker.log') };
  const preferredTemporalPort = o.temporalPort ?? 7233;
  const preferredUiPort = o.uiPort ?? 8233;

  let address: string;
  let uiUrl: string | undefined;
  let server: ChildProcess | undefined;
  let worker: ChildProcess | undefined;
  // From the first spawn on: a parent that exits without stop() (Ctrl-C during start-up, a crash) must not
  // leave the children, which sit in their own process groups, running as orphans. detach() lifts this.
  const killOnExit = () => {
    for (const child of [worker, server]) if (child?.pid) signalGroup(child.pid, 'SIGKILL');
  };
  process.on('exit', killOnExit);
  const preferredAddress = `127.0.0.1:${preferredTemporalPort}`;
  if ((o.reuseRunningServer ?? true) && (await isServing(o.cli, preferredAddress))) {
    address = preferredAddress;
    await registerSearchAttributes(address);
    const candidate = `http://127.0.0.1:${preferredUiPort}`;
    uiUrl = (await answersHttp(candidate)) ? candidate : undefined;
    notice(`a Temporal server already answers at ${address}: reusing it${uiUrl ? ` (Web UI ${uiUrl})` : ' (its Web UI is not at the usual port)'}`);
  } else {
    const port = await choosePort(preferredTemporalPort, 'Temporal gRPC', fallback, notice);
    const uiPort = await choosePort(preferredUiPort, 'Web UI', fallback, notice);
    address = `127.0.0.1:${port}`;
    uiUrl = `http://127.0.0.1:${uiPort}`;
    const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(uiPort)];
    args.push('--db-filename', o.dbFilename, '--log-level', 'warn');
    args.push(...searchAttributeArgs());
    server = spawnLogged(o.cli, args, { cwd: o.cwd, logFile: logs.temporal, env: process.env });
    try {
      await waitUntil(
        async () => isServing(o.cli, address),
        SERVER_READY_TIMEOUT_MS,
        () => exitDescription(server!),
        async () => `the Temporal dev server did not become ready at ${address}; its log ${logs.temporal} ends with:\n${await tail(logs.temporal)}`,
      );
      // The UI answers a moment after the frontend; links printed before then would fail once.
      await waitUntil(() => answersHttp(uiUrl!), 30_000, () => exitDescription(server!), async () => `the Web UI did not answer at ${uiUrl}`);
    } catch (err) {
      await stopProcess(server, 'SIGTERM', SERVER_STOP_TIMEOUT_MS);
      process.off('exit', killOnExit);
      throw err;
    }
  }

  let healthUrl = '';
  try {
    const healthPort = await choosePort(o.healthPort ?? 8091, 'worker health', fallback, notice);
    healthUrl = `http://127.0.0.1:${healthPort}/readyz`;
    worker = spawnDeployWorker({
      cwd: o.cwd,
      logFile: logs.worker,
      env: {
        TEMPORAL_ADDRESS: address,
        DEPLOY_DATA_DIR: o.dataDir,
        DEPLOY_DATABASE_URL: o.databaseUrl,
        DEPLOY_TASK_QUEUE: taskQueue,
        WORKER_HEALTH_PORT: String(healthPort),
        ...o.workerEnv,
      },
    });
    await waitForDeployWorker(worker, healthUrl, logs.worker);
  } catch (err) {
    if (worker) await stopProcess(worker, 'SIGTERM', WORKER_STOP_TIMEOUT_MS);
    if (server) await stopProcess(server, 'SIGTERM', SERVER_STOP_TIMEOUT_MS);
    process.off('exit', killOnExit);
    throw err;
  }

  const workerExit = new Promise<string>((resolve) => {
    if (worker!.exitCode !== null || worker!.signalCode !== null) resolve(exitDescription(worker!) ?? 'exited');
    worker!.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `exit code ${code}`));
  });

  let stopping: Promise<void> | undefined;
  return {
    address,
    uiUrl,
    healthUrl,
    taskQueue,
    server: server?.pid ? { pid: server.pid, startedHere: true } : undefined,
    worker: { pid: worker.pid!, startedHere: true },
    logs,
    workerExit,
    stop() {
      stopping ??= (async () => {
        process.off('exit', killOnExit);
        await stopProcess(worker!, 'SIGTERM', WORKER_STOP_TIMEOUT_MS);
        if (server) await stopProcess(server, 'SIGTERM', SERVER_STOP_TIMEOUT_MS);
      })();
      return stopping;
    },
    detach() {
      process.off('exit', killOnExit);
      worker!.unref();
      server?.unref();
    },
  };
}

/**
 * Starts `src/worker/main.ts` in its own process group, configured by `env` on top of this process's
 * environment, its output appended to `logFile`. `cwd` is the repository root (spec paths resolve there).
 */
export function spawnDeployWorker(o: { cwd: string; logFile: string; env: Record<string, string> }): ChildProcess {
  // node --import tsx, not `npx tsx`: one process, so signals reach the worker itself.
  return spawnLogged(process.execPath, ['--import', 'tsx', path.join(o.cwd, 'src/worker/main.ts')], {
    cwd: o.cwd,
    logFile: o.logFile,
    env: { ...process.env, ...o.env },
  });
}

/** Waits until the worker's /readyz answers 200 (Temporal, database, polling); fails when it exits first. */
export async function waitForDeployWorker(worker: ChildProcess, healthUrl: string, logFile: string): Promise<void> {
  await waitUntil(
    async () => (await httpStatus(healthUrl)) === 200,
    WORKER_READY_TIMEOUT_MS,
    () => exitDescription(worker),
    async () => `the worker did not answer 200 at ${healthUrl}; its log ${logFile} ends with:\n${await tail(logFile)}`,
  );
}

/** Spawns a child in its own process group, stdout and stderr appended to `logFile` (no pipe to break). */
export function spawnLogged(command: string, args: string[], o: { cwd: string; logFile: string; env: NodeJS.ProcessEnv }): ChildProcess {
  const fd = openSync(o.logFile, 'a');
  try {
    return spawn(command, args, { cwd: o.cwd, env: o.env, stdio: ['ignore', fd, fd], detached: true });
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(fd);
  }
}

export function exitDescription(child: ChildProcess): string | undefined {
  if (child.signalCode) return `it was killed by ${child.signalCode}`;
  if (child.exitCode !== null) return `it exited with code ${child.exitCode}`;
  return undefined;
}

export async function waitUntil(
  ready: () => Promise<boolean>,
  timeoutMs: number,
  exited: () => string | undefined,
  explain: () => Promise<string>,
): Promise<void> {
  const started = Date.now();
  for (;;) {
    const exit = exited();
    if (exit) throw new Error(`${await explain()}\n(${exit})`);
    if (await ready()) return;
    if (Date.now() - started > timeoutMs) throw new Error(`${await explain()}\n(after ${formatDuration(timeoutMs)})`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

/** Signals a child's process group and waits for it to exit, escalating to SIGKILL after `timeoutMs`. */
export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  signalGroup(child.pid, signal);
  const forced = setTimeout(() => signalGroup(child.pid!, 'SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(forced);
}

/** Stops a process this script did not spawn (a kept stack), by pid: SIGTERM, then SIGKILL. */
export async function stopPid(pid: number, timeoutMs: number): Promise<'stopped' | 'not-running'> {
  if (!isAlive(pid)) return 'not-running';
  signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
  if (isAlive(pid)) signalGroup(pid, 'SIGKILL');
  return 'stopped';
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

export async function httpStatus(url: string): Promise<number | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return undefined;
  }
}

async function answersHttp(url: string): Promise<boolean> {
  const status = await httpStatus(url);
  return status !== undefined && status < 500;
}

export async function tail(file: string, lines = 20): Promise<string> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n') || '(empty)';
}

export { WORKER_STOP_TIMEOUT_MS, SERVER_STOP_TIMEOUT_MS };
