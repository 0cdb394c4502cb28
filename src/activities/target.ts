import { createTarget, type Target } from '../targets';
import type { DeployPlan } from '../workflows/types';

/** The plan's target, built fresh for each activity (targets keep their state on disk, not in memory). */
export function targetFor(plan: DeployPlan, onProgress?: (message: string) => void): Target {
  return createTarget(plan.target, { service: plan.service, environment: plan.environment, dataDir: plan.dataDir, onProgress });
}
