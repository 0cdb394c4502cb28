import { Client, Pool, type PoolClient } from 'pg';

/**
 * The release registry: per service and environment, every release the orchestrator carried, which one
 * is live, who approved it and which workflow run did it. Rollback target selection reads it.
 */

export type ReleaseStatus = 'live' | 'superseded' | 'rolled_back' | 'failed' | 'rejected' | 'cancelled' | 'undeployed';

/** A stop or undeploy an operator asked for (`undeployService`): who, why, and which release it ended. */
export interface StopRow {
  service: string;
  environment: string;
  action: 'stop' | 'undeploy';
  version: string | null;
  artifactSha256: string | null;
  requestedBy: string;
  reason: string;
  workflowId: string;
  runId: string;
  stoppedAt: Date;
}

export interface ReleaseRow {
  id: number;
  service: string;
  environment: string;
  version: string;
  artifactSha256: string | null;
  status: ReleaseStatus;
  requestedBy: string;
  approvals: unknown[];
  workflowId: string;
  runId: string;
  createdAt: Date;
  liveAt: Date | null;
  endedAt: Date | null;
  health: unknown;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS deploy_releases (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  service         text NOT NULL,
  environment     text NOT NULL,
  version         text NOT NULL,
  artifact_sha256 text,
  status          text NOT NULL CHECK (status IN ('live','superseded','rolled_back','failed','rejected','cancelled','undeployed')),
  requested_by    text NOT NULL,
  approvals       jsonb NOT NULL DEFAULT '[]',
  workflow_id     text NOT NULL,
  run_id          text NOT NULL,
  health          jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  live_at         timestamptz,
  ended_at        timestamptz,
  UNIQUE (workflow_id, run_id)
);
CREATE UNIQUE INDEX IF NOT EXISTS deploy_releases_one_live ON deploy_releases (service, environment) WHERE status = 'live';
-- Registries created before undeploys existed: widen the status check once.
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'deploy_releases_status_check' AND pg_get_constraintdef(oid) LIKE '%undeployed%') THEN
    ALTER TABLE deploy_releases DROP CONSTRAINT IF EXISTS deploy_releases_status_check;
    ALTER TABLE deploy_releases ADD CONSTRAINT deploy_releases_status_check
      CHECK (status IN ('live','superseded','rolled_back','failed','rejected','cancelled','undeployed'));
  END IF;
