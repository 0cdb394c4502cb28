import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { FailureType, refuse } from '../errors';
import { serviceName, versionName } from '../names';
import { ArtifactManifest, canonicalJson, StoredArtifact, VersionRecord, versionRecordSchema } from './manifest';

/**
 * Store layout: `<store>/sha256/<sha>.tar.gz` (content-addressed, read-only) and
 * `<store>/<service>/<version>.json` (which bundle a version is). Every write goes to a temporary name
 * in the target directory, is fsynced, then renamed or linked into place, so readers never see half a
 * file and a crash leaves at worst an orphaned temporary file.
 */

export function checkStoreNames(service: string, version: string): void {
  const s = serviceName.safeParse(service);
  if (!s.success) throw refuse(FailureType.InvalidInput, `service "${service}" ${s.error.issues[0]?.message ?? 'is invalid'}`);
  const v = versionName.safeParse(version);
  if (!v.success) throw refuse(FailureType.InvalidInput, `version "${version}" ${v.error.issues[0]?.message ?? 'is invalid'}`);
}

export function blobPath(storeDir: string, sha256: string): string {
  return path.resolve(storeDir, 'sha256', `${sha256}.tar.gz`);
}

function recordPath(storeDir: string, service: string, version: string): string {
  return path.resolve(storeDir, service, `${version}.json`);
}

export function tempName(dir: string, suffix: string): string {
  return path.join(dir, `.tmp-${process.pid}-${randomBytes(6).toString('hex')}${suffix}`);
}

/** A fresh temporary file name in the blob directory, on the same file system as the final name. */
export async function tempBlobPath(storeDir: string): Promise<string> {
  const dir = path.resolve(storeDir, 'sha256');
  await fs.mkdir(dir, { recursive: true });
  return tempName(dir, '.tar.gz');
}

export async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The record of `service@version` in a store directory, or null when there is none. */
export async function readVersionRecord(storeDir: string, service: string, version: string): Promise<VersionRecord | null> {
  const file = recordPath(storeDir, service, version);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`artifact record ${file} is not valid JSON (${(err as Error).message}); restore it from backup or remove it and rebuild ${service} ${version}`);
  }
  const parsed = versionRecordSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`artifact record ${file}: ${issue?.path.join('.') || '(root)'} ${issue?.message ?? 'is invalid'}; restore it from backup or remove it and rebuild ${service} ${version}`);
  }
  return parsed.data;
}

/** Refuses a version recorded from another source repository (or from one not recorded). */
export function otherSourceRefusal(service: string, version: string, recorded: string | undefined, repository: string) {
  const was = recorded ? `from repository ${recorded}` : 'without a record of its source repository (by an older release of the orchestrator)';
  return refuse(
    FailureType.ArtifactConflict,
    `${service} version ${version} is already stored, built ${was}, but this deploy builds it from repository ${repository}: ` +
      `an artifact is only reused for the repository and commit it was built from. Deploy from the recorded repository, ` +
      `or cut a new version; versions are immutable.`,
    { service, version, storedRepository: recorded ?? null, repository },
  );
}

export function versionConflict(service: string, version: string, stored: VersionRecord, built: { sha256: string; manifest: ArtifactManifest; repository: string }) {
  if (stored.repository !== built.repository) return otherSourceRefusal(service, version, stored.repository, built.repository);
  const sameCommit = stored.manifest.commit === built.manifest.commit;
  const cause = sameCommit
    ? `both from commit ${built.manifest.commit}, so the build settings changed or the build is not reproducible (do not embed build times; use SOURCE_DATE_EPOCH)`
    : `the stored one from commit ${stored.manifest.commit}, this one from commit ${built.manifest.commit} (was the tag moved?)`;
  return refuse(
    FailureType.ArtifactConflict,
    `${service} version ${version} is already stored with sha256 ${stored.sha256}, but this build produced ${built.sha256}: ` +
      `${cause}. Versions are immutable; cut a new version for the change.`,
    { service, version, storedSha256: stored.sha256, builtSha256: built.sha256 },
  );
}

/**
 * Moves a freshly written bundle into the store and records it as `service@version`. The version record
 * is created with link(2), which fails if it exists, so of two concurrent builds exactly one records the
 * version and the other compares against it.
 */
