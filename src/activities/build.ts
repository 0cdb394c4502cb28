import { createHash } from 'node:crypto';
import path from 'node:path';
import { cacheBlob, resolveArtifact, type StoredArtifact } from '../artifacts';
import { FailureType, refuse } from '../errors';
import type { ArtifactRef, DeployPlan } from '../workflows/types';
import { artifactCacheDir, withHeartbeat, workerDataDir, type ActivityDeps } from './context';

/** The artifact reference of a spec without a build section. */
export const EXTERNAL_ARTIFACT = 'external';

export function toArtifactRef(a: StoredArtifact, reused: boolean): ArtifactRef {
  return {
    sha256: a.sha256,
    path: a.path,
    sizeBytes: a.sizeBytes,
    commit: a.manifest.commit,
    reused,
    migrations: a.manifest.migrations,
    requiredConfig: a.manifest.requiredConfig,
  };
}

/**
 * Build = the version's source revision → an immutable, content-addressed bundle in the artifact store every
 * replica shares (and in this worker's cache). A version that was built before (a rollback, a redeploy, a
 * retry after a crash, a build on another replica) reuses the stored bytes, when its recorded source
 * repository and commit still match; bytes that are gone everywhere are rebuilt from the recorded commit and
 * used only when they hash to the recorded sha256. `path` in the result is this worker's cached copy: later
 * stages, on whichever replica, fetch the artifact by its sha256.
 */
export function buildActivity(deps: ActivityDeps) {
  return async function build({ plan }: { plan: DeployPlan }): Promise<ArtifactRef> {
    return withHeartbeat(async (progress, signal) => {
      const store = deps.artifacts;
      const cacheDir = artifactCacheDir(deps);
      // A rollback runs the exact bytes that ran before: the registry says which.
      const registrySha256 = plan.kind === 'rollback' ? ((await deps.registry.lastLiveOf(plan.service, plan.environment, plan.version))?.artifactSha256 ?? null) : null;
      if (!plan.build) return externalArtifact(deps, plan, registrySha256, progress);
      const resolved = await resolveArtifact({
        store,
        cacheDir,
        exact: plan.kind === 'rollback',
        registrySha256,
        service: plan.service,
        version: plan.version,
        repository: plan.source.repository,
        buildCommand: plan.build.command,
        outputs: plan.build.outputs,
        migrationsDir: plan.migrations.directory,
        requiredConfig: plan.runtime.requiredConfig,
        workDir: path.join(workerDataDir(deps), 'work'),
        timeoutMs: plan.build.timeoutMs,
        onProgress: (p) => progress(`${p.phase}: ${p.message}`),
        signal,
      });
      return toArtifactRef(resolved, resolved.reused);
    });
  };
}

/**
 * No build configured: the target deploys the version by name (an image tag built elsewhere), unless the
 * version was built into the store under an earlier spec. Targets, the registry and rollbacks identify a
 * release by a sha256, so it gets a stable digest of its name.
 */
async function externalArtifact(deps: ActivityDeps, plan: DeployPlan, registrySha256: string | null, progress: (message: string) => void): Promise<ArtifactRef> {
  const record = await deps.artifacts.findVersion(plan.service, plan.version);
  if (record) {
    const cached = await cacheBlob({ store: deps.artifacts, cacheDir: artifactCacheDir(deps), sha256: record.sha256, onProgress: progress });
    if (!cached) {
      throw refuse(
        FailureType.ArtifactConflict,
        `${plan.service} ${plan.version} is recorded as artifact ${record.sha256}, which is in neither ${deps.artifacts.location} nor this worker's cache, and the spec has no build section to rebuild it; restore the artifact or deploy a new version`,
      );
    }
    return toArtifactRef({ ...record, path: cached.path }, true);
  }
  const identity = createHash('sha256').update(`${EXTERNAL_ARTIFACT}\n${plan.service}\n${plan.version}`).digest('hex');
  if (registrySha256 && registrySha256 !== identity) {
    throw refuse(
      FailureType.RollbackRefused,
      `rollback to ${plan.version}: the release registry says it ran here as artifact ${registrySha256}, which is in neither ${deps.artifacts.location} nor this worker's cache, and the spec has no build section to rebuild it (an externally built version is ${identity}); rebuild is refused`,
    );
  }
  return { sha256: identity, path: '', sizeBytes: 0, commit: EXTERNAL_ARTIFACT, reused: true, migrations: [], requiredConfig: [] };
}
