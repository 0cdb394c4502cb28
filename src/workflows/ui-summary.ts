import { patched, upsertMemo } from '@temporalio/workflow';

/**
 * Patch: the run keeps a one-line summary of itself in its memo. A workflow cannot set its own static
 * summary (only the starter can: deployctl does, the README's `temporal workflow start` form does not), and
 * its current details are answered by a query that needs a worker; the memo is stored by the server, so
 * `temporal workflow describe`, the client's describe() and the Web UI's memo panel show it for any run,
 * however it was started, with or without a worker.
 */
export const UI_SUMMARY_PATCH = 'ui-summary-memo';

/** The memo key the summary is stored under. */
export const SUMMARY_MEMO_KEY = 'summary';

/** Writes `summary` into the run's memo (a command: only in deploys that took the patch). */
export function publishSummary(summary: string): void {
  if (patched(UI_SUMMARY_PATCH)) writeSummaryMemo(summary);
}

/** Writes `summary` (and `extra` keys) into the run's memo, for workflow code that always did (no patch needed). */
export function writeSummaryMemo(summary: string, extra: Record<string, string> = {}): void {
  upsertMemo({ ...extra, [SUMMARY_MEMO_KEY]: summary.length > 200 ? `${summary.slice(0, 199)}…` : summary });
}
