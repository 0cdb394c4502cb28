import { promises as fs } from 'node:fs';

// One atomic write for the whole worker: the targets' (write-then-rename, fsync before the rename).
export { writeFileAtomic } from '../targets/transition-state';

/** The file's text, or null when it does not exist. */
export async function readTextFile(file: string): Promise<string | null> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
