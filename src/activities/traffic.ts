import { FailureType, refuse } from '../errors';
import { analyzeHealth } from '../health/analyze';
import type { HealthReport } from '../health/report';
import { readConfigSource } from '../runtime-config';
import type { TrafficControl, TrafficView } from '../targets/types';
import type { Approval, ArtifactRef, DeployPlan, DeployStageResult } from '../workflows/types';
import { localArtifactPath } from './artifact';
import { withHeartbeat, workerDataDir, type ActivityDeps } from './context';
import { targetFor } from './target';
import { markLive } from './deploy';

/**
 * The traffic steps of blueGreen and canary deploys, one activity each so history shows every switch and
 * a crash resumes at the step it reached. Each is idempotent: the target records, then applies.
 */

function trafficOf(deps: ActivityDeps, plan: DeployPlan, progress: (m: string) => void): TrafficControl {
  const control = targetFor(plan, progress, workerDataDir(deps)).traffic;
  if (!control) {
    throw refuse(FailureType.SpecInvalid, `the ${plan.environment} target has no front door, so strategy ${plan.strategy?.type ?? 'replace'} cannot shift traffic; use strategy replace`);
  }
  return control;
}

/** Starts the new release beside the stable one, on its own port, in the front door at weight 0. */
export function startReleaseActivity(deps: ActivityDeps) {
  return async function startRelease(a: { plan: DeployPlan; artifact: ArtifactRef }) {
    const { plan, artifact } = a;
    return withHeartbeat(async (progress) => {
      const runtimeEnv = await readConfigSource(plan.config.envFile);
      const artifactPath = await localArtifactPath(deps, artifact, `start of ${plan.service} ${plan.version}`, progress);
      return trafficOf(deps, plan, progress).startBeside(
        { service: plan.service, environment: plan.environment, version: plan.version, sha256: artifact.sha256, artifactPath },
        runtimeEnv,
      );
    });
  };
}

/** Gives the new release `weight` percent of new requests and the stable release the rest. */
export function shiftTrafficActivity(deps: ActivityDeps) {
  return async function shiftTraffic(a: { plan: DeployPlan; releaseId: string; weight: number }): Promise<TrafficView> {
    return withHeartbeat((progress) => trafficOf(deps, a.plan, progress).setWeight(a.releaseId, a.weight));
  };
}

/** The health analysis of one release on its own port (`canary`) or of the front door. */
export function analyzeReleaseActivity(deps: ActivityDeps) {
  return async function analyzeRelease(a: { plan: DeployPlan; releaseId: string; against: 'canary' | 'frontDoor'; windowMs?: number }): Promise<HealthReport> {
    return withHeartbeat(async (progress, signal) => {
      const { url, expect, ...thresholds } = a.plan.health;
      let target = url;
      if (a.against === 'canary') {
        const release = (await trafficOf(deps, a.plan, progress).view()).releases.find((r) => r.releaseId === a.releaseId);
        if (!release) throw new Error(`release ${a.releaseId} is not in the front door; start it before analysing it`);
        const u = new URL(url);
        u.hostname = '127.0.0.1';
        u.port = String(release.port);
        target = u.toString();
      }
      const report = await analyzeHealth({
        url: target,
        thresholds: { ...thresholds, ...(a.windowMs ? { windowMs: a.windowMs } : {}) },
        expect,
        signal,
        onSample: (s, r) => progress(`probe ${r.samples} of ${target}: ${s.ok ? 'ok' : `fail (${s.status ?? s.error})`}; ${r.successes} ok / ${r.failures} failed`),
      });
      if (!report.passed) throw refuse(FailureType.HealthCheckFailed, `analysis of ${a.releaseId} (${a.against === 'canary' ? `its own port, ${target}` : 'the front door'}) failed: ${report.reason}`, report);
      return report;
    });
  };
}

/** Makes the new release the stable one (all traffic, `current`) and the registry's live release. */
export function promoteReleaseActivity(deps: ActivityDeps) {
  return async function promoteRelease(a: { plan: DeployPlan; artifact: ArtifactRef; releaseId: string; workflowId: string; runId: string; approvals?: Approval[] }): Promise<DeployStageResult> {
    const { plan } = a;
    return withHeartbeat(async (progress) => {
      const { previous } = await trafficOf(deps, plan, progress).promote(a.releaseId);
      await markLive(deps, a);
      return { releaseId: a.releaseId, noop: false, previous };
    });
  };
}

/** Stops the releases the stable one replaced (after scaleDownDelay): out of the front door, then stopped. */
export function retireReleasesActivity(deps: ActivityDeps) {
  return async function retireReleases(a: { plan: DeployPlan }): Promise<string[]> {
    return withHeartbeat((progress) => trafficOf(deps, a.plan, progress).retire());
  };
}
