import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { FailureType, refuse } from '../../errors';
import type { LocalLayout } from './config';
import { readJsonFile, writeFileAtomic } from '../transition-state';
import { releaseIdFor } from '../release-id';
import type { CurrentRelease, ReleaseToDeploy } from '../types';

/** Written into each release directory before it gets its final name, so a named directory is complete. */
const RELEASE_METADATA_FILE = '.deploy-release.json';
const STAGING_PREFIX = '.staging-';

export type Unpacker = (artifactPath: string, destDir: string) => Promise<void>;

export function releaseDir(layout: LocalLayout, releaseId: string): string {
  return path.join(layout.releasesDir, releaseId);
}

async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

export async function readReleaseMetadata(layout: LocalLayout, releaseId: string): Promise<CurrentRelease | null> {
  return readJsonFile<CurrentRelease>(path.join(releaseDir(layout, releaseId), RELEASE_METADATA_FILE));
}

/**
 * Unpacks the artifact into releases/<releaseId>/ through a temporary directory and a rename, so a crash
 * never leaves a half-unpacked release under its real name. An existing release directory is reused.
 */
export async function stageRelease(
  layout: LocalLayout,
  release: ReleaseToDeploy,
  unpack: Unpacker,
  report: (msg: string) => void,
): Promise<CurrentRelease> {
  const releaseId = releaseIdFor(release.version, release.sha256);
  const meta: CurrentRelease = { releaseId, version: release.version, sha256: release.sha256 };
  const dir = releaseDir(layout, releaseId);

  const existing = await readReleaseMetadata(layout, releaseId);
  if (existing) {
    if (existing.sha256 !== release.sha256) {
      throw refuse(
        FailureType.ArtifactConflict,
        `release directory ${dir} holds sha256 ${existing.sha256}, not ${release.sha256}; delete it and deploy again`,
      );
    }
    report(`release ${releaseId} already staged in ${dir}; reusing it`);
    return meta;
  }
  if (await pathExists(dir)) {
    throw refuse(
      FailureType.ArtifactConflict,
      `release directory ${dir} exists but has no ${RELEASE_METADATA_FILE} (not made by this target); move it away and deploy again`,
    );
  }

  if (!release.artifactPath) {
    throw refuse(FailureType.InvalidInput, `release ${releaseId} has no artifact (the spec has no build section); the local target runs built artifacts: add a build section`);
  }
  const actualSha = await fileSha256(release.artifactPath).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') {
      throw refuse(FailureType.InvalidInput, `artifact ${release.artifactPath} does not exist; build the release first`);
    }
    throw err;
  });
  if (actualSha !== release.sha256) {
    throw refuse(
      FailureType.ArtifactConflict,
      `artifact ${release.artifactPath} has sha256 ${actualSha}, but the release says ${release.sha256}; rebuild the artifact`,
    );
  }

  await fs.mkdir(layout.releasesDir, { recursive: true });
  await removeStagingDirs(layout, `${STAGING_PREFIX}${releaseId}-`);
  const staging = await fs.mkdtemp(path.join(layout.releasesDir, `${STAGING_PREFIX}${releaseId}-`));
  const started = Date.now();
  try {
    report(`unpacking ${path.basename(release.artifactPath)} for release ${releaseId}`);
    await unpack(release.artifactPath, staging);
    await writeFileAtomic(path.join(staging, RELEASE_METADATA_FILE), JSON.stringify(meta, null, 2) + '\n');
    await fs.rename(staging, dir);
    report(`staged release ${releaseId} in ${Date.now() - started} ms`);
  } catch (err) {
    await fs.rm(staging, { recursive: true, force: true });
    throw err;
  }
  return meta;
}

async function pathExists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

async function removeStagingDirs(layout: LocalLayout, prefix: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(layout.releasesDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const name of names.filter((n) => n.startsWith(prefix))) {
    await fs.rm(path.join(layout.releasesDir, name), { recursive: true, force: true });
  }
}

/** The release `current` points to, or null when there is no `current` link. */
export async function readCurrentRelease(layout: LocalLayout): Promise<CurrentRelease | null> {
  let target: string;
  try {
    target = await fs.readlink(layout.currentLink);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'EINVAL') {
      throw new Error(`${layout.currentLink} is not a symlink; move it away so the target can manage it`);
    }
    throw err;
  }
  const releaseId = path.basename(target);
  const meta = await readReleaseMetadata(layout, releaseId);
  if (!meta) {
    throw new Error(
      `${layout.currentLink} points to ${target}, which is not a complete release; deploy or roll back to a release that exists`,
    );
  }
  return meta;
}

/**
 * Points `current` at the release with a symlink made under a temporary name and renamed over `current`:
 * rename is atomic, so readers see the old or the new release, never no release. Returns false when
 * `current` already pointed there.
 */
export async function swapCurrent(layout: LocalLayout, releaseId: string): Promise<boolean> {
  const target = path.join(path.basename(layout.releasesDir), releaseId);
  const existing = await fs.readlink(layout.currentLink).catch(() => null);
  if (existing === target) return false;
  const tmp = path.join(layout.root, `.current-${process.pid}-${randomBytes(4).toString('hex')}`);
  await fs.symlink(target, tmp);
  try {
    await fs.rename(tmp, layout.currentLink);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  return true;
}

export async function removeCurrent(layout: LocalLayout): Promise<void> {
  await fs.rm(layout.currentLink, { force: true });
}

/** Marks a release as just activated; pruning keeps the most recently activated ones. */
export async function touchRelease(layout: LocalLayout, releaseId: string): Promise<void> {
  const now = new Date();
  await fs.utimes(releaseDir(layout, releaseId), now, now);
}

/**
 * Deletes release directories (and their logs) beyond the `keep` most recently activated, never one in
 * `protectedIds` (current and previous), plus staging leftovers of crashed deploys.
 */
export async function pruneReleases(layout: LocalLayout, keep: number, protectedIds: string[]): Promise<string[]> {
  await removeStagingDirs(layout, STAGING_PREFIX);
  const names = (await fs.readdir(layout.releasesDir)).filter((n) => !n.startsWith('.'));
  const releases: { name: string; mtimeMs: number }[] = [];
  for (const name of names) {
    const st = await fs.lstat(path.join(layout.releasesDir, name));
    if (st.isDirectory()) releases.push({ name, mtimeMs: st.mtimeMs });
  }
  releases.sort((a, b) => b.mtimeMs - a.mtimeMs || b.name.localeCompare(a.name));
  const removed: string[] = [];
  for (const { name } of releases.slice(keep)) {
    if (protectedIds.includes(name)) continue;
    await fs.rm(path.join(layout.releasesDir, name), { recursive: true, force: true });
    await fs.rm(path.join(layout.logsDir, `${name}.log`), { force: true });
    removed.push(name);
  }
  return removed;
}
