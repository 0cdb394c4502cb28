import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { readTextFile, writeFileAtomic } from './files';
import { FrontDoor, frontDoorOptionsSchema, type FrontDoorOptions } from './haproxy/front-door';

/**
 * Keeps this machine's front doors up between deploys. Every front door a target drives is listed in the
 * worker's data directory (`<DEPLOY_DATA_DIR>/front-doors/<name>-<port>.json`: where its files are, nothing
 * secret); the worker checks them every few seconds and starts a dead haproxy again from its recorded
 * state, so a crash or a kill costs seconds of refused requests, not an outage until the next deploy.
 */

const entrySchema = frontDoorOptionsSchema.pick({ name: true, publicPort: true, directory: true, healthCheck: true, removeDrainTimeoutMs: true });
type Entry = z.input<typeof entrySchema>;

export function frontDoorIndexDir(dataDir: string): string {
  return path.join(dataDir, 'front-doors');
}

/** Lists a front door for the keeper (idempotent: an unchanged entry is not rewritten). */
export async function registerFrontDoor(indexDir: string, entry: Entry): Promise<void> {
  const file = path.join(indexDir, `${entry.name}-${entry.publicPort}.json`);
  const text = `${JSON.stringify(entry, null, 2)}\n`;
  if ((await readTextFile(file)) === text) return;
  await fs.mkdir(indexDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, text);
}

async function listed(indexDir: string): Promise<Entry[]> {
  let files: string[];
  try {
    files = await fs.readdir(indexDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: Entry[] = [];
  for (const f of files.filter((x) => x.endsWith('.json')).sort()) {
    const parsed = entrySchema.safeParse(JSON.parse((await readTextFile(path.join(indexDir, f))) ?? 'null'));
    if (parsed.success) out.push(parsed.data);
  }
  return out;
}

export interface FrontDoorKeeper {
  /** One pass now (also what the timer runs): the names of the front doors it started again. */
  check(): Promise<string[]>;
  stop(): void;
}

export function startFrontDoorKeeper(o: { indexDir: string; intervalMs: number; log: (message: string) => void }): FrontDoorKeeper {
  let running: Promise<string[]> | undefined;
  const pass = async (): Promise<string[]> => {
    const restarted: string[] = [];
    for (const entry of await listed(o.indexDir)) {
      const door = new FrontDoor({ ...(entry as FrontDoorOptions), onProgress: () => undefined });
      try {
        const status = await door.status();
        // A front door that was never given a server, or whose directory is gone (undeployed), is left alone.
        if (status.running || status.recorded.length === 0) continue;
        const back = await door.ensureRunning();
        restarted.push(entry.name);
        o.log(`front door ${entry.name} on port ${entry.publicPort} was down; started again from its record (haproxy pid ${back.pid}, ${back.recorded.length} release(s))`);
      } catch (err) {
        o.log(`front door ${entry.name} on port ${entry.publicPort} is down and could not be started again: ${(err as Error).message.split('\n')[0]}`);
      }
    }
    return restarted;
  };
  const check = () => (running ??= pass().finally(() => (running = undefined)));
  const timer = setInterval(() => void check().catch((err: Error) => o.log(`front door check failed: ${err.message}`)), o.intervalMs);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}
