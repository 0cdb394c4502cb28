import type { DeployStatus } from '../workflows/types';

// A record keyed by the type makes the compiler refuse a list that misses or invents a status.
const STATUS_SET: Record<DeployStatus, true> = {
  running: true,
  awaiting_approval: true,
  succeeded: true,
  rolled_back: true,
  rejected: true,
  failed: true,
  needs_intervention: true,
  cancelled: true,
};

/** The contract's DeployStatus values, in the order a deploy meets them. */
export const DEPLOY_STATUSES = Object.keys(STATUS_SET) as DeployStatus[];
