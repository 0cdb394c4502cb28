import { z } from 'zod';

/** The thresholds of one health analysis of the validate stage. All durations are milliseconds. */
export interface HealthThresholds {
  /** Between the starts of consecutive probes (a probe slower than this skips the slots it overran). */
  intervalMs: number;
  /** Overall deadline for the analysis, measured from its start. */
  windowMs: number;
  /** Per probe: a probe without a complete answer by then is a failure. */
  requestTimeoutMs: number;
  /** The analysis passes only once this many of the latest probes succeeded in a row. */
  consecutiveSuccesses: number;
  /** Share of successful probes over all probes taken, in (0, 1]. */
  minSuccessRatio: number;
  /** Largest acceptable nearest-rank p95 of all probe latencies, failed probes included. */
  maxP95LatencyMs: number;
  /** This many failures in a row fail the analysis at once. */
  maxConsecutiveFailures: number;
}

/** Node cannot arm a timer longer than 2^31-1 ms; one day keeps the window within it and matches the spec. */
const MAX_DURATION_MS = 24 * 60 * 60 * 1000;

function durationMs(field: keyof HealthThresholds, what: string) {
  return z
    .number({ error: (iss) => (iss.input === undefined ? `${field} is required (${what}, in milliseconds)` : `${field} must be a number of milliseconds (${what})`) })
    .int({ error: `${field} must be a whole number of milliseconds` })
    .positive({ error: `${field} must be greater than 0 (${what})` })
    .max(MAX_DURATION_MS, { error: `${field} must be at most ${MAX_DURATION_MS} (one day)` });
}

function count(field: keyof HealthThresholds, what: string) {
  return z
    .number({ error: (iss) => (iss.input === undefined ? `${field} is required (${what})` : `${field} must be a whole number (${what})`) })
    .int({ error: `${field} must be a whole number (${what})` })
    .positive({ error: `${field} must be at least 1 (${what})` })
    .max(1000, { error: `${field} must be at most 1000` });
}

/**
 * How many probes can start inside the window: the loop starts probe k no earlier than k * intervalMs and
 * starts none at or after windowMs. The evaluator uses this bound to fail early once a pass is impossible.
 */
export function maxProbesInWindow(t: Pick<HealthThresholds, 'intervalMs' | 'windowMs'>): number {
  return Math.ceil(t.windowMs / t.intervalMs);
}

export const healthThresholdsSchema: z.ZodType<HealthThresholds> = z
  .strictObject(
    {
      intervalMs: durationMs('intervalMs', 'the time between probe starts'),
      windowMs: durationMs('windowMs', 'the overall deadline of the analysis'),
      requestTimeoutMs: durationMs('requestTimeoutMs', 'the timeout of one probe'),
      consecutiveSuccesses: count('consecutiveSuccesses', 'successes in a row needed to pass'),
      minSuccessRatio: z
        .number({
          error: (iss) =>
            iss.input === undefined
              ? 'minSuccessRatio is required (the share of probes that must succeed, e.g. 0.9 for 90%)'
              : 'minSuccessRatio must be a number in (0, 1], e.g. 0.9 for 90%',
        })
        .gt(0, { error: 'minSuccessRatio must be greater than 0 (it is a share, e.g. 0.9 for 90%)' })
        .max(1, { error: 'minSuccessRatio must be at most 1 (it is a share, e.g. 0.9 for 90%, not a percentage)' }),
      maxP95LatencyMs: durationMs('maxP95LatencyMs', 'the largest acceptable p95 probe latency'),
      maxConsecutiveFailures: count('maxConsecutiveFailures', 'failures in a row that fail the analysis at once'),
    },
    {
      error: (issue) =>
        issue.code === 'unrecognized_keys'
          ? `unknown health threshold field(s) ${issue.keys.join(', ')}: remove them or fix the spelling`
          : issue.code === 'invalid_type'
            ? 'health thresholds must be an object'
            : undefined,
    },
  )
  .superRefine((t, ctx) => {
    // Thresholds that can never pass would only show up as a failed deploy and a rollback; refuse them up front.
    if (!(t.intervalMs > 0 && t.windowMs > 0 && Number.isInteger(t.consecutiveSuccesses))) return; // already reported
    const probes = maxProbesInWindow(t);
    if (t.consecutiveSuccesses > probes) {
      ctx.addIssue({
        code: 'custom',
        path: ['consecutiveSuccesses'],
        message:
          `consecutiveSuccesses (${t.consecutiveSuccesses}) can never be reached: windowMs ${t.windowMs} at intervalMs ` +
          `${t.intervalMs} fits at most ${probes} probe(s); lengthen windowMs, shorten intervalMs or lower consecutiveSuccesses`,
      });
    }
  });

export type { HealthBreach, HealthReport, Sample } from './report';
