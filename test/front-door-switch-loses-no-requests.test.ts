import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { startLoad, type FrontDoor, type LoadRun } from '../src/traffic';
import { haproxyForTests, skipWithout, TrafficWorld, waitFor, type VersionServer } from './helpers/traffic';

/**
 * Real haproxy, real release processes (Node http servers answering their version), real clients: a
 * switch through the Runtime API must not cost a single request, and a drained release finishes what it
 * is serving.
 */

let skipReason: string | undefined;
const world = new TrafficWorld();
let a: VersionServer;
let b: VersionServer;

before(async () => {
  const haproxy = await haproxyForTests();
  if ('skip' in haproxy) {
    skipReason = haproxy.skip;
    return;
  }
  a = await world.versionServer('A');
  b = await world.versionServer('B');
});

after(() => world.cleanup());

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.setTimeout(60_000, () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
  });
}

/** Waits until the current phase of every run has at least `n` answers. */
async function answeredInPhase(runs: LoadRun[], phase: string, n: number, also: (body: Record<string, number>) => boolean = () => true): Promise<void> {
  await waitFor(`${n} answers in phase ${phase}`, async () =>
    runs.every((run) => {
      const p = run.snapshot().phases[phase];
      return p !== undefined && p.answered >= n && also(p.byBody);
    }),
  );
}

function phase(runs: LoadRun[], label: string): void {
  for (const run of runs) run.phase(label);
}

test('switching from A to B through weights under steady load fails no request: both answer at 50/50, only B after', async (t) => {
  if (skipWithout(t, skipReason)) return;
  const door: FrontDoor = await world.frontDoor();
  await door.apply({ servers: [{ name: 'a', port: a.port, weight: 100 }] });
  const url = `http://127.0.0.1:${door.publicPort}/`;
  // Two clients: one reusing connections (as browsers do), one opening a connection per request.
  const runs = [
    startLoad({ url, ratePerSecond: 150, concurrency: 16, keepAlive: true, durationMs: 300_000 }),
    startLoad({ url, ratePerSecond: 60, concurrency: 8, keepAlive: false, durationMs: 300_000 }),
  ];
  try {
    phase(runs, 'a-only');
    await answeredInPhase(runs, 'a-only', 50);

    // Requests sent while an apply is under way count in a phase of their own: either version may answer them.
    phase(runs, 'adding-b');
    await door.apply({ servers: [{ name: 'a', port: a.port, weight: 100 }, { name: 'b', port: b.port, weight: 100 }] });
    phase(runs, 'split');
    await answeredInPhase(runs, 'split', 100, (body) => (body.A ?? 0) > 0 && (body.B ?? 0) > 0);

    phase(runs, 'switching');
    await door.apply({ servers: [{ name: 'a', port: a.port, weight: 0 }, { name: 'b', port: b.port, weight: 100 }] });
    phase(runs, 'b-only');
    await answeredInPhase(runs, 'b-only', 100);

    phase(runs, 'removing-a');
    await door.apply({ servers: [{ name: 'b', port: b.port, weight: 100 }] });
    phase(runs, 'a-removed');
    await answeredInPhase(runs, 'a-removed', 50);

    // Blue/green in one apply: A added and enabled before B is lowered to 0.
    phase(runs, 'switching-back');
    await door.apply({ servers: [{ name: 'b', port: b.port, weight: 0 }, { name: 'a', port: a.port, weight: 100 }] });
    phase(runs, 'back-to-a');
    await answeredInPhase(runs, 'back-to-a', 50);
  } finally {
    for (const run of runs) await run.stop();
  }

  for (const [i, run] of runs.entries()) {
    const report = run.snapshot();
    const label = `client ${i} (${i === 0 ? 'keep-alive' : 'connection per request'})`;
    assert.equal(report.failed, 0, `${label}: no failed request: ${JSON.stringify({ byStatus: report.byStatus, failures: report.connectionFailures, timeouts: report.timeouts })}`);
    assert.equal(report.answered, report.sent, `${label}: every request was answered`);
    assert.deepEqual(Object.keys(report.phases['a-only']!.byBody), ['A'], `${label}: only A before the switch`);
    const split = report.phases.split!.byBody;
    assert.ok((split.A ?? 0) > 0 && (split.B ?? 0) > 0, `${label}: both answer at 50/50: ${JSON.stringify(split)}`);
    assert.deepEqual(Object.keys(report.phases['b-only']!.byBody), ['B'], `${label}: only B once A's weight is 0`);
    assert.deepEqual(Object.keys(report.phases['a-removed']!.byBody), ['B'], `${label}: only B once A is removed`);
    assert.deepEqual(Object.keys(report.phases['back-to-a']!.byBody), ['A'], `${label}: only A after the switch back`);
  }
  const status = await door.status();
  assert.deepEqual(
    status.servers.map((s) => [s.name, s.weight, s.state]).sort(),
    [
      ['a', 100, 'ready'],
      ['b', 0, 'ready'],
    ],
    'haproxy serves A, with B kept at weight 0',
  );
});

