import net from 'node:net';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FailureType, refuse } from '../../errors';
import type { LocalLayout } from './config';
import { releaseDir } from './releases';
import { readJsonFile, writeFileAtomic } from '../transition-state';
import { HAS_PROC, portOwners, targetProcessGroups, type ProcessIdentity, type TargetProcessGroup } from './ownership';

/** service.pid: enough to tell our process from an unrelated one that later got the same pid. */
export interface PidFile {
  pid: number;
  releaseId: string;
  /** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); "unverified" without /proc. */
  startTicks: string;
  startedAt: string;
}

export interface LiveProcess {
  pid: number;
  releaseId: string;
}

const POLL_MS = 50;
const KILL_WAIT_MS = 5000;

/**
 * The process groups a layout covers: the one service process's layout covers every group started the
 * classic way; a release layout behind a front door covers only that release's groups.
 */
export function groupsOf(layout: LocalLayout): TargetProcessGroup[] {
  return targetProcessGroups(layout.releasesDir).filter((g) =>
    layout.only === undefined ? !g.behindFrontDoor : g.behindFrontDoor && g.releaseId === layout.only,
  );
}

/** Start time and state of a process, or null when it does not exist or is a zombie awaiting its parent. */
async function procStart(pid: number): Promise<string | null> {
  let stat: string;
  try {
    stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may contain spaces and parentheses: fields are counted after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  if (state === 'Z' || state === 'X') return null;
  return fields[19] ?? null;
}

async function isAlive(pid: number, startTicks: string): Promise<boolean> {
  if (HAS_PROC) return (await procStart(pid)) === startTicks;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The process the pidfile names, if it is still alive and really the one this target started. */
export async function liveServiceProcess(layout: LocalLayout): Promise<LiveProcess | null> {
  const pidFile = await readJsonFile<PidFile>(layout.pidFile);
  if (!pidFile || !Number.isInteger(pidFile.pid) || pidFile.pid <= 1) return null;
  if (!(await isAlive(pidFile.pid, pidFile.startTicks))) return null;
  return { pid: pidFile.pid, releaseId: pidFile.releaseId };
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    // detached children lead their own process group: signalling -pid reaches everything they forked.
    process.kill(-pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

async function waitForExit(pid: number, startTicks: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!(await isAlive(pid, startTicks))) return true;
    if (Date.now() >= deadline) return false;
    await sleep(POLL_MS);
  }
}

/**
 * Stops the supervised process: SIGTERM to its process group, up to `stopTimeoutMs` to exit, then SIGKILL.
 * A pidfile naming a process that is gone or not ours is just removed. Process groups this target started
 * that no pidfile names (a worker killed between spawning a release and recording it) are stopped too.
 */
export async function stopServiceProcess(
  layout: LocalLayout,
  stopTimeoutMs: number,
  report: (msg: string) => void,
): Promise<void> {
  const pidFile = await readJsonFile<PidFile>(layout.pidFile);
  const live = await liveServiceProcess(layout);
  if (pidFile && live) {
    await stopGroup(pidFile.pid, [{ pid: pidFile.pid, startTicks: pidFile.startTicks }], `pid ${pidFile.pid} (release ${live.releaseId})`, stopTimeoutMs, report);
  }
  await fs.rm(layout.pidFile, { force: true });
  for (const orphan of groupsOf(layout)) {
    await stopGroup(orphan.pgrp, orphan.members, `unrecorded process group ${orphan.pgrp} (release ${orphan.releaseId})`, stopTimeoutMs, report);
  }
  await fs.rm(layout.startFile, { force: true });
}

async function stopGroup(
  pgrp: number,
  members: { pid: number; startTicks: string }[],
  what: string,
  stopTimeoutMs: number,
  report: (msg: string) => void,
): Promise<void> {
  // One deadline for the whole group: its members exit together on the group signal.
  const allGone = async (timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (const m of members) if (!(await waitForExit(m.pid, m.startTicks, Math.max(0, deadline - Date.now())))) return false;
    return true;
  };
  report(`stopping ${what} with SIGTERM, waiting up to ${stopTimeoutMs} ms`);
  signalGroup(pgrp, 'SIGTERM');
  if (!(await allGone(stopTimeoutMs))) {
    report(`${what} still running after ${stopTimeoutMs} ms; sending SIGKILL`);
    signalGroup(pgrp, 'SIGKILL');
    if (!(await allGone(KILL_WAIT_MS))) {
      throw new Error(`${what} survived SIGKILL for ${KILL_WAIT_MS} ms; retrying`);
    }
  }
  // Children that outlived their leader would keep the port; the group id cannot be reused while they exist.
  signalGroup(pgrp, 'SIGKILL');
  report(`${what} stopped`);
}

/** service.starting.json: a start that was requested; its pid reaches the pidfile only after the spawn. */
export interface StartIntent {
  releaseId: string;
  requestedAt: string;
  /** The worker process that spawns it. */
  byPid: number;
}

/**
 * The release process of this target, reconciled with what really runs: the pidfile's process if it is
 * alive; otherwise a release process this target started but never recorded (its worker was killed between
 * the spawn and the pidfile) running `currentReleaseId` is adopted: it gets the pidfile. Every other process
 * group this target started is stopped, so at most one release runs. `adopted` says the start of the
 * returned process was never confirmed.
 */
export async function reconcileServiceProcess(
  layout: LocalLayout,
  currentReleaseId: string | null,
  stopTimeoutMs: number,
  report: (msg: string) => void,
): Promise<{ live: LiveProcess | null; adopted: boolean }> {
  const [recorded, intent] = await Promise.all([liveServiceProcess(layout), readJsonFile<StartIntent>(layout.startFile)]);
  let adopted: (TargetProcessGroup & { leader: ProcessIdentity }) | null = null;
  for (const group of groupsOf(layout)) {
    if (recorded && group.pgrp === recorded.pid) continue;
    if (!recorded && !adopted && group.leader && group.releaseId === currentReleaseId) {
      adopted = group as TargetProcessGroup & { leader: ProcessIdentity };
      continue;
    }
    await stopGroup(group.pgrp, group.members, `unrecorded process group ${group.pgrp} (release ${group.releaseId})`, stopTimeoutMs, report);
  }
  if (adopted) {
    const { leader } = adopted;
    const record: PidFile = {
      pid: leader.pid,
      releaseId: adopted.releaseId,
      startTicks: leader.startTicks,
      startedAt: intent?.releaseId === adopted.releaseId ? intent.requestedAt : new Date().toISOString(),
    };
    await writeFileAtomic(layout.pidFile, JSON.stringify(record, null, 2) + '\n');
    report(`adopted pid ${leader.pid} (release ${adopted.releaseId}), started by this target but never recorded`);
  } else if (intent && !recorded) {
    report(`the start of release ${intent.releaseId} requested at ${intent.requestedAt} left no running process`);
  }
  await fs.rm(layout.startFile, { force: true });
  if (adopted) return { live: { pid: adopted.leader.pid, releaseId: adopted.releaseId }, adopted: true };
  return { live: recorded, adopted: false };
}

export interface StartRequest {
  releaseId: string;
  command: string[];
  port: number;
  runtimeEnv: Record<string, string>;
}

/**
 * Starts a release (the one `current` points to, or behind a front door any staged one) as a detached process group with its output in
 * logs/<releaseId>.log, so it outlives the worker that started it, and records it in the pidfile.
 */
export async function startServiceProcess(
  layout: LocalLayout,
  request: StartRequest,
  report: (msg: string) => void,
): Promise<number> {
  const cwd = await fs.realpath(releaseDir(layout, request.releaseId));
  await fs.mkdir(layout.logsDir, { recursive: true });
  const logFile = path.join(layout.logsDir, `${request.releaseId}.log`);
  const log = await fs.open(logFile, 'a', 0o600);
  // `{port}` in runtime.command is the port the release must listen on (it also gets PORT in its environment).
  const [file, ...args] = request.command.map((arg) => arg.replaceAll('{port}', String(request.port))) as [string, ...string[]];
  // Recorded before the spawn: a worker killed before the pidfile is written leaves this and a process whose
  // environment and working directory say it is this target's (see adoptUnrecordedRelease).
  const intent: StartIntent = { releaseId: request.releaseId, requestedAt: new Date().toISOString(), byPid: process.pid };
  await writeFileAtomic(layout.startFile, JSON.stringify(intent, null, 2) + '\n');
  let pid: number;
  try {
    await log.write(`--- ${new Date().toISOString()} starting release ${request.releaseId}: ${JSON.stringify(request.command)}\n`);
    const child = spawn(file, args, {
      cwd,
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
      env: {
        PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
        ...request.runtimeEnv,
        PORT: String(request.port),
        DEPLOY_RELEASE_ID: request.releaseId,
        ...(layout.only !== undefined ? { DEPLOY_TRAFFIC: '1' } : {}),
      },
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    }).catch((err: NodeJS.ErrnoException) => {
      throw refuse(
        FailureType.TargetCommandFailed,
        `target.command ${JSON.stringify(request.command)} could not be started in ${cwd}: ${err.code ?? err.message}; check the command and the release contents`,
      );
    });
    child.unref();
    pid = child.pid!;
  } finally {
    await log.close();
  }
  const startTicks = HAS_PROC ? await procStart(pid) : 'unverified';
  const record: PidFile = {
    pid,
    releaseId: request.releaseId,
    // A process that already exited has no start time; "exited" never matches a live one.
    startTicks: startTicks ?? 'exited',
    startedAt: new Date().toISOString(),
  };
  await writeFileAtomic(layout.pidFile, JSON.stringify(record, null, 2) + '\n');
  await fs.rm(layout.startFile, { force: true });
  report(`started pid ${pid} for release ${request.releaseId} (log ${logFile})`);
  return pid;
}

/**
 * Waits until the started release listens on its port: a release that is up but not yet listening must not
 * be judged by the health analysis, and one that exits or never listens failed to start. With /proc the
 * listening socket must be held by the release's own process group (`pid` leads it): a process that took
 * the port between the free-port check and the start would otherwise be judged in the release's place. The
 * release is then stopped and the deploy refused, naming that process.
 */
export async function waitUntilListening(
  layout: LocalLayout,
  o: { pid: number; port: number; releaseId: string; timeoutMs: number; stopTimeoutMs: number },
  report: (msg: string) => void,
): Promise<void> {
  const deadline = Date.now() + o.timeoutMs;
  const logFile = path.join(layout.logsDir, `${o.releaseId}.log`);
  for (;;) {
    if (HAS_PROC) {
      const owners = portOwners(o.port);
      const stranger = owners.holders.find((h) => h.pgrp !== o.pid);
      if (stranger) {
        report(`port ${o.port} is held by pid ${stranger.pid} (${stranger.command}), not by release ${o.releaseId}; stopping the release`);
        await stopServiceProcess(layout, o.stopTimeoutMs, report);
        throw refuse(
          FailureType.TargetCommandFailed,
          `port ${o.port} is in use by a process that is not this target's release: pid ${stranger.pid} (${stranger.command}) took it before release ${o.releaseId} could listen; the release was stopped. Stop that process or change target.port, then deploy again`,
        );
      }
      if (owners.holders.length > 0 && owners.unattributed === 0) {
        report(`release ${o.releaseId} listens on port ${o.port} (process group ${o.pid})`);
        return;
      }
    } else if (await acceptsConnections(o.port)) {
      report(`release ${o.releaseId} accepts connections on port ${o.port}`);
      return;
    }
    if (!(await stillRunning(o.pid))) {
      const held = HAS_PROC && portOwners(o.port).listening > 0 ? ` (port ${o.port} is held by a process this worker cannot inspect; see \`ss -ltnp\`)` : '';
      throw refuse(FailureType.TargetCommandFailed, `release ${o.releaseId} exited before accepting connections on port ${o.port}${held}; see its log ${logFile}`);
    }
    if (Date.now() > deadline) {
      throw refuse(
        FailureType.TargetCommandFailed,
        `release ${o.releaseId} did not accept connections on port ${o.port} within ${o.timeoutMs} ms; see its log ${logFile}, or raise target.startTimeoutMs`,
      );
    }
    await sleep(POLL_MS);
  }
}

/**
 * After this target's own process is stopped, its port must be free. A listener there now belongs to
 * something else (another checkout's service, a stray process): starting anyway would let the health
 * analysis judge that process instead of the new release.
 */
export async function ensurePortFree(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (await acceptsConnections(port)) {
    if (Date.now() > deadline) {
      const holder = HAS_PROC ? portOwners(port).holders[0] : undefined;
      const who = holder ? ` (pid ${holder.pid}: ${holder.command})` : '';
      throw refuse(
        FailureType.TargetCommandFailed,
        `port ${port} is in use by a process that is not this target's release${who}; stop it (e.g. \`ss -ltnp | grep :${port}\`) or change target.port`,
      );
    }
    await sleep(100);
  }
}

function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(1_000, () => done(false));
  });
}

async function stillRunning(pid: number): Promise<boolean> {
  // A detached child that exited stays a zombie until reaped: /proc tells it apart, kill(pid, 0) does not.
  if (HAS_PROC) return (await procStart(pid)) !== null;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
