import { upsertSearchAttributes } from '@temporalio/workflow';
import { SA } from '../../src/workflows/definitions';

/**
 * A workflow that only upserts a fleet deploy's per-host counts (Int) beside its status (Keyword), to prove
 * a server the project starts accepts both types under the contract's names.
 */

export interface HostCounts {
  total: number;
  updated: number;
  failed: number;
}

export async function upsertHostCounts(counts: HostCounts): Promise<void> {
  upsertSearchAttributes([
    { key: SA.status, value: 'running' },
    { key: SA.hostsTotal, value: counts.total },
    { key: SA.hostsUpdated, value: counts.updated },
    { key: SA.hostsFailed, value: counts.failed },
  ]);
}
