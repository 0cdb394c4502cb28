import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { processAlive, processArgv, signalGroup, waitForExit } from '../processes';
import { readTextFile, writeFileAtomic } from '../files';
import type { FrontDoorFiles } from './config';
import { HaproxyRuntimeApi, RuntimeApiError } from './runtime-api';

/**
 * The haproxy process of one front door: started detached in its own process group so that it outlives
 * the worker that started it, recorded in haproxy.pid, and recognised by its command line (`-f <its
 * haproxy.cfg>`), so neither a stale pidfile nor a stale socket file is mistaken for a running front door.
 *
 * haproxy runs in the foreground (no `daemon`): its pid is the one spawned, and its stderr (startup
 * errors, abnormal requests) goes to haproxy.log. haproxy writes `-p <pidfile>` only in daemon or
 * master-worker mode, so the pidfile is written here once the process answers on its socket.
 */

export interface RunningHaproxy {
  pid: number;
  version: string;
}

/** True when `pid` is alive and runs haproxy with this front door's configuration file. */
export async function isFrontDoorHaproxy(pid: number, files: FrontDoorFiles): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 1 || !(await processAlive(pid))) return false;
  const argv = await processArgv(pid);
  // Without /proc there is no command line to compare: a live pid from our own pidfile is trusted.
  if (argv === null) return true;
  const f = argv.indexOf('-f');
  return f >= 0 && argv[f + 1] === files.config;
}

export async function readPidFile(files: FrontDoorFiles): Promise<number | null> {
  const text = await readTextFile(files.pidFile);
  if (text === null) return null;
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 1 ? pid : null;
}

/**
 * The haproxy serving this front door's socket, if any: the socket's own answer (`show info` → Pid) is
 * checked against the process table, so a socket file left behind by a killed haproxy answers nothing.
 */
export async function findRunningHaproxy(files: FrontDoorFiles, api: HaproxyRuntimeApi): Promise<RunningHaproxy | null> {
  let info: Record<string, string>;
  try {
    info = await api.showInfo();
  } catch (err) {
    if (err instanceof RuntimeApiError) return null;
    throw err;
  }
  const pid = Number(info.Pid);
  if (!(await isFrontDoorHaproxy(pid, files))) return null;
  return { pid, version: info.Version ?? 'unknown' };
}

export interface StartHaproxyOptions {
  executable: string;
  files: FrontDoorFiles;
  api: HaproxyRuntimeApi;
  timeoutMs: number;
  report: (message: string) => void;
}

/**
 * Starts haproxy on the already written haproxy.cfg and waits until the process answers on the socket
 * with its own pid. Fails with the end of haproxy.log when it exits first (a port in use, a bad config)
 * or does not answer in time.
 */
export async function startHaproxy(o: StartHaproxyOptions): Promise<RunningHaproxy> {
  const log = await fs.open(o.files.log, 'a', 0o600);
  let pid: number;
  const ended: { how: string | null } = { how: null };
  try {
    await log.write(`--- ${new Date().toISOString()} starting haproxy -f ${o.files.config}\n`);
    const child = spawn(o.executable, ['-f', o.files.config], {
      cwd: o.files.directory,
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
      env: { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin' },
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    }).catch((err: NodeJS.ErrnoException) => {
      throw new Error(`could not start ${o.executable}: ${err.code ?? err.message}; check HAPROXY_PATH or install haproxy`);
    });
    child.once('exit', (code, signal) => (ended.how = signal ? `signal ${signal}` : `exit code ${code}`));
    child.unref();
    pid = child.pid!;
  } finally {
    await log.close();
  }

  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    const running = await findRunningHaproxy(o.files, o.api);
    if (running?.pid === pid) {
      await writeFileAtomic(o.files.pidFile, `${pid}\n`);
      o.report(`haproxy ${running.version} started (pid ${pid}), answering on ${o.files.socket}`);
      return running;
    }
    if (ended.how !== null || !(await processAlive(pid))) {
      throw new Error(`haproxy (pid ${pid}) stopped during start-up (${ended.how ?? 'gone'}); ${o.files.log} says:\n${await logTail(o.files.log)}`);
    }
    if (Date.now() > deadline) {
      signalGroup(pid, 'SIGKILL');
      throw new Error(`haproxy (pid ${pid}) did not answer on ${o.files.socket} within ${o.timeoutMs} ms and was killed; ${o.files.log} says:\n${await logTail(o.files.log)}`);
    }
    await sleep(50);
  }
}

/**
 * Stops a front door's haproxy: SIGUSR1 (soft stop: it closes the public port at once and lets in-flight
 * requests finish) for up to `graceMs`, then SIGTERM, then SIGKILL.
 */
export async function stopHaproxy(pid: number, graceMs: number, report: (message: string) => void): Promise<void> {
  report(`stopping haproxy pid ${pid} (soft stop, up to ${graceMs} ms for in-flight requests)`);
  signalGroup(pid, 'SIGUSR1');
  if (await waitForExit(pid, graceMs)) return;
  report(`haproxy pid ${pid} still running after ${graceMs} ms; sending SIGTERM`);
  signalGroup(pid, 'SIGTERM');
  if (await waitForExit(pid, 5_000)) return;
  signalGroup(pid, 'SIGKILL');
  if (!(await waitForExit(pid, 5_000))) throw new Error(`haproxy pid ${pid} survived SIGKILL for 5000 ms`);
}

/** The last lines haproxy wrote, for an error that says why it did not start. */
async function logTail(file: string, lines = 12): Promise<string> {
  const text = (await readTextFile(file)) ?? '';
  const start = text.lastIndexOf('--- ');
  return (start >= 0 ? text.slice(start) : text).trimEnd().split('\n').slice(-lines).join('\n');
}
