import { ActivityCancellationType, ApplicationFailure, proxyActivities, sleep } from '@temporalio/workflow';
import type { ActivityInterfaceFor, ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { NON_RETRYABLE_TYPES } from '../errors';
import type { DeployState } from './deploy-state';
import { failureMessage } from './deploy-state';
import { FleetRollout } from './fleet/rollout';
import { runRollout, type Promotions } from './rollout';
import type { Saga } from './saga';
import type { CurrentReleaseRef, DeployPlan, DeployStageResult, DeployStatus, StageName } from './types';

/** The options every stage's activity shares; the stage sets its own startToClose and summary. */
function stageOptions(plan: DeployPlan, extra: Partial<ActivityOptions> = {}): ActivityOptions {
  return {
    startToCloseTimeout: 10 * 60_000,
    heartbeatTimeout: plan.heartbeatTimeoutMs,
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE_TYPES },
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    ...extra,
  };
}

/**
 * Runs each stage as its activity, records it, and keeps what later stages need (the artifact, the release
 * that was current). The deploy stage pushes its compensation onto the saga before it starts.
 */
export class StageRunner {
  private readonly acts: ActivityInterfaceFor<Activities>;
  private readonly compensationActs: ActivityInterfaceFor<Activities>;
  /** Bookkeeping that must land: retried until it does (a registry outage never undoes a release). */
  private readonly recordActs: ActivityInterfaceFor<Activities>;
  private previousRelease: CurrentReleaseRef | null = null;

