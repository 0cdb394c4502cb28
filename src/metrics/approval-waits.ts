import type { Client, WorkflowHandle } from '@temporalio/client';

/**
 * One search-attribute upsert of a deploy (when, and the DeployStatus / DeployStage it published), or an
 * activity the deploy scheduled (`activity`: no status change, but proof that a gate's wait was over).
 */
export interface StatusChange {
  atMs: number;
  status?: string;
  stage?: string;
  activity?: true;
}

export interface ApprovalWait {
  stage: string;
  seconds: number;
  /** `approved`, or how the deploy ended at the gate (`rejected`, which includes a timeout, or `cancelled`). */
  decision: string;
}

/**
 * The approval waits of one deploy, from the DeployStatus/DeployStage upserts in its history (the stable
 * contract): a gate opens with `awaiting_approval` at its stage and closes at the next status change or
 * the next activity the deploy schedules (a gate waits with a timer only). It was approved when the deploy
 * then runs the same stage; otherwise the deploy stopped there (a rejected deploy records its outcome
 * before it publishes it), and the decision is how the deploy ended.
 */
export function approvalWaits(changes: StatusChange[], outcome: string): ApprovalWait[] {
  const waits: ApprovalWait[] = [];
  let status: string | undefined;
  let stage: string | undefined;
  let open: { atMs: number; stage: string } | undefined;
  for (const c of changes) {
    if (c.activity) {
      if (open) waits.push({ stage: open.stage, seconds: Math.max(0, (c.atMs - open.atMs) / 1000), decision: outcome });
      open = undefined;
      continue;
    }
    const nextStatus = c.status ?? status;
    const nextStage = c.stage ?? stage;
    if (open && nextStatus !== 'awaiting_approval') {
      const decision = nextStatus === 'running' && nextStage === open.stage ? 'approved' : outcome;
      waits.push({ stage: open.stage, seconds: Math.max(0, (c.atMs - open.atMs) / 1000), decision });
      open = undefined;
    }
    if (nextStatus === 'awaiting_approval' && status !== 'awaiting_approval') open = { atMs: c.atMs, stage: nextStage ?? 'unknown' };
    status = nextStatus;
    stage = nextStage;
  }
  return waits;
}

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

function keyword(payload: { data?: Uint8Array | null } | null | undefined): string | undefined {
  if (!payload?.data) return undefined;
  try {
    const v: unknown = JSON.parse(new TextDecoder().decode(payload.data));
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

function eventMs(e: HistoryEvent): number {
  const t = e.eventTime;
  return t ? Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : 0;
}

/** The DeployStatus/DeployStage changes recorded in a history (the start's search attributes, then each upsert), and the activities scheduled. */
export function statusChanges(events: HistoryEvent[]): StatusChange[] {
  const changes: StatusChange[] = [];
  for (const e of events) {
    if (e.activityTaskScheduledEventAttributes) {
      changes.push({ atMs: eventMs(e), activity: true });
      continue;
    }
    const fields =
      e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ??
      e.workflowExecutionStartedEventAttributes?.searchAttributes?.indexedFields;
    if (!fields) continue;
    const status = keyword(fields.DeployStatus);
    const stage = keyword(fields.DeployStage);
    if (status !== undefined || stage !== undefined) changes.push({ atMs: eventMs(e), status, stage });
  }
  return changes;
}

/** Reads one deploy's history and returns its approval waits. */
export async function fetchApprovalWaits(client: Client, workflowId: string, runId: string, outcome: string): Promise<ApprovalWait[]> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  return approvalWaits(statusChanges(history.events ?? []), outcome);
}
