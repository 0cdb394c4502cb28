import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { analyzeHealth } from '../../src/health/analyze';
import type { HealthReport, HealthThresholds, Sample } from '../../src/health/thresholds';

interface TestServer {
  url: string;
  port: number;
  /** Requests received so far. */
  hits: () => number;
  /** Requests whose connection closed before an answer was sent. */
  abandoned: () => number;
}

const servers: http.Server[] = [];
after(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

/** A real HTTP server on a free port; `answer` gets the 1-based request number. */
async function startServer(answer: (n: number, req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<TestServer> {
  let hits = 0;
  let abandoned = 0;
  const server = http.createServer((req, res) => {
    hits++;
    res.on('close', () => {
      if (!res.writableFinished) abandoned++;
    });
    answer(hits, req, res);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/readyz`, port, hits: () => hits, abandoned: () => abandoned };
}

/** A port nothing listens on: bound once by the OS, then released. */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** Polls until `condition` holds: what another connection does is seen on the event loop's own schedule. */
async function waitUntil(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const ok = (_n: number, _req: http.IncomingMessage, res: http.ServerResponse) => res.end('ready');
const unavailable = (_n: number, _req: http.IncomingMessage, res: http.ServerResponse) => {
  res.statusCode = 503;
  res.end('starting');
};

// Generous windows: decisions come from counts long before the deadline, so slow machines change nothing.
const fast: HealthThresholds = {
  intervalMs: 20,
  windowMs: 30_000,
  requestTimeoutMs: 5_000,
  consecutiveSuccesses: 3,
  minSuccessRatio: 0.9,
  maxP95LatencyMs: 5_000,
  maxConsecutiveFailures: 3,
};

test('an always-ready endpoint passes after exactly N successes', async () => {
  const server = await startServer(ok);
  const seen: [Sample, HealthReport][] = [];
  const report = await analyzeHealth({ url: server.url, thresholds: fast, onSample: (s, r) => seen.push([s, r]) });

  assert.equal(report.passed, true, report.reason);
  assert.equal(report.breached, undefined);
  assert.equal(report.samples, 3);
  assert.equal(report.successes, 3);
  assert.equal(report.failures, 0);
  assert.equal(report.successRatio, 1);
  assert.equal(report.firstFailure, undefined);
  assert.match(report.reason, /3 consecutive successes \(needed 3\)/);
  assert.equal(server.hits(), 3);
  assert.deepEqual(seen.map(([, r]) => r.samples), [1, 2, 3]);
  assert.deepEqual(seen.map(([s]) => [s.ok, s.status]), [[true, 200], [true, 200], [true, 200]]);
  assert.ok(seen.every(([s], i) => i === 0 || s.atMs >= seen[i - 1][0].atMs), 'sample times never go back');
  assert.ok(seen[2][0].atMs >= 2 * fast.intervalMs, 'the third probe starts no earlier than its slot');
  assert.deepEqual(seen[2][1], report, 'the last onSample report is the result');
});

test('an always-503 endpoint fails fast after M failures', async () => {
  const server = await startServer(unavailable);
  const before = Date.now();
  const report = await analyzeHealth({ url: server.url, thresholds: { ...fast, maxConsecutiveFailures: 4 } });

  assert.equal(report.passed, false);
  assert.equal(report.breached, 'consecutive_failures');
  assert.equal(report.samples, 4);
  assert.equal(report.failures, 4);
  assert.equal(server.hits(), 4, 'no probe after the decision');
  assert.equal(report.firstFailure?.status, 503);
  assert.equal(report.firstFailure?.error, `HTTP 503 from ${server.url}`);
  assert.match(report.reason, /the latest 4 probes failed in a row \(maxConsecutiveFailures 4\)/);
  assert.ok(report.breachAtMs !== undefined && report.breachAtEpochMs !== undefined);
  // breachAtEpochMs is rounded to the millisecond, so it may read up to 1 ms past a Date.now() taken at once.
  assert.ok(report.breachAtEpochMs >= before && report.breachAtEpochMs <= Date.now() + 1);
});

test('a slow endpoint fails on p95 latency although every probe succeeds', async () => {
  const server = await startServer((_n, _req, res) => setTimeout(() => res.end('ready'), 150));
  // 100 probe slots: nearest-rank p95 tolerates 5 probes above the limit, the 6th decides.
  const thresholds = { ...fast, intervalMs: 100, windowMs: 10_000, maxP95LatencyMs: 50 };
  const report = await analyzeHealth({ url: server.url, thresholds });

  assert.equal(report.passed, false);
  assert.equal(report.breached, 'p95_latency', report.reason);
  assert.equal(report.samples, 6);
  assert.equal(report.successes, 6);
  assert.ok(report.p95LatencyMs > 50);
  assert.match(report.reason, /over maxP95LatencyMs 50ms \(6 of 6 probes took longer than 50ms\)/);
  assert.match(report.reason, /tolerates at most 5 slower ones/);
});

test('a flapping endpoint fails on the success ratio', async () => {
  const server = await startServer((n, req, res) => (n % 2 === 1 ? ok(n, req, res) : unavailable(n, req, res)));
  // 50 slots at minSuccessRatio 0.9 allow 5 failures; the 6th arrives with the 12th probe. The slots are
  // 200 ms wide so that 12 probes fit in the window with room to spare on a busy machine.
  const thresholds = { ...fast, intervalMs: 200, windowMs: 10_000 };
  const report = await analyzeHealth({ url: server.url, thresholds });

  assert.equal(report.passed, false);
  assert.equal(report.breached, 'success_ratio', report.reason);
  assert.equal(report.samples, 12);
  assert.equal(report.failures, 6);
  assert.equal(report.successRatio, 0.5);
  assert.equal(report.firstFailure?.status, 503);
  assert.match(report.reason, /success ratio 50\.0% \(6 of 12 probes\) can no longer reach minSuccessRatio 90\.0%/);
});

test('nothing listening fails with connection-refused errors', async () => {
  const port = await freePort();
  const seen: Sample[] = [];
  const report = await analyzeHealth({
    url: `http://127.0.0.1:${port}/readyz?token=query-secret`,
    headers: { authorization: 'Bearer header-secret' },
    thresholds: fast,
    onSample: (s) => seen.push(s),
  });

  assert.equal(report.passed, false);
  assert.equal(report.breached, 'consecutive_failures');
  assert.equal(report.samples, 3);
  assert.equal(report.firstFailure?.status, undefined);
  assert.equal(report.firstFailure?.error, `connection refused (nothing listening?) (ECONNREFUSED) at http://127.0.0.1:${port}/readyz`);
  assert.ok(seen.every((s) => !s.ok && /ECONNREFUSED/.test(s.error ?? '')));
  const everything = JSON.stringify({ report, seen });
  assert.doesNotMatch(everything, /query-secret|header-secret/);
});

test('a probe without an answer within requestTimeoutMs fails with a timeout', async () => {
  const server = await startServer(() => {}); // never answers
  // Long enough for each request to reach the server before its probe gives up, on a busy machine too.
  const thresholds = { ...fast, requestTimeoutMs: 500, maxConsecutiveFailures: 2 };
  const report = await analyzeHealth({ url: server.url, thresholds });

  assert.equal(report.breached, 'consecutive_failures');
  assert.equal(report.samples, 2);
  assert.equal(report.firstFailure?.error, `no complete response within 500ms (requestTimeoutMs) from ${server.url}`);
  await waitUntil(() => server.hits() >= 2, 'both probes reaching the server');
  assert.equal(server.hits(), 2);
});

test('a redirect is a failed probe, not followed', async () => {
  const target = await startServer(ok);
  const server = await startServer((_n, _req, res) => {
    res.writeHead(302, { location: target.url });
    res.end();
  });
  const report = await analyzeHealth({ url: server.url, thresholds: fast });

  assert.equal(report.breached, 'consecutive_failures');
  assert.equal(report.firstFailure?.status, 302);
  assert.equal(target.hits(), 0);
});

test('the window ends the analysis: a probe in flight at the deadline is not counted', async () => {
  const server = await startServer(() => {}); // never answers
  // The window is long enough for the first probe's request to reach the server on a busy machine.
  const thresholds = { ...fast, intervalMs: 100, windowMs: 1_000, requestTimeoutMs: 10_000, consecutiveSuccesses: 1 };
  const report = await analyzeHealth({ url: server.url, thresholds });

  assert.equal(report.passed, false);
  assert.equal(report.breached, 'deadline');
  assert.equal(report.samples, 0);
  assert.match(report.reason, /no probe completed within the 1000ms window/);
  assert.ok(report.durationMs >= 1_000);
  assert.equal(report.breachAtMs, report.durationMs);
  // The server may read the request after the analysis has returned: wait for it, then count.
  await waitUntil(() => server.hits() >= 1, 'the probe in flight reaching the server');
  assert.equal(server.hits(), 1, 'one probe, still in flight when the window ended');
});

test('aborting the signal stops the loop between probes', async () => {
  const server = await startServer(ok);
  const controller = new AbortController();
  const cancelled = new Error('activity cancelled');
  // N = 1000 keeps the analysis going until it is aborted.
  const thresholds = { ...fast, windowMs: 60_000, consecutiveSuccesses: 1000 };
  let samples = 0;
  const analysis = analyzeHealth({
    url: server.url,
    thresholds,
    signal: controller.signal,
    onSample: () => {
      if (++samples === 3) controller.abort(cancelled);
    },
  });

  await assert.rejects(analysis, (err) => err === cancelled);
  assert.equal(samples, 3);
  const hitsAtAbort = server.hits();
  await new Promise((resolve) => setTimeout(resolve, 10 * fast.intervalMs));
  assert.equal(server.hits(), hitsAtAbort, 'no probe after the abort');
  assert.equal(hitsAtAbort, 3);
});

test('aborting the signal cancels a probe in flight', async () => {
  let answered: () => void = () => {};
  const requestArrived = new Promise<void>((resolve) => (answered = resolve));
  const server = await startServer(() => answered()); // receives, never answers
  const controller = new AbortController();
  const analysis = analyzeHealth({ url: server.url, thresholds: fast, signal: controller.signal });

  await requestArrived;
  controller.abort(new Error('activity cancelled'));
  await assert.rejects(analysis, /activity cancelled/);
  await waitUntil(() => server.abandoned() === 1, 'the server seeing the in-flight request closed by the client');
  assert.equal(server.hits(), 1);
});

test('an already-aborted signal probes nothing', async () => {
  const server = await startServer(ok);
  await assert.rejects(analyzeHealth({ url: server.url, thresholds: fast, signal: AbortSignal.abort(new Error('gone')) }), /gone/);
  assert.equal(server.hits(), 0);
});

test('invalid input is refused as a non-retryable failure naming the field', async () => {
  const server = await startServer(ok);
  const badThresholds = analyzeHealth({ url: server.url, thresholds: { ...fast, minSuccessRatio: 95 } });
  await assert.rejects(badThresholds, (err) => {
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, 'InvalidInput');
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /minSuccessRatio must be at most 1/);
    return true;
  });
  await assert.rejects(analyzeHealth({ url: 'http://user:pa55word@127.0.0.1:1/readyz', thresholds: fast }), (err) => {
    assert.ok(err instanceof ApplicationFailure && err.nonRetryable);
    assert.match(err.message, /carries credentials: remove them from the URL and send them as headers/);
    assert.doesNotMatch(err.message, /pa55word/);
    return true;
  });
  await assert.rejects(analyzeHealth({ url: 'ftp://127.0.0.1/readyz', thresholds: fast }), /must use http or https, not ftp/);
  await assert.rejects(analyzeHealth({ url: 'readyz?key=abc', thresholds: fast }), (err) => {
    assert.match((err as Error).message, /health url is not an absolute URL/);
    assert.doesNotMatch((err as Error).message, /abc/);
    return true;
  });
  assert.equal(server.hits(), 0);
});

test('extra fields next to the thresholds (a spec health section) are ignored', async () => {
  const server = await startServer(ok);
  const specHealth = { ...fast, path: '/readyz', url: server.url };
  const report = await analyzeHealth({ url: server.url, thresholds: specHealth });
  assert.equal(report.passed, true, report.reason);
});