test('draining A lets its slow in-flight request finish while new requests go to B; removing A waits for it too', async (t) => {
  if (skipWithout(t, skipReason)) return;
  const door = await world.frontDoor();
  await door.apply({ servers: [{ name: 'a', port: a.port, weight: 100 }] });

  const slow = get(door.publicPort, '/?delay=3000');
  await waitFor('the slow request to be in flight on A', async () => (await door.status()).servers.find((s) => s.name === 'a')!.currentSessions > 0);

  await door.apply({ servers: [{ name: 'a', port: a.port, weight: 100 }, { name: 'b', port: b.port, weight: 100 }] });
  const draining = door.drain('a', 60_000);
  await waitFor('A to be draining', async () => (await door.status()).servers.find((s) => s.name === 'a')?.state === 'drain');
  // While A drains, every new request goes to B.
  for (let i = 0; i < 10; i++) assert.equal((await get(door.publicPort, '/')).body, 'B', 'a new request while A drains goes to B');

  const drained = await draining;
  assert.equal(drained.drained, true, `A drained: ${JSON.stringify(drained)}`);
  assert.equal(drained.currentSessions, 0);
  assert.deepEqual(await slow, { status: 200, body: 'A' }, 'the in-flight request to A completed with A');
  assert.equal((await door.recorded())!.find((s) => s.name === 'a')!.state, 'drain', 'the drain is recorded, so a restart keeps A out');

  await door.apply({ servers: [{ name: 'b', port: b.port, weight: 100 }] });
  assert.deepEqual((await door.status()).servers.map((s) => s.name), ['b']);

  // Removing a server that is serving a slow request: apply waits for it before deleting the server.
  await door.apply({ servers: [{ name: 'b', port: b.port, weight: 100 }, { name: 'a', port: a.port, weight: 100 }] });
  const slowToA = (async () => {
    // Round robin alternates: send slow requests until one is in flight on A.
    const answers: Array<Promise<{ status: number; body: string }>> = [];
    for (let i = 0; i < 4; i++) answers.push(get(door.publicPort, '/?delay=3000'));
    return Promise.all(answers);
  })();
  await waitFor('a slow request to be in flight on A', async () => (await door.status()).servers.find((s) => s.name === 'a')!.currentSessions > 0);
  await door.apply({ servers: [{ name: 'b', port: b.port, weight: 100 }] }, { removeDrainTimeoutMs: 60_000 });
  const answers = await slowToA;
  assert.ok(answers.every((r) => r.status === 200), `every slow request completed: ${JSON.stringify(answers)}`);
  assert.ok(answers.some((r) => r.body === 'A'), `a slow request was served by A to its end: ${JSON.stringify(answers)}`);
  assert.deepEqual((await door.status()).servers.map((s) => s.name), ['b'], 'A was removed after its request finished');
});
