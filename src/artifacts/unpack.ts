import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tar from 'tar';
import { FailureType, refuse } from '../errors';
import { EntryKind, resolveLinkTarget } from './paths';

interface ListedEntry {
  path: string;
  kind: EntryKind;
  linkTarget: string;
}

const KINDS: Record<string, EntryKind> = {
  File: 'file',
  OldFile: 'file',
  ContiguousFile: 'file',
  Directory: 'directory',
  SymbolicLink: 'symlink',
};

function refuseEntry(artifactPath: string, entryPath: string, problem: string) {
  return refuse(
    FailureType.InvalidInput,
    `artifact ${artifactPath}: entry "${entryPath}" ${problem}; it was not produced by this artifact store — do not deploy it, rebuild the version instead`,
  );
}

/** The entry's path without "./" and trailing slashes, or a reason it may not be unpacked at all. */
function cleanEntryPath(raw: string): { ok: true; path: string } | { ok: false; reason: string } {
  if (raw.includes('\0')) return { ok: false, reason: 'contains a NUL byte' };
  if (raw.startsWith('/') || /^[A-Za-z]:/.test(raw)) return { ok: false, reason: 'is an absolute path' };
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return { ok: false, reason: 'escapes the destination directory (contains "..")' };
  return { ok: true, path: parts.join('/') };
}

/** Reads every header first, so a bad entry anywhere refuses the whole bundle before anything is written. */
async function listEntries(artifactPath: string): Promise<Map<string, ListedEntry>> {
  const entries = new Map<string, ListedEntry>();
  let problem: Error | null = null;
  await tar.t({
    file: artifactPath,
    strict: true,
    onReadEntry: (entry) => {
      if (problem) return;
      const cleaned = cleanEntryPath(entry.path);
      if (!cleaned.ok) return void (problem = refuseEntry(artifactPath, entry.path, cleaned.reason));
      const kind = KINDS[entry.type];
      if (!kind) return void (problem = refuseEntry(artifactPath, entry.path, `is a ${entry.type}, which bundles never contain`));
      if (cleaned.path === '') {
        if (kind === 'directory') return; // "./": the destination itself
        return void (problem = refuseEntry(artifactPath, entry.path, 'has an empty path'));
      }
      if (entries.has(cleaned.path)) return void (problem = refuseEntry(artifactPath, entry.path, 'appears twice'));
      entries.set(cleaned.path, { path: cleaned.path, kind, linkTarget: entry.linkpath ?? '' });
    },
  });
  if (problem) throw problem;

  const kindOf = (p: string) => entries.get(p)?.kind;
  for (const entry of entries.values()) {
    const parts = entry.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const ancestor = parts.slice(0, i).join('/');
      const kind = kindOf(ancestor);
      if (kind && kind !== 'directory') {
        throw refuseEntry(artifactPath, entry.path, `lies under ${ancestor}, which is a ${kind}, not a directory`);
      }
    }
    if (entry.kind === 'symlink') {
      const resolved = resolveLinkTarget(entry.path, entry.linkTarget, kindOf, false);
      if (!resolved.ok) throw refuseEntry(artifactPath, entry.path, `is a symlink that ${resolved.reason}`);
    }
  }
  return entries;
}

/**
 * Unpacks a bundle into `destDir` (created if absent; must be empty). Refused before anything is
 * written: entries that escape destDir (absolute or "..") or sit under a symlink, symlinks pointing
 * outside destDir, hard links, devices and duplicates.
 */
export async function unpackArtifact(artifactPath: string, destDir: string): Promise<void> {
  const listed = await listEntries(artifactPath);

  await fs.mkdir(destDir, { recursive: true });
  const present = await fs.readdir(destDir);
  if (present.length > 0) {
    throw refuse(
      FailureType.InvalidInput,
      `cannot unpack ${artifactPath} into ${destDir}: the directory is not empty (${present.slice(0, 3).join(', ')}…); unpack into a new directory`,
    );
  }

  // The archive is read a second time; anything not seen in the first pass (the file changed) is skipped and reported.
  const unexpected: string[] = [];
  await tar.x({
    file: artifactPath,
    cwd: path.resolve(destDir),
    strict: true,
    preservePaths: false,
    preserveOwner: false,
    filter: (entryPath, entry) => {
      const cleaned = cleanEntryPath(entryPath);
      if (!cleaned.ok) return void unexpected.push(entryPath), false;
      if (cleaned.path === '') return false;
      const known = listed.get(cleaned.path);
      const type = 'type' in entry ? KINDS[String(entry.type)] : undefined;
      const linkTarget = 'linkpath' in entry ? (entry.linkpath ?? '') : '';
      if (!known || known.kind !== type || known.linkTarget !== linkTarget) {
        unexpected.push(entryPath);
        return false;
      }
      return true;
    },
  });
  if (unexpected.length > 0) {
    throw refuseEntry(artifactPath, unexpected[0]!, 'changed between validation and unpacking');
  }
}
