import { test } from 'node:test';
import assert from 'node:assert/strict';
import { healthThresholdsSchema, maxProbesInWindow } from '../../src/health/thresholds';

const valid = {
  intervalMs: 500,
  windowMs: 20_000,
  requestTimeoutMs: 2_000,
  consecutiveSuccesses: 5,
  minSuccessRatio: 0.9,
  maxP95LatencyMs: 1_000,
  maxConsecutiveFailures: 3,
};

function problems(input: unknown): string[] {
  const r = healthThresholdsSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

test('valid thresholds parse unchanged', () => {
  assert.deepEqual(healthThresholdsSchema.parse(valid), valid);
  assert.deepEqual(problems({ ...valid, minSuccessRatio: 1 }), []);
});

const refusals: [string, unknown, RegExp][] = [
  ['unknown field', { ...valid, maxP99LatencyMs: 5 }, /unknown health threshold field\(s\) maxP99LatencyMs/],
  ['missing field', { ...valid, windowMs: undefined }, /^windowMs: windowMs is required/],
  ['zero interval', { ...valid, intervalMs: 0 }, /^intervalMs: intervalMs must be greater than 0/],
  ['negative timeout', { ...valid, requestTimeoutMs: -1 }, /^requestTimeoutMs: requestTimeoutMs must be greater than 0/],
  ['fractional count', { ...valid, consecutiveSuccesses: 1.5 }, /^consecutiveSuccesses: consecutiveSuccesses must be a whole number/],
  ['zero failures', { ...valid, maxConsecutiveFailures: 0 }, /^maxConsecutiveFailures: maxConsecutiveFailures must be at least 1/],
  ['ratio 0', { ...valid, minSuccessRatio: 0 }, /^minSuccessRatio: minSuccessRatio must be greater than 0/],
  ['ratio as a percentage', { ...valid, minSuccessRatio: 90 }, /^minSuccessRatio: .*not a percentage/],
  ['latency as text', { ...valid, maxP95LatencyMs: '1s' }, /^maxP95LatencyMs: maxP95LatencyMs must be a number of milliseconds/],
  ['window longer than a day', { ...valid, windowMs: 86_400_001 }, /^windowMs: windowMs must be at most 86400000/],
  ['not an object', 'fast', /health thresholds must be an object/],
  [
    'N successes that cannot fit in the window',
    { ...valid, intervalMs: 5_000, consecutiveSuccesses: 5 },
    /^consecutiveSuccesses: consecutiveSuccesses \(5\) can never be reached: windowMs 20000 at intervalMs 5000 fits at most 4 probe\(s\)/,
  ],
];

for (const [name, input, expected] of refusals) {
  test(`thresholds refused: ${name}`, () => {
    const found = problems(input);
    assert.ok(found.some((p) => expected.test(p)), `expected ${expected} in ${JSON.stringify(found)}`);
  });
}

test('the window fits ceil(windowMs / intervalMs) probe starts', () => {
  assert.equal(maxProbesInWindow({ intervalMs: 500, windowMs: 20_000 }), 40);
  assert.equal(maxProbesInWindow({ intervalMs: 300, windowMs: 1_000 }), 4); // starts at 0, 300, 600, 900
  assert.deepEqual(problems({ ...valid, intervalMs: 5_000, consecutiveSuccesses: 4 }), []);
});
