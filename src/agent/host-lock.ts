import { promises as fs } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { processIdentity } from '../targets/local/ownership';

/** `<agent root>/agent.pid`: which process serves the host. */
interface HostLockFile {
  pid: number;
  /** /proc/<pid>/stat field 22, so a later process that got the same pid is not taken for the agent. */
  startTicks: string;
  startedAt: string;
}

export class HostLockError extends Error {}

/**
 * Claims a host for this process: two agents serving one host would interleave stops and starts of its
 * releases. A lock left by an agent that died (kill -9, a crash, a reboot) names a process that is gone
 * or is another process now, and is taken over, so a restarted agent always starts.
 */
export async function claimHost(agentRoot: string, host: string): Promise<{ release(): Promise<void> }> {
  await fs.mkdir(agentRoot, { recursive: true });
  const file = path.join(agentRoot, 'agent.pid');
  const me = processIdentity(process.pid);
  const record: HostLockFile = { pid: process.pid, startTicks: me?.startTicks ?? 'unverified', startedAt: new Date().toISOString() };
  let tookOver = false;
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      await fs.writeFile(file, JSON.stringify(record) + '\n', { flag: 'wx', mode: 0o644 });
      if (tookOver) {
        // Took over a stale lock: an agent starting at the same moment may have removed ours in between.
        await sleep(200);
        const now = await readLock(file);
        if (now?.pid !== process.pid) throw new HostLockError(`host ${host} was claimed by agent pid ${now?.pid ?? '?'} starting at the same time (${file}); run one agent per host`);
      }
      return {
        async release() {
          const held = await readLock(file);
          if (held?.pid === process.pid) await fs.rm(file, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const held = await readLock(file);
    if (held === null && (await ageMs(file)) < 5_000) {
      // Being written by an agent that is starting right now: look again once it is complete.
      await sleep(100);
      continue;
    }
    if (held && held.pid !== process.pid) {
      const live = processIdentity(held.pid);
      if (live && live.startTicks === held.startTicks) {
        throw new HostLockError(`host ${host} is already served by agent pid ${held.pid} (since ${held.startedAt}; ${file}); stop that agent first, or give this one another host`);
      }
    }
    // Gone, a reused pid, or unreadable for a while: stale.
    await fs.rm(file, { force: true });
    tookOver = true;
  }
  throw new HostLockError(`host ${host}: could not claim ${file}; another agent keeps claiming it`);
}

async function readLock(file: string): Promise<HostLockFile | null> {
  try {
    const parsed = JSON.parse(await fs.readFile(file, 'utf8')) as Partial<HostLockFile>;
    return Number.isInteger(parsed.pid) && typeof parsed.startTicks === 'string' ? (parsed as HostLockFile) : null;
  } catch {
    return null;
  }
}

async function ageMs(file: string): Promise<number> {
  try {
    return Date.now() - (await fs.stat(file)).mtimeMs;
  } catch {
    return Infinity;
  }
}
