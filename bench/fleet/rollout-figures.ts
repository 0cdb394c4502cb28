import type { WorkflowHandle } from '@temporalio/client';
import type { DeployResult } from '../../src/workflows/types';
import { deployOutcome, describeOutcome } from '../lib/deploys';
import { progress } from '../lib/progress';
import { median, percentile, round } from '../lib/stats';
import type { BenchWorld } from '../lib/world';
import { profileTree, summarizeLimits, type ExecutionProfile, type LimitsSummary } from './executions';

/** One fleet deploy, measured: wall times, the ideal, and what each execution cost Temporal. */
export interface RolloutFigures {
  version: string;
  outcome: string;
  hosts: number;
  batches: number;
  batchSize: number;
  /** Start of the deploy request to its result, by the bench's clock. */
  wallMs: number;
  /** Each stage's duration as the workflow recorded it. */
  stagesMs: Record<string, number>;
  deployStageMs: number;
  /** Host child workflows, first to last event. */
  hostMs: { median: number; p95: number; min: number; max: number };
  batchMs: { median: number; max: number };
  /** batches × the median host time: a rollout with nothing but the hosts' own work, batch after batch. */
  idealDeployStageMs: number;
  /** deploy stage / ideal. */
  deployStageOverIdeal: number;
  /** Sum over batches of (batch time − its slowest host): what the batching itself costs. */
  batchOverheadMs: number;
  parent: { events: number; historyBytes: number; largestPayloadBytes: number };
  largestBatch: { workflowId: string; events: number; historyBytes: number };
  largestHost: { workflowId: string; events: number; historyBytes: number };
  limits: LimitsSummary;
  /** Measuring the execution tree (describe + fetch history of each) took this long. */
  profiledInMs: number;
}

/** Waits for the deploy, then profiles the deploy and every batch and host child it ran. */
export async function measureRollout(world: BenchWorld, handle: WorkflowHandle, o: { version: string; startedAt: number; hosts: number }): Promise<{ figures: RolloutFigures; result: DeployResult }> {
  const outcome = await deployOutcome(handle);
  const wallMs = Date.now() - o.startedAt;
  if (outcome.outcome !== 'succeeded' || !outcome.result) {
    throw new Error(`the fleet deploy of ${o.version} did not succeed (${describeOutcome(outcome)}); last timeline entries: ${JSON.stringify(outcome.result?.timeline?.slice(-3) ?? [])}`);
  }
  const result = outcome.result;
  progress(`${o.version}: ${result.outcome} in ${(wallMs / 1000).toFixed(1)} s; profiling the deploy's executions`);
  const profiledAt = Date.now();
  const profiles = await profileTree(world.client, { workflowId: handle.workflowId, runId: result.runId });
  const profiledInMs = Date.now() - profiledAt;
  const parent = profiles[0]!;
  const batches = profiles.filter((p) => p.type === 'deployFleetBatch');
  const hosts = profiles.filter((p) => p.type === 'deployFleetHost');
  if (hosts.length !== o.hosts) throw new Error(`expected ${o.hosts} host child workflows under ${handle.workflowId}, found ${hosts.length}`);
  const hostMs = hosts.map((h) => h.durationMs);
  const largest = (list: ExecutionProfile[]) => list.reduce((a, b) => (b.events > a.events || (b.events === a.events && b.historyBytes > a.historyBytes) ? b : a));
  const stagesMs: Record<string, number> = {};
  for (const s of result.stages) if (s.durationMs !== undefined) stagesMs[s.stage] = s.durationMs;
  const deployStageMs = stagesMs.deploy ?? NaN;
  const medianHost = median(hostMs);
  const hostsById = new Map(hosts.map((h) => [h.workflowId, h]));
  const batchOverheadMs = batches.reduce((sum, b) => sum + b.durationMs - Math.max(...b.children.map((c) => hostsById.get(c.workflowId)?.durationMs ?? 0)), 0);
  const ideal = batches.length * medianHost;
  return {
    result,
    figures: {
      version: o.version,
      outcome: result.outcome,
      hosts: hosts.length,
      batches: batches.length,
      batchSize: result.fleet?.batchSize ?? NaN,
      wallMs,
      stagesMs,
      deployStageMs,
      hostMs: { median: round(medianHost), p95: round(percentile(hostMs, 95)), min: Math.min(...hostMs), max: Math.max(...hostMs) },
      batchMs: { median: round(median(batches.map((b) => b.durationMs))), max: Math.max(...batches.map((b) => b.durationMs)) },
      idealDeployStageMs: round(ideal),
      deployStageOverIdeal: round(deployStageMs / ideal, 2),
      batchOverheadMs,
      parent: { events: parent.events, historyBytes: parent.historyBytes, largestPayloadBytes: parent.largestPayloadBytes },
      largestBatch: pick(largest(batches)),
      largestHost: pick(largest(hosts)),
      limits: summarizeLimits(profiles),
      profiledInMs,
    },
  };
}

function pick(p: ExecutionProfile): { workflowId: string; events: number; historyBytes: number } {
  return { workflowId: p.workflowId, events: p.events, historyBytes: p.historyBytes };
}

/** One progress line of a measured rollout. */
export function describeRollout(f: RolloutFigures): string {
  return (
    `${f.version}: deploy stage ${(f.deployStageMs / 1000).toFixed(1)} s vs ideal ${(f.idealDeployStageMs / 1000).toFixed(1)} s ` +
    `(${f.batches} batches × median host ${(f.hostMs.median / 1000).toFixed(2)} s; ${f.deployStageOverIdeal}×), whole deploy ${(f.wallMs / 1000).toFixed(1)} s; ` +
    `parent ${f.parent.events} events / ${kb(f.parent.historyBytes)}, largest batch ${f.largestBatch.events} events, largest host ${f.largestHost.events} events`
  );
}

export function kb(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(2)} MB` : `${(bytes / 1024).toFixed(1)} KB`;
}
