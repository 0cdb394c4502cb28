import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform } from 'node:stream';
import zlib from 'node:zlib';
import { FailureType, refuse } from '../errors';
import { EntryKind, normaliseRelativePath, resolveLinkTarget } from './paths';
import { END_OF_ARCHIVE, entryHeader, padding, TarEntry } from './tar-writer';

export const MANIFEST_FILE = 'deploy-manifest.json';

/** One entry of a bundle with where its bytes come from. */
export type BundleEntry = TarEntry & { source?: string; body?: Buffer };

/** Modes are normalised so the bundle does not depend on the umask or file system of the build machine. */
function normalisedMode(kind: EntryKind, fsMode: number): number {
  if (kind === 'directory') return 0o755;
  if (kind === 'symlink') return 0o777;
  return fsMode & 0o111 ? 0o755 : 0o644;
}

async function lstatOrNull(p: string) {
  try {
    return await fs.lstat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Collects the entries to pack from a checkout: each output (file, directory tree or symlink), the
 * migrations directory, and the directories above them. Everything is refused that would let the
 * bundle reach outside the checkout or carry anything but plain files, directories and internal links.
 */
export async function collectBundleEntries(
  checkout: string,
  outputs: string[],
  migrationsDir: string,
  mtime: number,
): Promise<BundleEntry[]> {
  const entries = new Map<string, BundleEntry>();
  const add = (entry: BundleEntry) => {
    if (!entries.has(entry.path)) entries.set(entry.path, entry);
  };

  const addTree = async (rel: string, what: string): Promise<void> => {
    const abs = path.join(checkout, rel);
    const st = await lstatOrNull(abs);
    if (!st) throw new Error(`unreachable: ${rel} vanished`);
    if (st.isSymbolicLink()) {
      add({ type: 'symlink', path: rel, mode: 0o777, mtime, linkTarget: await fs.readlink(abs), source: abs });
    } else if (st.isDirectory()) {
      if (rel !== '.') add({ type: 'directory', path: rel, mode: 0o755, mtime });
      const children = await fs.readdir(abs);
      for (const child of children) await addTree(rel === '.' ? child : `${rel}/${child}`, what);
    } else if (st.isFile()) {
      add({ type: 'file', path: rel, mode: normalisedMode('file', st.mode), mtime, size: st.size, source: abs });
    } else {
      throw refuse(
        FailureType.InvalidInput,
        `${what}: ${rel} is neither a file, a directory nor a symlink (sockets, fifos and devices cannot be bundled); remove it from the outputs`,
      );
    }
  };

  const addRoot = async (value: string, what: string, allowMissing: boolean): Promise<void> => {
    const checked = normaliseRelativePath(value);
    if (!checked.ok) throw refuse(FailureType.InvalidInput, `${what} "${value}" ${checked.reason}`);
    const rel = checked.path;
    // Every directory above the output must be a real directory of the checkout, never a link out of it.
    const parts = rel === '.' ? [] : rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const ancestor = parts.slice(0, i).join('/');
      const st = await lstatOrNull(path.join(checkout, ancestor));
      if (!st) break;
      if (!st.isDirectory()) {
        throw refuse(
          FailureType.InvalidInput,
          `${what} "${value}": ${ancestor} is ${st.isSymbolicLink() ? 'a symlink' : 'not a directory'}; name a path whose parents are real directories of the checkout`,
        );
      }
      add({ type: 'directory', path: ancestor, mode: 0o755, mtime });
    }
    const st = await lstatOrNull(path.join(checkout, rel));
    if (!st) {
      if (allowMissing) return;
      throw refuse(
        FailureType.InvalidInput,
        `${what} "${value}" does not exist after the build; make the build command write it or remove it from the outputs`,
      );
    }
    await addTree(rel, what);
  };

  for (const output of outputs) await addRoot(output, 'output', false);

  const migrations = normaliseRelativePath(migrationsDir);
  if (!migrations.ok) throw refuse(FailureType.InvalidInput, `migrations directory "${migrationsDir}" ${migrations.reason}`);
  const migrationsStat = await lstatOrNull(path.join(checkout, migrations.path));
  if (migrationsStat && !migrationsStat.isDirectory()) {
    throw refuse(
      FailureType.InvalidInput,
      `migrations directory "${migrationsDir}" is ${migrationsStat.isSymbolicLink() ? 'a symlink' : 'not a directory'} in the checkout; point it at a real directory`,
    );
  }
  await addRoot(migrations.path, 'migrations directory', true);

  if (entries.has(MANIFEST_FILE)) {
    throw refuse(
      FailureType.InvalidInput,
      `output ${MANIFEST_FILE} collides with the bundle's own manifest; rename that file or leave it out of the outputs`,
    );
  }

  const kindOf = (p: string) => entries.get(p)?.type;
  for (const entry of entries.values()) {
    if (entry.type !== 'symlink') continue;
    const resolved = resolveLinkTarget(entry.path, entry.linkTarget, kindOf, true);
    if (!resolved.ok) {
      throw refuse(FailureType.InvalidInput, `output symlink ${entry.path} ${resolved.reason}`);
    }
    if (!entries.has(resolved.path) && resolved.path !== '.') {
      throw refuse(
        FailureType.InvalidInput,
        `output symlink ${entry.path} points to ${resolved.path}, which is not part of the bundle; add it to the outputs or replace the link with a copy`,
      );
    }
  }
  return [...entries.values()].sort(byPath);
}

function byPath(a: BundleEntry, b: BundleEntry): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

async function* tarStream(entries: BundleEntry[]): AsyncGenerator<Buffer> {
  for (const entry of entries) {
    yield entryHeader(entry);
    if (entry.type !== 'file') continue;
    if (entry.body) {
      yield entry.body;
    } else if (entry.source) {
      let written = 0;
      for await (const chunk of createReadStream(entry.source)) {
        const buf = chunk as Buffer;
        written += buf.length;
        if (written > entry.size) break;
        yield buf;
      }
      if (written !== entry.size) {
        throw new Error(`${entry.path} changed size while it was being packed (expected ${entry.size} bytes); retry the build`);
      }
    }
    yield padding(entry.size);
  }
  yield END_OF_ARCHIVE;
}

/**
 * Writes the entries plus the manifest as a gzip tarball to `destFile` (which must not exist) and
 * returns its sha256. Node's gzip header carries no file name and a zero mtime, so equal entries
 * give equal bytes (for one zlib version and level).
 */
export async function writeBundle(
  entries: BundleEntry[],
  manifestJson: string,
  mtime: number,
  destFile: string,
): Promise<{ sha256: string; sizeBytes: number }> {
  const body = Buffer.from(manifestJson, 'utf8');
  const manifestEntry: BundleEntry = { type: 'file', path: MANIFEST_FILE, mode: 0o644, mtime, size: body.length, body };
  const all = [...entries, manifestEntry].sort(byPath);

  const hash = createHash('sha256');
  let sizeBytes = 0;
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      sizeBytes += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(
    Readable.from(tarStream(all)),
    zlib.createGzip({ level: 9 }),
    hashing,
    createWriteStream(destFile, { flags: 'wx', mode: 0o644 }),
  );
  // Durable before it is renamed into the store: a crash must not leave a named but empty bundle.
  const file = await fs.open(destFile, 'r');
  try {
    await file.sync();
  } finally {
    await file.close();
  }
  return { sha256: hash.digest('hex'), sizeBytes };
}
