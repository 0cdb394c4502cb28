import path from 'node:path';
import { createCommandTarget, createLocalTarget, type Target } from '../targets';
import type { DeployPlan } from '../workflows/types';

/** The plan's target, built fresh for each activity (targets keep their state on disk, not in memory). */
export function targetFor(plan: DeployPlan, onProgress?: (message: string) => void): Target {
  const t = plan.target;
  if (t.type === 'local') {
    return createLocalTarget({ root: t.root, command: t.command, port: t.port, keepReleases: t.keepReleases, stopTimeoutMs: t.stopTimeoutMs, startTimeoutMs: t.startTimeoutMs, onProgress });
  }
  return createCommandTarget({
    deploy: t.deploy,
    activate: t.activate,
    current: t.current,
    rollback: t.rollback,
    timeoutMs: t.timeoutMs,
    workDir: path.join(plan.dataDir, 'work', 'command', plan.service, plan.environment),
    onProgress,
  });
}
