import { setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import { SA } from './definitions';
import type { FleetProgress } from './fleet/types';
import type {
  Approval,
  ArtifactRef,
  CompensationRecord,
  DeployPlan,
  DeployResult,
  DeployStatus,
  DeployStatusView,
  GateState,
  PromotionState,
  StageRecord,
  TrafficState,
  TimelineEntry,
} from './types';

type StageView = DeployStatusView['stage'];

/**
 * Bounds on what a deploy keeps, whatever is sent to it: the server terminates a run whose result exceeds
 * 2 MB, and a status query must stay readable. Entries beyond the ring drop the oldest; refused signals
 * beyond their cap are only counted.
 */
export const LIMITS = {
  timelineEntries: 200,
  refusalEntries: 50,
  detailChars: 500,
  eventChars: 200,
};

function clip(text: string | undefined, max: number): string | undefined {
  if (text === undefined || text.length <= max) return text;
  return `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/**
 * Everything a deploy knows about itself and shows to the world: status and stage (published as search
 * attributes and current details at every transition), the stage records, the timeline, the approvals and
 * compensations given, and the reports the stages returned. Decisions live elsewhere; this is bookkeeping.
 */
export class DeployState {
  status: DeployStatus = 'running';
  stage: StageView = 'plan';
  waitingFor: string | undefined;
  plan: DeployPlan | undefined;
  artifact: ArtifactRef | undefined;
  healthReport: unknown;
  migrationReport: unknown;
  /** The gate that is waiting now, if any (decided gates live on in the timeline). */
  pendingGate: GateState | undefined;
  pendingPromotion: PromotionState | undefined;
  traffic: TrafficState | undefined;
  /** A fleet target: the rollout's per-host progress. */
  fleet: FleetProgress | undefined;
  pendingIntervention: DeployStatusView['pendingIntervention'];
  readonly approvals: Approval[] = [];
  readonly stages: StageRecord[] = [];
  readonly timeline: TimelineEntry[] = [];
  readonly compensations: CompensationRecord[] = [];
  /** Timeline entries dropped from the front of the ring, and refused signals only counted. */
  droppedTimelineEntries = 0;
  refusalsNotRecorded = 0;
  private refusalsRecorded = 0;

  constructor(readonly ids: { workflowId: string; runId: string }) {}

  /** The workflow clock, as ISO text. */
  now(): string {
    return new Date().toISOString();
  }

  note(entry: Omit<TimelineEntry, 'at'>): void {
    if (entry.kind === 'signal_refused') {
      // A flood of refused signals must not crowd out the deploy's own story, nor grow without bound.
      if (this.refusalsRecorded >= LIMITS.refusalEntries) {
        this.refusalsNotRecorded++;
        return;
      }
      this.refusalsRecorded++;
    }
    this.timeline.push({ ...entry, at: this.now(), event: clip(entry.event, LIMITS.eventChars)!, detail: clip(entry.detail, LIMITS.detailChars) });
    if (this.timeline.length > LIMITS.timelineEntries) {
      this.timeline.splice(0, this.timeline.length - LIMITS.timelineEntries);
      this.droppedTimelineEntries = this.droppedTimelineEntries + 1;
    }
  }

  /** Moves the deploy to a status and stage and publishes both (a search-attribute upsert: a command). */
  setStatus(status: DeployStatus, stage: StageView, waitingFor?: string): void {
    this.status = status;
    this.stage = stage;
    this.waitingFor = waitingFor;
    this.publish();
  }

  publish(): void {
    const pairs: Array<{ key: (typeof SA)[keyof typeof SA]; value: string }> = [
      { key: SA.status, value: this.status },
      { key: SA.stage, value: this.stage },
    ];
    const p = this.plan;
    if (p) {
      pairs.push(
        { key: SA.service, value: p.service },
        { key: SA.environment, value: p.environment },
        { key: SA.version, value: p.version },
        { key: SA.requestedBy, value: p.requestedBy },
      );
    }
    const f = this.fleet;
    // A fleet's per-host progress, as Int attributes (`DeployHostsFailed > 0`); only fleet deploys set them.
    const counts = f
      ? [
          { key: SA.hostsTotal, value: f.total },
          { key: SA.hostsUpdated, value: f.updated },
          { key: SA.hostsFailed, value: f.failed },
        ]
      : [];
    upsertSearchAttributes([...pairs, ...counts] as never);
    setCurrentDetails(this.describe());
  }

  /** One line: what this deploy carries where, for whom, and where it stands (the Web UI's summary). */
  summary(): string {
    const p = this.plan;
    if (!p) return `${this.ids.workflowId}: ${this.status}`;
    return `${p.service} ${p.version} → ${p.environment}, requested by ${p.requestedBy}: ${this.status}`;
  }

  /** Markdown for the Web UI's "current details". */
  describe(): string {
    const p = this.plan;
    const head = p ? `**${p.service} ${p.version} → ${p.environment}** (requested by ${p.requestedBy})` : `deploy ${this.ids.workflowId}`;
    const lines = [head, '', `status: \`${this.status}\`, stage: \`${this.stage}\``];
    if (this.waitingFor) lines.push('', `waiting for: ${this.waitingFor}`);
    const f = this.fleet;
    if (f) lines.push('', `hosts: ${f.updated}/${f.total} updated, ${f.failed} failed${f.rolledBack ? `, ${f.rolledBack} rolled back` : ''} (batch ${f.batch}/${f.batches})`);
    return lines.join('\n');
  }

  startStage(stage: StageRecord['stage']): StageRecord {
    const record: StageRecord = { stage, status: 'running', startedAt: this.now() };
    this.stages.push(record);
    return record;
  }

  endStage(record: StageRecord, status: 'succeeded' | 'failed', summary?: string): void {
    record.status = status;
    record.finishedAt = this.now();
    record.durationMs = Date.parse(record.finishedAt) - Date.parse(record.startedAt);
    record.summary = summary;
    this.note({ kind: 'stage', stage: record.stage, event: status, detail: summary });
  }

  /** The `status` query's answer. */
  view(): DeployStatusView {
    const p = this.plan;
    return {
      workflowId: this.ids.workflowId,
      service: p?.service,
      environment: p?.environment,
      version: p?.version,
      previousVersion: p?.live?.version,
      requestedBy: p?.requestedBy,
      status: this.status,
      stage: this.stage,
      waitingFor: this.waitingFor,
      pendingGate: this.pendingGate,
      ...(this.pendingPromotion ? { pendingPromotion: this.pendingPromotion } : {}),
      ...(this.traffic ? { traffic: this.traffic } : {}),
      ...(this.fleet ? { fleet: this.fleet } : {}),
      pendingIntervention: this.pendingIntervention,
      stages: this.stages,
      timeline: this.timeline,
      ...this.dropped(),
    };
  }

  private dropped(): Pick<DeployStatusView, 'droppedTimelineEntries' | 'refusalsNotRecorded'> {
    return {
      ...(this.droppedTimelineEntries ? { droppedTimelineEntries: this.droppedTimelineEntries } : {}),
      ...(this.refusalsNotRecorded ? { refusalsNotRecorded: this.refusalsNotRecorded } : {}),
    };
  }

  /** The workflow's result (or its failure's details). */
  result(outcome: DeployStatus, reason?: string): DeployResult {
    const p = this.plan;
    return {
      workflowId: this.ids.workflowId,
      runId: this.ids.runId,
      service: p?.service ?? '',
      environment: p?.environment ?? '',
      version: p?.version ?? '',
      previousVersion: p?.live?.version,
      outcome,
      reason,
      artifactSha256: this.artifact?.sha256,
      stages: this.stages,
      approvals: this.approvals,
      compensations: this.compensations,
      health: this.healthReport,
      migrations: this.migrationReport,
      ...(this.fleet ? { fleet: this.fleet } : {}),
      timeline: this.timeline,
      ...this.dropped(),
    };
  }
}

/** The cause an operator wants from an activity failure (which wraps it). */
export function failureMessage(err: unknown): string {
  let e: unknown = err;
  while (e && typeof e === 'object' && 'cause' in e && (e as { cause?: unknown }).cause) e = (e as { cause: unknown }).cause;
  return e instanceof Error ? e.message : String(e);
}
