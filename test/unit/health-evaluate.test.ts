import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateSamples } from '../../src/health/evaluate';
import { nearestRankPercentile, valuesAllowedAbove } from '../../src/health/percentile';
import type { HealthThresholds, Sample } from '../../src/health/thresholds';

// 10 probe slots fit in the window (1000ms / 100ms).
const base: HealthThresholds = {
  intervalMs: 100,
  windowMs: 1000,
  requestTimeoutMs: 50,
  consecutiveSuccesses: 3,
  minSuccessRatio: 0.8,
  maxP95LatencyMs: 200,
  maxConsecutiveFailures: 3,
};

/** "+" a 2xx probe, "-" an HTTP 503, one every 100ms; latency 10ms unless given. */
function samples(pattern: string, latencies: number[] = []): Sample[] {
  return [...pattern].map((c, i) => {
    const s: Sample = { atMs: (i + 1) * 100, ok: c === '+', latencyMs: latencies[i] ?? 10 };
    if (c === '-') Object.assign(s, { status: 503, error: 'HTTP 503 from http://127.0.0.1:8080/readyz' });
    return s;
  });
}

interface Case {
  name: string;
  pattern: string;
  latencies?: number[];
  thresholds?: Partial<HealthThresholds>;
  elapsedMs?: number;
  verdict: 'pass' | 'fail' | 'continue';
  breached?: string;
  reason?: RegExp[];
  report?: Record<string, unknown>;
}

const cases: Case[] = [
  { name: 'no samples yet', pattern: '', elapsedMs: 0, verdict: 'continue', report: { samples: 0, successRatio: 0, p95LatencyMs: 0 } },
  {
    name: 'no sample by the end of the window',
    pattern: '',
    elapsedMs: 1000,
    verdict: 'fail',
    breached: 'deadline',
    reason: [/no probe completed within the 1000ms window/],
    report: { breachAtMs: 1000 },
  },
  {
    name: 'exactly N consecutive successes pass',
    pattern: '+++',
    verdict: 'pass',
    reason: [/3 consecutive successes \(needed 3\)/, /100\.0%/],
    report: { samples: 3, successes: 3, failures: 0, successRatio: 1, breachAtMs: undefined, firstFailure: undefined },
  },
  { name: 'one success short of N continues', pattern: '++', verdict: 'continue', reason: [/2 of 3 consecutive successes/] },
  {
    name: 'exactly M consecutive failures fail fast',
    pattern: '---',
    verdict: 'fail',
    breached: 'consecutive_failures',
    reason: [/latest 3 probes failed in a row \(maxConsecutiveFailures 3\)/, /HTTP 503/],
    report: { failures: 3, firstFailure: { atMs: 100, status: 503, error: 'HTTP 503 from http://127.0.0.1:8080/readyz' }, breachAtMs: 300 },
  },
  { name: 'one failure short of M continues', pattern: '+--', verdict: 'continue' },
  {
    name: 'consecutive failures after successes still fail fast',
    pattern: '++---',
    thresholds: { consecutiveSuccesses: 5, minSuccessRatio: 0.1 },
    verdict: 'fail',
    breached: 'consecutive_failures',
    report: { firstFailure: { atMs: 300, status: 503, error: 'HTTP 503 from http://127.0.0.1:8080/readyz' } },
  },
  // Early failures then recovery: the ratio climbs back as long as enough probes still fit.
  { name: 'early failures, N successes but ratio 60% < 80%: continue', pattern: '--+++', verdict: 'continue' },
  { name: 'recovering, ratio 7 of 9', pattern: '--+++++++', verdict: 'continue' },
  {
    name: 'recovered: ratio exactly at minSuccessRatio (8 of 10) passes',
    pattern: '--++++++++',
    verdict: 'pass',
    report: { successRatio: 0.8, failures: 2, firstFailure: { atMs: 100, status: 503, error: 'HTTP 503 from http://127.0.0.1:8080/readyz' } },
  },
  {
    name: 'ratio that cannot recover within the window fails early',
    pattern: '-+-',
    thresholds: { minSuccessRatio: 0.9 },
    verdict: 'fail',
    breached: 'success_ratio',
    reason: [/success ratio 33\.3% \(1 of 3 probes\) can no longer reach minSuccessRatio 90\.0%/, /all 7 probes/, /80\.0%, 10\.0 percentage points short/, /first failure at 100ms: HTTP 503/],
  },
  {
    name: 'ratio below minimum at the end of the window',
    pattern: '-+++',
    elapsedMs: 1000,
    verdict: 'fail',
    breached: 'success_ratio',
    reason: [/success ratio 75\.0% \(3 of 4 probes\) is 5\.0 percentage points below minSuccessRatio 80\.0% at the end of the 1000ms window/],
  },
  {
    name: 'p95 exactly at maxP95LatencyMs passes',
    pattern: '+++',
    latencies: [200, 200, 200],
    verdict: 'pass',
    report: { p95LatencyMs: 200, p50LatencyMs: 200 },
  },
  {
    name: 'one slow probe with fewer than 20 possible probes fails (p95 is the maximum)',
    pattern: '+',
    latencies: [201],
    verdict: 'fail',
    breached: 'p95_latency',
    reason: [/p95 latency 201ms is 1ms over maxP95LatencyMs 200ms \(1 of 1 probes took longer than 200ms\)/, /tolerates at most 0/],
  },
  {
    name: 'with 20 possible probes one slow probe is tolerated',
    pattern: '+',
    latencies: [900],
    thresholds: { windowMs: 2000 },
    verdict: 'continue',
  },
  {
    name: 'with 20 probes, one slow one stays above the p95 rank and passes',
    pattern: '++++++++++++++++++++',
    latencies: [900],
    thresholds: { windowMs: 2000 },
    verdict: 'pass',
    report: { p95LatencyMs: 10, samples: 20 },
  },
  {
    name: 'with 20 possible probes a second slow probe fails',
    pattern: '++',
    latencies: [900, 300],
    thresholds: { windowMs: 2000 },
    verdict: 'fail',
    breached: 'p95_latency',
    report: { p95LatencyMs: 900 },
  },
  {
    name: 'slow successes never pass, even with N in a row',
    pattern: '+++',
    latencies: [10, 10, 500],
    thresholds: { windowMs: 2000 },
    verdict: 'continue',
  },
  {
    name: 'failed probes count towards the p95',
    pattern: '+-',
    latencies: [10, 50],
    thresholds: { maxP95LatencyMs: 40 },
    verdict: 'fail',
    breached: 'p95_latency',
    report: { p95LatencyMs: 50 },
  },
  {
    name: 'window ends one success short of N',
    pattern: '++-++',
    elapsedMs: 1000,
    verdict: 'fail',
    breached: 'deadline',
    reason: [/the 1000ms window ended with 2 consecutive successes of the 3 needed \(1 short\)/],
    report: { breachAtMs: 1000, durationMs: 1000 },
  },
  {
    name: 'N successes can no longer fit before the window ends',
    pattern: '+++++++-',
    thresholds: { minSuccessRatio: 0.5 },
    verdict: 'fail',
    breached: 'deadline',
    reason: [/3 consecutive successes cannot be reached before the 1000ms window ends/, /at most 2 more probes fit/],
  },
  {
    name: 'N successes still just fit before the window ends',
    pattern: '++++++-',
    thresholds: { minSuccessRatio: 0.5 },
    verdict: 'continue',
  },
  {
    name: 'several breaches at the window end: all named, the first is the breach',
    pattern: '-+++',
    latencies: [10, 300, 300, 300],
    elapsedMs: 1000,
    verdict: 'fail',
    breached: 'success_ratio',
    reason: [/success ratio 75\.0%/, /also p95 latency 300ms is 100ms over maxP95LatencyMs 200ms/],
  },
  {
    name: 'a pass decided exactly at the window end still passes',
    pattern: '+++',
    elapsedMs: 1000,
    verdict: 'pass',
  },
];

