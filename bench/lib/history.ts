import type { WorkflowHandle } from '@temporalio/client';

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

export interface ActivityTrace {
  name: string;
  scheduledEventId: number;
  scheduledAtMs: number;
  startedAtMs?: number;
  closedAtMs?: number;
  attempt?: number;
  closedAs?: 'completed' | 'failed' | 'timed_out' | 'canceled';
}

export interface HistoryProfile {
  events: number;
  workflowTasks: number;
  searchAttributeUpserts: number;
  activities: ActivityTrace[];
  /** Start to close of the workflow, by the server's clock. */
  durationMs: number;
}

export function eventTimeMs(e: HistoryEvent): number {
  const t = e.eventTime;
  if (!t) return NaN;
  return Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
}

/** What a run cost Temporal: history events, workflow tasks, and each activity's schedule/start/close times. */
export async function profileHistory(handle: WorkflowHandle): Promise<HistoryProfile> {
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  const activities = new Map<number, ActivityTrace>();
  let workflowTasks = 0;
  let upserts = 0;
  for (const e of events) {
    const id = Number(e.eventId);
    const at = eventTimeMs(e);
    if (e.activityTaskScheduledEventAttributes) {
      activities.set(id, { name: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?', scheduledEventId: id, scheduledAtMs: at });
    } else if (e.activityTaskStartedEventAttributes) {
      const a = activities.get(Number(e.activityTaskStartedEventAttributes.scheduledEventId));
      if (a) {
        a.startedAtMs = at;
        a.attempt = e.activityTaskStartedEventAttributes.attempt ?? undefined;
      }
    } else if (e.activityTaskCompletedEventAttributes) {
      close(activities, e.activityTaskCompletedEventAttributes.scheduledEventId, at, 'completed');
    } else if (e.activityTaskFailedEventAttributes) {
      close(activities, e.activityTaskFailedEventAttributes.scheduledEventId, at, 'failed');
    } else if (e.activityTaskTimedOutEventAttributes) {
      close(activities, e.activityTaskTimedOutEventAttributes.scheduledEventId, at, 'timed_out');
    } else if (e.activityTaskCanceledEventAttributes) {
      close(activities, e.activityTaskCanceledEventAttributes.scheduledEventId, at, 'canceled');
    } else if (e.workflowTaskCompletedEventAttributes) {
      workflowTasks++;
    } else if (e.upsertWorkflowSearchAttributesEventAttributes) {
      upserts++;
    }
  }
  return {
    events: events.length,
    workflowTasks,
    searchAttributeUpserts: upserts,
    activities: [...activities.values()],
    durationMs: events.length ? eventTimeMs(events[events.length - 1]!) - eventTimeMs(events[0]!) : NaN,
  };
}

function close(map: Map<number, ActivityTrace>, scheduledEventId: unknown, at: number, as: ActivityTrace['closedAs']): void {
  const a = map.get(Number(scheduledEventId));
  if (a) {
    a.closedAtMs = at;
    a.closedAs = as;
  }
}