export async function storeArtifact(
  storeDir: string,
  tempBundle: string,
  built: { sha256: string; sizeBytes: number; manifest: ArtifactManifest; repository: string },
): Promise<StoredArtifact & { reused: boolean }> {
  const { service, version } = built.manifest;
  checkStoreNames(service, version);
  const existing = await readVersionRecord(storeDir, service, version);
  if (existing && (existing.sha256 !== built.sha256 || existing.repository !== built.repository)) {
    await fs.rm(tempBundle, { force: true });
    throw versionConflict(service, version, existing, built);
  }

  // Content-addressed: replacing an existing blob swaps equal bytes (and repairs a damaged copy).
  const finalBlob = blobPath(storeDir, built.sha256);
  await fs.chmod(tempBundle, 0o444);
  await fs.rename(tempBundle, finalBlob);
  await syncDir(path.dirname(finalBlob));
  const stored: StoredArtifact = { manifest: built.manifest, repository: built.repository, sha256: built.sha256, path: finalBlob, sizeBytes: built.sizeBytes };
  if (existing) return { ...stored, manifest: existing.manifest, reused: true };

  const written = await writeVersionRecord(storeDir, { manifest: built.manifest, repository: built.repository, sha256: built.sha256, sizeBytes: built.sizeBytes });
  if (written.created) return { ...stored, reused: false };
  const winner = written.record;
  if (winner.sha256 !== built.sha256 || winner.repository !== built.repository) throw versionConflict(service, version, winner, built);
  return { ...stored, manifest: winner.manifest, reused: true };
}

/**
 * Records `service@version` as `record` unless it is recorded already, then returns the recorded one. The
 * record is created with link(2), which fails if it exists, so of two concurrent writers (on one host or on
 * a shared file system) exactly one records the version.
 */
export async function writeVersionRecord(storeDir: string, record: VersionRecord): Promise<{ record: VersionRecord; created: boolean }> {
  const { service, version } = record.manifest;
  checkStoreNames(service, version);
  const finalRecord = recordPath(storeDir, service, version);
  const dir = path.dirname(finalRecord);
  await fs.mkdir(dir, { recursive: true });
  const tempRecord = tempName(dir, '.json');
  const handle = await fs.open(tempRecord, 'wx', 0o444);
  try {
    await handle.writeFile(canonicalJson(record), 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.link(tempRecord, finalRecord);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const winner = await readVersionRecord(storeDir, service, version);
    if (!winner) throw new Error(`artifact record ${finalRecord} exists but could not be read; retry`);
    return { record: winner, created: false };
  } finally {
    await fs.rm(tempRecord, { force: true });
  }
  await syncDir(dir);
  return { record, created: true };
}

/** The stored artifact of `service@version`, or null when that version was never built into this store. */
export async function findArtifact(storeDir: string, service: string, version: string): Promise<StoredArtifact | null> {
  checkStoreNames(service, version);
  const record = await readVersionRecord(storeDir, service, version);
  if (!record) return null;
  const file = blobPath(storeDir, record.sha256);
  const exists = await fs.stat(file).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      throw err;
    },
  );
  if (!exists) {
    throw refuse(
      FailureType.ArtifactConflict,
      `${service} version ${version} is recorded in ${storeDir} as sha256 ${record.sha256}, but ${file} is missing; build the same version again to restore it`,
    );
  }
  return { manifest: record.manifest, ...(record.repository ? { repository: record.repository } : {}), sha256: record.sha256, path: file, sizeBytes: record.sizeBytes };
}

export async function sha256OfFile(file: string): Promise<{ sha256: string; sizeBytes: number }> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  await pipeline(createReadStream(file), async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      hash.update(chunk);
      sizeBytes += chunk.length;
    }
  });
  return { sha256: hash.digest('hex'), sizeBytes };
}

/** Re-hashes the bundle; refuses when it is missing or its bytes no longer match the recorded digest. */
export async function verifyArtifact(a: StoredArtifact): Promise<void> {
  let actual: { sha256: string; sizeBytes: number };
  try {
    actual = await sha256OfFile(a.path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw refuse(
        FailureType.ArtifactConflict,
        `artifact ${a.path} of ${a.manifest.service} ${a.manifest.version} is missing; build the same version again to restore it`,
      );
    }
    throw err;
  }
  if (actual.sha256 !== a.sha256 || actual.sizeBytes !== a.sizeBytes) {
    throw refuse(
      FailureType.ArtifactConflict,
      `artifact ${a.path} of ${a.manifest.service} ${a.manifest.version} was modified: it hashes to ${actual.sha256} (${actual.sizeBytes} bytes), ` +
        `the store recorded ${a.sha256} (${a.sizeBytes} bytes); do not deploy it — build the same version again to restore it`,
    );
  }
}
