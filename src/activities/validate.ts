import { probeProgress } from '../health/wording';
import { FailureType, refuse } from '../errors';
import { analyzeHealth } from '../health/analyze';
import type { HealthReport } from '../health/report';
import type { DeployPlan } from '../workflows/types';
import { withHeartbeat, type ActivityDeps } from './context';

/** Validate = health analysis of the new release; a breached threshold fails the stage and triggers the rollback. */
export function validateActivity(_deps: ActivityDeps) {
  return async function validate({ plan }: { plan: DeployPlan }): Promise<HealthReport> {
    return withHeartbeat(async (progress, signal) => {
      const { url, expect, ...thresholds } = plan.health;
      const report = await analyzeHealth({
        url,
        thresholds,
        expect,
        signal,
        onSample: (s, r) => progress(probeProgress(s, r)),
      });
      if (!report.passed) throw refuse(FailureType.HealthCheckFailed, `health analysis failed: ${report.reason}`, report);
      return report;
    });
  };
}
