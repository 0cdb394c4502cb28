import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { InFlightCounter } from './in-flight';

/** Stage activities are seconds to many minutes; a build or a long health window sits in the upper buckets. */
const STAGE_BUCKETS_SECONDS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
/** Approval gates wait minutes to days (a gate's timeout is the upper bound). */
const APPROVAL_BUCKETS_SECONDS = [10, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600];

/** The activities that are stages of a deploy (the contract's activity names), and the compensation. */
export const STAGE_ACTIVITIES = new Set(['plan', 'build', 'preChecks', 'migrate', 'deploy', 'validate', 'rollbackDeploy']);

/**
 * The orchestrator's own series (`deploy_*`), in a registry of their own so that two workers in one
 * process (tests) never share counters. The SDK's `temporal_*` series come from the Runtime's exporter.
 */
export class DeployMetrics {
  readonly registry = new Registry();
  private readonly outcomes: Counter<'service' | 'environment' | 'outcome'>;
  private readonly rollbacks: Counter<'service' | 'environment'>;
  private readonly stageDuration: Histogram<'stage' | 'result'>;
  private readonly approvalWait: Histogram<'service' | 'environment' | 'decision'>;

  constructor(inFlight?: InFlightCounter) {
    this.outcomes = new Counter({
      name: 'deploy_outcomes_total',
      help: 'Deploys that ended, by how they ended (the DeployStatus recorded in the release registry).',
      labelNames: ['service', 'environment', 'outcome'],
      registers: [this.registry],
    });
    this.rollbacks = new Counter({
      name: 'deploy_rollbacks_total',
      help: 'Deploys that ended rolled back (a stage failed and what was done was undone).',
      labelNames: ['service', 'environment'],
      registers: [this.registry],
    });
    this.stageDuration = new Histogram({
      name: 'deploy_stage_duration_seconds',
      help: 'Time one attempt of a stage activity took on this worker, by stage (activity name) and result.',
      labelNames: ['stage', 'result'],
      buckets: STAGE_BUCKETS_SECONDS,
      registers: [this.registry],
    });
    this.approvalWait = new Histogram({
      name: 'deploy_approval_wait_seconds',
      help: 'Time a deploy waited at an approval gate, from the gate opening to its decision; observed when the deploy ends.',
      labelNames: ['service', 'environment', 'decision'],
      buckets: APPROVAL_BUCKETS_SECONDS,
      registers: [this.registry],
    });
    if (inFlight) {
      new Gauge({
        name: 'deploy_in_flight',
        help: 'Deploys on this task queue whose workflow is running, by DeployStatus (a visibility count, namespace-wide: every worker reports the same number).',
        labelNames: ['status'],
        registers: [this.registry],
        // Counted at scrape (cached briefly), so the value is right after a worker restart; when the
        // count fails the series is absent rather than stale.
        async collect() {
          this.reset();
          const counts = await inFlight.counts();
          if (!counts) return;
          for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
        },
      });
    }
  }

  recordOutcome(service: string, environment: string, outcome: string): void {
    this.outcomes.inc({ service, environment, outcome });
    if (outcome === 'rolled_back') this.rollbacks.inc({ service, environment });
  }

  observeStage(stage: string, result: 'succeeded' | 'failed', seconds: number): void {
    this.stageDuration.observe({ stage, result }, seconds);
  }

  observeApprovalWait(service: string, environment: string, decision: string, seconds: number): void {
    this.approvalWait.observe({ service, environment, decision }, seconds);
  }

  /** Prometheus text exposition of the deploy_* series. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