  constructor(
    private readonly plan: DeployPlan,
    private readonly deploy: DeployState,
    private readonly saga: Saga,
    private readonly promotions?: Promotions,
  ) {
    this.acts = proxyActivities<Activities>(stageOptions(plan));
    this.compensationActs = proxyActivities<Activities>(
      stageOptions(plan, { retry: { initialInterval: '1 second', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE_TYPES } }),
    );
    this.recordActs = proxyActivities<Activities>(
      stageOptions(plan, { retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: NON_RETRYABLE_TYPES } }),
    );
  }

  async run(stage: StageName): Promise<void> {
    const record = this.deploy.startStage(stage);
    this.deploy.setStatus('running', stage);
    try {
      const summary = await this.body(stage);
      this.deploy.endStage(record, 'succeeded', summary);
    } catch (err) {
      this.deploy.endStage(record, 'failed', failureMessage(err));
      throw err;
    }
  }

  private body(stage: StageName): Promise<string> {
    switch (stage) {
      case 'build':
        return this.build();
      case 'preChecks':
        return this.preChecks();
      case 'migrate':
        return this.migrate();
      case 'deploy':
        return this.deployRelease();
      case 'validate':
        return this.validate();
    }
  }

  private async build(): Promise<string> {
    const p = this.plan;
    const artifact = await this.acts.build.executeWithOptions(
      { summary: `build ${p.service} ${p.version}${p.kind === 'rollback' ? ' (reuse the stored artifact)' : ''}`, startToCloseTimeout: (p.build?.timeoutMs ?? 60_000) + 60_000 },
      [{ plan: p }],
    );
    this.deploy.artifact = artifact;
    return `artifact ${artifact.sha256.slice(0, 12)} from commit ${artifact.commit.slice(0, 12)}${artifact.reused ? ' (reused, not rebuilt)' : ''}`;
  }

  private async preChecks(): Promise<string> {
    const p = this.plan;
    const r = await this.acts.preChecks.executeWithOptions(
      { summary: `pre-checks for ${p.environment}: ${[p.config.envFile ? 'config' : '', p.config.databaseUrlFrom ? 'database, migrations' : '', p.preChecks.dependencies.length ? 'dependencies' : '', 'disk', 'current release'].filter(Boolean).join(', ')}`, startToCloseTimeout: '3 minutes' },
      [{ plan: p, artifact: this.deploy.artifact! }],
    );
    this.previousRelease = r.current;
    return `${r.checks.length} checks passed`;
  }

  private async migrate(): Promise<string> {
    const p = this.plan;
    const r = await this.acts.migrate.executeWithOptions(
      { summary: p.config.databaseUrlFrom ? `expand migrations of ${p.version} on the ${p.environment} database (lint, advisory lock, ledger)` : `no database in ${p.environment}: nothing to migrate`, startToCloseTimeout: '30 minutes' },
      [{ plan: p, artifact: this.deploy.artifact!, workflowId: this.deploy.ids.workflowId }],
    );
    this.deploy.migrationReport = r;
    if (r.applied.length > 0) {
      this.deploy.note({ kind: 'note', stage: 'migrate', event: 'expand migrations stay on rollback', detail: 'they are backward compatible with the previous release by construction (linted)' });
    }
    return `${r.applied.length} applied (${r.applied.map((m) => m.id).join(', ') || 'none'}), ${r.alreadyApplied.length} already applied`;
  }

  private async deployRelease(): Promise<string> {
    const p = this.plan;
    const { workflowId, runId } = this.deploy.ids;
    const artifact = this.deploy.artifact!;
    const previousRelease = this.previousRelease;
    if (p.target.type === 'fleet') {
      // Batches of hosts through their agents, as child workflows (src/workflows/fleet/).
      const fleet = new FleetRollout(p, p.target, this.deploy, previousRelease);
      this.saga.push({ name: 'rollbackDeploy', undoes: 'deploy', summary: `roll every updated host of ${p.environment} back to ${previousRelease?.version ?? 'nothing (first deploy: stop the service)'}`, run: () => fleet.rollback() });
      return fleet.run();
    }
    // Pushed before the stage runs: a deploy interrupted half-way must still be undone.
    let outcome: DeployStageResult | undefined;
    this.saga.push({
      name: 'rollbackDeploy',
      undoes: 'deploy',
      summary: `roll ${p.environment} back to ${previousRelease?.version ?? 'nothing (first deploy: stop the service)'}`,
      run: () =>
        this.compensationActs.rollbackDeploy.executeWithOptions(
          { summary: `roll ${p.environment} back to ${(outcome?.previous ?? previousRelease)?.version ?? 'nothing (first deploy)'}` },
          [{ plan: p, artifact, previous: outcome ? outcome.previous : previousRelease, workflowId, runId }],
        ),
    });
    const strategy = p.strategy;
    if (strategy && strategy.type !== 'replace') {
      // blueGreen / canary: start beside, shift traffic step by step, promote (src/workflows/rollout.ts).
      return runRollout({
        plan: p,
        strategy,
        deploy: this.deploy,
        promotions: this.promotions!,
        acts: this.acts,
        onStarted: (previous) => (outcome = { releaseId: '', noop: false, previous }),
      });
    }
    outcome = await this.acts.deploy.executeWithOptions(
      { summary: `deploy ${p.version} to ${p.environment} (${p.target.type} target), previous ${previousRelease?.version ?? 'none'}`, startToCloseTimeout: '10 minutes' },
      [{ plan: p, artifact, workflowId, runId, approvals: this.deploy.approvals }],
    );
    return outcome.noop ? `${outcome.releaseId} was already current and running` : `${outcome.releaseId} is current`;
  }

  private async validate(): Promise<string> {
    const h = this.plan.health;
    try {
      const report = await this.acts.validate.executeWithOptions(
        {
          summary: `health analysis of ${h.url}: ${h.consecutiveSuccesses} consecutive OK, ratio ≥ ${h.minSuccessRatio}, p95 ≤ ${h.maxP95LatencyMs} ms, within ${h.windowMs} ms`,
          startToCloseTimeout: h.windowMs + 60_000,
        },
        [{ plan: this.plan }],
      );
      this.deploy.healthReport = report;
      return report.reason;
    } catch (err) {
      this.deploy.healthReport = failureDetails(err) ?? this.deploy.healthReport;
      throw err;
    }
  }

  /**
   * blueGreen / canary after success: the replaced release stays running (drained) for scaleDownDelay, so a
   * rollback in that time is a switch; then it is stopped. Best effort: a failure is noted, never undone.
   */
  async retireReplaced(): Promise<void> {
    const s = this.plan.strategy;
    if (!s || s.type === 'replace' || !this.deploy.traffic || this.deploy.traffic.stable === null) return;
    if (s.scaleDownDelayMs > 0) await sleep(s.scaleDownDelayMs);
    try {
      const retired = await this.compensationActs.retireReleases.executeWithOptions({ summary: `stop the releases ${this.plan.version} replaced in ${this.plan.environment}` }, [{ plan: this.plan }]);
      if (retired.length > 0) this.deploy.note({ kind: 'note', event: `stopped the replaced release(s): ${retired.join(', ')}` });
    } catch (err) {
      this.deploy.note({ kind: 'note', event: 'stopping the replaced release failed; it keeps running, drained', detail: failureMessage(err) });
    }
  }

  /** Writes the outcome into the release registry. `untilLanded`: retried until it lands, never thrown. */
  async record(outcome: DeployStatus, untilLanded: boolean): Promise<void> {
    const p = this.plan;
    const { workflowId, runId } = this.deploy.ids;
    const acts = untilLanded ? this.recordActs : this.acts;
    const call = acts.recordRelease.executeWithOptions({ summary: `record ${p.version} in ${p.environment} as ${outcome}`, startToCloseTimeout: '1 minute' }, [
      { plan: p, artifactSha256: this.deploy.artifact?.sha256, outcome, approvals: this.deploy.approvals, workflowId, runId, health: this.deploy.healthReport },
    ]);
    if (!untilLanded) return call;
    try {
      await call;
    } catch (err) {
      // Only a permanent refusal gets here; the outcome stands, and the audit says the registry lacks it.
      this.deploy.note({ kind: 'note', event: `recording ${outcome} in the release registry failed`, detail: failureMessage(err) });
    }
  }
}

function failureDetails(err: unknown): unknown {
  let e: unknown = err;
  while (e && typeof e === 'object') {
    if (e instanceof ApplicationFailure && e.details && e.details.length > 0) return e.details[0];
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
