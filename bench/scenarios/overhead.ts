import { performance } from 'node:perf_hooks';
import type { WorkflowHandle } from '@temporalio/client';
import { deployOutcome, describeOutcome, instantSpec, startInstantDeploy } from '../lib/deploys';
import { profileHistory, type HistoryProfile } from '../lib/history';
import { progress } from '../lib/progress';
import { median, round, summarize, type Summary } from '../lib/stats';
import type { BenchWorld } from '../lib/world';

export interface OverheadResult {
  n: number;
  warmup: number;
  deploy: Summary;
  bare: Summary;
  /** median(deploy) / median(bare) */
  ratio: number;
  /** Where a deploy's time goes, medians over the measured runs (server clock, from history). */
  profile: { deploy: ProfileSummary; bare: ProfileSummary };
}

export interface ProfileSummary {
  historyEvents: number;
  workflowTasks: number;
  searchAttributeUpserts: number;
  /** Per activity: median scheduled→closed, ms. */
  activityMs: Record<string, number>;
  /** Median over all activities of scheduled→started: time waiting for a worker slot and the poll. */
  queueMs: number;
  /** Median sum of all activities' scheduled→closed. */
  inActivitiesMs: number;
  /** Median of the rest: workflow tasks between activities, start and completion. */
  betweenActivitiesMs: number;
  serverDurationMs: number;
}

/**
 * Latency, not throughput: N deploys of an instant spec one after another, interleaved with N bare
 * workflows of seven no-op activities, on the same server with one worker each. Interleaving spreads any
 * noise from the (shared) machine evenly over both.
 */
export async function runOverhead(world: BenchWorld, o: { n: number; warmup: number }): Promise<OverheadResult> {
  const deployQueue = 'bench-overhead-deploys';
  const bareQueue = 'bench-overhead-bare';
  const deployWorker = await world.startDeployWorker('overhead-deploy-worker', deployQueue);
  const bareWorker = await world.startBaselineWorker('overhead-bare-worker', bareQueue);
  try {
    const spec = await instantSpec({ service: 'bench-overhead', dataDir: world.dataDir, healthUrl: world.health.url });
    const deployMs: number[] = [];
    const bareMs: number[] = [];
    const deployHandles: WorkflowHandle[] = [];
    const bareHandles: WorkflowHandle[] = [];

    const oneDeploy = async (i: number) => {
      const t0 = performance.now();
      const handle = await startInstantDeploy(world.client, deployQueue, spec, `1.0.${i}`);
      const outcome = await deployOutcome(handle);
      const ms = performance.now() - t0;
      if (outcome.outcome !== 'succeeded') throw new Error(`overhead deploy ${i} did not succeed (${describeOutcome(outcome)}); see ${world.logDir}`);
      return { ms, handle };
    };
    const oneBare = async (i: number) => {
      const t0 = performance.now();
      const handle = await world.client.workflow.start('bareDeploy', { taskQueue: bareQueue, workflowId: `bare-overhead-${i}` });
      await handle.result();
      return { ms: performance.now() - t0, handle };
    };

    const total = o.warmup + o.n;
    for (let i = 0; i < total; i++) {
      const measured = i >= o.warmup;
      // Alternate which goes first, so neither always follows the other.
      const order = i % 2 === 0 ? [oneDeploy, oneBare] : [oneBare, oneDeploy];
      for (const run of order) {
        const { ms, handle } = await run(i);
        if (!measured) continue;
        if (run === oneDeploy) {
          deployMs.push(ms);
          deployHandles.push(handle);
        } else {
          bareMs.push(ms);
          bareHandles.push(handle);
        }
      }
      if (measured && (i - o.warmup + 1) % 10 === 0) {
        progress(`overhead: ${i - o.warmup + 1}/${o.n} pairs; medians so far deploy ${round(median(deployMs))} ms, bare ${round(median(bareMs))} ms`);
      }
    }

    const deploy = summarize(deployMs);
    const bare = summarize(bareMs);
    return {
      n: o.n,
      warmup: o.warmup,
      deploy,
      bare,
      ratio: round(deploy.medianMs / bare.medianMs, 2),
      profile: {
        deploy: summarizeProfiles(await Promise.all(deployHandles.map(profileHistory))),
        bare: summarizeProfiles(await Promise.all(bareHandles.map(profileHistory))),
      },
    };
  } finally {
    await Promise.all([deployWorker.stop(), bareWorker.stop()]);
  }
}

export function summarizeProfiles(profiles: HistoryProfile[]): ProfileSummary {
  const names = [...new Set(profiles.flatMap((p) => p.activities.map((a) => a.name)))];
  const activityMs: Record<string, number> = {};
  for (const name of names) {
    activityMs[name] = round(median(profiles.flatMap((p) => p.activities.filter((a) => a.name === name).map((a) => (a.closedAtMs ?? NaN) - a.scheduledAtMs))));
  }
  const inActivities = profiles.map((p) => p.activities.reduce((s, a) => s + ((a.closedAtMs ?? NaN) - a.scheduledAtMs), 0));
  return {
    historyEvents: median(profiles.map((p) => p.events)),
    workflowTasks: median(profiles.map((p) => p.workflowTasks)),
    searchAttributeUpserts: median(profiles.map((p) => p.searchAttributeUpserts)),
    activityMs,
    queueMs: round(median(profiles.flatMap((p) => p.activities.map((a) => (a.startedAtMs ?? NaN) - a.scheduledAtMs)).filter((x) => !Number.isNaN(x)))),
    inActivitiesMs: round(median(inActivities)),
    betweenActivitiesMs: round(median(profiles.map((p, i) => p.durationMs - inActivities[i]!))),
    serverDurationMs: round(median(profiles.map((p) => p.durationMs))),
  };
}
