import { FailureType, refuse } from '../errors';
import { buildArtifact, type BuildOptions } from './build';
import { cacheBlob, publishBlob } from './cache';
import type { StoredArtifact, VersionRecord } from './manifest';
import { checkProvenance } from './provenance';
import type { ArtifactStore } from './shared/types';
import { blobPath, readVersionRecord, sha256OfFile, versionConflict } from './store';

export interface ResolveArtifactOptions extends Omit<BuildOptions, 'storeDir' | 'commit' | 'expect'> {
  /** The artifact store every replica shares. */
  store: ArtifactStore;
  /** This worker's cache of it (<DEPLOY_DATA_DIR>/artifacts). */
  cacheDir: string;
  /**
   * A rollback: run exactly the bytes that ran before. The recorded artifact is used whatever the source
   * repository says now, and a version without one is never built afresh.
   */
  exact: boolean;
  /** The sha256 the release registry recorded for this version when it ran here (rollbacks). */
  registrySha256?: string | null;
}

export type ResolvedArtifact = StoredArtifact & { reused: boolean; rebuilt: boolean };

/**
 * The build stage on any replica: the artifact of `service@version` in this worker's cache and in the shared
 * store, from wherever it is.
 *
 * - Recorded in the store (or, from before the store was shared, in this cache): reused, fetched into the
 *   cache by sha256 when missing here, published to the store when missing there.
 * - Recorded, but its bytes are nowhere: rebuilt from the recorded commit (builds are reproducible) and used
 *   only when the rebuild hashes to the recorded sha256; otherwise refused, naming both.
 * - Not recorded: built, then published. A rollback is never built afresh: it is rebuilt only when the
 *   registry recorded the sha256 that ran, and used only when the rebuild matches it.
 */
export async function resolveArtifact(o: ResolveArtifactOptions): Promise<ResolvedArtifact> {
  const progress = (message: string) => o.onProgress?.({ phase: 'store', message });
  const { service, version } = o;
  const record = (await o.store.findVersion(service, version)) ?? (await adoptCachedRecord(o));

  if (record) {
    if (o.registrySha256 && o.registrySha256 !== record.sha256) {
      throw refuse(
        FailureType.RollbackRefused,
        `rollback to ${version}: the release registry says ${service} ${version} ran here as artifact ${o.registrySha256}, but ${o.store.location} records the version as ${record.sha256}; ` +
          `a rollback must run the exact bytes that ran before, and these two disagree. Compare the registry (deployctl history ${service}) with the store's record, or deploy a new version.`,
        { registrySha256: o.registrySha256, recordedSha256: record.sha256 },
      );
    }
    if (!o.exact) await checkProvenance(record, service, version, o.repository);
    const cached = await cacheBlob({ store: o.store, cacheDir: o.cacheDir, sha256: record.sha256, onProgress: progress });
    if (cached) {
      if (await publishBlob(o.store, cached.path, record.sha256)) progress(`published artifact ${record.sha256} to ${o.store.location}`);
      return { ...toStored(record, cached.path), reused: true, rebuilt: false };
    }
    progress(`artifact ${record.sha256} of ${service} ${version} is in neither ${o.store.location} nor this worker's cache; rebuilding it from commit ${record.manifest.commit}`);
    return rebuild(o, { sha256: record.sha256, commit: record.manifest.commit, recordedAs: `recorded as artifact ${record.sha256} (commit ${record.manifest.commit})` });
  }

  if (o.exact) {
    if (!o.registrySha256) {
      throw refuse(
        FailureType.RollbackRefused,
        `rollback to ${version}: no artifact of ${service} ${version} is recorded in ${o.store.location} or in this worker's cache ${o.cacheDir}, ` +
          `and the release registry names no sha256 for it, so a rebuild could not be checked against the bytes that ran before; rebuild is refused. Deploy a new version instead.`,
      );
    }
    progress(`${service} ${version} is recorded nowhere but in the release registry (artifact ${o.registrySha256}); rebuilding it from version ${version}`);
    return rebuild(o, { sha256: o.registrySha256, recordedAs: `recorded by the release registry as artifact ${o.registrySha256}` });
  }

  const built = await buildArtifact({ ...o, storeDir: o.cacheDir });
  const published = await publish(o, built);
  return { ...published, reused: built.reused, rebuilt: false };
}

