import { promises as fs } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { processAlive } from './processes';

/**
 * An exclusive lock on one directory's work, held as a file created with O_EXCL that names its holder's
 * pid. Two workers changing the same front door at once would fight over its servers (and could start two
 * haproxy processes); a holder that died is noticed by its pid and its lock taken over.
 */
export async function withFileLock<T>(
  lockFile: string,
  o: { timeoutMs: number; what: string },
  run: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    try {
      const handle = await fs.open(lockFile, 'wx', 0o600);
      try {
        await handle.writeFile(`${process.pid}\n`, 'utf8');
      } finally {
        await handle.close();
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number.parseInt((await fs.readFile(lockFile, 'utf8').catch(() => '')).trim(), 10);
    // An empty file is a holder between create and write: wait for it like a live one.
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && !(await processAlive(holder))) {
      await fs.rm(lockFile, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${o.what} is locked by pid ${Number.isNaN(holder) ? '(unknown)' : holder} (${lockFile}) for more than ${o.timeoutMs} ms; ` +
          'another deploy is changing it; retry when it is done, or remove the lock file if that process is gone',
      );
    }
    await sleep(50);
  }
  try {
    return await run();
  } finally {
    await fs.rm(lockFile, { force: true });
  }
}
