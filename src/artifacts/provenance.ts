import { FailureType, refuse } from '../errors';
import { resolveRevision, sourceIdentity } from './git';
import type { StoredArtifact } from './manifest';
import { findArtifact, otherSourceRefusal } from './store';

/**
 * The stored artifact of `service@version` when it may be reused for a deploy from `repository`: it was
 * built from that repository, and the version still names the commit it was built from (a tag is
 * re-resolved now). Null when the version was never stored. Refuses, non-retryably, when the store holds
 * the version from another repository or the tag has moved since, naming both.
 */
export async function findReusableArtifact(storeDir: string, service: string, version: string, repository: string): Promise<StoredArtifact | null> {
  const stored = await findArtifact(storeDir, service, version);
  if (!stored) return null;
  const source = await sourceIdentity(repository);
  if (stored.repository !== source) throw otherSourceRefusal(service, version, stored.repository, source);
  const commit = await resolveRevision(repository, version);
  if (commit !== stored.manifest.commit) {
    throw refuse(
      FailureType.ArtifactConflict,
      `${service} version ${version} was built from commit ${stored.manifest.commit}, but in repository ${source} it now names commit ${commit} ` +
        `(was the tag moved?). Versions are immutable: move the tag back to ${stored.manifest.commit}, or cut a new version for commit ${commit}.`,
      { service, version, storedCommit: stored.manifest.commit, currentCommit: commit, repository: source },
    );
  }
  return stored;
}
