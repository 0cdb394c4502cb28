import type { Client, WorkflowHandle } from '@temporalio/client';
import { eventTimeMs } from '../lib/history';

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

/** Temporal's per-execution limits (server defaults: limit.historyCount, limit.historySize, limit.numPending*, limit.blobSize). */
export const TEMPORAL_LIMITS = {
  historyEvents: 51_200,
  historyBytes: 50 * 1024 * 1024,
  pendingChildren: 2_000,
  pendingActivities: 2_000,
  /** One payload set (an input, a result, a failure's details). */
  payloadBytes: 2 * 1024 * 1024,
};

/** What one workflow execution cost Temporal, from its history and the server's own description. */
export interface ExecutionProfile {
  workflowId: string;
  runId: string;
  type: string;
  status: string;
  /** The server's history length and size (what limit.historyCount and limit.historySize are checked against). */
  events: number;
  historyBytes: number;
  /** The most children / activities started and not yet closed at any point of the history. */
  maxPendingChildren: number;
  maxPendingActivities: number;
  /** The largest payload set of any one event (an input, a result), in bytes. */
  largestPayloadBytes: number;
  largestPayloadEvent: string;
  /** First to last event, by the server's clock. */
  durationMs: number;
  children: Array<{ workflowId: string; runId: string }>;
}

const CHILD_CLOSED = [
  'childWorkflowExecutionCompletedEventAttributes',
  'childWorkflowExecutionFailedEventAttributes',
  'childWorkflowExecutionCanceledEventAttributes',
  'childWorkflowExecutionTimedOutEventAttributes',
  'childWorkflowExecutionTerminatedEventAttributes',
  'startChildWorkflowExecutionFailedEventAttributes',
] as const;
const ACTIVITY_CLOSED = [
  'activityTaskCompletedEventAttributes',
  'activityTaskFailedEventAttributes',
  'activityTaskTimedOutEventAttributes',
  'activityTaskCanceledEventAttributes',
] as const;

/** Bytes of every payload's data and metadata under `value` (a decoded history event). */
function payloadBytes(value: unknown, depth = 0): number {
  if (value === null || typeof value !== 'object' || depth > 12) return 0;
  if (value instanceof Uint8Array) return value.length;
  let total = 0;
  for (const [key, v] of Object.entries(value)) {
    if (key === 'eventTime' || key === 'eventId') continue;
    total += payloadBytes(v, depth + 1);
  }
  return total;
}

function eventKind(e: HistoryEvent): string {
  const key = Object.keys(e).find((k) => k.endsWith('EventAttributes') && (e as Record<string, unknown>)[k]);
  return key ? key.replace(/EventAttributes$/, '') : 'event';
}

export async function profileExecution(client: Client, ref: { workflowId: string; runId?: string }): Promise<ExecutionProfile> {
  const handle = client.workflow.getHandle(ref.workflowId, ref.runId);
  const [description, history] = await Promise.all([handle.describe(), handle.fetchHistory()]);
  const events = history.events ?? [];
  let children = 0;
  let activities = 0;
  let maxChildren = 0;
  let maxActivities = 0;
  let largest = 0;
  let largestEvent = '';
  const started: Array<{ workflowId: string; runId: string }> = [];
  for (const e of events) {
    if (e.startChildWorkflowExecutionInitiatedEventAttributes) children++;
    else if (CHILD_CLOSED.some((k) => e[k])) children--;
    if (e.activityTaskScheduledEventAttributes) activities++;
    else if (ACTIVITY_CLOSED.some((k) => e[k])) activities--;
    maxChildren = Math.max(maxChildren, children);
    maxActivities = Math.max(maxActivities, activities);
    const child = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
    if (child?.workflowId && child.runId) started.push({ workflowId: child.workflowId, runId: child.runId });
    const bytes = payloadBytes(e);
    if (bytes > largest) {
      largest = bytes;
      largestEvent = `${eventKind(e)} #${e.eventId}`;
    }
  }
  return {
    workflowId: ref.workflowId,
    runId: description.runId,
    type: description.type,
    status: description.status.name,
    events: description.historyLength,
    historyBytes: description.historySize ?? NaN,
    maxPendingChildren: maxChildren,
    maxPendingActivities: maxActivities,
    largestPayloadBytes: largest,
    largestPayloadEvent: largestEvent,
    durationMs: events.length ? eventTimeMs(events[events.length - 1]!) - eventTimeMs(events[0]!) : NaN,
    children: started,
  };
}

