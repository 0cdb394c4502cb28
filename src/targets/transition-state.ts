import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { sameRelease } from './release-id';
import type { CurrentRelease } from './types';

/**
 * The last transition a target started: written BEFORE anything changes, so that a retry after a crash
 * (between swap and start, or after the deploy command ran) still knows what was current before.
 */
export interface TransitionState {
  previous: CurrentRelease | null;
  next: CurrentRelease | null;
  /** Set once the transition finished (process started / commands succeeded). */
  completed: boolean;
  startedAt: string;
}

/** Write-then-rename so a reader never sees half a file, even after a crash mid-write. */
export async function writeFileAtomic(file: string, content: string): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}-${randomBytes(4).toString('hex')}`);
  const handle = await fs.open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(content, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, file);
}

export async function readJsonFile<T>(file: string): Promise<T | null> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`${file} is not valid JSON; delete it if no deploy is in progress, then retry`);
  }
}

export function readTransitionState(file: string): Promise<TransitionState | null> {
  return readJsonFile<TransitionState>(file);
}

export function writeTransitionState(file: string, state: TransitionState): Promise<void> {
  return writeFileAtomic(file, JSON.stringify(state, null, 2) + '\n');
}

/**
 * What `next` replaces. The recorded `previous` wins while the transition to `next` is unfinished (a crash
 * between swap and start) or finished with `next` still current (a retry of a deploy that completed);
 * otherwise something changed since, and the current release is what `next` replaces.
 */
export function previousFor(
  next: CurrentRelease,
  current: CurrentRelease | null,
  state: TransitionState | null,
): CurrentRelease | null {
  if (state && sameRelease(state.next, next) && (!state.completed || sameRelease(current, next))) {
    return state.previous;
  }
  return current;
}

/** A transition to `next` was started and not finished: it must be carried out again, not skipped. */
export function isUnfinished(next: CurrentRelease, state: TransitionState | null): boolean {
  return state !== null && sameRelease(state.next, next) && !state.completed;
}
