import { setTimeout as sleep } from 'node:timers/promises';
import { FailureType, refuse } from '../errors';
import { evaluateSamples } from './evaluate';
import type { HealthExpectation } from './expect';
import { describeEndpoint, probeOnce } from './probe';
import type { HealthReport, Sample } from './report';
import { healthThresholdsSchema, type HealthThresholds } from './thresholds';

export type { HealthReport, Sample } from './report';

export interface AnalyzeHealthOptions {
  /** http(s) URL of the readiness endpoint; credentials in it are refused (send them as headers). */
  url: string;
  thresholds: HealthThresholds;
  /** Called after every probe with the report so far; the activity heartbeats from here. */
  onSample?: (sample: Sample, report: HealthReport) => void;
  /** Aborting stops the analysis at once, in-flight probe included; the promise rejects with the reason. */
  signal?: AbortSignal;
  /** Sent with every probe; their values never appear in samples, reports or errors. */
  headers?: Record<string, string>;
  /** What each answer must say beyond a 2xx. */
  expect?: HealthExpectation;
}

/**
 * Probes the URL until the thresholds decide (see evaluateSamples) or the window ends, and resolves with the
 * report either way: a failed analysis is an outcome, not an error. Rejects only on invalid input (a
 * non-retryable InvalidInput failure) or when `signal` aborts.
 *
 * Schedule: probe k starts no earlier than k * intervalMs from the start and probes never overlap; a probe
 * that overruns skips the slots it overran instead of bunching later probes. No probe starts at or after
 * windowMs, and a probe still running when the window ends is aborted and not counted.
 */
export async function analyzeHealth(o: AnalyzeHealthOptions): Promise<HealthReport> {
  const url = parseHealthUrl(o.url);
  const t = validateThresholds(o.thresholds);
  o.signal?.throwIfAborted();

  const startedAt = performance.now();
  const startedAtEpochMs = Date.now();
  const elapsed = () => performance.now() - startedAt;
  const withEpoch = (r: HealthReport): HealthReport =>
    r.breachAtMs === undefined ? r : { ...r, breachAtEpochMs: Math.round(startedAtEpochMs + r.breachAtMs) };

  const deadline = new AbortController();
  const deadlineTimer = setTimeout(() => deadline.abort(new Error('health analysis window ended')), t.windowMs);
  const stop = o.signal ? AbortSignal.any([o.signal, deadline.signal]) : deadline.signal;
  const samples: Sample[] = [];
  try {
    for (let slot = 0; ; ) {
      // A loop, because a timer may fire a fraction of a millisecond before the clock reaches the slot.
      for (let wait = slot * t.intervalMs - elapsed(); wait > 0 && !stop.aborted; wait = slot * t.intervalMs - elapsed()) {
        await sleep(Math.ceil(wait), undefined, { signal: stop }).catch(() => undefined);
      }
      o.signal?.throwIfAborted();
      if (deadline.signal.aborted) break;

      let outcome;
      try {
        outcome = await probeOnce({ url, timeoutMs: t.requestTimeoutMs, stop, headers: o.headers, expect: o.expect });
      } catch (err) {
        o.signal?.throwIfAborted();
        if (deadline.signal.aborted) break;
        throw err;
      }
      const atMs = elapsed();
      const sample: Sample = { atMs: Math.round(atMs * 10) / 10, ...outcome };
      samples.push(sample);
      const { verdict, report } = evaluateSamples(samples, t, sample.atMs);
      const current = withEpoch(report);
      o.onSample?.(sample, current);
      if (verdict !== 'continue') return current;
      slot = Math.max(slot + 1, Math.ceil(atMs / t.intervalMs));
    }
    // The deadline timer may fire a fraction of a millisecond before the clock reads windowMs.
    const endedAtMs = Math.round(Math.max(elapsed(), t.windowMs) * 10) / 10;
    return withEpoch(evaluateSamples(samples, t, endedAtMs).report);
  } finally {
    clearTimeout(deadlineTimer);
  }
}

function parseHealthUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // The value is not echoed: a malformed URL may still hold a token.
    throw refuse(FailureType.InvalidInput, 'health url is not an absolute URL: write it as http(s)://host:port/path');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw refuse(FailureType.InvalidInput, `health url must use http or https, not ${url.protocol.replace(/:$/, '')}`);
  }
  if (url.username || url.password) {
    throw refuse(
      FailureType.InvalidInput,
      `health url ${describeEndpoint(url)} carries credentials: remove them from the URL and send them as headers`,
    );
  }
  return url;
}

/** Only the seven threshold fields are read, so a spec's health section (which also has url, path) can be passed. */
function validateThresholds(given: HealthThresholds): HealthThresholds {
  const picked = {
    intervalMs: given?.intervalMs,
    windowMs: given?.windowMs,
    requestTimeoutMs: given?.requestTimeoutMs,
    consecutiveSuccesses: given?.consecutiveSuccesses,
    minSuccessRatio: given?.minSuccessRatio,
    maxP95LatencyMs: given?.maxP95LatencyMs,
    maxConsecutiveFailures: given?.maxConsecutiveFailures,
  };
  const parsed = healthThresholdsSchema.safeParse(picked);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => i.message).join('; ');
    throw refuse(FailureType.InvalidInput, `health thresholds are invalid: ${problems}`);
  }
  return parsed.data;
}