/** The execution and every descendant (batches, hosts), profiled `concurrency` at a time. */
export async function profileTree(client: Client, root: { workflowId: string; runId?: string }, concurrency = 16): Promise<ExecutionProfile[]> {
  const out: ExecutionProfile[] = [];
  let level = [root];
  while (level.length > 0) {
    const next: Array<{ workflowId: string; runId: string }> = [];
    for (let i = 0; i < level.length; i += concurrency) {
      const profiles = await Promise.all(level.slice(i, i + concurrency).map((r) => profileExecution(client, r)));
      for (const p of profiles) {
        out.push(p);
        next.push(...p.children);
      }
    }
    level = next;
  }
  return out;
}

export interface LimitsSummary {
  executions: number;
  byType: Record<string, { count: number; maxEvents: number; maxHistoryBytes: number; maxPendingChildren: number; maxPendingActivities: number; largestPayloadBytes: number }>;
  max: { events: number; historyBytes: number; pendingChildren: number; pendingActivities: number; payloadBytes: number };
  /** Each maximum as a share of its limit (0.01 = 1 %). */
  shareOfLimit: { events: number; historyBytes: number; pendingChildren: number; pendingActivities: number; payloadBytes: number };
  largestPayload: { workflowId: string; event: string; bytes: number };
  withinLimits: boolean;
}

export function summarizeLimits(profiles: ExecutionProfile[]): LimitsSummary {
  const byType: LimitsSummary['byType'] = {};
  for (const p of profiles) {
    const t = (byType[p.type] ??= { count: 0, maxEvents: 0, maxHistoryBytes: 0, maxPendingChildren: 0, maxPendingActivities: 0, largestPayloadBytes: 0 });
    t.count++;
    t.maxEvents = Math.max(t.maxEvents, p.events);
    t.maxHistoryBytes = Math.max(t.maxHistoryBytes, p.historyBytes);
    t.maxPendingChildren = Math.max(t.maxPendingChildren, p.maxPendingChildren);
    t.maxPendingActivities = Math.max(t.maxPendingActivities, p.maxPendingActivities);
    t.largestPayloadBytes = Math.max(t.largestPayloadBytes, p.largestPayloadBytes);
  }
  const maxOf = (f: (p: ExecutionProfile) => number) => Math.max(0, ...profiles.map(f));
  const max = {
    events: maxOf((p) => p.events),
    historyBytes: maxOf((p) => p.historyBytes),
    pendingChildren: maxOf((p) => p.maxPendingChildren),
    pendingActivities: maxOf((p) => p.maxPendingActivities),
    payloadBytes: maxOf((p) => p.largestPayloadBytes),
  };
  const share = (v: number, limit: number) => Math.round((v / limit) * 10_000) / 10_000;
  const shareOfLimit = {
    events: share(max.events, TEMPORAL_LIMITS.historyEvents),
    historyBytes: share(max.historyBytes, TEMPORAL_LIMITS.historyBytes),
    pendingChildren: share(max.pendingChildren, TEMPORAL_LIMITS.pendingChildren),
    pendingActivities: share(max.pendingActivities, TEMPORAL_LIMITS.pendingActivities),
    payloadBytes: share(max.payloadBytes, TEMPORAL_LIMITS.payloadBytes),
  };
  const top = profiles.reduce((a, b) => (b.largestPayloadBytes > a.largestPayloadBytes ? b : a), profiles[0]!);
  return {
    executions: profiles.length,
    byType,
    max,
    shareOfLimit,
    largestPayload: { workflowId: top.workflowId, event: top.largestPayloadEvent, bytes: top.largestPayloadBytes },
    withinLimits: Object.values(shareOfLimit).every((s) => s < 1),
  };
}
