import type { ClientBase } from 'pg';
import type { MigrationFile, MigrationPhase } from './files';

/**
 * The ledger lives in the target database, so "what has run" and "what the schema is" commit together.
 * Schema-qualified so a migration that changes search_path cannot hide it from the runner.
 */
export const LEDGER_TABLE = 'public.deploy_schema_migrations';

export type LedgerState = 'started' | 'applied';

export interface LedgerRow {
  id: string;
  checksum: string;
  phase: MigrationPhase;
  state: LedgerState;
  startedAt: Date;
  finishedAt: Date | null;
  durationMs: number | null;
  workflowId: string;
}

export async function ensureLedger(client: ClientBase): Promise<void> {
  await client.query(`
    CREATE TABLE IF NOT EXISTS ${LEDGER_TABLE} (
      id          text PRIMARY KEY,
      checksum    text NOT NULL,
      phase       text NOT NULL CHECK (phase IN ('expand', 'contract')),
      state       text NOT NULL CHECK (state IN ('started', 'applied')),
      started_at  timestamptz NOT NULL,
      finished_at timestamptz,
      duration_ms integer,
      workflow_id text NOT NULL
    )`);
}

/** Every ledger row in id order; empty when the ledger table does not exist yet (nothing has run). */
export async function readLedger(client: ClientBase): Promise<LedgerRow[]> {
  const exists = await client.query<{ present: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS present`, [LEDGER_TABLE]);
  if (!exists.rows[0]?.present) return [];
  const result = await client.query<{
    id: string;
    checksum: string;
    phase: MigrationPhase;
    state: LedgerState;
    started_at: Date;
    finished_at: Date | null;
    duration_ms: number | null;
    workflow_id: string;
  }>(`SELECT id, checksum, phase, state, started_at, finished_at, duration_ms, workflow_id FROM ${LEDGER_TABLE}`);
  return result.rows
    .map((r) => ({
      id: r.id,
      checksum: r.checksum,
      phase: r.phase,
      state: r.state,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      durationMs: r.duration_ms,
      workflowId: r.workflow_id,
    }))
    .sort((a, b) => compareIds(a.id, b.id));
}

/** Ids sort as the files do on disk (plain code-unit order, like Array.prototype.sort), not by database collation. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Whether `earlier` must be applied before `later` may be. Contract migrations run in a separate,
 * later run than the expand migrations of the same release, so a contract file may lag behind expand
 * files with higher ids; every other pair runs in id order.
 */
export function mustPrecede(earlier: { phase: MigrationPhase }, later: { phase: MigrationPhase }): boolean {
  return earlier.phase === 'expand' || later.phase === 'contract';
}

const short = (checksum: string): string => checksum.slice(0, 12);

/**
 * Compares the ledger with the files a release ships. Each problem is one sentence naming the file,
 * what is wrong and what to do. `transactional` is optional so read-only callers can check without it.
 */
export function verifyAgainstLedger(
  ledgerRows: readonly LedgerRow[],
  files: ReadonlyArray<MigrationFile & { transactional?: boolean }>,
): string[] {
  const problems: string[] = [];
  const rowById = new Map(ledgerRows.map((r) => [r.id, r]));
  const fileIds = new Set(files.map((f) => f.id));
  const lastShipped = [...fileIds].sort(compareIds).at(-1);

  for (const file of files) {
    const row = rowById.get(file.id);
    if (!row) continue;
    if (row.state === 'applied' && row.checksum !== file.checksum) {
      problems.push(
        `migration ${file.id}: it was applied with checksum ${short(row.checksum)}… but the file now has ${short(file.checksum)}…; ` +
          `an applied migration must never change — restore the file to the applied text and put the change in a new migration file`,
      );
    }
    if (row.state === 'started' && row.checksum !== file.checksum) {
      problems.push(
        `migration ${file.id}: a run that did not finish marked it 'started', and the file has changed since; ` +
          `remove whatever the old statement left (e.g. an INVALID index), then delete its ledger row ` +
          `(DELETE FROM ${LEDGER_TABLE} WHERE id = '${file.id}') and run again`,
      );
    }
    if (row.state === 'started' && file.transactional === true) {
      problems.push(
        `migration ${file.id}: the ledger marks it 'started', which the runner never writes for a transactional migration ` +
          `(its row is inserted in the same transaction as its SQL); check whether its changes are in the schema, then ` +
          `mark it applied or delete the row (DELETE FROM ${LEDGER_TABLE} WHERE id = '${file.id}')`,
      );
    }
  }

  // An applied id the release does not ship is fine when it sorts after everything shipped (a newer
  // release ran it; this may be a rollback), but a hole in the middle means history was renamed or deleted.
  for (const row of ledgerRows) {
    if (fileIds.has(row.id) || lastShipped === undefined || compareIds(row.id, lastShipped) > 0) continue;
    problems.push(
      `migration ${row.id}: the ledger records it (${row.state}) but this release does not ship it, although it ships ` +
        `${lastShipped} which sorts after it; applied migration files must never be renamed or deleted — restore the file`,
    );
  }

  const applied = ledgerRows.filter((r) => r.state === 'applied');
  for (const file of files) {
    const row = rowById.get(file.id);
    if (row?.state === 'applied') continue;
    const blocking = applied.filter((a) => compareIds(a.id, file.id) > 0 && mustPrecede(file, a));
    if (blocking.length === 0) continue;
    problems.push(
      `migration ${file.id} (${file.phase}) is pending but sorts before ${blocking.map((b) => `${b.id} (${b.phase})`).join(', ')}, ` +
        `already applied; migrations run in id order — rename ${file.id} so it sorts after ${blocking.at(-1)!.id}`,
    );
  }
  return problems;
}
