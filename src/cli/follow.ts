import type { WorkflowHandle } from '@temporalio/client';
import type { DeployStatusView } from '../workflows/types';
import type { CliContext } from './context';
import { fetchOutcome, queryStatus, type DeployOutcome } from './deploy-state';
import { ExitCode, OUTCOME_EXIT_CODE } from './exit-codes';
import { formatDuration, oneLine, renderResult } from './format';
import type { TimelineEntry } from '../workflows/types';

export interface FollowResult {
  exitCode: number;
  outcome?: DeployOutcome;
  /** The last status seen, when following stopped before the end (needs_intervention, Ctrl-C). */
  last?: DeployStatusView;
  interrupted?: boolean;
}

const POLL_MS = 1_000;

/**
 * Live progress of one deploy by polling its `status` query: stage, elapsed time and what it waits for.
 * On a terminal one line is rewritten in place; otherwise (logs, CI) a line is printed per change. Ends
 * with the deploy's summary. Ctrl-C stops following only: the deploy runs on in Temporal.
 */
export async function followDeploy(
  ctx: CliContext,
  handle: WorkflowHandle,
  o: { startedAt: Date; service: string; environment: string; runId: string },
): Promise<FollowResult> {
  const io = ctx.io;
  const quiet = ctx.json;
  const tty = io.isTTY && !quiet;
  let done: DeployOutcome | undefined;
  let outcomeError: unknown;
  let wake: () => void = () => undefined;
  const outcomePromise = fetchOutcome(handle).then(
    (r) => {
      done = r;
      wake();
    },
    (err) => {
      outcomeError = err;
      wake();
    },
  );
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
    wake();
  };
  process.on('SIGINT', onSigint);

  const elapsed = (at: number = Date.now()) => formatDuration(at - o.startedAt.getTime()).padStart(6);
  let seenTimeline = 0;
  let lastKey = '';
  let statusLineShown = false;
  let last: DeployStatusView | undefined;
  const width = () => Math.max(40, (process.stdout.columns || 120) - 1);
  const permanent = (line: string) => {
    if (quiet) return;
    if (tty && statusLineShown) io.rewrite('');
    io.out(line);
    statusLineShown = false;
  };
  const printTimeline = (entries: DeployStatusView['timeline']) => {
    for (const e of entries.slice(seenTimeline)) permanent(`[${elapsed(Date.parse(e.at))}] ${progressEvent(e)}`);
    seenTimeline = Math.max(seenTimeline, entries.length);
  };
  const describeNow = (v: DeployStatusView) => {
    const running = [...v.stages].reverse().find((s) => s.status === 'running');
    const inStage = running && running.stage === v.stage ? ` (${formatDuration(Date.now() - Date.parse(running.startedAt))})` : '';
    return `${oneLine(v.status, 40)}: ${oneLine(v.stage, 64)}${inStage}${v.waitingFor ? ` — waiting for: ${oneLine(v.waitingFor)}` : ''}`;
  };

  try {
    if (!quiet) io.out(`following ${handle.workflowId} (Ctrl-C stops following; the deploy continues)`);
    for (;;) {
      if (done || outcomeError) break;
      if (interrupted) {
        permanent(
          `stopped following at ${elapsed()}; the deploy continues in Temporal. ` +
            `Check it with: deployctl status ${o.service} --env ${o.environment}   (Web UI: ${ctx.uiLink(handle.workflowId, o.runId)})`,
        );
        return { exitCode: ExitCode.interrupted, last, interrupted: true };
      }
      const view = await queryStatus(ctx, handle, 5_000);
      if (view && !done) {
        last = view;
        printTimeline(view.timeline);
        const key = `${view.status}|${view.stage}|${view.waitingFor ?? ''}`;
        if (tty) {
          io.rewrite(`[${elapsed()}] ${describeNow(view)}`.slice(0, width()));
          statusLineShown = true;
        } else if (key !== lastKey && !quiet) {
          io.out(`[${elapsed()}] ${describeNow(view)}`);
        }
        lastKey = key;
        if (view.status === 'needs_intervention') {
          permanent(
            `the deploy needs an operator: ${oneLine(view.pendingIntervention?.compensation ?? 'a rollback step', 64)} failed (${oneLine(view.pendingIntervention?.error ?? 'see status')}). ` +
              `Inspect with: deployctl status ${o.service} --env ${o.environment}; then: deployctl intervene ${o.service} --env ${o.environment} --by <you> --action retry|skip|abort`,
          );
          return { exitCode: OUTCOME_EXIT_CODE.needs_intervention!, last };
        }
      } else if (!view && !quiet && lastKey !== 'no-answer') {
        permanent(`[${elapsed()}] no answer to the status query yet (is a worker polling task queue "${ctx.config.DEPLOY_TASK_QUEUE}"?)`);
        lastKey = 'no-answer';
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, POLL_MS);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    if (outcomeError) throw outcomeError;
    const outcome = done!;
    if (outcome.result) printTimeline(outcome.result.timeline);
    if (!quiet) {
      permanent('');
      for (const line of outcome.result ? renderResult(outcome.result) : [`${handle.workflowId}: ${oneLine(outcome.outcome, 40)}${outcome.reason ? ` (${oneLine(outcome.reason)})` : ''}`]) io.out(line);
      io.out(`Web UI: ${ctx.uiLink(handle.workflowId, o.runId)}`);
    }
    return { exitCode: OUTCOME_EXIT_CODE[outcome.outcome] ?? ExitCode.error, outcome };
  } finally {
    process.off('SIGINT', onSigint);
    void outcomePromise;
  }
}

const STAGE_EVENT_MARK: Record<string, string> = { succeeded: '✓', failed: '✗', skipped: '-', compensated: '↺' };

/** One timeline entry as a progress line: a mark for what kind of thing happened, then what and why. */
function progressEvent(e: TimelineEntry): string {
  const detail = e.detail ? ` — ${oneLine(e.detail, 240)}` : '';
  const event = oneLine(e.event, 200);
  const stage = e.stage ? oneLine(e.stage, 64) : undefined;
  switch (e.kind) {
    case 'stage':
      return `${STAGE_EVENT_MARK[e.event] ?? '·'} ${stage} ${event}${detail}`;
    case 'gate':
      return `⏸ gate before ${stage}: ${event}${detail}`;
    case 'compensation':
      return `↺ ${event}${detail}`;
    case 'signal_refused':
      return `⚠ REFUSED: ${event}${detail}`;
    case 'intervention':
      return `✋ intervention: ${event}${detail}`;
    default:
      return `· ${stage ? `${stage}: ` : ''}${event}${detail}`;
  }
}
