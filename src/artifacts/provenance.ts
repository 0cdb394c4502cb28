import { FailureType, refuse } from '../errors';
import { resolveRevision, sourceIdentity } from './git';
import type { StoredArtifact, VersionRecord } from './manifest';
import { findArtifact, otherSourceRefusal } from './store';

/**
 * Refuses, non-retryably, to reuse the recorded `service@version` for a deploy from `repository` unless it
 * was built from that repository and the version still names the commit it was built from (a tag is
 * re-resolved now), naming both.
 */
export async function checkProvenance(record: Pick<VersionRecord, 'repository' | 'manifest'>, service: string, version: string, repository: string): Promise<void> {
  const source = await sourceIdentity(repository);
  if (record.repository !== source) throw otherSourceRefusal(service, version, record.repository, source);
  const commit = await resolveRevision(repository, version);
  if (commit !== record.manifest.commit) {
    throw refuse(
      FailureType.ArtifactConflict,
      `${service} version ${version} was built from commit ${record.manifest.commit}, but in repository ${source} it now names commit ${commit} ` +
        `(was the tag moved?). Versions are immutable: move the tag back to ${record.manifest.commit}, or cut a new version for commit ${commit}.`,
      { service, version, storedCommit: record.manifest.commit, currentCommit: commit, repository: source },
    );
  }
}

/**
 * The stored artifact of `service@version` when it may be reused for a deploy from `repository` (see
 * `checkProvenance`). Null when the version was never stored.
 */
export async function findReusableArtifact(storeDir: string, service: string, version: string, repository: string): Promise<StoredArtifact | null> {
  const stored = await findArtifact(storeDir, service, version);
  if (!stored) return null;
  await checkProvenance(stored, service, version, repository);
  return stored;
}
