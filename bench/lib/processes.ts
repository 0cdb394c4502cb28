import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { LineTail, forEachLine } from '../../scripts/lib/log';
import type { Cleanup } from './cleanup';

export const REPO_ROOT = path.resolve(__dirname, '../..');

export interface WorkerProcess {
  name: string;
  pid: number;
  child: ChildProcess;
  /** SIGTERM (graceful: in-flight activities get the grace time), SIGKILL after 15 s. */
  stop(): Promise<void>;
  /** SIGKILL now: the crash the recovery benchmark simulates. */
  kill(): void;
  exited(): boolean;
}

/**
 * Starts a worker as its own process (so its memory is its own, and so it can be killed like a real one)
 * and waits for its ready line ("worker ready" unless told otherwise). Output goes to `<logDir>/<name>.log`.
 */
export async function startWorkerProcess(o: {
  name: string;
  entry: string;
  env: Record<string, string>;
  cwd: string;
  logDir: string;
  cleanup: Cleanup;
  readyTimeoutMs?: number;
  /** Node options placed before the entry, e.g. --max-old-space-size=256. */
  nodeArgs?: string[];
  /** Arguments after the entry, e.g. the agent's --host options. */
  args?: string[];
  /** The line that says it is ready (default "worker ready"; the host agent prints "agent ready"). */
  readyLine?: string;
}): Promise<WorkerProcess> {
  // A compiled entry (.js) runs on plain node, as in production; a .ts entry through tsx, by absolute URL
  // because the worker runs in a temp directory, where a bare "tsx" would not resolve.
  const loader = o.entry.endsWith('.ts') ? ['--import', pathToFileURL(require.resolve('tsx')).href] : [];
  const child = spawn(process.execPath, [...(o.nodeArgs ?? []), ...loader, o.entry, ...(o.args ?? [])], {
    cwd: o.cwd,
    env: { ...process.env, ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(path.join(o.logDir, `${o.name}.log`), { flags: 'a' });
  const tail = new LineTail(30);
  const readyLine = o.readyLine ?? 'worker ready';
  let ready: () => void = () => undefined;
  const readyPromise = new Promise<void>((resolve) => (ready = resolve));
  const onLine = (line: string) => {
    tail.push(line);
    log.write(`${line}\n`);
    if (line.includes(readyLine)) ready();
  };
  forEachLine(child.stdout!, onLine);
  forEachLine(child.stderr!, onLine);
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      resolve();
    });
    child.on('error', () => {
      exit = { code: null, signal: null };
      resolve();
    });
  });

  const stop = async () => {
    if (!exit) {
      child.kill('SIGTERM');
      const forced = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exitPromise;
      clearTimeout(forced);
    }
    await new Promise<void>((resolve) => log.end(resolve));
  };
  o.cleanup.add(`stop worker ${o.name}`, stop);

  const timeoutMs = o.readyTimeoutMs ?? 120_000;
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    readyPromise.then(() => 'ready' as const),
    exitPromise.then(() => 'exited' as const),
    new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs))),
  ]);
  clearTimeout(timer);
  if (outcome !== 'ready') {
    await stop();
    throw new Error(
      `worker ${o.name} (${path.relative(REPO_ROOT, o.entry)}) ${outcome === 'exited' ? `exited (${exit?.signal ?? `code ${exit?.code}`})` : `was not ready within ${timeoutMs} ms`} ` +
        `before printing "${readyLine}"; its last output:\n${tail.text() || '(none)'}`,
    );
  }
  return {
    name: o.name,
    pid: child.pid!,
    child,
    stop,
    kill: () => {
      if (!exit) child.kill('SIGKILL');
    },
    exited: () => exit !== undefined,
  };
}

/** VmRSS and VmHWM (peak) of a process in MB, from /proc; null when it is gone. */
export async function readMemory(pid: number): Promise<{ rssMb: number; hwmMb: number } | null> {
  let text: string;
  try {
    text = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
}

/** Samples a process's RSS every `everyMs` until stopped; returns the highest sample and the kernel's VmHWM. */
export function sampleMemory(pid: number, everyMs = 100): { stop(): Promise<{ peakSampledMb: number; hwmMb: number; samples: number }> } {
  let peak = 0;
  let hwm = 0;
  let samples = 0;
  const take = async () => {
    const m = await readMemory(pid);
    if (!m) return;
    samples++;
    peak = Math.max(peak, m.rssMb);
    hwm = Math.max(hwm, m.hwmMb);
  };
  void take();
  const timer = setInterval(() => void take(), everyMs);
  return {
    async stop() {
      clearInterval(timer);
      await take();
      return { peakSampledMb: peak, hwmMb: hwm, samples };
    },
  };
}

/**
 * Process groups that descendants of `pid` lead or belong to (target commands run in their own group, started
 * by the worker's command runner), from /proc; never the group of `pid` itself nor the bench's own.
 */
export async function childProcessGroups(pid: number): Promise<number[]> {
  const children = new Map<number, Array<{ pid: number; pgid: number }>>();
  let ownGroup = -1;
  for (const entry of await fs.readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await fs.readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(fields[1]);
    const pgid = Number(fields[2]);
    if (Number(entry) === process.pid) ownGroup = pgid;
    children.set(ppid, [...(children.get(ppid) ?? []), { pid: Number(entry), pgid }]);
  }
  const groups = new Set<number>();
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      groups.add(child.pgid);
      queue.push(child.pid);
    }
  }
  groups.delete(pid);
  groups.delete(ownGroup);
  return [...groups];
}

export function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Child processes of `pid` whose command line matches `pattern` (e.g. the worker's command runner), from /proc. */
export async function childProcesses(pid: number, pattern: RegExp): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await fs.readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await fs.readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[1]) !== pid) continue;
    const cmdline = await fs.readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (pattern.test(cmdline)) found.push(Number(entry));
  }
  return found;
}

/**
 * Memory a process holds that no other process shares (Private_Clean + Private_Dirty of smaps_rollup), in MB;
 * null when it is gone. For a helper process this is what it adds: its RSS also counts the pages of the node
 * executable, which it shares with the process that started it.
 */
export async function readPrivateMemory(pid: number): Promise<number | null> {
  const text = await fs.readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => null);
  if (text === null) return null;
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  return (kb('Private_Clean') + kb('Private_Dirty')) / 1024;
}