for (const c of cases) {
  test(`evaluateSamples: ${c.name}`, () => {
    const s = samples(c.pattern, c.latencies);
    const elapsed = c.elapsedMs ?? s.at(-1)?.atMs ?? 0;
    const { verdict, report } = evaluateSamples(s, { ...base, ...c.thresholds }, elapsed);
    assert.equal(verdict, c.verdict, report.reason);
    assert.equal(report.passed, c.verdict === 'pass');
    assert.equal(report.breached, c.breached);
    assert.equal(report.samples, s.length);
    assert.equal(report.successes + report.failures, s.length);
    assert.equal(report.durationMs, elapsed);
    if (c.verdict === 'fail') assert.equal(report.breachAtMs, elapsed);
    for (const r of c.reason ?? []) assert.match(report.reason, r);
    for (const [key, value] of Object.entries(c.report ?? {})) {
      assert.deepEqual(report[key as keyof typeof report], value, key);
    }
  });
}

test('nearest-rank percentiles pick observed values at rank ceil(p/100 * n)', () => {
  const oneToTen = [7, 3, 10, 1, 5, 2, 9, 4, 8, 6];
  assert.equal(nearestRankPercentile(oneToTen, 50), 5);
  assert.equal(nearestRankPercentile(oneToTen, 95), 10);
  assert.equal(nearestRankPercentile([], 95), 0);
  assert.equal(nearestRankPercentile([42], 50), 42);
  const oneToTwenty = Array.from({ length: 20 }, (_, i) => i + 1);
  assert.equal(nearestRankPercentile(oneToTwenty, 95), 19);
  assert.equal(nearestRankPercentile([...oneToTwenty, 21], 95), 20);
  assert.deepEqual(oneToTen, [7, 3, 10, 1, 5, 2, 9, 4, 8, 6], 'input is not sorted in place');
});

test('values allowed above the p95 grow with the number of values', () => {
  assert.deepEqual([0, 1, 19, 20, 39, 40, 100].map((n) => valuesAllowedAbove(n, 95)), [0, 0, 0, 1, 1, 2, 5]);
});

test('the report is independent of sample order only through the trailing run', () => {
  const passing = evaluateSamples(samples('-+++'), { ...base, minSuccessRatio: 0.75 }, 400);
  const waiting = evaluateSamples(samples('++-+'), { ...base, minSuccessRatio: 0.75 }, 400);
  assert.equal(passing.verdict, 'pass');
  assert.equal(waiting.verdict, 'continue');
  assert.equal(passing.report.successRatio, waiting.report.successRatio);
});