/** A version recorded in this worker's cache but not in the store (built before the store was shared): published, when its bytes are intact. */
async function adoptCachedRecord(o: ResolveArtifactOptions): Promise<VersionRecord | null> {
  const local = await readVersionRecord(o.cacheDir, o.service, o.version);
  if (!local) return null;
  const file = blobPath(o.cacheDir, local.sha256);
  const actual = await sha256OfFile(file).catch(() => null);
  if (actual?.sha256 !== local.sha256) return null;
  await publishBlob(o.store, file, local.sha256);
  const { record } = await o.store.recordVersion(local);
  o.onProgress?.({ phase: 'store', message: `published ${o.service} ${o.version} (artifact ${record.sha256}) from this worker's cache to ${o.store.location}` });
  return record;
}

/** Rebuilds a recorded artifact and keeps it only when it hashes to the recorded sha256. */
async function rebuild(o: ResolveArtifactOptions, want: { sha256: string; commit?: string; recordedAs: string }): Promise<ResolvedArtifact> {
  const from = want.commit ? `commit ${want.commit}` : `version ${o.version} as it resolves now`;
  const built = await buildArtifact({
    ...o,
    storeDir: o.cacheDir,
    ...(want.commit ? { commit: want.commit } : {}),
    expect: {
      sha256: want.sha256,
      refusal: (actual) =>
        refuse(
          o.exact ? FailureType.RollbackRefused : FailureType.ArtifactConflict,
          `${o.exact ? `rollback to ${o.version}` : `${o.service} ${o.version}`}: its artifact is in neither ${o.store.location} nor this worker's cache, ${want.recordedAs}; ` +
            `rebuilt from ${from} it hashes to ${actual}, not ${want.sha256}, so the rebuild is refused: only the recorded bytes may run. ` +
            `The build is not reproducible or its inputs changed (toolchain, dependencies${want.commit ? '' : ', a moved tag'}); restore artifact ${want.sha256} into the store, or deploy a new version.`,
          { recordedSha256: want.sha256, rebuiltSha256: actual },
        ),
    },
  });
  const published = await publish(o, built);
  o.onProgress?.({ phase: 'store', message: `rebuilt ${o.service} ${o.version}: artifact ${built.sha256} matches the recorded one` });
  return { ...published, reused: false, rebuilt: true };
}

/** Puts a bundle built into this worker's cache into the shared store and records its version there (the store's record wins). */
async function publish(o: ResolveArtifactOptions, built: StoredArtifact): Promise<StoredArtifact> {
  await publishBlob(o.store, built.path, built.sha256);
  const repository = built.repository ?? '';
  const { record, created } = await o.store.recordVersion({ manifest: built.manifest, repository: built.repository, sha256: built.sha256, sizeBytes: built.sizeBytes });
  // A rollback's rebuild is judged by its bytes alone (it may come from where the repository lives now).
  if (!created && (record.sha256 !== built.sha256 || (!o.exact && record.repository !== built.repository))) {
    throw versionConflict(o.service, o.version, record, { sha256: built.sha256, manifest: built.manifest, repository });
  }
  o.onProgress?.({ phase: 'store', message: `${o.service} ${o.version} is artifact ${built.sha256} in ${o.store.location}` });
  return { ...built, manifest: record.manifest };
}

function toStored(record: VersionRecord, file: string): StoredArtifact {
  return { manifest: record.manifest, ...(record.repository ? { repository: record.repository } : {}), sha256: record.sha256, path: file, sizeBytes: record.sizeBytes };
}
