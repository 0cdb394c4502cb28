import { ApplicationFailure, executeChild, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { NON_RETRYABLE_TYPES } from '../../errors';
import type { FleetTargetPlan } from '../../targets/fleet';
import type { DeployState } from '../deploy-state';
import type { CurrentReleaseRef, DeployPlan } from '../types';
import { deployFleetBatch } from './batch';
import { rollbackFleetHosts } from './host';
import type { FleetCommon, FleetHostResult, FleetHostState, FleetProgress } from './types';

const acts = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 10, nonRetryableErrorTypes: NON_RETRYABLE_TYPES },
});

/** Batches of `size` hosts, in the spec's order. */
export function fleetBatches<T>(hosts: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < hosts.length; i += size) out.push(hosts.slice(i, i + size));
  return out;
}

/**
 * The deploy stage on a fleet target: batch after batch (each a child workflow running one child per
 * host), halting when more than `maxFailedHosts` hosts failed. The parent keeps only each host's outcome,
 * so its history grows with batches, not with hosts. `rollback` (the saga's compensation) puts every host
 * the rollout touched back, in reverse order, through its agent.
 */
export class FleetRollout {
  readonly progress: FleetProgress;
  private rollbackRound = 0;

  constructor(
    private readonly plan: DeployPlan,
    private readonly fleet: FleetTargetPlan,
    private readonly deploy: DeployState,
    /** What the fleet ran before (pre-checks' view of it; null on a first deploy). */
    private readonly fleetPrevious: CurrentReleaseRef | null,
  ) {
    const batches = fleetBatches(fleet.hosts, fleet.batchSize);
    this.progress = {
      total: fleet.hosts.length,
      updated: 0,
      failed: 0,
      rolledBack: 0,
      batch: 0,
      batches: batches.length,
      batchSize: fleet.batchSize,
      maxFailedHosts: fleet.maxFailedHosts,
      hosts: batches.flatMap((b, i) => b.map((h): FleetHostState => ({ host: h.name, status: 'pending', batch: i + 1 }))),
    };
    deploy.fleet = this.progress;
  }

  private common(): FleetCommon {
    const p = this.plan;
    const f = this.fleet;
    return {
      release: { service: p.service, environment: p.environment, version: p.version, sha256: this.deploy.artifact!.sha256 },
      runtime: {
        service: p.service,
        environment: p.environment,
        command: f.command,
        keepReleases: f.keepReleases,
        stopTimeoutMs: f.stopTimeoutMs,
        startTimeoutMs: f.startTimeoutMs,
        requiredConfig: p.runtime.requiredConfig,
        ...(p.config.envFile ? { envFile: p.config.envFile } : {}),
      },
      health: p.health,
      ...(f.frontDoor ? { door: { root: f.root, drainTimeoutMs: f.drainTimeoutMs, frontDoor: f.frontDoor } } : {}),
      hostTimeoutMs: f.hostTimeoutMs,
      heartbeatTimeoutMs: p.heartbeatTimeoutMs,
    };
  }

  private host(name: string): FleetHostState {
    return this.progress.hosts.find((h) => h.host === name)!;
  }

  private count(): void {
    const hs = this.progress.hosts;
    this.progress.updated = hs.filter((h) => h.status === 'updated' || h.status === 'unchanged').length;
    this.progress.failed = hs.filter((h) => h.status === 'failed' || h.status === 'rollback_failed').length;
    this.progress.rolledBack = hs.filter((h) => h.status === 'rolled_back').length;
  }

