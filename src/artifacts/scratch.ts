import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Each build checks out into `<workDir>/build-<host>-<pid>-<service>-<version>-XXXXXX`. A build killed
 * with its worker cannot remove its own directory; the owner (host and pid) in the name lets the next
 * worker on the same host tell a stale directory from one a live worker is still using.
 */

/** A short, path-safe tag of this host, so workers on other hosts sharing the directory are left alone. */
function hostTag(): string {
  return createHash('sha256').update(os.hostname()).digest('hex').slice(0, 8);
}

/** Scratch directories this process is building in right now (its pid may equal a dead predecessor's). */
const active = new Set<string>();

export function markScratchActive(dir: string, isActive: boolean): void {
  if (isActive) active.add(path.resolve(dir));
  else active.delete(path.resolve(dir));
}

export function scratchPrefix(service: string, version: string): string {
  return `build-${hostTag()}-${process.pid}-${service}-${version}-`;
}

const SCRATCH_NAME = /^build-([0-9a-f]{8})-(\d+)-/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the scratch directories in `workDir` whose worker process (on this host) is gone. Returns
 * the names removed. A missing `workDir` is fine: nothing was ever built there.
 */
export async function reclaimStaleBuildDirs(workDir: string): Promise<string[]> {
  const entries = await fs.readdir(workDir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  const host = hostTag();
  const removed: string[] = [];
  for (const entry of entries) {
    const match = SCRATCH_NAME.exec(entry.name);
    if (!entry.isDirectory() || !match || match[1] !== host) continue;
    const pid = Number(match[2]);
    const dir = path.join(workDir, entry.name);
    if (pid === process.pid ? active.has(path.resolve(dir)) : alive(pid)) continue;
    await fs.rm(dir, { recursive: true, force: true });
    removed.push(entry.name);
  }
  return removed;
}
