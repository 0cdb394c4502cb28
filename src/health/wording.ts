import type { HealthReport, Sample } from './report';

/** Milliseconds as operators read them in a reason: whole numbers, one decimal below 10ms. */
export function formatMs(ms: number): string {
  return `${ms < 10 ? Math.round(ms * 10) / 10 : Math.round(ms)}ms`;
}

export function formatPercent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

export function describeFailure(s: Sample): string {
  if (s.error) return s.error;
  if (s.status !== undefined) return `HTTP ${s.status}`;
  return 'failed';
}

/** One probe's progress line (what an analysing activity heartbeats): "probe 3: ok in 12 ms; 3 ok / 0 failed". */
export function probeProgress(s: Sample, r: HealthReport): string {
  return `probe ${r.samples}: ${s.ok ? 'ok' : `fail (${s.status ?? s.error})`} in ${s.latencyMs} ms; ${r.successes} ok / ${r.failures} failed`;
}