  async run(): Promise<string> {
    const { plan, fleet, deploy, progress } = this;
    const ids = deploy.ids;
    await acts.fleetPrepare.executeWithOptions({ summary: fleet.frontDoor ? `front door of ${plan.environment} on port ${fleet.frontDoor.port} with ${fleet.hosts.length} hosts` : `prepare ${fleet.hosts.length} hosts` }, [{ plan }]);
    const common = this.common();
    const batches = fleetBatches(fleet.hosts, fleet.batchSize);
    for (const [i, hosts] of batches.entries()) {
      progress.batch = i + 1;
      for (const h of hosts) this.host(h.name).status = 'deploying';
      deploy.setStatus('running', 'deploy', `batch ${i + 1}/${batches.length}: ${hosts.map((h) => h.name).join(', ')}`);
      const results = await executeChild(deployFleetBatch, {
        workflowId: `${ids.workflowId}/batch-${i + 1}`,
        args: [{ common, batch: i + 1, batches: batches.length, hosts, fleetPrevious: this.fleetPrevious }],
        staticSummary: `${plan.service} ${plan.version} → ${plan.environment}: batch ${i + 1}/${batches.length} (${hosts.map((h) => h.name).join(', ')})`,
      });
      this.take(results);
      await acts.fleetRecordHosts.executeWithOptions({ summary: `record batch ${i + 1}'s hosts` }, [{ root: fleet.root, version: plan.version, artifactSha256: deploy.artifact!.sha256, hosts: hosts.map((h) => this.host(h.name)), workflowId: ids.workflowId }]);
      const failedNow = results.filter((r) => r.status === 'failed');
      deploy.note({
        kind: 'stage',
        stage: 'deploy',
        event: `batch ${i + 1}/${batches.length}: ${results.length - failedNow.length} of ${results.length} host(s) on ${plan.version}; ${progress.updated}/${progress.total} updated, ${progress.failed} failed`,
        ...(failedNow.length ? { detail: failedNow.map((r) => `${r.host}: ${r.error}`).join(' | ') } : {}),
      });
      if (progress.failed > fleet.maxFailedHosts) {
        throw ApplicationFailure.nonRetryable(
          `${progress.failed} host(s) failed, more than maxFailedHosts ${fleet.maxFailedHosts}; the rollout halted after batch ${i + 1}/${batches.length}: ${this.failedList()}`,
          'FleetHalted',
        );
      }
    }
    if (progress.failed > 0) {
      // Tolerated failures let the rollout reach every host; a fleet not all on the release never succeeds.
      throw ApplicationFailure.nonRetryable(`${progress.failed} of ${progress.total} host(s) are not on ${plan.version}: ${this.failedList()}`, 'FleetIncomplete');
    }
    await acts.fleetMarkLive.executeWithOptions({ summary: `${plan.version} is live on all ${progress.total} hosts` }, [
      { plan, artifact: deploy.artifact!, workflowId: ids.workflowId, runId: ids.runId, approvals: deploy.approvals },
    ]);
    return `${plan.version} on all ${progress.total} hosts in ${batches.length} batch(es)`;
  }

  /** What a host ran before: its agent's report, or (never reported) what the fleet ran. */
  private previousOf(h: FleetHostState): CurrentReleaseRef | null {
    return h.previous !== undefined ? h.previous : this.fleetPrevious;
  }

  private failedList(): string {
    return this.progress.hosts
      .filter((h) => h.status === 'failed')
      .map((h) => `${h.host} (${h.error ?? 'failed'})`)
      .join(', ');
  }

  private take(results: FleetHostResult[]): void {
    for (const r of results) {
      const h = this.host(r.host);
      h.status = r.status;
      if (r.releaseId) h.releaseId = r.releaseId;
      if (r.previous !== undefined) h.previous = r.previous;
      if (r.error) h.error = r.error;
    }
    this.count();
    this.deploy.publish();
  }

  /**
   * Every host the rollout touched, back on what it ran before, in reverse order of the rollout (batch by
   * batch, each a child workflow). Throws naming the hosts that could not be put back (their agents did
   * not answer): the saga then waits for an operator, whose retry tries only those hosts again.
   */
  async rollback(): Promise<void> {
    const { plan, fleet, deploy, progress } = this;
    const ids = deploy.ids;
    const touched = progress.hosts.filter((h) => h.status === 'updated' || h.status === 'failed' || h.status === 'rollback_failed').reverse();
    if (touched.length === 0) return;
    this.rollbackRound++;
    const common = this.common();
    const port = new Map(fleet.hosts.map((h) => [h.name, h.port]));
    for (const [i, hosts] of fleetBatches(touched, fleet.batchSize).entries()) {
      for (const h of hosts) h.status = 'rolling_back';
      deploy.setStatus('running', 'compensating', `roll back ${hosts.map((h) => h.host).join(', ')}`);
      const results = await executeChild(rollbackFleetHosts, {
        workflowId: `${ids.workflowId}/rollback-${this.rollbackRound}-${i + 1}`,
        args: [{ common, hosts: hosts.map((h) => ({ name: h.host, port: port.get(h.host)!, to: this.previousOf(h) })) }],
        staticSummary: `${plan.service} → ${plan.environment}: roll back ${hosts.map((h) => h.host).join(', ')}`,
      });
      for (const r of results) {
        const h = this.host(r.host);
        h.status = r.ok ? 'rolled_back' : 'rollback_failed';
        if (r.ok) h.previous = this.previousOf(h);
        if (r.error) h.error = r.error;
      }
      this.count();
      deploy.publish();
      await acts.fleetRecordHosts.executeWithOptions({ summary: 'record the rolled back hosts' }, [{ root: fleet.root, version: plan.version, artifactSha256: deploy.artifact!.sha256, hosts, workflowId: ids.workflowId }]);
    }
    const stuck = progress.hosts.filter((h) => h.status === 'rollback_failed');
    if (stuck.length > 0) {
      throw ApplicationFailure.nonRetryable(
        `${stuck.length} host(s) could not be rolled back: ${stuck.map((h) => `${h.host} (${h.error})`).join(', ')}; start their agents (npm run agent -- --host <host>) and retry, or skip`,
        'FleetRollbackIncomplete',
      );
    }
    await acts.fleetRestoreLive.executeWithOptions({ summary: `${this.fleetPrevious?.version ?? 'nothing'} is live again` }, [
      { plan, previous: this.fleetPrevious, workflowId: ids.workflowId, runId: ids.runId },
    ]);
  }
}
