import { createHash } from 'node:crypto';
import path from 'node:path';
import { buildArtifact, findArtifact, findReusableArtifact, verifyArtifact, type StoredArtifact } from '../artifacts';
import { FailureType, refuse } from '../errors';
import type { ArtifactRef, DeployPlan } from '../workflows/types';
import { withHeartbeat, type ActivityDeps } from './context';

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
 * Build = the version's source revision → an immutable, content-addressed bundle. A version that was
 * built before (a rollback, a redeploy, a retry after a crash) reuses the stored bytes after re-hashing them,
 * when its recorded source repository and commit still match.
 */
export function buildActivity(_deps: ActivityDeps) {
  return async function build({ plan }: { plan: DeployPlan }): Promise<ArtifactRef> {
    return withHeartbeat(async (progress, signal) => {
      // A rollback runs the exact bytes that ran before; any other deploy reuses an artifact only when it
      // was built from this source repository and the version still names the commit it was built from.
      const stored =
        plan.kind === 'rollback' || !plan.build
          ? await findArtifact(plan.artifactStore, plan.service, plan.version)
          : await findReusableArtifact(plan.artifactStore, plan.service, plan.version, plan.source.repository);
      if (stored) {
        progress(`verifying stored artifact ${stored.sha256.slice(0, 12)}`);
        await verifyArtifact(stored);
        return toArtifactRef(stored, true);
      }
      if (plan.kind === 'rollback') {
        throw refuse(FailureType.RollbackRefused, `rollback to ${plan.version}: its artifact is no longer in ${plan.artifactStore}; rebuild is refused because a rollback must run the exact bytes that ran before`);
      }
      if (!plan.build) {
        // No build configured: the target deploys the version by name (an image tag built elsewhere). Targets,
        // the registry and rollbacks identify a release by a sha256, so it gets a stable digest of its name.
        const identity = createHash('sha256').update(`${EXTERNAL_ARTIFACT}\n${plan.service}\n${plan.version}`).digest('hex');
        return { sha256: identity, path: '', sizeBytes: 0, commit: EXTERNAL_ARTIFACT, reused: true, migrations: [], requiredConfig: [] };
      }
      const built = await buildArtifact({
        service: plan.service,
        version: plan.version,
        repository: plan.source.repository,
        buildCommand: plan.build.command,
        outputs: plan.build.outputs,
        migrationsDir: plan.migrations.directory,
        requiredConfig: plan.runtime.requiredConfig,
        storeDir: plan.artifactStore,
        workDir: path.join(plan.dataDir, 'work'),
        timeoutMs: plan.build.timeoutMs,
        onProgress: (p) => progress(`${p.phase}: ${p.message}`),
        signal,
      });
      return toArtifactRef(built, built.reused);
    });
  };
}
