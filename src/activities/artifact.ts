import { requireCachedBlob } from '../artifacts';
import type { ArtifactRef } from '../workflows/types';
import { artifactCacheDir, type ActivityDeps } from './context';

/**
 * The artifact as a file on this worker: the build stage may have run on another replica, so the path it
 * returned is not used; the bytes are taken from this worker's cache, fetched by sha256 from the shared store
 * when missing, and verified. An externally built version (no build section) has no file.
 */
export async function localArtifactPath(deps: ActivityDeps, artifact: ArtifactRef, what: string, progress?: (message: string) => void): Promise<string> {
  if (!artifact.path) return '';
  return requireCachedBlob({ store: deps.artifacts, cacheDir: artifactCacheDir(deps), sha256: artifact.sha256, what, onProgress: progress });
}
