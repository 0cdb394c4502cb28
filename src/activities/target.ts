import { createTarget, type Target } from '../targets';
import type { DeployPlan } from '../workflows/types';

/**
 * The plan's target, built fresh for each activity (targets keep their state on disk, not in memory).
 * `dataDir` is the running worker's own (a command target's work directory), not the planning worker's.
 */
export function targetFor(plan: DeployPlan, onProgress?: (message: string) => void, dataDir: string = plan.dataDir): Target {
  return createTarget(plan.target, { service: plan.service, environment: plan.environment, dataDir, onProgress });
}
