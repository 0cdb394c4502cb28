import { existsSync, promises as fs } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Process facts read from /proc: whether a pid is alive (a zombie awaiting its parent is not) and which
 * command line it runs, so a pidfile naming a pid the kernel has since given to another program is never
 * mistaken for the process it recorded.
 */

const HAS_PROC = existsSync('/proc/self/stat');

export async function processAlive(pid: number): Promise<boolean> {
  if (HAS_PROC) {
    try {
      const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
      // The command name (field 2) may contain spaces and parentheses: the state follows the last ')'.
      const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
      return state !== 'Z' && state !== 'X';
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The argv of a live process, or null when it is gone (or unknowable without /proc). */
export async function processArgv(pid: number): Promise<string[] | null> {
  if (!HAS_PROC) return null;
  try {
    const raw = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8');
    if (raw.length === 0) return null;
    return raw.replace(/\0$/, '').split('\0');
  } catch {
    return null;
  }
}

/** Signals a detached child's whole process group (it leads one), ignoring a group that is already gone. */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!(await processAlive(pid))) return true;
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
}
