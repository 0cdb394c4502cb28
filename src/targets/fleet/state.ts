import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { withFileLock } from '../../traffic/lock';
import { readJsonFile, writeFileAtomic } from '../transition-state';

/**
 * What the orchestrator last heard from each host of a fleet (`<root>/fleet-state.json`): the release its
 * agent reported running, and how the host's last operation ended. Written after every batch and every
 * rollback, read by pre-checks and `status`; the agents stay the source of truth for their own hosts.
 */
const releaseRef = z.strictObject({ releaseId: z.string(), version: z.string(), sha256: z.string() });

const hostEntrySchema = z.strictObject({
  current: releaseRef.nullable(),
  status: z.enum(['updated', 'unchanged', 'failed', 'rolled_back']),
  error: z.string().optional(),
  at: z.string(),
  workflowId: z.string(),
});
export type FleetHostEntry = z.infer<typeof hostEntrySchema>;

const stateSchema = z.strictObject({ version: z.literal(1), hosts: z.record(z.string(), hostEntrySchema) });
export type FleetState = z.infer<typeof stateSchema>;

export function fleetStateFile(root: string): string {
  return path.join(root, 'fleet-state.json');
}

export async function readFleetState(root: string): Promise<FleetState> {
  const raw = await readJsonFile<unknown>(fleetStateFile(root));
  const parsed = stateSchema.safeParse(raw);
  return parsed.success ? parsed.data : { version: 1, hosts: {} };
}

/** Merges host entries into the state (under a lock: batches of two deploys never overlap, but be safe). */
export async function recordFleetHosts(root: string, entries: Record<string, FleetHostEntry>): Promise<FleetState> {
  await fs.mkdir(root, { recursive: true });
  return withFileLock(path.join(root, 'fleet-state.lock'), { timeoutMs: 30_000, what: 'fleet state' }, async () => {
    const state = await readFleetState(root);
    const next: FleetState = { version: 1, hosts: { ...state.hosts, ...entries } };
    await writeFileAtomic(fleetStateFile(root), `${JSON.stringify(next, null, 2)}\n`);
    return next;
  });
}
