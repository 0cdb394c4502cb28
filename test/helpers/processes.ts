import { promises as fs } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Host pids of live (non-zombie) processes whose command line contains `marker`. */
export async function pidsWithMarker(marker: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = await fs.readFile(`/proc/${entry}/cmdline`, 'utf8');
      if (!cmdline.includes(marker)) continue;
      const stat = await fs.readFile(`/proc/${entry}/stat`, 'utf8');
      if (/^\d+ \(.*\) Z/.test(stat)) continue;
      found.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return found;
}

/** Polls (generously) until no process carries `marker`; returns the survivors if some remain. */
export async function waitUntilNoProcessWith(marker: string, timeoutMs = 20_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let left = await pidsWithMarker(marker);
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(100);
    left = await pidsWithMarker(marker);
  }
  return left;
}