END $$;
CREATE TABLE IF NOT EXISTS deploy_stops (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  service          text NOT NULL,
  environment      text NOT NULL,
  action           text NOT NULL CHECK (action IN ('stop','undeploy')),
  version          text,
  artifact_sha256  text,
  requested_by     text NOT NULL,
  reason           text NOT NULL,
  workflow_id      text NOT NULL,
  run_id           text NOT NULL,
  stopped_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workflow_id, run_id)
);
CREATE TABLE IF NOT EXISTS deploy_contract_baselines (
  service       text NOT NULL,
  environment   text NOT NULL,
  migration_id  text NOT NULL,
  live_version  text NOT NULL,
  workflow_id   text NOT NULL,
  applied_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (service, environment, migration_id)
);`;

/** Creates the orchestrator's database when missing (connecting to the server's `postgres` database). */
export async function ensureDatabaseExists(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name)) throw new Error(`DEPLOY_DATABASE_URL: database name must be a plain identifier`);
  const probe = new Client({ connectionString: databaseUrl });
  try {
    await probe.connect();
    return;
  } catch (err) {
    if ((err as { code?: string }).code !== '3D000') throw err; // 3D000: database does not exist
  } finally {
    await probe.end().catch(() => undefined);
  }
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } catch (err) {
    if ((err as { code?: string }).code !== '42P04') throw err; // created concurrently
  } finally {
    await admin.end();
  }
}

function toRow(r: Record<string, unknown>): ReleaseRow {
  return {
    id: Number(r.id),
    service: r.service as string,
    environment: r.environment as string,
    version: r.version as string,
    artifactSha256: (r.artifact_sha256 as string) ?? null,
    status: r.status as ReleaseStatus,
    requestedBy: r.requested_by as string,
    approvals: (r.approvals as unknown[]) ?? [],
    workflowId: r.workflow_id as string,
    runId: r.run_id as string,
    createdAt: r.created_at as Date,
    liveAt: (r.live_at as Date) ?? null,
    endedAt: (r.ended_at as Date) ?? null,
    health: r.health ?? null,
  };
}

export class Registry {
  constructor(readonly pool: Pool) {}

  static async open(databaseUrl: string): Promise<Registry> {
    await ensureDatabaseExists(databaseUrl);
    const pool = new Pool({ connectionString: databaseUrl, max: 5 });
    const client = await pool.connect();
    try {
      // Serialise schema creation between workers starting at once.
      await client.query('SELECT pg_advisory_lock(7201001)');
      await client.query(SCHEMA);
      await client.query('SELECT pg_advisory_unlock(7201001)');
    } finally {
      client.release();
    }
    return new Registry(pool);
  }

  close(): Promise<void> {
    return this.pool.end();
  }

  /**
   * Other (service, environment) pairs that have used this workflow ID: `deploy-<service>-<environment>`
   * reads the same for (hello, service-staging) and (hello-service, staging), and such pairs must not share a lock.
   */
  async otherPairsOfWorkflowId(workflowId: string, service: string, environment: string): Promise<Array<{ service: string; environment: string }>> {
    const { rows } = await this.pool.query(
      `SELECT DISTINCT service, environment FROM deploy_releases WHERE workflow_id=$1 AND NOT (service=$2 AND environment=$3) ORDER BY service, environment LIMIT 5`,
      [workflowId, service, environment],
    );
    return rows as Array<{ service: string; environment: string }>;
  }

  async live(service: string, environment: string): Promise<ReleaseRow | null> {
    const { rows } = await this.pool.query(`SELECT * FROM deploy_releases WHERE service=$1 AND environment=$2 AND status='live'`, [service, environment]);
    return rows[0] ? toRow(rows[0]) : null;
  }

  /**
   * Most recent release of that version here that served as the live release and was later replaced or is
   * live now. A release rolled back by its own deploy never counts: deploying it again is not a rollback.
   * Nor does anything before the last undeploy: the environment started again from nothing.
   */
  async lastLiveOf(service: string, environment: string, version: string): Promise<ReleaseRow | null> {
    const { rows } = await this.pool.query(
      `SELECT * FROM deploy_releases WHERE service=$1 AND environment=$2 AND version=$3 AND status IN ('live','superseded')
          AND live_at > COALESCE((SELECT max(stopped_at) FROM deploy_stops WHERE service=$1 AND environment=$2 AND action='undeploy'), '-infinity')
        ORDER BY live_at DESC LIMIT 1`,
      [service, environment, version],
    );
    return rows[0] ? toRow(rows[0]) : null;
  }

  async history(service: string, environment?: string, limit = 50): Promise<ReleaseRow[]> {
    const { rows } = await this.pool.query(
      `SELECT * FROM deploy_releases WHERE service=$1 AND ($2::text IS NULL OR environment=$2) ORDER BY created_at DESC, id DESC LIMIT $3`,
      [service, environment ?? null, limit],
    );
    return rows.map(toRow);
  }

  /** The newly deployed release becomes live; the one it replaces is superseded. Idempotent per run. */
  async markDeployed(r: { service: string; environment: string; version: string; artifactSha256: string; requestedBy: string; approvals: unknown[]; workflowId: string; runId: string }): Promise<void> {
    await this.tx(async (c) => {
      await c.query(
        `UPDATE deploy_releases SET status='superseded', ended_at=now()
          WHERE service=$1 AND environment=$2 AND status='live' AND NOT (workflow_id=$3 AND run_id=$4)`,
        [r.service, r.environment, r.workflowId, r.runId],
      );
      await c.query(
        `INSERT INTO deploy_releases (service, environment, version, artifact_sha256, status, requested_by, approvals, workflow_id, run_id, live_at)
         VALUES ($1,$2,$3,$4,'live',$5,$6,$7,$8, now())
         ON CONFLICT (workflow_id, run_id) DO UPDATE SET status='live', live_at=COALESCE(deploy_releases.live_at, now()), ended_at=NULL`,
        [r.service, r.environment, r.version, r.artifactSha256, r.requestedBy, JSON.stringify(r.approvals), r.workflowId, r.runId],
      );
    });
  }

  /** The deploy compensation: this run's release is rolled back and the previous live one is live again. */
  async restorePrevious(r: { service: string; environment: string; workflowId: string; runId: string; previous: { version: string; sha256: string } | null }): Promise<void> {
    await this.tx(async (c) => {
      await c.query(`UPDATE deploy_releases SET status='rolled_back', ended_at=now() WHERE workflow_id=$1 AND run_id=$2`, [r.workflowId, r.runId]);
      if (!r.previous) return;
      const { rows } = await c.query(
        `SELECT id FROM deploy_releases WHERE service=$1 AND environment=$2 AND version=$3 AND artifact_sha256=$4 AND live_at IS NOT NULL
          AND NOT (workflow_id=$5 AND run_id=$6) ORDER BY live_at DESC LIMIT 1`,
        [r.service, r.environment, r.previous.version, r.previous.sha256, r.workflowId, r.runId],
      );
      if (rows[0]) {
        await c.query(`UPDATE deploy_releases SET status='superseded', ended_at=now() WHERE service=$1 AND environment=$2 AND status='live' AND id<>$3`, [r.service, r.environment, rows[0].id]);
        await c.query(`UPDATE deploy_releases SET status='live', ended_at=NULL WHERE id=$1`, [rows[0].id]);
      }
    });
  }

  /** Final word on a run: approvals and health for the audit, and a row for deploys that never went live. */
  async finalize(r: {
    service: string; environment: string; version: string; artifactSha256?: string; requestedBy: string;
    outcome: 'succeeded' | 'rolled_back' | 'failed' | 'rejected' | 'cancelled'; approvals: unknown[]; health?: unknown; workflowId: string; runId: string;
  }): Promise<void> {
    const status: ReleaseStatus = r.outcome === 'succeeded' ? 'live' : r.outcome;
    await this.tx(async (c) => {
      const existing = await c.query(`SELECT status FROM deploy_releases WHERE workflow_id=$1 AND run_id=$2 FOR UPDATE`, [r.workflowId, r.runId]);
      if (existing.rows[0]) {
        // A release that went live and was rolled back keeps 'rolled_back'; one that is live stays live.
        const keep = existing.rows[0].status === 'rolled_back' || (status === 'live' && existing.rows[0].status === 'live');
        await c.query(
          `UPDATE deploy_releases SET approvals=$3, health=$4, status=CASE WHEN $5 THEN status ELSE $6 END,
             ended_at=CASE WHEN $6='live' THEN NULL ELSE COALESCE(ended_at, now()) END WHERE workflow_id=$1 AND run_id=$2`,
          [r.workflowId, r.runId, JSON.stringify(r.approvals), r.health === undefined ? null : JSON.stringify(r.health), keep, status],
        );
      } else if (status === 'live') {
        // A run that succeeded without going live through a deploy step (behind a front door, a redeploy of the
        // stable release): it becomes the live release as markDeployed would make it, never a second live row.
        await c.query(`UPDATE deploy_releases SET status='superseded', ended_at=now() WHERE service=$1 AND environment=$2 AND status='live'`, [r.service, r.environment]);
        await c.query(
          `INSERT INTO deploy_releases (service, environment, version, artifact_sha256, status, requested_by, approvals, workflow_id, run_id, health, live_at)
           VALUES ($1,$2,$3,$4,'live',$5,$6,$7,$8,$9, now())`,
          [r.service, r.environment, r.version, r.artifactSha256 ?? null, r.requestedBy, JSON.stringify(r.approvals), r.workflowId, r.runId, r.health === undefined ? null : JSON.stringify(r.health)],
        );
      } else {
        await c.query(
          `INSERT INTO deploy_releases (service, environment, version, artifact_sha256, status, requested_by, approvals, workflow_id, run_id, health, ended_at)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10, now())`,
          [r.service, r.environment, r.version, r.artifactSha256 ?? null, status, r.requestedBy, JSON.stringify(r.approvals), r.workflowId, r.runId, r.health === undefined ? null : JSON.stringify(r.health)],
        );
      }
    });
  }

  /**
   * Undeploy: the live release (if any) is live no more, and the request is recorded. Idempotent per run:
   * a retry returns the release the first attempt ended.
   */
  async markUndeployed(r: { service: string; environment: string; requestedBy: string; reason: string; workflowId: string; runId: string }): Promise<{ version: string; sha256: string | null } | null> {
    return this.tx(async (c) => {
      const done = await c.query(`SELECT version, artifact_sha256 FROM deploy_stops WHERE workflow_id=$1 AND run_id=$2`, [r.workflowId, r.runId]);
      if (done.rows[0]) return done.rows[0].version === null ? null : { version: done.rows[0].version, sha256: done.rows[0].artifact_sha256 };
      const { rows } = await c.query(
        `UPDATE deploy_releases SET status='undeployed', ended_at=now() WHERE service=$1 AND environment=$2 AND status='live' RETURNING version, artifact_sha256`,
        [r.service, r.environment],
      );
      const ended = rows[0] ? { version: rows[0].version as string, sha256: (rows[0].artifact_sha256 as string) ?? null } : null;
      await this.insertStop(c, { ...r, action: 'undeploy', version: ended?.version ?? null, artifactSha256: ended?.sha256 ?? null });
      return ended;
    });
  }

  /** Stop: the live release stays live (`current` still names it) and the request is recorded. Idempotent per run. */
  async recordStop(r: { service: string; environment: string; requestedBy: string; reason: string; workflowId: string; runId: string }): Promise<{ version: string; sha256: string | null } | null> {
    return this.tx(async (c) => {
      const live = await c.query(`SELECT version, artifact_sha256 FROM deploy_releases WHERE service=$1 AND environment=$2 AND status='live'`, [r.service, r.environment]);
      const release = live.rows[0] ? { version: live.rows[0].version as string, sha256: (live.rows[0].artifact_sha256 as string) ?? null } : null;
      await this.insertStop(c, { ...r, action: 'stop', version: release?.version ?? null, artifactSha256: release?.sha256 ?? null });
      return release;
    });
  }

  /** When the live release's process was last stopped on purpose after it went live at `liveAt` (null: it was not). */
  async stoppedSince(service: string, environment: string, liveAt: Date): Promise<Date | null> {
    const { rows } = await this.pool.query(
      `SELECT max(stopped_at) AS at FROM deploy_stops WHERE service=$1 AND environment=$2 AND action='stop' AND stopped_at > $3`,
      [service, environment, liveAt],
    );
    return (rows[0]?.at as Date | null) ?? null;
  }

  /** Stops and undeploys of a service, newest first. */
  async stops(service: string, environment?: string, limit = 50): Promise<StopRow[]> {
    const { rows } = await this.pool.query(
      `SELECT * FROM deploy_stops WHERE service=$1 AND ($2::text IS NULL OR environment=$2) ORDER BY stopped_at DESC, id DESC LIMIT $3`,
      [service, environment ?? null, limit],
    );
    return rows.map((x) => ({
      service: x.service, environment: x.environment, action: x.action, version: x.version ?? null, artifactSha256: x.artifact_sha256 ?? null,
      requestedBy: x.requested_by, reason: x.reason, workflowId: x.workflow_id, runId: x.run_id, stoppedAt: x.stopped_at,
    }));
  }

  private async insertStop(c: PoolClient, r: Omit<StopRow, 'stoppedAt'>): Promise<void> {
    await c.query(
      `INSERT INTO deploy_stops (service, environment, action, version, artifact_sha256, requested_by, reason, workflow_id, run_id)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT (workflow_id, run_id) DO NOTHING`,
      [r.service, r.environment, r.action, r.version, r.artifactSha256, r.requestedBy, r.reason, r.workflowId, r.runId],
    );
  }

  async recordContractBaseline(r: { service: string; environment: string; migrationIds: string[]; liveVersion: string; workflowId: string }): Promise<void> {
    for (const id of r.migrationIds) {
      await this.pool.query(
        `INSERT INTO deploy_contract_baselines (service, environment, migration_id, live_version, workflow_id) VALUES ($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING`,
        [r.service, r.environment, id, r.liveVersion, r.workflowId],
      );
    }
  }

  async contractBaselines(service: string, environment: string): Promise<Array<{ migrationId: string; liveVersion: string; appliedAt: Date }>> {
    const { rows } = await this.pool.query(
      `SELECT migration_id, live_version, applied_at FROM deploy_contract_baselines WHERE service=$1 AND environment=$2 ORDER BY applied_at`,
      [service, environment],
    );
    return rows.map((r) => ({ migrationId: r.migration_id, liveVersion: r.live_version, appliedAt: r.applied_at }));
  }

  private async tx<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }
}
