import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { analyzeHealth } from '../../src/health/analyze';
import { unmetExpectation } from '../../src/health/expect';
import { probeOnce } from '../../src/health/probe';
import { healthSchema } from '../../src/spec/schema';

// A service that answers 200 on every path (traefik/whoami does) passes a plain health check on a wrong
// path. Expectations on the answer — status codes, body text, a JSON field — make such a check fail.
let server: http.Server;
let base: string;
before(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/version') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ version: '1.0.0', checks: { db: 'ok' } }));
    } else res.end('Hostname: whoami\nGET ' + req.url);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server?.close());

const probe = (path: string, expect?: Parameters<typeof probeOnce>[0]['expect']) =>
  probeOnce({ url: new URL(base + path), timeoutMs: 2000, stop: new AbortController().signal, expect });

test('without expectations a 200 on a wrong path passes; with a JSON expectation it fails, naming what was found', async () => {
  assert.equal((await probe('/readyz-typo')).ok, true);
  const wrongPath = await probe('/readyz-typo', { json: { path: 'version', equals: '1.0.0' } });
  assert.equal(wrongPath.ok, false);
  assert.match(wrongPath.error!, /the body is not JSON \(expected version = "1\.0\.0"\)/);
  assert.equal((await probe('/version', { json: { path: 'checks.db', equals: 'ok' } })).ok, true);
  const wrongVersion = await probe('/version', { json: { path: 'version', equals: '1.1.0' } });
  assert.match(wrongVersion.error!, /version is "1\.0\.0", expected "1\.1\.0"/);
});

test('status and body expectations', async () => {
  assert.equal((await probe('/x', { bodyIncludes: 'Hostname:' })).ok, true);
  assert.match((await probe('/x', { bodyIncludes: 'ready' })).error!, /does not contain "ready"/);
  assert.match((await probe('/x', { status: [204] })).error!, /HTTP 200, expected 204/);
  assert.equal(unmetExpectation({ status: [503] }, 503, ''), null);
});

test('the analysis fails a release whose answers never meet the expectation', async () => {
  const report = await analyzeHealth({
    url: `${base}/version`,
    thresholds: { intervalMs: 50, windowMs: 2000, requestTimeoutMs: 500, consecutiveSuccesses: 2, minSuccessRatio: 0.9, maxP95LatencyMs: 1000, maxConsecutiveFailures: 2 },
    expect: { json: { path: 'version', equals: '2.0.0' } },
  });
  assert.equal(report.passed, false);
  assert.match(report.reason, /consecutive|failed/);
});

test('the spec validates expectations, naming the field', () => {
  assert.equal(healthSchema.safeParse({ expect: { json: { path: 'version', equals: '1.0.0' }, status: [200] } }).success, true);
  const bad = healthSchema.safeParse({ expect: { json: { path: 'a..b', equals: 1 } } });
  assert.equal(bad.success, false);
  assert.deepEqual(bad.error!.issues[0]!.path, ['expect', 'json', 'path']);
  assert.equal(healthSchema.safeParse({ expect: { status: [42] } }).success, false);
});
