import { promises as fs } from 'node:fs';
import path from 'node:path';
import { FailureType, refuse } from '../errors';

/**
 * Path confinement: what a spec names must stay inside the directories the worker's configuration allows.
 * Symlinks are followed (a link inside the root that points outside is outside), and a path that does
 * not exist yet is judged by its nearest existing ancestor.
 */
export async function realpathOfNearest(p: string): Promise<string> {
  const missing: string[] = [];
  let current = path.resolve(p);
  for (;;) {
    try {
      return path.join(await fs.realpath(current), ...missing.reverse());
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ENOTDIR') throw err;
      const parent = path.dirname(current);
      if (parent === current) return path.resolve(p);
      missing.push(path.basename(current));
      current = parent;
    }
  }
}

export function isInside(child: string, root: string): boolean {
  const relative = path.relative(root, child);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/** Refuses (non-retryably) `p` unless it resolves inside one of `roots`; names the field and the roots. */
export async function confine(field: string, p: string, roots: readonly string[], what: string): Promise<string> {
  const real = await realpathOfNearest(p);
  const realRoots = await Promise.all(roots.map((r) => realpathOfNearest(r)));
  if (!realRoots.some((root) => isInside(real, root))) {
    throw refuse(
      FailureType.PathOutsideRoots,
      `${field}: ${p} resolves outside ${what} (${realRoots.join(', ')}); move it inside, or widen the worker's ${what === 'the spec root' ? 'DEPLOY_SPEC_ROOT' : 'DEPLOY_HOST_ROOTS'}`,
    );
  }
  return real;
}
