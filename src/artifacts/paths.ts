import path from 'node:path';

/**
 * Checks a user-supplied relative path (an output or the migrations directory) lexically and returns
 * it normalised with forward slashes ('.' for the root itself), or a reason it is refused.
 */
export function normaliseRelativePath(value: string): { ok: true; path: string } | { ok: false; reason: string } {
  if (typeof value !== 'string' || value.trim() === '') return { ok: false, reason: 'is empty' };
  if (value.includes('\0')) return { ok: false, reason: 'contains a NUL byte' };
  if (path.posix.isAbsolute(value) || path.win32.isAbsolute(value)) {
    return { ok: false, reason: 'is absolute; give a path relative to the repository root' };
  }
  const normalised = path.posix.normalize(value.replace(/\\/g, '/')).replace(/\/+$/, '');
  if (normalised === '..' || normalised.startsWith('../')) {
    return { ok: false, reason: 'leaves the checkout; give a path inside the repository' };
  }
  return { ok: true, path: normalised === '' ? '.' : normalised };
}

export type EntryKind = 'directory' | 'file' | 'symlink';

/**
 * Resolves a symlink's target against the link's own directory, inside a tree whose entries are known.
 * Refused: absolute targets, targets that climb above the root, and targets that pass through another
 * symlink (whose real location a lexical check cannot know). `intermediateMustBeDirectory` additionally
 * demands that every directory walked through is an entry of the tree, so the link cannot dangle.
 */
export function resolveLinkTarget(
  linkPath: string,
  target: string,
  kindOf: (p: string) => EntryKind | undefined,
  intermediateMustBeDirectory: boolean,
): { ok: true; path: string } | { ok: false; reason: string } {
  if (target === '') return { ok: false, reason: 'has an empty target' };
  if (path.posix.isAbsolute(target) || path.win32.isAbsolute(target)) {
    return { ok: false, reason: `points to the absolute path ${target}; use a relative target inside the bundle` };
  }
  const stack = path.posix.dirname(linkPath) === '.' ? [] : path.posix.dirname(linkPath).split('/');
  const parts = target.split('/').filter((p) => p !== '' && p !== '.');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part === '..') {
      if (stack.length === 0) return { ok: false, reason: `points outside the bundle (${target})` };
      stack.pop();
      continue;
    }
    stack.push(part);
    if (i === parts.length - 1) break;
    const kind = kindOf(stack.join('/'));
    if (kind === 'symlink') {
      return { ok: false, reason: `points through another symlink (${stack.join('/')}); link to the real path instead` };
    }
    if (intermediateMustBeDirectory && kind !== 'directory') {
      return { ok: false, reason: `points to ${target}, whose directory ${stack.join('/')} is not part of the bundle` };
    }
  }
  return { ok: true, path: stack.length === 0 ? '.' : stack.join('/') };
}
