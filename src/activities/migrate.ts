import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readVersionRecord, unpackArtifact } from '../artifacts';
import { FailureType, refuse } from '../errors';
import { loadMigrationDir } from '../migrations/files';
import { formatAllowed, formatFinding, lintMigrationSet } from '../migrations/lint';
import { applyMigrations, type ApplyResult, type RunnableMigration } from '../migrations/runner';
import { isNonTransactional } from '../migrations/sql';
import { readConfigSource } from '../runtime-config';
import type { ArtifactRef, DeployPlan } from '../workflows/types';
import { localArtifactPath } from './artifact';
import { artifactCacheDir, withHeartbeat, type ActivityDeps } from './context';

export interface MigrateReport extends ApplyResult {
  lintAllowed: string[];
  contractApplied: string[];
}

/**
 * Expand migrations of the new release run before it is deployed. A contract migration runs only when the
 * release that is ALREADY live ships it too — that release no longer reads the old shape — and the registry
 * then records the contract baseline, below which rollbacks are refused.
 */
export function migrateActivity(deps: ActivityDeps) {
  return async function migrate({ plan, artifact, workflowId }: { plan: DeployPlan; artifact: ArtifactRef; workflowId: string }): Promise<MigrateReport> {
    const empty: MigrateReport = { applied: [], alreadyApplied: [], skipped: [], lintAllowed: [], contractApplied: [] };
    if (artifact.migrations.length === 0) return empty;
    if (!plan.config.databaseUrlFrom) {
      throw refuse(FailureType.SpecInvalid, `environments.${plan.environment}.database.urlFromConfig: the release ships migrations but the environment names no database`);
    }
    return withHeartbeat(async (progress) => {
      const artifactPath = await localArtifactPath(deps, artifact, `migrations of ${plan.service} ${plan.version}`, progress);
      const files = await readReleaseMigrations(artifact, artifactPath, plan.migrations.directory);

      // The linter runs first: an unsafe migration never reaches the database. Files are linted in run order,
      // so a rule can rely on what earlier files did (e.g. a CHECK validated before SET NOT NULL).
      const findings: string[] = [];
      const lintAllowed: string[] = [];
      for (const r of lintMigrationSet(files.map((f) => ({ file: f.id, text: f.sql })))) {
        findings.push(...r.findings.map(formatFinding));
        lintAllowed.push(...r.allowed.map(formatAllowed));
      }
      if (findings.length) {
        throw refuse(FailureType.MigrationRefused, `migration safety linter refused ${findings.length} finding(s): ${findings.join(' | ')}`);
      }

      let liveShips = new Set<string>();
      if (plan.live) {
        // What the live release ships is in its version record: the shared store's, or this cache's (older releases).
        const liveRecord =
          (await deps.artifacts.findVersion(plan.service, plan.live.version)) ?? (await readVersionRecord(artifactCacheDir(deps), plan.service, plan.live.version));
        liveShips = new Set(liveRecord?.manifest.migrations.map((m) => m.id) ?? []);
      }
      const config = await readConfigSource(plan.config.envFile);
      const databaseUrl = config[plan.config.databaseUrlFrom!];
      if (!databaseUrl) throw refuse(FailureType.PreChecksFailed, `${plan.config.databaseUrlFrom} is not set in ${plan.config.envFile}`);

      const runnable: RunnableMigration[] = files.map((f) => ({ ...f, transactional: !isNonTransactional(f.sql) }));
      const result = await applyMigrations({
        databaseUrl,
        migrations: runnable,
        apply: (m) => m.phase === 'expand' || liveShips.has(m.id),
        workflowId,
        lockTimeoutMs: plan.migrations.lockTimeoutMs,
        statementTimeoutMs: plan.migrations.statementTimeoutMs,
        advisoryLockWaitMs: 60_000,
        onProgress: progress,
      });
      const contractApplied = result.applied.filter((m) => m.phase === 'contract').map((m) => m.id);
      if (contractApplied.length && plan.live) {
        await deps.registry.recordContractBaseline({ service: plan.service, environment: plan.environment, migrationIds: contractApplied, liveVersion: plan.live.version, workflowId });
      }
      return { ...result, lintAllowed, contractApplied };
    });
  };
}

/** The migration files exactly as the artifact carries them, checked against its manifest. */
async function readReleaseMigrations(artifact: ArtifactRef, artifactPath: string, directory: string) {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'deploy-migrations-'));
  try {
    await unpackArtifact(artifactPath, tmp);
    const files = await loadMigrationDir(path.join(tmp, directory));
    const expected = new Map(artifact.migrations.map((m) => [m.id, m.checksum]));
    for (const f of files) {
      if (expected.get(f.id) !== f.checksum) {
        throw refuse(FailureType.ArtifactConflict, `artifact ${artifact.sha256.slice(0, 12)}: migration ${f.id} does not match the manifest; the artifact store is corrupt`);
      }
    }
    return files;
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}
