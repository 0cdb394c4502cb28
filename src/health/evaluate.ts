import { nearestRankPercentile, valuesAllowedAbove } from './percentile';
import type { HealthBreach, HealthReport, Sample } from './report';
import { maxProbesInWindow, type HealthThresholds } from './thresholds';
import { describeFailure, formatMs, formatPercent } from './wording';

export type HealthVerdict = 'pass' | 'fail' | 'continue';

interface Breach {
  kind: HealthBreach;
  sentence: string;
}

/**
 * Decides a health analysis from the samples taken so far; pure, so every path is testable without a server.
 *
 * Order of decisions:
 * 1. fail when the latest maxConsecutiveFailures samples all failed (fail fast);
 * 2. pass when the latest consecutiveSuccesses samples all succeeded, the success ratio over all samples is
 *    at least minSuccessRatio and the nearest-rank p95 latency is at most maxP95LatencyMs;
 * 3. fail as soon as a pass has become impossible: either the window has ended (elapsedMs >= windowMs), or
 *    even if every probe that still fits in the window (see maxProbesInWindow) succeeded quickly, the ratio,
 *    the p95 or the run of successes could not reach its threshold. Failing then, rather than at the
 *    deadline, shortens the time a bad release stays live;
 * 4. otherwise continue.
 */
export function evaluateSamples(
  samples: Sample[],
  t: HealthThresholds,
  elapsedMs: number,
): { verdict: HealthVerdict; report: HealthReport } {
  const n = samples.length;
  const successes = samples.filter((s) => s.ok).length;
  const failures = n - successes;
  const successRatio = n === 0 ? 0 : successes / n;
  const latencies = samples.map((s) => s.latencyMs);
  const p95LatencyMs = nearestRankPercentile(latencies, 95);
  const trailingSuccesses = trailingRun(samples, true);
  const trailingFailures = trailingRun(samples, false);
  const first = samples.find((s) => !s.ok);

  const report: HealthReport = {
    passed: false,
    reason: '',
    samples: n,
    successes,
    failures,
    successRatio,
    p50LatencyMs: nearestRankPercentile(latencies, 50),
    p95LatencyMs,
    durationMs: elapsedMs,
  };
  if (first) report.firstFailure = pickDefined({ atMs: first.atMs, status: first.status, error: first.error });
  const firstFailureNote = first ? `; first failure at ${formatMs(first.atMs)}: ${describeFailure(first)}` : '';

  const fail = (breaches: Breach[]) => {
    const reason = breaches.map((b) => b.sentence).join('; also ') + firstFailureNote;
    return { verdict: 'fail' as const, report: { ...report, reason, breached: breaches[0].kind, breachAtMs: elapsedMs } };
  };

  if (n > 0 && trailingFailures >= t.maxConsecutiveFailures) {
    const latest = samples[n - 1];
    return fail([
      {
        kind: 'consecutive_failures',
        sentence:
          `the latest ${trailingFailures} probes failed in a row (maxConsecutiveFailures ${t.maxConsecutiveFailures}); ` +
          `latest: ${describeFailure(latest)}`,
      },
    ]);
  }

  if (trailingSuccesses >= t.consecutiveSuccesses && successRatio >= t.minSuccessRatio && p95LatencyMs <= t.maxP95LatencyMs) {
    const reason =
      `${trailingSuccesses} consecutive successes (needed ${t.consecutiveSuccesses}), success ratio ` +
      `${formatPercent(successRatio)} over ${n} probes (min ${formatPercent(t.minSuccessRatio)}), p95 latency ` +
      `${formatMs(p95LatencyMs)} (max ${formatMs(t.maxP95LatencyMs)})`;
    return { verdict: 'pass', report: { ...report, passed: true, reason } };
  }

  // The best case from here: every probe that still fits succeeds within the latency limit.
  const windowEnded = elapsedMs >= t.windowMs;
  const remaining = windowEnded ? 0 : Math.max(0, maxProbesInWindow(t) - n);
  const finalCount = n + remaining;
  const window = `the ${formatMs(t.windowMs)} window`;
  const breaches: Breach[] = [];

  const bestRatio = finalCount === 0 ? 0 : (successes + remaining) / finalCount;
  if (n > 0 && bestRatio < t.minSuccessRatio) {
    const now = `success ratio ${formatPercent(successRatio)} (${successes} of ${n} probes)`;
    breaches.push({
      kind: 'success_ratio',
      sentence: windowEnded
        ? `${now} is ${formatPoints(t.minSuccessRatio - successRatio)} below minSuccessRatio ` +
          `${formatPercent(t.minSuccessRatio)} at the end of ${window}`
        : `${now} can no longer reach minSuccessRatio ${formatPercent(t.minSuccessRatio)}: even if all ${remaining} ` +
          `probes that still fit in ${window} succeed it would be ${formatPercent(bestRatio)}, ` +
          `${formatPoints(t.minSuccessRatio - bestRatio)} short`,
    });
  }

  const slow = latencies.filter((l) => l > t.maxP95LatencyMs).length;
  const slowAllowed = valuesAllowedAbove(finalCount, 95);
  if (slow > slowAllowed) {
    const now =
      `p95 latency ${formatMs(p95LatencyMs)} is ${formatMs(p95LatencyMs - t.maxP95LatencyMs)} over maxP95LatencyMs ` +
      `${formatMs(t.maxP95LatencyMs)} (${slow} of ${n} probes took longer than ${formatMs(t.maxP95LatencyMs)})`;
    breaches.push({
      kind: 'p95_latency',
      sentence: windowEnded
        ? `${now} at the end of ${window}`
        : `${now} and cannot come back under it: the nearest-rank p95 of the at most ${finalCount} probes ` +
          `${window} allows tolerates at most ${slowAllowed} slower ones`,
    });
  }

  if (trailingSuccesses + remaining < t.consecutiveSuccesses) {
    breaches.push({
      kind: 'deadline',
      sentence:
        n === 0
          ? `no probe completed within ${window}`
          : windowEnded
            ? `${window} ended with ${trailingSuccesses} consecutive successes of the ${t.consecutiveSuccesses} needed ` +
              `(${t.consecutiveSuccesses - trailingSuccesses} short)`
            : `${t.consecutiveSuccesses} consecutive successes cannot be reached before ${window} ends: the latest ` +
              `${trailingSuccesses} succeeded in a row and at most ${remaining} more probes fit`,
    });
  }

  if (breaches.length > 0) return fail(breaches);
  return { verdict: 'continue', report: { ...report, reason: describeProgress(report, t, trailingSuccesses) } };
}

function trailingRun(samples: Sample[], ok: boolean): number {
  let run = 0;
  for (let i = samples.length - 1; i >= 0 && samples[i].ok === ok; i--) run++;
  return run;
}

function describeProgress(r: HealthReport, t: HealthThresholds, trailingSuccesses: number): string {
  return (
    `analysing: ${r.samples} probes, ${trailingSuccesses} of ${t.consecutiveSuccesses} consecutive successes, ` +
    `success ratio ${formatPercent(r.successRatio)}, p95 latency ${formatMs(r.p95LatencyMs)}, ` +
    `${formatMs(r.durationMs)} of ${formatMs(t.windowMs)} elapsed`
  );
}

function formatPoints(share: number): string {
  return `${(share * 100).toFixed(1)} percentage points`;
}

/** Keeps optional fields out of the object when absent, so reports serialise the same after a round trip. */
function pickDefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
