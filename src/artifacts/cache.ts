import { createReadStream } from 'node:fs';
import { FailureType, refuse } from '../errors';
import type { ArtifactStore } from './shared/types';
import { checkSha256 } from './shared/verify';
import { blobPath, sha256OfFile } from './store';

/**
 * Each worker keeps a local cache of the shared store in its data directory (<DEPLOY_DATA_DIR>/artifacts,
 * the store layout): stages that unpack an artifact read it from there, and fetch it by sha256 when it is
 * missing. Nothing enters the cache unverified.
 */

/**
 * The cached copy of blob `sha256`: reused when its bytes still hash to the name, otherwise fetched (again)
 * from the shared store. Null when the store does not hold it either.
 */
export async function cacheBlob(o: { store: ArtifactStore; cacheDir: string; sha256: string; onProgress?: (message: string) => void }): Promise<{ path: string; fetched: boolean } | null> {
  checkSha256(o.sha256);
  const file = blobPath(o.cacheDir, o.sha256);
  const cached = await sha256OfFile(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (cached?.sha256 === o.sha256) return { path: file, fetched: false };
  o.onProgress?.(
    cached
      ? `the cached copy of artifact ${o.sha256} is damaged (it hashes to ${cached.sha256}); fetching it again from ${o.store.location}`
      : `fetching artifact ${o.sha256} from ${o.store.location} into ${o.cacheDir}`,
  );
  if (!(await o.store.get(o.sha256, file))) return null;
  o.onProgress?.(`artifact ${o.sha256} cached (verified)`);
  return { path: file, fetched: true };
}

/** Like `cacheBlob`, for a stage after build: the artifact must exist, so its absence is a refusal naming both places. */
export async function requireCachedBlob(o: { store: ArtifactStore; cacheDir: string; sha256: string; what: string; onProgress?: (message: string) => void }): Promise<string> {
  const found = await cacheBlob(o);
  if (found) return found.path;
  throw refuse(
    FailureType.ArtifactConflict,
    `${o.what}: artifact ${o.sha256} is in neither ${o.store.location} nor this worker's cache ${o.cacheDir}; ` +
      `it was removed after the build stage, or the replica that built it keeps its artifacts elsewhere (every replica must use the same store: ` +
      `DEPLOY_ARTIFACT_STORE=postgres on one database, or filesystem with one shared DEPLOY_ARTIFACT_DIR). ` +
      `Deploy the version again: its build stage restores it from the recorded commit when the rebuild hashes to ${o.sha256}.`,
  );
}

/** Makes sure the shared store holds the cached blob (a version built before the store was shared, or a store restored from an older backup). */
export async function publishBlob(store: ArtifactStore, file: string, sha256: string): Promise<boolean> {
  if (await store.has(sha256)) return false;
  const { created } = await store.put(createReadStream(file), { expectedSha256: sha256 });
  return created;
}
