import { Client } from 'pg';
import { readLedger } from './ledger';

export interface RollbackCompatibilityInput {
  /** Ids of contract migrations applied (or started) in the database. */
  appliedContract: string[];
  /** Ids of every migration the rollback target version ships. */
  targetMigrationIds: string[];
}

export interface RollbackCompatibility {
  compatible: boolean;
  reasons: string[];
}

/**
 * A contract migration removes an old shape. A version that does not ship it was built while that shape
 * still existed and may read it, so rolling back to it is unsafe. Expand migrations the target does not
 * know are harmless: they only added things it ignores.
 */
export function checkRollbackCompatibility(input: RollbackCompatibilityInput): RollbackCompatibility {
  const shipped = new Set(input.targetMigrationIds);
  const reasons = [...input.appliedContract]
    .sort()
    .filter((id) => !shipped.has(id))
    .map(
      (id) =>
        `contract migration ${id} has run in the database but the rollback target does not ship it: that version was ` +
        `built before the old shape was removed and may still read it — roll forward with a fix, or pick a target that ships ${id}`,
    );
  return { compatible: reasons.length === 0, reasons };
}

/**
 * Contract migrations recorded in the database's ledger. A 'started' contract counts too: its statement
 * may have completed before the run stopped, so the old shape may already be gone.
 */
export async function listAppliedContract(databaseUrl: string): Promise<string[]> {
  const client = new Client({ connectionString: databaseUrl, application_name: 'deploy-rollback-check' });
  client.on('error', () => undefined); // surfaced by the pending query instead
  await client.connect();
  try {
    const rows = await readLedger(client);
    return rows.filter((r) => r.phase === 'contract').map((r) => r.id);
  } finally {
    await client.end().catch(() => undefined);
  }
}
